package caddyjwt

// Upstream frameworks do not all read a cookie or query parameter name as
// the bytes the client sent. PHP percent-decodes query names (cookie
// names too, before PHP 8), drops leading spaces, ends a name at a NUL
// byte, turns " ", "." and an unmatched "[" into "_", and reads `name[]`
// or `name[x]` as the array `name`; Express's qs reads `[name]` (and
// `[name][x]`) as `name`; Rack percent-decodes cookie names; JavaScript's
// trim and Python's strip remove non-ASCII white space such as U+00A0;
// ASP.NET matches query names without regard to case. A name that any of
// them reads as the configured one, spelled differently, could carry a
// token the upstream reads beside the one jwt verified, so such spellings
// are refused.

// foldName is the configured name as the most permissive of those parsers
// stores it: the form foldsTo compares against, computed at provision.
func foldName(name string, caseless bool) string {
	b := []byte(trimFolded(name))
	for i, c := range b {
		b[i] = foldByte(c, caseless)
	}
	return string(b)
}

// foldsTo reports whether some common parser could read raw, a name as the
// client sent it, as the name whose foldName is folded. It decodes and
// compares as it goes and stops at the first byte that differs, so that
// checking every cookie or parameter of a request allocates nothing.
func foldsTo(raw, folded string, caseless bool) bool {
	n := 0 // bytes of folded matched so far
	started := false
	// bracketed: the name opened with "[", which qs drops when the name
	// is closed by "]" (its keys may start with a bracket segment).
	bracketed := false
	for i := 0; i < len(raw); i++ {
		first := i == 0
		c := raw[i]
		switch {
		case c == '+':
			c = ' '
		case c == '%' && i+2 < len(raw) && isHex(raw[i+1]) && isHex(raw[i+2]):
			c = unhex(raw[i+1])<<4 | unhex(raw[i+2])
			i += 2
		}
		if c == 0 {
			break // PHP's names end at a NUL
		}
		if first && c == '[' {
			bracketed = true
			continue
		}
		if !started {
			if foldTrimmed(c) {
				continue
			}
			started = true
		}
		if n == len(folded) {
			// The whole name matched: what may follow is trailing white
			// space, PHP's and qs's array suffix, or the "]" that closes
			// a bracketed name.
			if c == '[' || bracketed && c == ']' {
				return true
			}
			if foldTrimmed(c) {
				continue
			}
			return false
		}
		if foldByte(c, caseless) != folded[n] {
			return false
		}
		n++
	}
	return n == len(folded) && n > 0 && !bracketed
}

// foldByte is one byte of a name as PHP (and, caseless, ASP.NET) stores it.
func foldByte(c byte, caseless bool) byte {
	switch {
	case c == ' ' || c == '.' || c == '[':
		return '_'
	case caseless && 'A' <= c && c <= 'Z':
		return c + 'a' - 'A'
	}
	return c
}

// foldTrimmed reports whether some parser drops c at the edge of a name:
// ASCII white space and control bytes, and any byte of a non-ASCII
// character (U+00A0 and U+0085 are white space to Python, U+00A0 and
// U+3000 to JavaScript).
func foldTrimmed(c byte) bool {
	return c <= ' ' || c >= 0x7f
}

func trimFolded(s string) string {
	for len(s) > 0 && foldTrimmed(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && foldTrimmed(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// trimOWS removes the optional white space of HTTP (RFC 9110 §5.6.3),
// spaces and tabs, and nothing else: Go's strings.TrimSpace would also
// remove U+00A0 and U+3000, which no HTTP parser does.
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// isTokenChar reports whether c may appear in an RFC 9110 token (tchar,
// §5.6.2), the grammar of header names and authentication schemes.
func isTokenChar(c byte) bool {
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// isCompactJWS reports whether s is made only of the characters a compact
// JWS can hold: base64url and the dots between its segments (RFC 7515
// §7.1). A value with anything else is not a token of ours, and other
// parsers may well decode it into one (percent-decoding, quotes,
// backslash escapes).
func isCompactJWS(s string) bool {
	for i := 0; i < len(s); i++ {
		if !compactJWSByte[s[i]] {
			return false
		}
	}
	return true
}

// compactJWSByte marks the bytes isCompactJWS allows: one table load per
// byte of every token, where a chain of comparisons cost a few times more.
var compactJWSByte = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'
	}
	return t
}()
