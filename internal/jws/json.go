package jws

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// maxJSONDepth bounds the nesting of objects and arrays. Real tokens nest a
// few levels; the bound keeps a crafted one from costing deep recursion.
const maxJSONDepth = 32

// ParseObject parses s, which must hold exactly one JSON object and
// optional white space around it.
func ParseObject(s string) (map[string]any, bool) {
	m, _, ok := ParseObjectSize(s)
	return m, ok
}

// ParseObjectSize is ParseObject that also estimates the heap the
// result holds beyond s itself, which the token cache counts against its
// memory bound.
func ParseObjectSize(s string) (map[string]any, int, bool) {
	p := jsonParser{s: s}
	p.skipSpace()
	if p.i >= len(s) || s[p.i] != '{' {
		return nil, 0, false
	}
	m, ok := p.object(nil)
	if !ok {
		return nil, 0, false
	}
	p.skipSpace()
	return m, p.heap, p.i == len(s)
}

type jsonParser struct {
	s     string
	i     int
	depth int
	heap  int // estimated bytes allocated for the values so far

	// skip: check the syntax only, building no values (VisitObject).
	skip bool
}

// Estimated heap sizes of decoded values on 64-bit platforms: a map's
// header and, per entry, its slot (name and value) with the map's slack;
// the box an interface needs for a string or number; a slice header and
// its elements.
const (
	mapHeaderSize = 48
	mapEntrySize  = 48
	boxSize       = 16
	sliceSize     = 24
	interfaceSize = 16
)

func (p *jsonParser) skipSpace() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// value parses the JSON value at p.i (RFC 8259 §3).
func (p *jsonParser) value() (any, bool) {
	p.skipSpace()
	if p.i >= len(p.s) {
		return nil, false
	}
	switch c := p.s[p.i]; {
	case c == '{':
		m, ok := p.object(nil)
		return m, ok
	case c == '[':
		a, ok := p.array(nil)
		if p.skip {
			return nil, ok // a nil slice in an interface would be boxed
		}
		return a, ok
	case c == '"':
		s, ok := p.string()
		p.heap += boxSize
		if p.skip {
			return nil, ok
		}
		return s, ok
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		n, ok := p.number()
		p.heap += boxSize
		if p.skip {
			return nil, ok
		}
		return n, ok
	}
	return nil, false
}

// jsonMember is one name and value of an object being read.
type jsonMember struct {
	name  string
	value any
}

// object reads an object's members into a buffer on the stack first, so
// that the map is made once at its final size rather than grown (and
// rehashed) while it is filled. visit, if not nil, is told of each member
// instead of its value being kept (VisitObject's top level).
func (p *jsonParser) object(visit func(name string, kind Kind, text string)) (map[string]any, bool) {
	if p.depth++; p.depth > maxJSONDepth {
		return nil, false
	}
	p.i++ // '{'
	var buf [16]jsonMember
	members := buf[:0]
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		p.depth--
		if p.skip {
			return nil, true
		}
		return map[string]any{}, true
	}
	for {
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return nil, false
		}
		name, ok := p.string()
		if !ok {
			return nil, false
		}
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, false
		}
		p.i++
		v, ok := p.element(name, visit)
		if !ok {
			return nil, false
		}
		members = append(members, jsonMember{name, v})
		if more, ok := p.separator('}'); !ok {
			return nil, false
		} else if more {
			continue
		}
		p.heap += mapHeaderSize + mapEntrySize*len(members)
		if p.skip {
			return nil, distinctNames(members)
		}
		m := make(map[string]any, len(members))
		for _, mb := range members {
			m[mb.name] = mb.value
		}
		// A name given twice leaves fewer entries than members.
		return m, len(m) == len(members)
	}
}

