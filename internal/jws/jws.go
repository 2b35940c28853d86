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

import "strings"

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
