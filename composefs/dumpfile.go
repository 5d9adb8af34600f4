package composefs

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxDumpLine bounds one line of a dump file, so a hostile dump cannot make
// the parser buffer without limit. libcomposefs caps the xattr part of a
// line at 64 KiB; inline content may add up to 4·5000 escaped bytes.
const maxDumpLine = 1 << 20

// Dump file fields, in order (composefs-dump(5)).
const (
	fieldPath = iota
	fieldSize
	fieldMode
	fieldNlink
	fieldUID
	fieldGID
	fieldRdev
	fieldMtime
	fieldPayload
	fieldContent
	fieldDigest
	numFields
)

// WriteFromDump writes the image that `mkcomposefs --from-file` writes for
// a composefs dump file (the text format of composefs-dump(5) and
// `composefs-info dump`): one line per file, PATH SIZE MODE NLINK UID GID
// RDEV MTIME PAYLOAD CONTENT DIGEST XATTRS..., escaped with \xHH, "-" for
// unset. Only opts.Version and opts.FixedVersion are used.
func WriteFromDump(w io.Writer, dump io.Reader, opts *Options) error {
	root, err := ParseDump(dump)
	if err != nil {
		return err
	}
	return root.write(w, opts)
}

// Tree is a parsed composefs dump: the input of an image, not yet laid out.
// It is used once: writing it rewrites it.
type Tree struct {
	root *node
}

func (t *Tree) write(w io.Writer, opts *Options) error {
	v, maxV := opts.version()
	img, err := prepare(t.root, v, maxV)
	if err != nil {
		return err
	}
	return img.emit(w)
}

// ParseDump parses a composefs dump file as mkcomposefs --from-file does
// (without CFS_PARSE_STRICT): hardlinks ("@" before the mode) are resolved
// after all lines are read, and a missing final newline is accepted.
func ParseDump(r io.Reader) (*Tree, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	p := &dumpParser{}
	lineNo := 0
	for {
		line, err := readLine(br)
		if len(line) > 0 || err == nil {
			lineNo++
			if perr := p.line(line); perr != nil {
				return nil, fmt.Errorf("dump line %d: %w", lineNo, perr)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read dump: %w", err)
		}
	}
	if p.root == nil {
		return nil, errors.New("dump: no root directory")
	}
	if err := p.resolveLinks(); err != nil {
		return nil, fmt.Errorf("dump: %w", err)
	}
	return &Tree{root: p.root}, nil
}

// readLine returns the next line without its newline; io.EOF with the
// last, unterminated line (possibly empty).
func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(buf)+len(frag) > maxDumpLine {
			return nil, fmt.Errorf("line longer than %d bytes", maxDumpLine)
		}
		buf = append(buf, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return buf, err
		}
		return buf[:len(buf)-1], nil
	}
}

type dumpParser struct {
	root  *node
	links []pendingLink
}

type pendingLink struct {
	n      *node
	target string
}

func unescapeDump(s []byte) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(s) {
			return nil, errors.New("no character after escape")
		}
		switch s[i] {
		case '\\':
			out = append(out, '\\')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'x':
			if i+2 >= len(s) {
				return nil, errors.New("no hex characters after hex escape")
			}
			var b [1]byte
			if _, err := hex.Decode(b[:], s[i+1:i+3]); err != nil {
				return nil, errors.New("invalid hex characters after hex escape")
			}
			out = append(out, b[0])
			i += 2
		default:
			return nil, fmt.Errorf("unsupported escape type %q", s[i])
		}
	}
	return out, nil
}

// optional unescapes a field where "-" means unset.
func optional(f []byte) ([]byte, bool, error) {
	if len(f) == 1 && f[0] == '-' {
		return nil, false, nil
	}
	b, err := unescapeDump(f)
	return b, err == nil, err
}

func parseUint(f []byte, base int, what string) (uint64, error) {
	v, err := strconv.ParseUint(string(f), base, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid %s %q", what, f)
	}
	return v, nil
}

