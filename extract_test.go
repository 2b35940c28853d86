package caddyjwt

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// handlerWithSources compiles the given token sources as Provision does.
func handlerWithSources(t *testing.T, strip bool, from ...*TokenSource) *Handler {
	t.Helper()
	h := &Handler{From: from, StripToken: strip, logger: zap.NewNop()}
	sources, err := h.provisionTokenSources()
	if err != nil {
		t.Fatalf("provisionTokenSources: %v", err)
	}
	h.sources = sources
	return h
}

// request builds a GET for target with header lines "Name: value".
func request(target string, header ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for _, line := range header {
		name, value, _ := strings.Cut(line, ": ")
		r.Header.Add(name, value)
	}
	return r
}

func TestReadToken(t *testing.T) {
	var (
		byHeader    = &TokenSource{Header: "Authorization", Scheme: "Bearer"}
		byAuthz     = &TokenSource{Header: "authorization"} // scheme defaults to Bearer
		byRawHeader = &TokenSource{Header: "x-token"}
		bySchemed   = &TokenSource{Header: "X-Token", Scheme: "Token"}
		byCookie    = &TokenSource{Cookie: "session"}
		byQuery     = &TokenSource{Query: "access_token"}
	)
	cases := []struct {
		name   string
		from   []*TokenSource
		req    *http.Request
		raw    string
		in     uint64
		reason reason
	}{
		{"default: bearer", nil, request("/", "Authorization: Bearer tok"), "tok", 1, reasonAllowed},
		{"default: scheme in any case", nil, request("/", "Authorization: bEaReR tok"), "tok", 1, reasonAllowed},
		{"default: spaces and tabs around the token", nil, request("/", "Authorization: Bearer \t tok  "), "tok", 1, reasonAllowed},
		{"default: no header", nil, request("/"), "", 0, reasonAllowed},
		{"default: other scheme is not ours", nil, request("/", "Authorization: Basic dXNlcjpw"), "", 0, reasonAllowed},
		{"default: scheme prefix of another scheme", nil, request("/", "Authorization: BearerX tok"), "", 0, reasonAllowed},
		{"default: bearer alone", nil, request("/", "Authorization: Bearer"), "", 0, reasonMalformed},
		{"default: bearer and spaces", nil, request("/", "Authorization: Bearer   "), "", 0, reasonMalformed},
		{"default: bare token is not ours", nil, request("/", "Authorization: tok"), "", 0, reasonAllowed},
		{"default: same token twice", nil, request("/", "Authorization: Bearer tok", "Authorization: Bearer tok"), "tok", 1, reasonAllowed},
		{"default: two tokens", nil, request("/", "Authorization: Bearer tok", "Authorization: Bearer other"), "tok", 1, reasonAmbiguous},
		{"default: basic beside bearer", nil, request("/", "Authorization: Basic dXNlcjpw", "Authorization: Bearer tok"), "tok", 1, reasonAllowed},
		{"Authorization without scheme means Bearer", []*TokenSource{byAuthz}, request("/", "Authorization: Bearer tok"), "tok", 1, reasonAllowed},
		{"raw header", []*TokenSource{byRawHeader}, request("/", "X-Token: tok"), "tok", 1, reasonAllowed},
		{"raw header keeps a scheme-like prefix", []*TokenSource{byRawHeader}, request("/", "X-Token: Bearer tok"), "Bearer tok", 1, reasonAllowed},
		{"custom scheme", []*TokenSource{bySchemed}, request("/", "X-Token: token tok"), "tok", 1, reasonAllowed},
		{"custom scheme missing", []*TokenSource{bySchemed}, request("/", "X-Token: tok"), "", 0, reasonAllowed},
		{"cookie", []*TokenSource{byCookie}, request("/", "Cookie: a=1; session=tok; b=2"), "tok", 1, reasonAllowed},
		{"empty cookie is no token", []*TokenSource{byCookie}, request("/", "Cookie: session="), "", 0, reasonAllowed},
		{"two different cookies", []*TokenSource{byCookie}, request("/", "Cookie: session=tok; session=other"), "tok", 1, reasonAmbiguous},
		{"cookie with another name", []*TokenSource{byCookie}, request("/", "Cookie: sessionx=tok"), "", 0, reasonAllowed},
		{"query", []*TokenSource{byQuery}, request("/?a=1&access_token=tok"), "tok", 1, reasonAllowed},
		{"query escaped", []*TokenSource{byQuery}, request("/?access_token=t%2Eo%2Ek"), "t.o.k", 1, reasonAllowed},
		{"empty query value", []*TokenSource{byQuery}, request("/?access_token="), "", 0, reasonMalformed},
		{"two query values", []*TokenSource{byQuery}, request("/?access_token=tok&access_token=other"), "tok", 1, reasonAmbiguous},
		{"order: header then cookie, only cookie", []*TokenSource{byHeader, byCookie}, request("/", "Cookie: session=tok"), "tok", 2, reasonAllowed},
		{"order: same token in all three", []*TokenSource{byHeader, byCookie, byQuery}, request("/?access_token=tok", "Authorization: Bearer tok", "Cookie: session=tok"), "tok", 7, reasonAllowed},
		{"order: header and cookie differ", []*TokenSource{byHeader, byCookie}, request("/", "Authorization: Bearer tok", "Cookie: session=other"), "tok", 1, reasonAmbiguous},
		{"order: cookie and query differ", []*TokenSource{byCookie, byQuery}, request("/?access_token=other", "Cookie: session=tok"), "tok", 1, reasonAmbiguous},
		{"order: malformed header stops the search", []*TokenSource{byHeader, byCookie}, request("/", "Authorization: Bearer", "Cookie: session=tok"), "", 0, reasonMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := handlerWithSources(t, false, tc.from...)
			found, rsn := h.readToken(tc.req)
			if rsn != tc.reason {
				t.Fatalf("reason = %v, want %v", rsn, tc.reason)
			}
			if rsn != reasonAllowed {
				return
			}
			if found.raw != tc.raw || found.in != tc.in {
				t.Errorf("found %q in %03b, want %q in %03b", found.raw, found.in, tc.raw, tc.in)
			}
		})
	}
}

