// Package keyfile reads and writes GLib key files (GKeyFile): the format of an
// OSTree repository's config, of deployment origin files and of remote
// configuration snippets.
//
// # Format
//
//	# comment
//	[group name]
//	key=value
//
// Order of groups, keys and comments is preserved on a round trip so that
// files written by ostree stay recognisable after gostree edits them. Values
// are unescaped (\s \n \t \r \\) by Value and escaped by Set. Lists use ';'.
//
// # Concurrency
//
// A File is not safe for concurrent mutation.
package keyfile

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// File is a parsed key file.
type File struct {
	// head holds comment and blank lines before the first group.
	head   []string
	groups []*group
}

type group struct {
	name  string
	lines []line
}

type line struct {
	key   string // empty for comments and blank lines
	value string // raw, escaped
	raw   string // comment text when key is empty
}

// New returns an empty key file.
func New() *File { return &File{} }

// Parse reads a key file. It rejects keys outside a group and lines that are
// neither comments, groups nor key=value pairs.
func Parse(r io.Reader) (*File, error) {
	f := &File{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	var cur *group
	n := 0
	for sc.Scan() {
		n++
		// bufio.ScanLines drops the \r of "\r\n" but not of a last line.
		text := strings.TrimRight(sc.Text(), "\r")
		trimmed := strings.TrimSpace(text)
		switch {
		case trimmed == "" || trimmed[0] == '#':
			if cur == nil {
				f.head = append(f.head, text)
			} else {
				cur.lines = append(cur.lines, line{raw: text})
			}
		case trimmed[0] == '[':
			if !strings.HasSuffix(trimmed, "]") || len(trimmed) < 3 {
				return nil, fmt.Errorf("keyfile line %d: invalid group header %q", n, text)
			}
			name := trimmed[1 : len(trimmed)-1]
			if strings.ContainsAny(name, "[]") {
				return nil, fmt.Errorf("keyfile line %d: invalid group name %q", n, name)
			}
			if g := f.group(name); g != nil {
				cur = g // GKeyFile merges duplicate groups
			} else {
				cur = &group{name: name}
				f.groups = append(f.groups, cur)
			}
		default:
			eq := strings.IndexByte(text, '=')
			if eq <= 0 {
				return nil, fmt.Errorf("keyfile line %d: expected key=value, got %q", n, text)
			}
			if cur == nil {
				return nil, fmt.Errorf("keyfile line %d: key outside of any group", n)
			}
			key := strings.TrimSpace(text[:eq])
			val := strings.TrimLeft(text[eq+1:], " \t")
			if key == "" {
				return nil, fmt.Errorf("keyfile line %d: empty key", n)
			}
			cur.set(key, val)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read keyfile: %w", err)
	}
	return f, nil
}

// ParseBytes parses a key file held in memory.
func ParseBytes(b []byte) (*File, error) { return Parse(bytes.NewReader(b)) }

func (f *File) group(name string) *group {
	for _, g := range f.groups {
		if g.name == name {
			return g
		}
	}
	return nil
}

func (g *group) set(key, raw string) {
	for i := range g.lines {
		if g.lines[i].key == key {
			g.lines[i].value = raw
			return
		}
	}
	g.lines = append(g.lines, line{key: key, value: raw})
}

// Groups returns the group names in file order.
func (f *File) Groups() []string {
	out := make([]string, len(f.groups))
	for i, g := range f.groups {
		out[i] = g.name
	}
	return out
}

// HasGroup reports whether the group exists.
func (f *File) HasGroup(name string) bool { return f.group(name) != nil }

// Keys returns the keys of a group in file order.
func (f *File) Keys(groupName string) []string {
	g := f.group(groupName)
	if g == nil {
		return nil
	}
	var out []string
	for _, l := range g.lines {
		if l.key != "" {
			out = append(out, l.key)
		}
	}
	return out
}

// Value returns the unescaped value of key in group.
func (f *File) Value(groupName, key string) (string, bool) {
	g := f.group(groupName)
	if g == nil {
		return "", false
	}
	for _, l := range g.lines {
		if l.key == key {
			return unescape(l.value), true
		}
	}
	return "", false
}

// String returns the value of key, or def when it is absent.
func (f *File) String(groupName, key, def string) string {
	if v, ok := f.Value(groupName, key); ok {
		return v
	}
	return def
}

// Bool parses a boolean value as GLib does (true/false, also 1/0); def when absent.
func (f *File) Bool(groupName, key string, def bool) (bool, error) {
	v, ok := f.Value(groupName, key)
	if !ok {
		return def, nil
	}
	switch strings.TrimSpace(v) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return def, fmt.Errorf("key %s in [%s]: invalid boolean %q", key, groupName, v)
}

// Int parses an integer value; def when absent.
func (f *File) Int(groupName, key string, def int64) (int64, error) {
	v, ok := f.Value(groupName, key)
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return def, fmt.Errorf("key %s in [%s]: %w", key, groupName, err)
	}
	return n, nil
}

// List returns a ';'-separated list value.
func (f *File) List(groupName, key string) []string {
	g := f.group(groupName)
	if g == nil {
		return nil
	}
	for _, l := range g.lines {
		if l.key == key {
			var out []string
			for _, p := range splitList(l.value) {
				out = append(out, unescape(p))
			}
			return out
		}
	}
	return nil
}

func splitList(raw string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '\\' && i+1 < len(raw) {
			cur.WriteByte(c)
			cur.WriteByte(raw[i+1])
			i++
			continue
		}
		if c == ';' {
			out = append(out, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// Set sets key in group (creating the group at the end if needed).
func (f *File) Set(groupName, key, value string) {
	g := f.group(groupName)
	if g == nil {
		g = &group{name: groupName}
		f.groups = append(f.groups, g)
	}
	g.set(key, escape(value))
}

// SetList sets a ';'-terminated list value, as GLib writes lists.
func (f *File) SetList(groupName, key string, values []string) {
	var b strings.Builder
	for _, v := range values {
		b.WriteString(strings.ReplaceAll(escape(v), ";", "\\;"))
		b.WriteByte(';')
	}
	g := f.group(groupName)
	if g == nil {
		g = &group{name: groupName}
		f.groups = append(f.groups, g)
	}
	g.set(key, b.String())
}

// DeleteKey removes key from group; it reports whether it existed.
func (f *File) DeleteKey(groupName, key string) bool {
	g := f.group(groupName)
	if g == nil {
		return false
	}
	for i, l := range g.lines {
		if l.key == key {
			g.lines = append(g.lines[:i], g.lines[i+1:]...)
			return true
		}
	}
	return false
}

// DeleteGroup removes a group; it reports whether it existed.
func (f *File) DeleteGroup(name string) bool {
	for i, g := range f.groups {
		if g.name == name {
			f.groups = append(f.groups[:i], f.groups[i+1:]...)
			return true
		}
	}
	return false
}

// Bytes serializes the file as GKeyFile does: groups separated by a blank line.
func (f *File) Bytes() []byte {
	var b bytes.Buffer
	for _, h := range f.head {
		b.WriteString(h)
		b.WriteByte('\n')
	}
	for i, g := range f.groups {
		if i > 0 && !endsBlank(b.Bytes()) {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "[%s]\n", g.name)
		for _, l := range g.lines {
			if l.key == "" {
				b.WriteString(l.raw)
			} else {
				b.WriteString(l.key)
				b.WriteByte('=')
				b.WriteString(l.value)
			}
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

func endsBlank(b []byte) bool { return len(b) == 0 || bytes.HasSuffix(b, []byte("\n\n")) }

func escape(s string) string {
	// As GLib's g_key_file_set_string: the leading run of spaces and tabs
	// is escaped (\s, \t), later ones are kept as they are.
	var b strings.Builder
	leading := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case ' ':
			if leading {
				b.WriteString(`\s`)
			} else {
				b.WriteByte(c)
			}
		case '\t':
			if leading {
				b.WriteString(`\t`)
			} else {
				b.WriteByte(c)
			}
		default:
			b.WriteByte(c)
		}
		if c != ' ' && c != '\t' {
			leading = false
		}
	}
	return b.String()
}

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 's':
			b.WriteByte(' ')
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '\\':
			b.WriteByte('\\')
		case ';':
			b.WriteByte(';')
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