// array reads an array's elements into a buffer on the stack first, so
// that the slice is made once at its final size. visit, if not nil, is
// told of each element instead of its value being kept (VisitArray).
func (p *jsonParser) array(visit func(name string, kind Kind, text string)) ([]any, bool) {
	if p.depth++; p.depth > maxJSONDepth {
		return nil, false
	}
	p.i++ // '['
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		p.depth--
		if p.skip {
			return nil, true
		}
		return []any{}, true // encoding/json gives an empty, not a nil, slice for []
	}
	var buf [16]any
	elements := buf[:0]
	count := 0
	for {
		v, ok := p.element("", visit)
		if !ok {
			return nil, false
		}
		count++
		if !p.skip {
			elements = append(elements, v)
		}
		if more, ok := p.separator(']'); !ok {
			return nil, false
		} else if more {
			continue
		}
		p.heap += sliceSize + interfaceSize*count
		if p.skip {
			return nil, true
		}
		return append([]any(nil), elements...), true
	}
}

// element parses a member's or an element's value: told to visit, when
// there is a visitor, else returned.
func (p *jsonParser) element(name string, visit func(name string, kind Kind, text string)) (any, bool) {
	if visit != nil {
		return nil, p.visitValue(name, visit)
	}
	return p.value()
}

// separator reads what follows a member or an element: a comma, when more
// follow, or the closing byte of the object or array.
func (p *jsonParser) separator(closing byte) (more, ok bool) {
	p.skipSpace()
	if p.i >= len(p.s) {
		return false, false
	}
	switch p.s[p.i] {
	case ',':
		p.i++
		return true, true
	case closing:
		p.i++
		p.depth--
		return false, true
	}
	return false, false
}

// string parses the string at p.i. A string without escapes that is valid
// UTF-8 is a substring of the input; any other goes to encoding/json, so
// that escapes, surrogates and invalid UTF-8 are handled exactly as it
// handles them.
func (p *jsonParser) string() (string, bool) {
	start := p.i + 1
	plain := true
	ascii := true
	for j := start; j < len(p.s); j++ {
		c := p.s[j]
		switch {
		case c == '"' && plain:
			s := p.s[start:j]
			if !ascii && !utf8.ValidString(s) {
				return p.unquote(start-1, j)
			}
			p.i = j + 1
			return s, true
		case c == '"':
			return p.unquote(start-1, j)
		case c == '\\':
			plain = false
			j++ // the escaped character, which may be a quote
		case c < 0x20:
			return "", false // RFC 8259 §7: control characters must be escaped
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// unquote decodes the quoted string s[from:to+1] with encoding/json.
func (p *jsonParser) unquote(from, to int) (string, bool) {
	var s string
	if err := json.Unmarshal([]byte(p.s[from:to+1]), &s); err != nil {
		return "", false
	}
	p.heap += len(s) // a new string, not a slice of the input
	p.i = to + 1
	return s, true
}

func (p *jsonParser) literal(word string) bool {
	if len(p.s)-p.i < len(word) || p.s[p.i:p.i+len(word)] != word {
		return false
	}
	p.i += len(word)
	return true
}

// number parses a JSON number (RFC 8259 §6) and keeps its text.
func (p *jsonParser) number() (json.Number, bool) {
	start := p.i
	exponent := false
	if p.s[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.s) && p.s[p.i] == '0':
		p.i++
	case p.digits() == 0:
		return "", false
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if p.digits() == 0 {
			return "", false
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if p.digits() == 0 {
			return "", false
		}
		exponent = true
	}
	text := p.s[start:p.i]
	// Without an exponent a number needs over 308 digits to overflow, so
	// the parse is only paid by numbers that could.
	if exponent || len(text) > maxExactDigits {
		if _, err := strconv.ParseFloat(text, 64); err != nil {
			return "", false // ±Inf: only ErrRange is possible on valid syntax
		}
	}
	return json.Number(text), true
}

// maxExactDigits is a length below which a JSON number without an exponent
// is certainly within float64's range (whose largest value has 309 digits).
const maxExactDigits = 300

func (p *jsonParser) digits() int {
	start := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	return p.i - start
}
