package gvariant

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ParseError reports text that is not a GVariant in text format (or not
// one of the requested type). Start and End are byte offsets of the
// offending part of the input, as GLib reports them.
type ParseError struct {
	Start, End int
	Msg        string
}

// Error implements error, in GLib's "START-END:message" form.
func (e *ParseError) Error() string {
	if e.Start == e.End {
		return "gvariant: " + strconv.Itoa(e.Start) + ":" + e.Msg
	}
	return "gvariant: " + strconv.Itoa(e.Start) + "-" + strconv.Itoa(e.End) + ":" + e.Msg
}

// Parse parses s, a value in GVariant text format, as GLib's
// g_variant_parse(NULL, s, ...) does, and returns it with its type. Where
// the text does not say the type, it is inferred as GLib infers it:
// integers are int32 ("i") and numbers with a '.', an exponent, inf or nan
// are doubles, strings are "s", the elements of an array and the keys of
// a dictionary must agree ([1, 2.5] is "ad"), a dictionary's values take
// the type of its first value, values are not maybes unless "just" or
// "nothing" says so, and an empty array or "nothing" needs a type
// annotation ("@as []", "@mi nothing"). Annotations are "@TYPE value" or
// the keywords boolean, byte, int16, uint16, int32, uint32, int64, uint64,
// handle, double, string, objectpath and signature. {k: v, ...} is a
// dictionary, {k, v} a single dict entry, <value> a variant, b'...' a
// bytestring (an "ay" ending in a NUL byte). Everything g_variant_print
// (and Print) writes parses back to the same value.
//
// Parse never panics; nesting deeper than MaxDepth is an error. A NUL byte
// ends the input, as it does for GLib.
func Parse(s string) (Variant, error) {
	p, n, err := parseText(s)
	if err != nil {
		return Variant{}, err
	}
	pat, err := p.pattern(n)
	if err != nil {
		return Variant{}, err
	}
	t, err := resolvePattern(n, pat)
	if err != nil {
		return Variant{}, err
	}
	v, err := p.value(n, t)
	if err != nil {
		return Variant{}, err
	}
	return Variant{Type: t, Value: v}, nil
}

// ParseAs parses s as a value of type t, as g_variant_parse(t, s, ...)
// does: the type resolves what the text leaves open ("[]" as "as", 5 as
// "t", 'x' as "ms") and the text must fit it.
func ParseAs(t *Type, s string) (any, error) {
	if t == nil {
		return nil, &ParseError{Msg: "no type given"}
	}
	p, n, err := parseText(s)
	if err != nil {
		return nil, err
	}
	return p.value(n, t)
}

// node kinds of the parse tree.
const (
	nArray = iota
	nTuple
	nDict  // {k: v, ...}: keys and values
	nEntry // {k, v}: one key and one value
	nVariant
	nMaybe // just x (one child) or nothing
	nString
	nBytes
	nNumber
	nBool
	nTypeDecl
)

type node struct {
	kind       int
	start, end int
	kids       []*node // array and tuple elements; the child of variant, maybe, typedecl
	keys, vals []*node // dictionaries and dict entries
	text       string  // string and bytestring contents; a number's token
	b          bool
	typ        *Type // typedecl
}

type textParser struct {
	src  string
	pos  int // start of the next token
	tok  string
	tpos int // start of tok, when tok is set
	have bool
}

// parseText parses s into a tree and checks that nothing but white space
// follows.
func parseText(s string) (*textParser, *node, error) {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	p := &textParser{src: s}
	n, err := p.parse(0)
	if err != nil {
		return nil, nil, err
	}
	rest := p.pos
	if p.have {
		rest = p.tpos // a token was looked at and not used
	}
	for rest < len(s) && isSpace(s[rest]) {
		rest++
	}
	if rest != len(s) {
		return nil, nil, &ParseError{Start: rest, End: rest, Msg: "expected end of input"}
	}
	return p, n, nil
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlnum(c byte) bool { return isAlpha(c) || isDigit(c) }

// peekTok returns the next token (GLib's tokeniser), or "" at the end.
func (p *textParser) peekTok() string {
	if p.have {
		return p.tok
	}
	s := p.src
	i := p.pos
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	p.tpos, p.have = i, true
	if i == len(s) {
		p.tok, p.pos = "", i
		return ""
	}
	end := i + 1
	switch c := s[i]; {
	case c == '-' || c == '+' || c == '.' || isDigit(c):
		for end = i; end < len(s) && (isAlnum(s[end]) || s[end] == '-' || s[end] == '+' || s[end] == '.'); end++ {
		}
	case c == 'b' && i+1 < len(s) && (s[i+1] == '\'' || s[i+1] == '"'):
		end = quotedEnd(s, i+1)
	case c >= 'a' && c <= 'z':
		for end = i; end < len(s) && isAlnum(s[end]); end++ {
		}
	case c == '\'' || c == '"':
		end = quotedEnd(s, i)
	case c == '@' || c == '%':
		brackets := 0
		for end = i + 1; end < len(s) && s[end] != ',' && s[end] != ':' && s[end] != '>' && s[end] != ']' && !isSpace(s[end]); end++ {
			if s[end] == '(' || s[end] == '{' {
				brackets++
			} else if s[end] == ')' || s[end] == '}' {
				if brackets == 0 {
					break
				}
				brackets--
			}
		}
	}
	p.tok, p.pos = s[i:end], end
	return p.tok
}

// quotedEnd returns the end of the quoted token whose opening quote is at
// q: after the closing quote, or the end of the input if there is none.
func quotedEnd(s string, q int) int {
	for end := q + 1; end < len(s); end++ {
		switch s[end] {
		case s[q]:
			return end + 1
		case '\\':
			end++
		}
	}
	return len(s)
}

func (p *textParser) drop() {
	if !p.have {
		p.peekTok()
	}
	p.have = false
}

func (p *textParser) consume(tok string) bool {
	if p.peekTok() != tok {
		return false
	}
	p.drop()
	return true
}

func (p *textParser) errTok(this bool, msg string) *ParseError {
	p.peekTok()
	e := &ParseError{Start: p.tpos, End: p.tpos, Msg: msg}
	if this {
		e.End = p.pos
	}
	return e
}

func (p *textParser) require(tok, purpose string) error {
	if !p.consume(tok) {
		return p.errTok(false, "expected '"+tok+"'"+purpose)
	}
	return nil
}

var typeKeywords = map[string]string{
	"boolean": "b", "byte": "y", "int16": "n", "uint16": "q", "int32": "i", "handle": "h",
	"uint32": "u", "int64": "x", "uint64": "t", "double": "d", "string": "s",
	"objectpath": "o", "signature": "g",
}

func (p *textParser) parse(depth int) (*node, error) {
	if depth >= MaxDepth {
		return nil, p.errTok(false, "variant nested too deeply")
	}
	tok := p.peekTok()
	start := p.tpos
	var n *node
	var err error
	switch {
	case tok == "[":
		n, err = p.parseList(depth, nArray, "]")
	case tok == "(":
		n, err = p.parseList(depth, nTuple, ")")
	case tok == "<":
		p.drop()
		var kid *node
		if kid, err = p.parse(depth + 1); err == nil {
			if err = p.require(">", " to follow variant value"); err == nil {
				n = &node{kind: nVariant, kids: []*node{kid}}
			}
		}
	case tok == "{":
		n, err = p.parseDict(depth)
	case tok == "true" || tok == "false":
		p.drop()
		n = &node{kind: nBool, b: tok == "true"}
	case tok != "" && (isDigit(tok[0]) || tok[0] == '-' || tok[0] == '+' || tok[0] == '.') || tok == "inf" || tok == "nan":
		p.drop()
		n = &node{kind: nNumber, text: tok}
	case tok != "" && (tok[0] == 'n' || tok[0] == 'j'):
		switch tok {
		case "just":
			p.drop()
			var kid *node
			if kid, err = p.parse(depth + 1); err == nil {
				n = &node{kind: nMaybe, kids: []*node{kid}}
			}
		case "nothing":
			p.drop()
			n = &node{kind: nMaybe}
		default:
			err = p.errTok(true, "unknown keyword")
		}
	case tok != "" && tok[0] == '@' || len(tok) >= 2 && isAlpha(tok[0]) && isAlpha(tok[1]):
		n, err = p.parseTypeDecl(depth)
	case tok != "" && (tok[0] == '\'' || tok[0] == '"'):
		var s string
		if s, err = p.parseString(tok, 0, false); err == nil {
			p.drop()
			n = &node{kind: nString, text: s}
		}
	case len(tok) >= 2 && tok[0] == 'b' && (tok[1] == '\'' || tok[1] == '"'):
		var s string
		if s, err = p.parseString(tok, 1, true); err == nil {
			p.drop()
			n = &node{kind: nBytes, text: s}
		}
	default:
		err = p.errTok(false, "expected value")
	}
	if err != nil {
		return nil, err
	}
	n.start, n.end = start, p.pos
	return n, nil
}

// parseList parses an array ([a, b]) or a tuple ((a,) or (a, b)).
func (p *textParser) parseList(depth, kind int, closing string) (*node, error) {
	p.drop()
	n := &node{kind: kind}
	needComma := false
	for !p.consume(closing) {
		if needComma {
			if err := p.require(",", " or '"+closing+"' to follow "+map[int]string{nArray: "array", nTuple: "tuple"}[kind]+" element"); err != nil {
				return nil, err
			}
		}
		kid, err := p.parse(depth + 1)
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, kid)
		if kind == nTuple && len(n.kids) == 1 {
			// A tuple's first element is always followed by a comma.
			if err := p.require(",", " after first tuple element"); err != nil {
				return nil, err
			}
		} else {
			needComma = true
		}
	}
	return n, nil
}

// parseDict parses {}, {k: v, ...} (a dictionary) or {k, v} (a dict entry).
func (p *textParser) parseDict(depth int) (*node, error) {
	p.drop()
	n := &node{kind: nDict}
	if p.consume("}") {
		return n, nil
	}
	k, err := p.parse(depth + 1)
	if err != nil {
		return nil, err
	}
	only := p.consume(",")
	if !only {
		if err := p.require(":", " or ',' to follow dictionary entry key"); err != nil {
			return nil, err
		}
	}
	v, err := p.parse(depth + 1)
	if err != nil {
		return nil, err
	}
	n.keys, n.vals = []*node{k}, []*node{v}
	if only {
		if err := p.require("}", " at end of dictionary entry"); err != nil {
			return nil, err
		}
		n.kind = nEntry
		return n, nil
	}
	for !p.consume("}") {
		if err := p.require(",", " or '}' to follow dictionary entry"); err != nil {
			return nil, err
		}
		k, err := p.parse(depth + 1)
		if err != nil {
			return nil, err
		}
		if err := p.require(":", " to follow dictionary entry key"); err != nil {
			return nil, err
		}
		v, err := p.parse(depth + 1)
		if err != nil {
			return nil, err
		}
		n.keys, n.vals = append(n.keys, k), append(n.vals, v)
	}
	return n, nil
}

func (p *textParser) parseTypeDecl(depth int) (*node, error) {
	tok := p.peekTok()
	var t *Type
	if tok[0] == '@' {
		var err error
		if t, err = ParseType(tok[1:]); err != nil {
			return nil, p.errTok(true, "invalid type declaration")
		}
	} else if sig, ok := typeKeywords[tok]; ok {
		t = basicTypes[sig[0]]
	} else {
		return nil, p.errTok(true, "unknown keyword")
	}
	p.drop()
	kid, err := p.parse(depth + 1)
	if err != nil {
		return nil, err
	}
	return &node{kind: nTypeDecl, typ: t, kids: []*node{kid}}, nil
}

// parseString decodes a quoted string token (from its quote at tok[q]):
// C escapes, \uXXXX and \UXXXXXXXX in strings, octal escapes in
// bytestrings, and a backslash before a newline or any other character
// standing for that character.
func (p *textParser) parseString(tok string, q int, bytestring bool) (string, error) {
	quote := tok[q]
	var sb strings.Builder
	for i := q + 1; ; {
		if i >= len(tok) {
			return "", &ParseError{Start: p.tpos, End: p.pos, Msg: "unterminated string constant"}
		}
		c := tok[i]
		if c == quote {
			return sb.String(), nil
		}
		if c != '\\' {
			sb.WriteByte(c)
			i++
			continue
		}
		i++
		if i >= len(tok) {
			return "", &ParseError{Start: p.tpos, End: p.pos, Msg: "unterminated string constant"}
		}
		switch e := tok[i]; {
		case !bytestring && (e == 'u' || e == 'U'):
			n := 4
			if e == 'U' {
				n = 8
			}
			i++
			hex := tok[i:min(i+n, len(tok))]
			r, err := strconv.ParseUint(hex, 16, 32)
			if len(hex) != n || err != nil || r == 0 || strings.ContainsAny(hex, "+-xX") {
				at := p.tpos + i
				return "", &ParseError{Start: at, End: at + len(hex), Msg: "invalid " + strconv.Itoa(n) + "-character unicode escape"}
			}
			if !utf8.ValidRune(rune(r)) {
				at := p.tpos + i
				return "", &ParseError{Start: at, End: at + n, Msg: "unicode escape is not a valid character"}
			}
			sb.WriteRune(rune(r))
			i += n
		case bytestring && e >= '0' && e <= '7':
			val := e - '0'
			i++
			for k := 0; k < 2 && i < len(tok) && tok[i] >= '0' && tok[i] <= '7'; k++ {
				val = val<<3 | (tok[i] - '0')
				i++
			}
			sb.WriteByte(val)
		case strings.IndexByte("abfnrtv", e) >= 0:
			sb.WriteByte("\a\b\f\n\r\t\v"[strings.IndexByte("abfnrtv", e)])
			i++
		case e == '\n':
			i++
		default:
			sb.WriteByte(e)
			i++
		}
	}
}

// pattern returns GLib's type pattern of n: a type string that may also
// hold M (maybe or not), N (any number type), S (s, o or g) and * (any
// type).
func (p *textParser) pattern(n *node) (string, error) {
	switch n.kind {
	case nArray:
		if len(n.kids) == 0 {
			return "Ma*", nil
		}
		el, err := p.listPattern(n.kids)
		if err != nil {
			return "", err
		}
		return "Ma" + el, nil
	case nTuple:
		var sb strings.Builder
		sb.WriteString("M(")
		for _, k := range n.kids {
			kp, err := p.pattern(k)
			if err != nil {
				return "", err
			}
			sb.WriteString(kp)
		}
		sb.WriteByte(')')
		return sb.String(), nil
	case nDict, nEntry:
		if len(n.keys) == 0 {
			return "Ma{**}", nil
		}
		kp, err := p.listPattern(n.keys)
		if err != nil {
			return "", err
		}
		key := kp[0]
		if key == 'M' && len(kp) > 1 {
			key = kp[1]
		}
		if strings.IndexByte("bynqiuxthdsogNS", key) < 0 {
			return "", &ParseError{Start: n.start, End: n.end, Msg: "dictionary keys must have basic types"}
		}
		vp, err := p.pattern(n.vals[0])
		if err != nil {
			return "", err
		}
		if n.kind == nEntry {
			return "M{" + string(key) + vp + "}", nil
		}
		return "Ma{" + string(key) + vp + "}", nil
	case nVariant:
		return "Mv", nil
	case nMaybe:
		if len(n.kids) == 0 {
			return "m*", nil
		}
		kp, err := p.pattern(n.kids[0])
		if err != nil {
			return "", err
		}
		return "m" + kp, nil
	case nString:
		return "MS", nil
	case nBytes:
		return "May", nil
	case nNumber:
		t := n.text
		if strings.ContainsRune(t, '.') || !strings.HasPrefix(t, "0x") && strings.ContainsRune(t, 'e') ||
			strings.Contains(t, "inf") || strings.Contains(t, "nan") {
			return "Md", nil
		}
		return "MN", nil
	case nBool:
		return "Mb", nil
	case nTypeDecl:
		return n.typ.sig, nil
	}
	return "", &ParseError{Start: n.start, End: n.end, Msg: "internal: unknown node"}
}

// listPattern coalesces the patterns of array elements (or dictionary
// keys): the most specific pattern all of them fit.
func (p *textParser) listPattern(kids []*node) (string, error) {
	pat, err := p.pattern(kids[0])
	if err != nil {
		return "", err
	}
	for i := 1; i < len(kids); i++ {
		kp, err := p.pattern(kids[i])
		if err != nil {
			return "", err
		}
		merged, ok := coalesce(pat, kp)
		if !ok {
			// Name the first earlier element that conflicts with this one.
			for j := 0; j < i; j++ {
				jp, _ := p.pattern(kids[j])
				if _, ok := coalesce(kp, jp); !ok {
					return "", &ParseError{Start: kids[j].start, End: kids[j].end,
						Msg: "unable to find a common type with " + strconv.Itoa(kids[i].start) + "-" + strconv.Itoa(kids[i].end)}
				}
			}
			return "", &ParseError{Start: kids[i].start, End: kids[i].end, Msg: "unable to find a common type"}
		}
		pat = merged
	}
	return pat, nil
}

// coalesce merges two patterns as GLib's pattern_coalesce does.
func coalesce(left, right string) (string, bool) {
	out := make([]byte, 0, len(left)+len(right))
	l, r := 0, 0
	for l < len(left) && r < len(right) {
		if left[l] == right[r] {
			out = append(out, left[l])
			l++
			r++
			continue
		}
		// Try with left as "one", then with right as "one".
		one, other := left, right
		oi, ti := &l, &r
		matched := false
		for pass := 0; pass < 2 && !matched; pass++ {
			a, b := one[*oi], other[*ti]
			switch {
			case a == '*' && b != ')':
				n := copyPattern(other, *ti)
				out = append(out, other[*ti:*ti+n]...)
				*ti += n
				*oi++
				matched = true
			case a == 'M' && b == 'm':
				out = append(out, b)
				*ti++
				matched = true
			case a == 'M' && b != '*':
				*oi++
				matched = true
			case a == 'N' && strings.IndexByte("ynqiuxthd", b) >= 0:
				out = append(out, b)
				*ti++
				*oi++
				matched = true
			case a == 'S' && strings.IndexByte("sog", b) >= 0:
				out = append(out, b)
				*ti++
				*oi++
				matched = true
			}
			one, other = other, one
			oi, ti = ti, oi
		}
		if !matched {
			return "", false
		}
	}
	if l < len(left) || r < len(right) {
		return "", false
	}
	return string(out), true
}

// copyPattern returns the length of the one complete pattern at s[i:]
// (its a/m/M prefixes and one type, brackets balanced).
func copyPattern(s string, i int) int {
	j := i
	for j < len(s) && (s[j] == 'a' || s[j] == 'm' || s[j] == 'M') {
		j++
	}
	brackets := 0
	for j < len(s) {
		c := s[j]
		j++
		if c == '(' || c == '{' {
			brackets++
		} else if c == ')' || c == '}' {
			brackets--
		}
		if brackets <= 0 {
			break
		}
	}
	return j - i
}

// resolvePattern chooses GLib's defaults for what a pattern leaves open:
// no maybe, "s" for strings, "i" for integers; * cannot be resolved.
func resolvePattern(n *node, pat string) (*Type, error) {
	var sb strings.Builder
	for i := 0; i < len(pat); i++ {
		switch c := pat[i]; c {
		case '*':
			return nil, &ParseError{Start: n.start, End: n.end, Msg: "unable to infer type"}
		case 'M':
		case 'S':
			sb.WriteByte('s')
		case 'N':
			sb.WriteByte('i')
		default:
			sb.WriteByte(c)
		}
	}
	t, err := ParseType(sb.String())
	if err != nil {
		return nil, &ParseError{Start: n.start, End: n.end, Msg: "unable to infer type (" + err.Error() + ")"}
	}
	return t, nil
}

func typeError(n *node, t *Type) error {
	return &ParseError{Start: n.start, End: n.end, Msg: "can not parse as value of type '" + t.sig + "'"}
}

// value builds n's value as type t. Values other than maybes, type
// declarations and "nothing" may stand for a maybe: they are its Just,
// once per maybe level.
func (p *textParser) value(n *node, t *Type) (any, error) {
	switch n.kind {
	case nMaybe:
		if t.kind != 'm' {
			return nil, typeError(n, t)
		}
		if len(n.kids) == 0 {
			return Maybe{}, nil
		}
		v, err := p.value(n.kids[0], t.elem)
		if err != nil {
			return nil, err
		}
		return Just(v), nil
	case nTypeDecl:
		return p.value(n.kids[0], t)
	}
	depth := 0
	base := t
	for base.kind == 'm' {
		depth++
		base = base.elem
	}
	v, err := p.baseValue(n, base)
	if err != nil {
		return nil, err
	}
	for ; depth > 0; depth-- {
		v = Just(v)
	}
	return v, nil
}

func (p *textParser) baseValue(n *node, t *Type) (any, error) {
	switch n.kind {
	case nArray:
		if t.kind != 'a' {
			return nil, typeError(n, t)
		}
		if t.elem.kind == 'y' {
			out := make([]byte, 0, len(n.kids))
			for _, k := range n.kids {
				v, err := p.value(k, t.elem)
				if err != nil {
					return nil, err
				}
				out = append(out, v.(uint8))
			}
			return out, nil
		}
		out := make([]any, 0, len(n.kids))
		for _, k := range n.kids {
			v, err := p.value(k, t.elem)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case nTuple:
		if t.kind != '(' || len(t.fields) != len(n.kids) {
			return nil, typeError(n, t)
		}
		out := make([]any, len(n.kids))
		for i, k := range n.kids {
			v, err := p.value(k, t.fields[i])
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case nEntry:
		if t.kind != '{' {
			return nil, typeError(n, t)
		}
		return p.entry(n, 0, t)
	case nDict:
		if t.kind != 'a' || t.elem.kind != '{' {
			return nil, typeError(n, t)
		}
		out := make([]any, 0, len(n.keys))
		for i := range n.keys {
			e, err := p.entry(n, i, t.elem)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		return out, nil
	case nVariant:
		if t.kind != 'v' {
			return nil, typeError(n, t)
		}
		kid := n.kids[0]
		pat, err := p.pattern(kid)
		if err != nil {
			return nil, err
		}
		ct, err := resolvePattern(kid, pat)
		if err != nil {
			return nil, err
		}
		v, err := p.value(kid, ct)
		if err != nil {
			return nil, err
		}
		return Variant{Type: ct, Value: v}, nil
	case nString:
		switch t.kind {
		case 's':
			if !utf8.ValidString(n.text) {
				return nil, &ParseError{Start: n.start, End: n.end, Msg: "string is not valid UTF-8"}
			}
		case 'o':
			if !validObjectPath(n.text) {
				return nil, &ParseError{Start: n.start, End: n.end, Msg: "not a valid object path"}
			}
		case 'g':
			if !validSignature(n.text) {
				return nil, &ParseError{Start: n.start, End: n.end, Msg: "not a valid signature"}
			}
		default:
			return nil, typeError(n, t)
		}
		return n.text, nil
	case nBytes:
		if t.sig != "ay" {
			return nil, typeError(n, t)
		}
		// A bytestring is a C string and its NUL: an escaped NUL ends it.
		s := n.text
		if i := strings.IndexByte(s, 0); i >= 0 {
			s = s[:i]
		}
		return append([]byte(s), 0), nil
	case nBool:
		if t.kind != 'b' {
			return nil, typeError(n, t)
		}
		return n.b, nil
	case nNumber:
		return numberValue(n, t)
	}
	return nil, typeError(n, t)
}

func (p *textParser) entry(n *node, i int, t *Type) (DictEntry, error) {
	k, err := p.value(n.keys[i], t.fields[0])
	if err != nil {
		return DictEntry{}, err
	}
	v, err := p.value(n.vals[i], t.fields[1])
	if err != nil {
		return DictEntry{}, err
	}
	return DictEntry{Key: k, Value: v}, nil
}

// numberValue converts a number token to type t as GLib does: strtod for
// doubles; for integers an optional '-', then strtoull with base 0
// (0x… hexadecimal, 0… octal), then a range check.
func numberValue(n *node, t *Type) (any, error) {
	tok := n.text
	invalid := func(at int) error {
		return &ParseError{Start: n.start + at, End: n.start + at + 1, Msg: "invalid character in number"}
	}
	if t.kind == 'd' {
		if strings.EqualFold(strings.TrimLeft(tok, "+-"), "nan") && len(tok) <= 4 {
			// strtod's NaN: the quiet NaN without payload, with the sign
			// as written (ParseFloat refuses a sign and sets a payload).
			bits := uint64(0x7ff8000000000000)
			if tok[0] == '-' {
				bits |= 1 << 63
			}
			return math.Float64frombits(bits), nil
		}
		f, err := strconv.ParseFloat(tok, 64)
		if err == nil && f != 0 && math.Abs(f) < 0x1p-1022 {
			// glibc's strtod reports ERANGE for a subnormal result, and
			// GLib then refuses the number.
			return nil, &ParseError{Start: n.start, End: n.end, Msg: "number too big for any type"}
		}
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange && f != 0 {
				return nil, &ParseError{Start: n.start, End: n.end, Msg: "number too big for any type"}
			}
			// strtod also reads hexadecimal integers without a 'p'
			// exponent, which ParseFloat refuses.
			if v, end, over := strtoull(tok); !over && end == len(tok) && hexPrefixed(tok) {
				f = float64(v)
				if strings.HasPrefix(tok, "-") {
					f = -f
				}
				return f, nil
			}
			return nil, invalid(0)
		}
		return f, nil
	}
	neg := strings.HasPrefix(tok, "-")
	body := tok
	if neg {
		body = tok[1:]
	}
	abs, end, over := strtoull(body)
	if over {
		return nil, &ParseError{Start: n.start, End: n.end, Msg: "integer too big for any type"}
	}
	if end != len(body) {
		return nil, invalid(len(tok) - len(body) + end)
	}
	if abs == 0 {
		neg = false
	}
	var negBit uint64
	if neg {
		negBit = 1
	}
	overflow := func() error {
		return &ParseError{Start: n.start, End: n.end, Msg: "number out of range for type '" + string(t.kind) + "'"}
	}
	signed := func(max uint64) (int64, error) {
		if abs-negBit > max {
			return 0, overflow()
		}
		if neg {
			return -int64(abs-1) - 1, nil
		}
		return int64(abs), nil
	}
	switch t.kind {
	case 'y':
		if neg || abs > math.MaxUint8 {
			return nil, overflow()
		}
		return uint8(abs), nil
	case 'n':
		v, err := signed(math.MaxInt16)
		return int16(v), err
	case 'q':
		if neg || abs > math.MaxUint16 {
			return nil, overflow()
		}
		return uint16(abs), nil
	case 'i', 'h':
		v, err := signed(math.MaxInt32)
		return int32(v), err
	case 'u':
		if neg || abs > math.MaxUint32 {
			return nil, overflow()
		}
		return uint32(abs), nil
	case 'x':
		v, err := signed(math.MaxInt64)
		return v, err
	case 't':
		if neg {
			return nil, overflow()
		}
		return abs, nil
	}
	return nil, typeError(n, t)
}

func hexPrefixed(s string) bool {
	s = strings.TrimLeft(s, "+-")
	return len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')
}

// strtoull is C's strtoull(s, &end, 0): an optional sign, then hexadecimal
// after 0x, octal after 0, else decimal; end is where parsing stopped (0
// when no digit was read) and over reports overflow (ERANGE).
func strtoull(s string) (v uint64, end int, over bool) {
	i := 0
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	base := uint64(10)
	if i+1 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && i+2 < len(s) && hexDigit(s[i+2]) >= 0 {
		base = 16
		i += 2
	} else if i < len(s) && s[i] == '0' {
		base = 8
	}
	digits := 0
	for ; i < len(s); i++ {
		d := hexDigit(s[i])
		if d < 0 || uint64(d) >= base {
			break
		}
		digits++
		if v > (math.MaxUint64-uint64(d))/base {
			over = true
		}
		v = v*base + uint64(d)
	}
	if digits == 0 {
		return 0, 0, false
	}
	if over {
		return math.MaxUint64, i, true
	}
	if neg {
		v = -v
	}
	return v, i, false
}

func hexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
