package gvariant

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// Print formats v (of type t) in GVariant text format exactly as GLib's
// g_variant_print(value, FALSE) does: strings single-quoted (double-quoted
// if they contain a single quote) with C-style escapes, byte arrays that
// end in their only NUL byte as bytestrings (b'abc'), other arrays as
// [a, b], dictionaries as {k: v}, tuples as (a, b) or (a,), variants as
// <...> with type annotations inside ("<uint32 5>", "<@as []>"), maybes as
// the bare value or "nothing" ("just nothing" for nested maybes), booleans
// as true/false and doubles with 17 significant digits.
//
// Print is meant for display and never fails: a value that does not match
// t is rendered as "%!T(GoType=value)".
func Print(t *Type, v any) string {
	var sb strings.Builder
	if t == nil {
		return "%!<nil type>"
	}
	printValue(&sb, t, v, false, 0)
	return sb.String()
}

func printBad(sb *strings.Builder, t *Type, v any) {
	fmt.Fprintf(sb, "%%!%s(%T=%v)", t.sig, v, v)
}

// printValue appends the text form of v; annotate mirrors GLib's
// type_annotate flag. depth guards against cyclic values.
func printValue(sb *strings.Builder, t *Type, v any, annotate bool, depth int) {
	if depth > 2*MaxDepth {
		sb.WriteString("%!(too deep)")
		return
	}
	switch t.kind {
	case 'b':
		x, ok := v.(bool)
		if !ok {
			printBad(sb, t, v)
			return
		}
		if x {
			sb.WriteString("true")
		} else {
			sb.WriteString("false")
		}
	case 'y':
		x, ok := v.(uint8)
		if !ok {
			printBad(sb, t, v)
			return
		}
		if annotate {
			sb.WriteString("byte ")
		}
		sb.WriteString("0x")
		const hex = "0123456789abcdef"
		sb.WriteByte(hex[x>>4])
		sb.WriteByte(hex[x&15])
	case 'n':
		x, ok := v.(int16)
		if !ok {
			printBad(sb, t, v)
			return
		}
		if annotate {
			sb.WriteString("int16 ")
		}
		sb.WriteString(strconv.FormatInt(int64(x), 10))
	case 'q':
		x, ok := v.(uint16)
		if !ok {
			printBad(sb, t, v)
			return
		}
		if annotate {
			sb.WriteString("uint16 ")
		}
		sb.WriteString(strconv.FormatUint(uint64(x), 10))
	case 'i', 'h':
		x, ok := v.(int32)
		if !ok {
			printBad(sb, t, v)
			return
		}
		if annotate && t.kind == 'h' {
			sb.WriteString("handle ")
		}
		sb.WriteString(strconv.FormatInt(int64(x), 10))
	case 'u':
		x, ok := v.(uint32)
		if !ok {
			printBad(sb, t, v)
			return
		}
		if annotate {
			sb.WriteString("uint32 ")
		}
		sb.WriteString(strconv.FormatUint(uint64(x), 10))
	case 'x':
		x, ok := v.(int64)
		if !ok {
			printBad(sb, t, v)
			return
		}
		if annotate {
			sb.WriteString("int64 ")
		}
		sb.WriteString(strconv.FormatInt(x, 10))
	case 't':
		x, ok := v.(uint64)
		if !ok {
			printBad(sb, t, v)
			return
		}
		if annotate {
			sb.WriteString("uint64 ")
		}
		sb.WriteString(strconv.FormatUint(x, 10))
	case 'd':
		x, ok := v.(float64)
		if !ok {
			printBad(sb, t, v)
			return
		}
		sb.WriteString(formatDouble(x))
	case 's', 'o', 'g':
		x, ok := v.(string)
		if !ok {
			printBad(sb, t, v)
			return
		}
		if annotate {
			switch t.kind {
			case 'o':
				sb.WriteString("objectpath ")
			case 'g':
				sb.WriteString("signature ")
			}
		}
		quoteString(sb, x)
	case 'v':
		x, ok := v.(Variant)
		if !ok || x.Type == nil {
			printBad(sb, t, v)
			return
		}
		sb.WriteByte('<')
		printValue(sb, x.Type, x.Value, true, depth+1)
		sb.WriteByte('>')
	case 'm':
		printMaybe(sb, t, v, annotate, depth)
	case 'a':
		printArray(sb, t, v, annotate, depth)
	case '(':
		xs, ok := v.([]any)
		if !ok || len(xs) != len(t.fields) {
			printBad(sb, t, v)
			return
		}
		sb.WriteByte('(')
		for i, f := range t.fields {
			if i > 0 {
				sb.WriteString(", ")
			}
			printValue(sb, f, xs[i], annotate, depth+1)
		}
		if len(xs) == 1 {
			sb.WriteByte(',')
		}
		sb.WriteByte(')')
	case '{':
		x, ok := v.(DictEntry)
		if !ok {
			printBad(sb, t, v)
			return
		}
		sb.WriteByte('{')
		printValue(sb, t.fields[0], x.Key, annotate, depth+1)
		sb.WriteString(", ")
		printValue(sb, t.fields[1], x.Value, annotate, depth+1)
		sb.WriteByte('}')
	default:
		printBad(sb, t, v)
	}
}

