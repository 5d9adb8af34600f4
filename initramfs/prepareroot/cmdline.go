package prepareroot

import "strings"

// Arg is one kernel command-line argument: "key", or "key=value".
type Arg struct {
	Key, Value string
	HasValue   bool
}

// Cmdline is a parsed kernel command line, in order.
type Cmdline []Arg

// ParseCmdline splits a kernel command line as the kernel does
// (lib/cmdline.c next_arg): arguments are separated by white space outside
// double quotes, and the quotes are removed, so `a="b c"` is a=b c.
func ParseCmdline(s string) Cmdline {
	var c Cmdline
	var tok strings.Builder
	inQuote, inTok := false, false
	flush := func() {
		if !inTok {
			return
		}
		t := tok.String()
		tok.Reset()
		inTok = false
		if t == "" {
			return // only quotes (`""`): nothing to name
		}
		k, v, ok := strings.Cut(t, "=")
		c = append(c, Arg{Key: k, Value: v, HasValue: ok})
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '"':
			inQuote = !inQuote
			inTok = true
		case !inQuote && (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f'):
			flush()
		default:
			tok.WriteByte(ch)
			inTok = true
		}
	}
	flush()
	return c
}

// Get returns the value of the last "key=value" argument named key, as the
// kernel and ostree let a later argument override an earlier one.
func (c Cmdline) Get(key string) (string, bool) {
	for i := len(c) - 1; i >= 0; i-- {
		if c[i].Key == key && c[i].HasValue {
			return c[i].Value, true
		}
	}
	return "", false
}

// Has reports whether key appears at all, with or without a value.
func (c Cmdline) Has(key string) bool {
	for _, a := range c {
		if a.Key == key {
			return true
		}
	}
	return false
}
