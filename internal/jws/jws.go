// Package jws reads the segments of a compact JWS (RFC 7515 §7.1): it
// splits a token at its dots, decodes base64url strictly and parses the
// JSON objects of the header and claims.
//
// It runs on every token that is not in the verifier's cache, garbage
// included, so it avoids encoding/json's reflection and per-call buffers:
// a segment is decoded once into one string, and every key, string and
// number of the JSON is a substring of it. Values come out as encoding/json
// would give them with UseNumber (string, json.Number, bool, nil,
// []any, map[string]any), and anything encoding/json refuses is refused.
// Three things are stricter: a member name used twice in one object, which
// RFC 7515 §4 and RFC 7519 §4 allow a parser to refuse (and which could
// otherwise be read differently by the upstream); nesting deeper than
// maxJSONDepth; and a number beyond float64's range, such as 1e700, which
// RFC 8259 §6 lets a parser limit, golang-jwt and encoding/json refuse
// when they decode into float64, and JavaScript reads as Infinity.
package jws

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxJSONDepth; and a number beyond float64's range, such as 1e700, which
// RFC 8259 §6 lets a parser limit, golang-jwt and encoding/json refuse
// when they decode into float64, and JavaScript reads as Infinity.

// maxJSONDepth bounds the nesting of objects and arrays. Real tokens nest a
// few levels; the bound keeps a crafted one from costing deep recursion.
const maxJSONDepth = 32

// segmentStackSize is the largest decoded segment handled in a buffer on the
// stack; typical headers and claims are well under it.
const segmentStackSize = 2048

// DecodeSegment decodes one base64url segment (no padding, RFC 7515
// §2) into a string.
func DecodeSegment(seg string) (string, bool) {
	n := len(seg) / 4 * 3
	switch len(seg) % 4 {
	case 1:
		return "", false // no whole byte in a lone character
	case 2:
		n++
	case 3:
		n += 2
	}
	var stack [segmentStackSize]byte
	var buf []byte
	if n <= len(stack) {
		buf = stack[:n]
	} else {
		buf = make([]byte, n)
	}
	if !DecodeBase64URL(buf, seg) {
		return "", false
	}
	return string(buf), true
}

// Base64URLAlphabet is the base64url alphabet (RFC 4648 §5), in the order of
// the values its characters stand for.
const Base64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// base64URLValues maps each byte to its base64url value, 0xff where the
// byte is not in the alphabet (RFC 4648 §5).
var base64URLValues = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := 0; i < len(Base64URLAlphabet); i++ {
		t[Base64URLAlphabet[i]] = byte(i)
	}
	return t
}()

// DecodeBase64URL decodes src, unpadded base64url, into dst, which must be
// exactly its decoded length. Like encoding/base64's RawURLEncoding.Strict,
// it refuses a final partial group whose unused low bits are not zero: no
// encoder writes them, and refusing them leaves every token one spelling
// (one cache entry, one meaning for whoever compares raw tokens).
func DecodeBase64URL(dst []byte, src string) bool {
	t := &base64URLValues
	i, j := 0, 0
	// Four characters make three bytes. Every valid value is below 64, so
	// one test of the OR of the four finds any invalid character.
	for ; i+4 <= len(src) && j+3 <= len(dst); i, j = i+4, j+3 {
		a, b, c, d := t[src[i]], t[src[i+1]], t[src[i+2]], t[src[i+3]]
		if (a|b|c|d)&0xc0 != 0 {
			return false
		}
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
		dst[j], dst[j+1], dst[j+2] = byte(v>>16), byte(v>>8), byte(v)
	}
	switch rest := src[i:]; len(rest) {
	case 0:
		return j == len(dst)
	case 2:
		a, b := t[rest[0]], t[rest[1]]
		if (a|b)&0xc0 != 0 || b&0x0f != 0 || j+1 != len(dst) {
			return false
		}
		dst[j] = a<<2 | b>>4
		return true
	case 3:
		a, b, c := t[rest[0]], t[rest[1]], t[rest[2]]
		if (a|b|c)&0xc0 != 0 || c&0x03 != 0 || j+2 != len(dst) {
			return false
		}
		v := uint32(a)<<12 | uint32(b)<<6 | uint32(c)
		dst[j], dst[j+1] = byte(v>>10), byte(v>>2)
		return true
	}
	return false
}

// IsEncodingOf reports whether enc is exactly the unpadded base64url
// encoding of data, as an encoder writes it (unused bits zero), without
// building the encoding.
func IsEncodingOf(enc, data string) bool {
	const a = Base64URLAlphabet
	if len(enc) != (len(data)*8+5)/6 {
		return false
	}
	i, j := 0, 0
	for ; i+3 <= len(data); i, j = i+3, j+4 {
		v := uint(data[i])<<16 | uint(data[i+1])<<8 | uint(data[i+2])
		if enc[j] != a[v>>18] || enc[j+1] != a[v>>12&63] || enc[j+2] != a[v>>6&63] || enc[j+3] != a[v&63] {
			return false
		}
	}
	switch len(data) - i {
	case 1:
		v := uint(data[i])
		return enc[j] == a[v>>2] && enc[j+1] == a[v<<4&63]
	case 2:
		v := uint(data[i])<<8 | uint(data[i+1])
		return enc[j] == a[v>>10] && enc[j+1] == a[v>>4&63] && enc[j+2] == a[v<<2&63]
	}
	return true
}

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
	m, ok := p.object()
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
		m, ok := p.object()
		return m, ok
	case c == '[':
		a, ok := p.array()
		return a, ok
	case c == '"':
		s, ok := p.string()
		p.heap += boxSize
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
// rehashed) while it is filled.
func (p *jsonParser) object() (map[string]any, bool) {
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
		v, ok := p.value()
		if !ok {
			return nil, false
		}
		members = append(members, jsonMember{name, v})
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, false
		}
		switch p.s[p.i] {
		case ',':
			p.i++
			continue
		case '}':
			p.i++
			p.depth--
		default:
			return nil, false
		}
		p.heap += mapHeaderSize + mapEntrySize*len(members)
		m := make(map[string]any, len(members))
		for _, mb := range members {
			m[mb.name] = mb.value
		}
		// A name given twice leaves fewer entries than members.
		return m, len(m) == len(members)
	}
}

func (p *jsonParser) array() ([]any, bool) {
	if p.depth++; p.depth > maxJSONDepth {
		return nil, false
	}
	p.i++        // '['
	a := []any{} // encoding/json gives an empty, not a nil, slice for []
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		p.depth--
		return a, true
	}
	for {
		v, ok := p.value()
		if !ok {
			return nil, false
		}
		a = append(a, v)
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, false
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			p.depth--
			p.heap += sliceSize + interfaceSize*cap(a)
			return a, true
		default:
			return nil, false
		}
	}
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

// Split finds the two dots of a compact JWS (RFC 7515 §7.1) and checks
// that there is no third one: a JWE (five segments) is refused here. It
// reads no segment: the alphabet of each is checked as it is decoded.
func Split(raw string) (headerEnd, payloadEnd int, ok bool) {
	headerEnd = strings.IndexByte(raw, '.')
	if headerEnd <= 0 {
		return 0, 0, false
	}
	rest := strings.IndexByte(raw[headerEnd+1:], '.')
	if rest <= 0 {
		return 0, 0, false
	}
	payloadEnd = headerEnd + 1 + rest
	if payloadEnd == len(raw)-1 || strings.IndexByte(raw[payloadEnd+1:], '.') >= 0 {
		return 0, 0, false
	}
	return headerEnd, payloadEnd, true
}