func printMaybe(sb *strings.Builder, t *Type, v any, annotate bool, depth int) {
	if _, ok := v.(Maybe); !ok {
		printBad(sb, t, v)
		return
	}
	if annotate {
		sb.WriteByte('@')
		sb.WriteString(t.sig)
		sb.WriteByte(' ')
	}
	// Unwrap all directly nested maybe levels. If one of them is Nothing,
	// print "nothing" preceded by one "just " per enclosing Just (GLib
	// needs them to tell "mmi" Nothing from Just Nothing); otherwise print
	// the innermost value without any prefix.
	cur := v
	et := t
	for k := 0; et.kind == 'm'; k++ {
		m, ok := cur.(Maybe)
		if !ok {
			printBad(sb, et, cur)
			return
		}
		if !m.Valid {
			for ; k > 0; k-- {
				sb.WriteString("just ")
			}
			sb.WriteString("nothing")
			return
		}
		cur = m.Value
		et = et.elem
	}
	printValue(sb, et, cur, false, depth+1)
}

func printArray(sb *strings.Builder, t *Type, v any, annotate bool, depth int) {
	el := t.elem
	if el.kind == 'y' {
		b, ok := v.([]byte)
		if !ok {
			printBad(sb, t, v)
			return
		}
		// GLib prints a byte array as a bytestring when its first NUL
		// byte is its last byte.
		if n := len(b); n > 0 && bytes.IndexByte(b, 0) == n-1 {
			printByteString(sb, b[:n-1])
			return
		}
		if len(b) == 0 {
			if annotate {
				sb.WriteString("@ay ")
			}
			sb.WriteString("[]")
			return
		}
		sb.WriteByte('[')
		for i, c := range b {
			if i > 0 {
				sb.WriteString(", ")
			}
			printValue(sb, el, c, annotate && i == 0, depth+1)
		}
		sb.WriteByte(']')
		return
	}
	xs, ok := v.([]any)
	if !ok {
		printBad(sb, t, v)
		return
	}
	open, close := byte('['), byte(']')
	if el.kind == '{' {
		open, close = '{', '}'
	}
	if len(xs) == 0 {
		if annotate {
			sb.WriteByte('@')
			sb.WriteString(t.sig)
			sb.WriteByte(' ')
		}
		sb.WriteByte(open)
		sb.WriteByte(close)
		return
	}
	sb.WriteByte(open)
	for i, x := range xs {
		if i > 0 {
			sb.WriteString(", ")
		}
		a := annotate && i == 0
		if el.kind == '{' {
			de, ok := x.(DictEntry)
			if !ok {
				printBad(sb, el, x)
				continue
			}
			printValue(sb, el.fields[0], de.Key, a, depth+1)
			sb.WriteString(": ")
			printValue(sb, el.fields[1], de.Value, a, depth+1)
			continue
		}
		printValue(sb, el, x, a, depth+1)
	}
	sb.WriteByte(close)
}

// formatDouble formats like GLib: printf("%.17g") in the C locale, with
// ".0" appended when the result looks like an integer.
func formatDouble(x float64) string {
	switch {
	case math.IsNaN(x):
		if math.Signbit(x) {
			return "-nan"
		}
		return "nan"
	case math.IsInf(x, 1):
		return "inf"
	case math.IsInf(x, -1):
		return "-inf"
	}
	s := strconv.FormatFloat(x, 'g', 17, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

// quoteString writes s quoted as GLib does for type s: single quotes
// unless s contains one, backslash before the quote character and
// backslash, C escapes or \uXXXX / \UXXXXXXXX for non-printable runes.
func quoteString(sb *strings.Builder, s string) {
	quote := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 {
		quote = '"'
	}
	sb.WriteByte(quote)
	for _, r := range s {
		if r == rune(quote) || r == '\\' {
			sb.WriteByte('\\')
		}
		if isPrint(r) {
			sb.WriteRune(r)
			continue
		}
		sb.WriteByte('\\')
		switch r {
		case '\a':
			sb.WriteByte('a')
		case '\b':
			sb.WriteByte('b')
		case '\f':
			sb.WriteByte('f')
		case '\n':
			sb.WriteByte('n')
		case '\r':
			sb.WriteByte('r')
		case '\t':
			sb.WriteByte('t')
		case '\v':
			sb.WriteByte('v')
		default:
			if r < 0x10000 {
				fmt.Fprintf(sb, "u%04x", r)
			} else {
				fmt.Fprintf(sb, "U%08x", r)
			}
		}
	}
	sb.WriteByte(quote)
}

// isPrint mirrors g_unichar_isprint: every assigned character except
// controls (Cc), format characters (Cf) and surrogates (Cs) is printable,
// including spaces, separators and private-use characters.
func isPrint(r rune) bool {
	if r < 0x7f {
		return r >= 0x20
	}
	if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Cs) {
		return false
	}
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.Co)
}

// printByteString writes b (without its terminating NUL) as GLib does:
// b'...' (b"..." if b contains a single quote), escaped like g_strescape.
func printByteString(sb *strings.Builder, b []byte) {
	quote := byte('\'')
	if bytes.IndexByte(b, '\'') >= 0 {
		quote = '"'
	}
	sb.WriteByte('b')
	sb.WriteByte(quote)
	for _, c := range b {
		switch c {
		case '\b':
			sb.WriteString(`\b`)
		case '\f':
			sb.WriteString(`\f`)
		case '\n':
			sb.WriteString(`\n`)
		case '\r':
			sb.WriteString(`\r`)
		case '\t':
			sb.WriteString(`\t`)
		case '\v':
			sb.WriteString(`\v`)
		case '\\':
			sb.WriteString(`\\`)
		case '"':
			sb.WriteString(`\"`)
		default:
			if c < 0x20 || c >= 0x7f {
				sb.WriteByte('\\')
				sb.WriteByte('0' + c>>6)
				sb.WriteByte('0' + (c>>3)&7)
				sb.WriteByte('0' + c&7)
			} else {
				sb.WriteByte(c)
			}
		}
	}
	sb.WriteByte(quote)
}