func TestFoundTokenFromCookie(t *testing.T) {
	h := handlerWithSources(t, false, &TokenSource{Header: "Authorization"}, &TokenSource{Cookie: "session"})
	for _, tc := range []struct {
		req  *http.Request
		want bool
	}{
		{request("/", "Authorization: Bearer tok"), false},
		{request("/", "Cookie: session=tok"), true},
		{request("/", "Authorization: Bearer tok", "Cookie: session=tok"), true},
	} {
		found, _ := h.readToken(tc.req)
		if got := found.fromCookie(h.sources); got != tc.want {
			t.Errorf("%v: fromCookie = %v, want %v", tc.req.Header, got, tc.want)
		}
	}
}

func TestProvisionTokenSources(t *testing.T) {
	h := handlerWithSources(t, false)
	if len(h.sources) != 1 || h.sources[0] != (tokenSource{kind: fromHeader, name: "Authorization", scheme: "bearer"}) {
		t.Errorf("default sources = %+v", h.sources)
	}
	h = handlerWithSources(t, false, &TokenSource{Header: "x-api-token", Scheme: "Token"})
	if h.sources[0] != (tokenSource{kind: fromHeader, name: "X-Api-Token", scheme: "token"}) {
		t.Errorf("compiled = %+v", h.sources[0])
	}
	for _, bad := range []*TokenSource{
		{},
		{Header: "X-Token", Cookie: "session"},
		{Cookie: "session", Query: "token"},
		{Header: "X Token"},
	} {
		h := &Handler{From: []*TokenSource{bad}, logger: zap.NewNop()}
		if _, err := h.provisionTokenSources(); err == nil {
			t.Errorf("source %+v was accepted", bad)
		}
	}
}

