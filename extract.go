package caddyjwt

import (
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// TokenSource is one place a token is read from. Exactly one of Header,
// Cookie and Query is set.
type TokenSource struct {
	// A request header, e.g. `Authorization`.
	Header string `json:"header,omitempty"`

	// For Header: the authentication scheme that precedes the token, e.g.
	// `Bearer` (matched case-insensitively, RFC 9110 §11.1). A value that
	// starts with the scheme followed by anything but a token character
	// is read as ours, and is malformed unless it is the scheme, spaces or
	// tabs, and one base64url token; `BearerX` is another scheme. Default:
	// none, the whole header value is the token; for `Authorization`,
	// `Bearer`.
	Scheme string `json:"scheme,omitempty"`

	// A cookie name. Every pair with this name in every Cookie header
	// counts; a value that is not base64url and dots (quoted, percent- or
	// backslash-escaped, non-ASCII), or a name that PHP, Rack or a trim of
	// non-ASCII white space would read as this one (`%73ession`,
	// `session[]`), makes the token malformed.
	Cookie string `json:"cookie,omitempty"`

	// A URL query parameter. Tokens in URLs end up in logs and browser
	// history; prefer a header or cookie. A parameter whose name a
	// framework folds into this one (PHP's `.`, space or `[` for `_`,
	// `name[]`, another case) makes the token malformed.
	Query string `json:"query,omitempty"`
}

type sourceKind uint8

const (
	fromHeader sourceKind = iota + 1
	fromCookie
	fromQuery
)

// tokenSource is a compiled TokenSource.
type tokenSource struct {
	kind   sourceKind
	name   string // canonical header name, cookie name or query parameter
	scheme string // lower case, header only
	// folded is the cookie or query name as foldName stores it, to find
	// the spellings other parsers read as name.
	folded string
}

func (s *tokenSource) String() string {
	switch s.kind {
	case fromHeader:
		return "header " + s.name
	case fromCookie:
		return "cookie " + s.name
	}
	return "query " + s.name
}

func (h *Handler) provisionTokenSources() ([]tokenSource, error) {
	if len(h.From) == 0 {
		return []tokenSource{{kind: fromHeader, name: "Authorization", scheme: "bearer"}}, nil
	}
	// foundToken.in has one bit per source; beyond 64 the CSRF check and
	// strip_token would miss where a token came from.
	if len(h.From) > 64 {
		return nil, fmt.Errorf("jwt: from: %d token sources; at most 64", len(h.From))
	}
	out := make([]tokenSource, 0, len(h.From))
	for _, f := range h.From {
		var src tokenSource
		set := 0
		if f.Header != "" {
			if !validHeaderName(f.Header) {
				return nil, fmt.Errorf("jwt: from header: %q is not a valid header name", f.Header)
			}
			src = tokenSource{kind: fromHeader, name: http.CanonicalHeaderKey(f.Header), scheme: strings.ToLower(f.Scheme)}
			// An Authorization value always starts with its scheme (RFC 9110
			// §11.6.2), so without one given, Bearer is what is meant.
			if src.name == "Authorization" && src.scheme == "" {
				src.scheme = "bearer"
			}
			set++
		}
		if f.Cookie != "" {
			src = tokenSource{kind: fromCookie, name: f.Cookie, folded: foldName(f.Cookie, false)}
			set++
		}
		if f.Query != "" {
			src = tokenSource{kind: fromQuery, name: f.Query, folded: foldName(f.Query, true)}
			set++
			h.logger.Warn("tokens read from the query string end up in access logs, proxies and browser history; prefer a header or a cookie",
				zapString("query_parameter", f.Query))
			if !h.StripToken {
				h.logger.Warn("from query without strip_token passes the token on to the upstream in its URL")
			}
		}
		if set != 1 {
			return nil, fmt.Errorf("jwt: from: each source needs exactly one of header, cookie or query")
		}
		out = append(out, src)
	}
	return out, nil
}

// foundToken is the token of a request and where it was found.
type foundToken struct {
	raw string
	// in has bit i set when sources[i] carried the token; a token may sit
	// in several places as long as it is the same token in all of them.
	in uint64
}

func (f *foundToken) fromCookie(sources []tokenSource) bool {
	for i := range sources {
		if f.in&(1<<i) != 0 && sources[i].kind == fromCookie {
			return true
		}
	}
	return false
}

// readToken looks for the token in every configured source. Two different
// tokens in one request are refused (RFC 6750 §3.1 invalid_request): the
// upstream must never read an unverified token that sits beside the one we
// verified.
func (h *Handler) readToken(r *http.Request) (foundToken, reason) {
	var found foundToken
	// Room for the usual one token per header source without a heap
	// allocation.
	var buf [2]string
	for i := range h.sources {
		src := &h.sources[i]
		values, rsn := src.values(r, buf[:0])
		if rsn != reasonAllowed {
			return found, rsn
		}
		for _, v := range values {
			switch {
			case found.raw == "":
				found.raw = v
			case found.raw != v:
				return found, reasonAmbiguous
			}
			found.in |= 1 << i
		}
	}
	return found, reasonAllowed
}

// values appends the tokens this source carries in the request to dst.
func (s *tokenSource) values(r *http.Request, dst []string) ([]string, reason) {
	switch s.kind {
	case fromHeader:
		out := dst
		for _, hv := range r.Header[s.name] {
			tok, ours := s.tokenFromHeader(hv)
			if !ours {
				continue
			}
			if tok == "" {
				return nil, reasonMalformed
			}
			out = append(out, tok)
		}
		return out, reasonAllowed
	case fromCookie:
		out, rsn := s.tokensFromCookies(r.Header["Cookie"])
		return append(dst, out...), rsn
	case fromQuery:
		out, rsn := s.tokensFromQuery(r.URL.RawQuery)
		return append(dst, out...), rsn
	}
	return dst, reasonAllowed
}

// tokensFromQuery returns the values of the parameter in a raw query. A
// value that does not decode is malformed rather than skipped: an upstream
// may decode it another way (HTTP parameter pollution). So is a pair whose
// name some framework reads as the parameter's (see foldsTo):
// `access.token`, `access_token[]`, `Access_Token`, `%20access_token`.
func (s *tokenSource) tokensFromQuery(rawQuery string) ([]string, reason) {
	var out []string
	for _, pair := range queryPairs(rawQuery) {
		value, ours := queryPairValue(pair, s.name)
		if !ours {
			if key, _, _ := strings.Cut(pair, "="); foldsTo(key, s.folded, true) {
				return nil, reasonMalformed
			}
			continue
		}
		v, err := url.QueryUnescape(value)
		if err != nil || v == "" {
			return nil, reasonMalformed
		}
		out = append(out, v)
	}
	return out, reasonAllowed
}

// queryPairs yields each name=value pair of a raw query with the separator
// before it ("" for the first). It splits on ";" as well as "&": Go's parser
// skips a pair with a semicolon, but upstreams such as Rack split on it, so
// a token hidden after one must be both read and stripped.
func queryPairs(rawQuery string) iter.Seq2[string, string] {
	return func(yield func(separator, pair string) bool) {
		separator := ""
		for {
			i := strings.IndexAny(rawQuery, "&;")
			if i < 0 {
				yield(separator, rawQuery)
				return
			}
			if !yield(separator, rawQuery[:i]) {
				return
			}
			separator, rawQuery = rawQuery[i:i+1], rawQuery[i+1:]
		}
	}
}

// queryPairValue returns the still escaped value of a name=value pair, and
// whether its name, unescaped, is name.
func queryPairValue(pair, name string) (string, bool) {
	key, value, _ := strings.Cut(pair, "=")
	if k, err := url.QueryUnescape(key); err == nil {
		key = k
	}
	return value, key == name
}

// tokenFromHeader returns the token in one header value, and whether the
// value is ours at all: with a scheme configured, a value with another
// scheme (say Basic, or BearerX) belongs to someone else and is left alone.
//
// A value is ours as soon as it starts with the scheme followed by a byte
// that cannot continue a scheme name (RFC 9110 §11.1: schemes are tokens),
// because other stacks split credentials on any white space, U+00A0 and
// U+3000 included, or on commas. Ours but not exactly `<scheme> <token>`,
// with spaces or tabs between, is malformed: "" with true. So is a value
// whose scheme follows bytes that some stack trims as white space.
func (s *tokenSource) tokenFromHeader(v string) (string, bool) {
	v = trimOWS(v)
	if s.scheme == "" {
		return v, v != ""
	}
	start := 0
	for start < len(v) && foldTrimmed(v[start]) {
		start++
	}
	rest, ok := cutSchemeFold(v[start:], s.scheme)
	if !ok || rest != "" && isTokenChar(rest[0]) {
		return "", false // another scheme
	}
	if start > 0 || rest == "" || rest[0] != ' ' && rest[0] != '\t' {
		return "", true
	}
	// RFC 6750 §2.1: one b64token after the scheme. "Bearer a b" has two,
	// and stacks differ in which one they read.
	tok := trimOWS(rest)
	if !isCompactJWS(tok) {
		return "", true
	}
	return tok, true
}

// cutSchemeFold returns what follows scheme, matched ASCII
// case-insensitively (scheme is lower case), at the start of v.
func cutSchemeFold(v, scheme string) (string, bool) {
	if len(v) < len(scheme) {
		return "", false
	}
	for i := 0; i < len(scheme); i++ {
		c := v[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != scheme[i] {
			return "", false
		}
	}
	return v[len(scheme):], true
}

// strip removes the token from the places it was found, so the upstream
// never sees it.
func (s *tokenSource) strip(r *http.Request) {
	switch s.kind {
	case fromHeader:
		if s.scheme == "" {
			r.Header.Del(s.name)
			return
		}
		kept := r.Header[s.name][:0]
		for _, hv := range r.Header[s.name] {
			if _, ours := s.tokenFromHeader(hv); !ours {
				kept = append(kept, hv)
			}
		}
		if len(kept) == 0 {
			r.Header.Del(s.name)
		} else {
			r.Header[s.name] = kept
		}
	case fromCookie:
		kept := r.Header["Cookie"][:0]
		for _, line := range r.Header["Cookie"] {
			if line = withoutCookie(line, s.name); line != "" {
				kept = append(kept, line)
			}
		}
		if len(kept) == 0 {
			r.Header.Del("Cookie")
		} else {
			r.Header["Cookie"] = kept
		}
	case fromQuery:
		r.URL.RawQuery = withoutQueryParameter(r.URL.RawQuery, s.name)
		r.RequestURI = r.URL.RequestURI()
		// php_fastcgi sends the URI as Caddy received it, not r.URL, as
		// REQUEST_URI, from which PHP frameworks (PSR-7's fromGlobals,
		// Symfony) take the request's URI and its query: Caddy's copy of
		// the original request loses the token too.
		if orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && orig.URL != nil {
			orig.URL.RawQuery = withoutQueryParameter(orig.URL.RawQuery, s.name)
		}
	}
}

// withoutQueryParameter removes every pair of the parameter from a raw
// query and leaves the others, and their separators, exactly as the client
// sent them: re-encoding the query would reorder and re-escape it, which
// changes what an upstream that signs or caches by URL sees.
func withoutQueryParameter(rawQuery, name string) string {
	var b strings.Builder
	kept := false
	for separator, pair := range queryPairs(rawQuery) {
		if _, ours := queryPairValue(pair, name); ours {
			continue
		}
		if kept {
			b.WriteString(separator)
		}
		b.WriteString(pair)
		kept = true
	}
	return b.String()
}