func (p *dumpParser) line(line []byte) error {
	if bytes.IndexByte(line, 0) >= 0 {
		return errors.New("embedded NUL character")
	}
	var f [numFields][]byte
	rest := line
	for i := range f {
		field, after, _ := bytes.Cut(rest, []byte{' '})
		f[i], rest = field, after
	}
	pathB, err := unescapeDump(f[fieldPath])
	if err != nil {
		return err
	}
	path := string(pathB)
	if path == "" {
		return errors.New("empty path")
	}
	modeF := f[fieldMode]
	hardlink := len(modeF) > 0 && modeF[0] == '@'
	if hardlink {
		modeF = modeF[1:]
	}
	mode, err := parseUint(modeF, 8, "mode")
	if err != nil {
		return err
	}
	if mode > 0xFFFFFFFF {
		return fmt.Errorf("invalid mode %o", mode)
	}
	if err := validMode(uint32(mode)); err != nil {
		return err
	}
	n := newNode(uint32(mode))
	if err := p.add(path, n); err != nil {
		return err
	}
	if hardlink {
		if n.isDir() {
			return errors.New("directories can't be hardlinked")
		}
		target, ok, err := optional(f[fieldPayload])
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%s: no target path for the hardlink", path)
		}
		n.mode = 0
		p.links = append(p.links, pendingLink{n, string(target)})
		return nil
	}
	size, err := parseUint(f[fieldSize], 10, "size")
	if err != nil {
		return err
	}
	nlink, err := parseUint(f[fieldNlink], 10, "nlink")
	if err != nil {
		return err
	}
	uid, err := parseUint(f[fieldUID], 10, "uid")
	if err != nil {
		return err
	}
	gid, err := parseUint(f[fieldGID], 10, "gid")
	if err != nil {
		return err
	}
	rdev, err := parseUint(f[fieldRdev], 10, "rdev")
	if err != nil {
		return err
	}
	secF, nsecF, _ := bytes.Cut(f[fieldMtime], []byte{'.'})
	sec, err := parseUint(secF, 10, "mtime")
	if err != nil {
		return err
	}
	nsec, err := parseUint(nsecF, 10, "mtime")
	if err != nil {
		return err
	}
	payload, hasPayload, err := optional(f[fieldPayload])
	if err != nil {
		return err
	}
	content, hasContent, err := optional(f[fieldContent])
	if err != nil {
		return err
	}
	if hasContent && uint64(len(content)) != size {
		return fmt.Errorf("invalid content size %d, must match size %d", len(content), size)
	}
	digest, hasDigest, err := optional(f[fieldDigest])
	if err != nil {
		return err
	}
	if uid > 0xFFFFFFFF || gid > 0xFFFFFFFF || nlink > 0xFFFFFFFF || nsec > 0xFFFFFFFF || sec > 1<<63-1 {
		return errors.New("field out of range")
	}
	if n.typ() != sIFLNK {
		n.size = size
	}
	n.nlink, n.uid, n.gid = uint32(nlink), uint32(uid), uint32(gid)
	if t := n.typ(); t == sIFCHR || t == sIFBLK {
		n.rdev = rdev
	}
	n.mtimeSec, n.mtimeNsec = int64(sec), uint32(nsec)
	if n.typ() == sIFLNK {
		if !hasPayload || len(payload) == 0 {
			return fmt.Errorf("%s: invalid symlink", path)
		}
		if err := n.setPayload(string(payload)); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		n.size = uint64(len(payload))
	} else {
		if hasPayload {
			if err := n.setPayload(string(payload)); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
		if hasContent {
			if len(content) > MaxInlineContent {
				return fmt.Errorf("%s: inline content size %d exceeds maximum %d", path, len(content), MaxInlineContent)
			}
			n.size = uint64(len(content))
			if len(content) > 0 {
				n.content = content
			}
		}
	}
	if hasDigest {
		var d [32]byte
		derr := errors.New("invalid length")
		if len(digest) == 64 {
			_, derr = hex.Decode(d[:], digest)
		}
		switch {
		case derr == nil:
			n.digest, n.hasDigest = d, true
		case n.typ() == sIFREG:
			return fmt.Errorf("%s: invalid digest %q", path, digest)
		default:
			// Only regular files use a digest; mkcomposefs ignores
			// malformed ones elsewhere, and so does this parser.
		}
	}
	for len(rest) > 0 {
		var x []byte
		x, rest, _ = bytes.Cut(rest, []byte{' '})
		k, v, ok := bytes.Cut(x, []byte{'='})
		if !ok {
			return errors.New("missing = in xattr")
		}
		key, err := unescapeDump(k)
		if err != nil {
			return err
		}
		val, err := unescapeDump(v)
		if err != nil {
			return err
		}
		if err := n.setXattr(string(key), val); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if n.xattrBudget() > maxInodeXattrs {
			return fmt.Errorf("%s: xattrs too large", path)
		}
	}
	return nil
}

// splitPath splits a dump path into its parent's components and its name.
func splitPath(path string) []string {
	var parts []string
	for _, c := range strings.Split(path, "/") {
		if c != "" {
			parts = append(parts, c)
		}
	}
	return parts
}

func (p *dumpParser) lookup(parts []string) *node {
	n := p.root
	for _, c := range parts {
		if n == nil {
			return nil
		}
		n = n.lookup(c)
	}
	return n
}

func (p *dumpParser) add(path string, n *node) error {
	if path == "/" {
		if !n.isDir() {
			return errors.New("root must be a directory")
		}
		if p.root != nil {
			return errors.New("can't have multiple roots")
		}
		p.root = n
		return nil
	}
	if p.root == nil {
		return errors.New("root node not present")
	}
	trimmed := strings.TrimLeft(path, "/")
	dir, name := "", trimmed
	if i := strings.LastIndexByte(trimmed, '/'); i >= 0 {
		dir, name = trimmed[:i], trimmed[i+1:]
	}
	parent := p.lookup(splitPath(dir))
	if parent == nil || parent.link != nil {
		return fmt.Errorf("parent directory missing for %s", path)
	}
	if !parent.isDir() {
		return fmt.Errorf("parent must be a directory for %s", path)
	}
	if err := parent.addChild(n, name); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func (p *dumpParser) resolveLinks() error {
	// libcomposefs resolves the fixups newest first; the result is the same.
	for i := len(p.links) - 1; i >= 0; i-- {
		l := p.links[i]
		t := p.lookup(splitPath(l.target))
		if t == nil {
			return fmt.Errorf("no target at %s for hardlink", l.target)
		}
		if t == l.n {
			return fmt.Errorf("self-referential hardlink %s", l.target)
		}
		l.n.link = t
	}
	for _, l := range p.links {
		n, hops := l.n, 0
		for n.link != nil {
			n = n.link
			if hops++; hops > len(p.links) {
				return fmt.Errorf("hardlink cycle at %s", l.target)
			}
		}
		if n.isDir() {
			return fmt.Errorf("hardlink to directory %s", l.target)
		}
	}
	return nil
}