// TestTokenLocationsAreReadAsTheMostPermissiveUpstreamReadsThem: a request
// passes only if every upstream framework reads no token or the one jwt
// verified. Whatever one of them could read as a token of ours, spelled or
// encoded so that Go would skip it, is refused; look-alikes that no
// framework folds into the configured name stay someone else's.
func TestTokenLocationsAreReadAsTheMostPermissiveUpstreamReadsThem(t *testing.T) {
	var (
		byHeader     = &TokenSource{Header: "Authorization"}
		byCookie     = &TokenSource{Cookie: "session"}
		byUnderscore = &TokenSource{Cookie: "jwt_token"}
		byDotted     = &TokenSource{Cookie: "jwt.token"}
		byQuery      = &TokenSource{Query: "access_token"}
	)
	manyCookies := func(n int, last string) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "c%d=v; ", i)
		}
		return "Cookie: " + b.String() + last
	}
	cases := []struct {
		name   string
		from   *TokenSource
		req    *http.Request
		raw    string
		reason reason
	}{
		{"header: scheme then U+00A0 is ours, malformed", byHeader, request("/", "Authorization: Bearer\u00a0tok"), "", reasonMalformed},
		{"header: scheme then a lone 0xA0 byte is ours, malformed", byHeader, request("/", "Authorization: Bearer\xa0tok"), "", reasonMalformed},
		{"header: scheme then U+3000 is ours, malformed", byHeader, request("/", "Authorization: Bearer\u3000tok"), "", reasonMalformed},
		{"header: scheme then a comma is ours, malformed", byHeader, request("/", "Authorization: Bearer,tok"), "", reasonMalformed},
		{"header: scheme then = is ours, malformed", byHeader, request("/", "Authorization: Bearer=tok"), "", reasonMalformed},
		{"header: scheme then a quote is ours, malformed", byHeader, request("/", `Authorization: Bearer"tok"`), "", reasonMalformed},
		{"header: scheme then a slash is ours, malformed", byHeader, request("/", "Authorization: Bearer/tok"), "", reasonMalformed},
		{"header: two tokens after the scheme, malformed", byHeader, request("/", "Authorization: Bearer tok other"), "", reasonMalformed},
		{"header: token with a byte no JWS has, malformed", byHeader, request("/", "Authorization: Bearer tok%41"), "", reasonMalformed},
		{"header: non-ASCII space before the scheme, malformed", byHeader, request("/", "Authorization: \u00a0Bearer tok"), "", reasonMalformed},
		{"header: malformed value beside a valid one, malformed", byHeader, request("/", "Authorization: Bearer\u00a0other", "Authorization: Bearer tok"), "", reasonMalformed},
		{"header: scheme continued by a token character is another scheme", byHeader, request("/", "Authorization: Bearer-Token tok"), "", reasonAllowed},
		{"header: scheme continued by a digit is another scheme", byHeader, request("/", "Authorization: Bearer2 tok"), "", reasonAllowed},
		{"header: tab between scheme and token", byHeader, request("/", "Authorization: Bearer\ttok"), "tok", reasonAllowed},

		{"cookie: read beside a pair net/http skips", byCookie, request("/", `Cookie: x=a\b; y="; session=tok`), "tok", reasonAllowed},
		{"cookie: read from the second Cookie line", byCookie, request("/", "Cookie: a=1", "Cookie: session=tok"), "tok", reasonAllowed},
		{"cookie: different tokens in two Cookie lines, ambiguous", byCookie, request("/", "Cookie: session=tok", "Cookie: session=other"), "", reasonAmbiguous},
		{"cookie: after 3,500 other pairs still read", byCookie, request("/", manyCookies(3500, "session=tok")), "tok", reasonAllowed},
		{"cookie: a second token after 3,500 pairs, ambiguous", byCookie, request("/", manyCookies(3500, "session=tok; session=other")), "", reasonAmbiguous},
		{"cookie: value with a backslash, malformed", byCookie, request("/", `Cookie: session=to\k`), "", reasonMalformed},
		{"cookie: value with a stray quote, malformed", byCookie, request("/", `Cookie: session=tok"`), "", reasonMalformed},
		{"cookie: quoted value, malformed (PHP keeps the quotes)", byCookie, request("/", `Cookie: session="tok"`), "", reasonMalformed},
		{"cookie: value with a non-ASCII byte, malformed", byCookie, request("/", "Cookie: session=tok\xe9"), "", reasonMalformed},
		{"cookie: percent-encoded value, malformed (Express and PHP decode it)", byCookie, request("/", "Cookie: session=%74ok"), "", reasonMalformed},
		{"cookie: value with a plus, malformed (PHP decodes it to a space)", byCookie, request("/", "Cookie: session=t+ok"), "", reasonMalformed},
		{"cookie: space after =, malformed (PHP keeps it)", byCookie, request("/", "Cookie: session= tok"), "", reasonMalformed},
		{"cookie: value with a comma, malformed", byCookie, request("/", "Cookie: session=tok,session=other"), "", reasonMalformed},
		{"cookie: unparseable pair before a valid one, malformed", byCookie, request("/", `Cookie: session=a\b; session=tok`), "", reasonMalformed},
		{"cookie: percent-encoded name, malformed (PHP decodes names)", byCookie, request("/", "Cookie: %73ession=other; session=tok"), "", reasonMalformed},
		{"cookie: name with an array suffix, malformed", byCookie, request("/", "Cookie: session[]=other"), "", reasonMalformed},
		{"cookie: name with an array key, malformed", byCookie, request("/", "Cookie: session[x]=other"), "", reasonMalformed},
		{"cookie: name after U+00A0, malformed", byCookie, request("/", "Cookie: \u00a0session=other"), "", reasonMalformed},
		{"cookie: name ending in an encoded NUL, malformed", byCookie, request("/", "Cookie: session%00junk=other"), "", reasonMalformed},
		{"cookie: name after a comma in another value, malformed", byCookie, request("/", "Cookie: a=1, session=other; session=tok"), "", reasonMalformed},
		{"cookie: PHP's dot for underscore, malformed", byUnderscore, request("/", "Cookie: jwt.token=other"), "", reasonMalformed},
		{"cookie: PHP's space for underscore, malformed", byUnderscore, request("/", "Cookie: jwt+token=other"), "", reasonMalformed},
		{"cookie: PHP's bracket for underscore, malformed", byUnderscore, request("/", "Cookie: jwt[token=other"), "", reasonMalformed},
		{"cookie: a dotted name's PHP form, malformed", byDotted, request("/", "Cookie: jwt_token=other; jwt.token=tok"), "", reasonMalformed},
		{"cookie: a dotted name itself", byDotted, request("/", "Cookie: jwt.token=tok"), "tok", reasonAllowed},
		{"cookie: spaces around the name are trimmed", byCookie, request("/", "Cookie: a=1;  session =tok"), "tok", reasonAllowed},
		{"cookie: another case is another cookie", byCookie, request("/", "Cookie: Session=other; session=tok"), "tok", reasonAllowed},
		{"cookie: a longer name is another cookie", byCookie, request("/", "Cookie: session_id=other; sessions=x; my.session=y; session=tok"), "tok", reasonAllowed},
		{"cookie: a name without a value is no token", byCookie, request("/", "Cookie: session"), "", reasonAllowed},

		{"query: PHP's dot for underscore, malformed", byQuery, request("/?access.token=other&access_token=tok"), "", reasonMalformed},
		{"query: PHP's space for underscore, malformed", byQuery, request("/?access+token=other"), "", reasonMalformed},
		{"query: PHP's encoded space for underscore, malformed", byQuery, request("/?access%20token=other"), "", reasonMalformed},
		{"query: PHP's bracket for underscore, malformed", byQuery, request("/?access[token=other"), "", reasonMalformed},
		{"query: array suffix, malformed", byQuery, request("/?access_token[]=other"), "", reasonMalformed},
		{"query: array key, malformed", byQuery, request("/?access_token[x]=other"), "", reasonMalformed},
		{"query: encoded array suffix, malformed", byQuery, request("/?access%5Ftoken%5B%5D=other"), "", reasonMalformed},
		{"query: upper case, malformed (ASP.NET ignores case)", byQuery, request("/?ACCESS_TOKEN=other"), "", reasonMalformed},
		{"query: mixed case, malformed", byQuery, request("/?Access_Token=other&access_token=tok"), "", reasonMalformed},
		{"query: leading space, malformed (PHP drops it)", byQuery, request("/?+access_token=other"), "", reasonMalformed},
		{"query: trailing encoded NUL, malformed", byQuery, request("/?access_token%00junk=other"), "", reasonMalformed},
		{"query: leading U+00A0, malformed", byQuery, request("/?%C2%A0access_token=other"), "", reasonMalformed},
		{"query: encoded name is the parameter itself", byQuery, request("/?access%5Ftoken=tok"), "tok", reasonAllowed},
		{"query: look-alikes no framework folds are other parameters", byQuery, request("/?access_token_x=1&xaccess_token=2&access=3&token=4&access_token=tok"), "tok", reasonAllowed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := handlerWithSources(t, false, tc.from)
			found, rsn := h.readToken(tc.req)
			if rsn != tc.reason {
				t.Fatalf("reason = %v, want %v", rsn, tc.reason)
			}
			if rsn == reasonAllowed && found.raw != tc.raw {
				t.Errorf("token = %q, want %q", found.raw, tc.raw)
			}
		})
	}
}

// TestIsCompactJWSAlphabet checks every byte value against RFC 7515 §7.1's
// alphabet: base64url and the dot.
func TestIsCompactJWSAlphabet(t *testing.T) {
	const allowed = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
	for c := 0; c < 256; c++ {
		want := strings.IndexByte(allowed, byte(c)) >= 0
		if got := isCompactJWS("ab" + string([]byte{byte(c)}) + "cd"); got != want {
			t.Errorf("byte %#x: isCompactJWS %v, want %v", c, got, want)
		}
	}
	if !isCompactJWS("") {
		t.Error("the empty string has no byte outside the alphabet")
	}
}
