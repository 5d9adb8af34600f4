package main

import (
	"fmt"
	"strings"

	"github.com/gostree/gostree/objstore"
)

// formatXattrs prints xattrs as GLib's g_variant_print(a(ayay), TRUE) does,
// which is what `ostree ls -X` shows: type annotations only where GLib puts
// them (an empty array, and the first element of the first tuple), byte
// arrays that are NUL-terminated strings as b'...'.
func formatXattrs(xs []objstore.Xattr) string {
	if len(xs) == 0 {
		return "@a(ayay) []"
	}
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range xs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		b.WriteString(formatBytes(append([]byte(x.Name), 0), i == 0))
		b.WriteString(", ")
		b.WriteString(formatBytes(x.Value, i == 0))
		b.WriteByte(')')
	}
	b.WriteByte(']')
	return b.String()
}

// formatBytes prints an "ay" value as GLib does.
func formatBytes(v []byte, annotate bool) string {
	if isByteString(v) {
		var b strings.Builder
		// GLib quotes with ' unless the string contains one; it always
		// escapes ", and prints other non-printables as 3-digit octal.
		quote := byte('\'')
		if strings.IndexByte(string(v), '\'') >= 0 {
			quote = '"'
		}
		b.WriteByte('b')
		b.WriteByte(quote)
		for _, c := range v[:len(v)-1] {
			switch c {
			case '\\':
				b.WriteString(`\\`)
			case '\a':
				b.WriteString(`\a`)
			case '\b':
				b.WriteString(`\b`)
			case '\f':
				b.WriteString(`\f`)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			case '\v':
				b.WriteString(`\v`)
			case '"':
				b.WriteString(`\"`)
			default:
				if c >= 0x20 && c < 0x7f {
					b.WriteByte(c)
				} else {
					fmt.Fprintf(&b, "\\%03o", c)
				}
			}
		}
		b.WriteByte(quote)
		return b.String()
	}
	if len(v) == 0 {
		if annotate {
			return "@ay []"
		}
		return "[]"
	}
	var b strings.Builder
	b.WriteByte('[')
	for i, c := range v {
		if i > 0 {
			b.WriteString(", ")
		} else if annotate {
			b.WriteString("byte ")
		}
		fmt.Fprintf(&b, "0x%02x", c)
	}
	b.WriteByte(']')
	return b.String()
}

// isByteString reports whether GLib would print v as b'...': non-empty,
// NUL-terminated, no other NUL.
func isByteString(v []byte) bool {
	if len(v) == 0 || v[len(v)-1] != 0 {
		return false
	}
	for _, c := range v[:len(v)-1] {
		if c == 0 {
			return false
		}
	}
	return true
}
