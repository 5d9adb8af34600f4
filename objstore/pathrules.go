package objstore

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// PathRules are per-path changes to a committed tree, ostree's
// `--statoverride` and `--skip-list`. Paths are absolute from the tree's
// root ("/usr/bin/foo") and match exactly. One PathRules may serve several
// trees of one commit; Unmatched then reports the paths none of them had,
// which ostree treats as an error.
type PathRules struct {
	modeAdd map[string]uint32
	skip    map[string]bool

	mu      sync.Mutex
	matched map[string]bool // "m" or "s", then the path
}

// NewPathRules returns rules that OR modeAdd[path] into the mode of path,
// (only permission bits, 07777, are taken; ostree leaves the mode of a
// directory committed from disk as it is, and so do we), and leave out
// every path in skip (a directory with all it holds).
func NewPathRules(modeAdd map[string]uint32, skip []string) *PathRules {
	r := &PathRules{modeAdd: map[string]uint32{}, skip: map[string]bool{}, matched: map[string]bool{}}
	for p, m := range modeAdd {
		r.modeAdd[p] = m & permAll
	}
	for _, p := range skip {
		r.skip[p] = true
	}
	return r
}

// ParseStatOverride parses a --statoverride file: lines "MODE PATH", MODE a
// decimal number (a leading + is allowed) whose bits are added to PATH's
// mode, PATH everything after the first space. Blank lines are skipped; as
// in ostree, a MODE that is not a number adds nothing.
func ParseStatOverride(r io.Reader) (map[string]uint32, error) {
	out := map[string]uint32{}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" {
			continue
		}
		mode, p, ok := strings.Cut(line, " ")
		if !ok {
			return nil, fmt.Errorf("statoverride line %d: no space between mode and path", n)
		}
		out[p] = uint32(leadingInt(mode))
	}
	return out, sc.Err()
}

// leadingInt is strtod's reading of s, truncated to an integer: an
// optional sign and the decimal digits that follow; 0 when there are none.
func leadingInt(s string) int64 {
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	end := 0
	for end < len(s) && end < 18 && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	v, _ := strconv.ParseInt(s[:end], 10, 64)
	if neg {
		v = -v
	}
	return v
}

// ParseSkipList parses a --skip-list file: one path a line, blank lines
// skipped.
func ParseSkipList(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line := sc.Text(); line != "" {
			out = append(out, line)
		}
	}
	return out, sc.Err()
}

// skipped reports whether p is left out, and notes the match. A skipped
// path's statoverride counts as matched too: ostree applies the override
// before it skips.
func (r *PathRules) skipped(p string) bool {
	if r == nil || !r.skip[p] {
		return false
	}
	r.note("s" + p)
	if _, ok := r.modeAdd[p]; ok {
		r.note("m" + p)
	}
	return true
}

// skippedUnder reports whether p or one of its parent directories is left
// out (for tar archives, whose entries come one by one).
func (r *PathRules) skippedUnder(p string) bool {
	if r == nil || len(r.skip) == 0 {
		return false
	}
	for q := p; q != ""; q = q[:strings.LastIndexByte(q, '/')] {
		if r.skipped(q) {
			return true
		}
	}
	return false
}

// apply adds p's mode bits to m. As in ostree, a directory read from disk
// keeps its mode (its line matches but changes nothing); a directory from
// a tar archive (dirsToo) gets the bits like a file.
func (r *PathRules) apply(p string, m *Meta, dirsToo bool) {
	if r == nil {
		return
	}
	if add, ok := r.modeAdd[p]; ok {
		if dirsToo || m.Mode&sIFMT != sIFDIR {
			m.Mode |= add
		}
		r.note("m" + p)
	}
}

// reused notes p's statoverride as matched for an object reused from the
// stat cache, whose metadata already has it (the cache is keyed by the
// rules' fingerprint).
func (r *PathRules) reused(p string) {
	if r == nil {
		return
	}
	if _, ok := r.modeAdd[p]; ok {
		r.note("m" + p)
	}
}

func (r *PathRules) note(key string) {
	r.mu.Lock()
	r.matched[key] = true
	r.mu.Unlock()
}

// Unmatched returns, sorted, the statoverride and skip-list paths that no
// tree had.
func (r *PathRules) Unmatched() (modes, skips []string) {
	if r == nil {
		return nil, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for p := range r.modeAdd {
		if !r.matched["m"+p] {
			modes = append(modes, p)
		}
	}
	for p := range r.skip {
		if !r.matched["s"+p] {
			skips = append(skips, p)
		}
	}
	slices.Sort(modes)
	slices.Sort(skips)
	return modes, skips
}

// fingerprint identifies the rules for the stat cache.
func (r *PathRules) fingerprint() string {
	if r == nil {
		return ""
	}
	h := sha256.New()
	for _, p := range slices.Sorted(maps.Keys(r.modeAdd)) {
		fmt.Fprintf(h, "m%d %s\x00", r.modeAdd[p], p)
	}
	for _, p := range slices.Sorted(maps.Keys(r.skip)) {
		fmt.Fprintf(h, "s%s\x00", p)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
