package caddyjwt

import (
	"iter"
	"strings"
)

// tokensFromCookies returns the value of every pair with the cookie's name
// in the Cookie header lines. It reads the lines itself instead of asking
// net/http, which skips a pair whose value it finds invalid and returns no
// cookies at all past 3,000 pairs, while other frameworks read exactly
// those: a second token hidden there would reach them unverified.
//
// Every pair with the name counts, in every line. A value that is not
// purely base64url and dots is malformed rather than skipped: quotes
// (which PHP keeps and Werkzeug unescapes), percent signs (which Express
// and PHP decode), plus signs, backslashes, spaces and non-ASCII bytes all
// make frameworks disagree on what the token is, and a JWT needs none of
// them. A pair whose name some framework reads as the cookie's, spelled
// differently (see foldsTo and cookieNameSpelling), is malformed too. An
// empty value is no token.
func (s *tokenSource) tokensFromCookies(lines []string) ([]string, reason) {
	var out []string
	for _, line := range lines {
		for pair := range cookiePairs(line) {
			value, ours := cookiePairValue(pair, s.name)
			if !ours {
				if s.cookieNameSpelling(pair) {
					return nil, reasonMalformed
				}
				continue
			}
			if value == "" {
				continue
			}
			if !isCompactJWS(value) {
				return nil, reasonMalformed
			}
			out = append(out, value)
		}
	}
	return out, reasonAllowed
}

// cookiePairs yields each name=value pair of one Cookie header line
// (RFC 6265 §4.2.1: pairs separated by ";"), without the spaces and tabs
// around it, and skipping empty ones.
func cookiePairs(line string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for line != "" {
			pair := line
			if i := strings.IndexByte(line, ';'); i >= 0 {
				pair, line = line[:i], line[i+1:]
			} else {
				line = ""
			}
			if pair = trimOWS(pair); pair != "" && !yield(pair) {
				return
			}
		}
	}
}

// cookiePairValue returns the value of one pair, and whether its name,
// without the white space around it, is name. The value is as sent: Go,
// Express and Werkzeug would trim a space after "=", PHP keeps it.
func cookiePairValue(pair, name string) (string, bool) {
	key, value, _ := strings.Cut(pair, "=")
	return value, trimOWS(key) == name
}

// cookieNameSpelling reports whether a pair that is not the cookie's by
// its exact name is the cookie's to some framework: Rack's (and before
// PHP 8, PHP's) percent-decoded names, PHP's `.`-for-`_`, `name[]` and
// leading-space forms, names trimmed of non-ASCII white space (see foldsTo). Parsers
// that also split on "," (Rack, RFC 2965's) read a pair after a comma in
// a value, so each of those names counts as well.
func (s *tokenSource) cookieNameSpelling(pair string) bool {
	key, _, _ := strings.Cut(pair, "=")
	if foldsTo(key, s.folded, false) {
		return true
	}
	for rest := pair; ; {
		i := strings.IndexByte(rest, ',')
		if i < 0 {
			return false
		}
		rest = rest[i+1:]
		key, _, _ := strings.Cut(rest, "=")
		if j := strings.IndexByte(key, ','); j >= 0 {
			key = key[:j]
		}
		if trimOWS(key) == s.name || foldsTo(key, s.folded, false) {
			return true
		}
	}
}

// withoutCookie removes the named cookie from one Cookie header line and
// leaves the other cookies as the client sent them: parsing and re-adding
// them would drop every cookie net/http finds invalid (JSON values,
// backslashes), which the upstream may well rely on. It removes exactly
// the pairs tokensFromCookies reads as the cookie's.
func withoutCookie(line, name string) string {
	if !strings.Contains(line, name) {
		return line
	}
	var b strings.Builder
	for pair := range cookiePairs(line) {
		if _, ours := cookiePairValue(pair, name); ours {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(pair)
	}
	return b.String()
}
