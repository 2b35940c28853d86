package caddyjwt

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
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

func TestStripToken(t *testing.T) {
	cases := []struct {
		name  string
		from  *TokenSource
		req   *http.Request
		check func(t *testing.T, r *http.Request)
	}{
		{
			name: "bearer header removed",
			from: &TokenSource{Header: "Authorization", Scheme: "Bearer"},
			req:  request("/", "Authorization: Bearer tok"),
			check: func(t *testing.T, r *http.Request) {
				if v := r.Header.Values("Authorization"); len(v) != 0 {
					t.Errorf("Authorization = %q", v)
				}
			},
		},
		{
			name: "other schemes in the same header kept",
			from: &TokenSource{Header: "Authorization", Scheme: "Bearer"},
			req:  request("/", "Authorization: Basic dXNlcjpw", "Authorization: Bearer tok"),
			check: func(t *testing.T, r *http.Request) {
				if v := r.Header.Values("Authorization"); len(v) != 1 || v[0] != "Basic dXNlcjpw" {
					t.Errorf("Authorization = %q", v)
				}
			},
		},
		{
			name: "raw header removed",
			from: &TokenSource{Header: "X-Token"},
			req:  request("/", "X-Token: tok", "X-Other: kept"),
			check: func(t *testing.T, r *http.Request) {
				if r.Header.Get("X-Token") != "" || r.Header.Get("X-Other") != "kept" {
					t.Errorf("headers = %v", r.Header)
				}
			},
		},
		{
			name: "cookie removed, others kept",
			from: &TokenSource{Cookie: "session"},
			req:  request("/", "Cookie: a=1; session=tok; b=2"),
			check: func(t *testing.T, r *http.Request) {
				if _, err := r.Cookie("session"); err == nil {
					t.Errorf("session cookie still there: %q", r.Header.Values("Cookie"))
				}
				a, errA := r.Cookie("a")
				b, errB := r.Cookie("b")
				if errA != nil || errB != nil || a.Value != "1" || b.Value != "2" {
					t.Errorf("other cookies lost: %q", r.Header.Values("Cookie"))
				}
			},
		},
		{
			name: "other cookies kept as sent, also those net/http would not parse",
			from: &TokenSource{Cookie: "session"},
			req:  request("/", `Cookie: prefs={"theme":"dark"}; session=tok;lang=en`, `Cookie: a="quoted"; session=tok; path=a\b`),
			check: func(t *testing.T, r *http.Request) {
				want := []string{`prefs={"theme":"dark"}; lang=en`, `a="quoted"; path=a\b`}
				if got := r.Header.Values("Cookie"); !slices.Equal(got, want) {
					t.Errorf("Cookie = %q, want %q", got, want)
				}
			},
		},
		{
			name: "only cookie removed leaves no Cookie header",
			from: &TokenSource{Cookie: "session"},
			req:  request("/", "Cookie: session=tok"),
			check: func(t *testing.T, r *http.Request) {
				if v := r.Header.Values("Cookie"); len(v) != 0 {
					t.Errorf("Cookie = %q", v)
				}
			},
		},
		{
			name: "query parameter removed, the others kept byte for byte and in order",
			from: &TokenSource{Query: "access_token"},
			req:  request("/search?z=1&access_token=tok&q=a%20b+c&a=%2F&flag"),
			check: func(t *testing.T, r *http.Request) {
				if want := "z=1&q=a%20b+c&a=%2F&flag"; r.URL.RawQuery != want {
					t.Errorf("query = %q, want %q", r.URL.RawQuery, want)
				}
				if want := "/search?z=1&q=a%20b+c&a=%2F&flag"; r.RequestURI != want {
					t.Errorf("RequestURI = %q, want %q", r.RequestURI, want)
				}
			},
		},
		{
			name: "parameter after a semicolon removed, separators of the others kept",
			from: &TokenSource{Query: "access_token"},
			req:  request("/?;access_token=tok&a=1;b=2&&access_token=tok;c"),
			check: func(t *testing.T, r *http.Request) {
				// The first pair is empty (before the ";"), and stays so.
				if want := "&a=1;b=2&;c"; r.URL.RawQuery != want {
					t.Errorf("query = %q, want %q", r.URL.RawQuery, want)
				}
			},
		},
		{
			name: "escaped parameter name removed",
			from: &TokenSource{Query: "access_token"},
			req:  request("/?access%5Ftoken=tok&page=2"),
			check: func(t *testing.T, r *http.Request) {
				if r.URL.RawQuery != "page=2" {
					t.Errorf("query = %q, want %q", r.URL.RawQuery, "page=2")
				}
			},
		},
		{
			name: "query parameter removed, others kept",
			from: &TokenSource{Query: "access_token"},
			req:  request("/items?page=2&access_token=tok&sort=asc"),
			check: func(t *testing.T, r *http.Request) {
				q := r.URL.Query()
				if q.Has("access_token") || q.Get("page") != "2" || q.Get("sort") != "asc" {
					t.Errorf("query = %q", r.URL.RawQuery)
				}
				if strings.Contains(r.RequestURI, "tok") || !strings.HasPrefix(r.RequestURI, "/items?") {
					t.Errorf("RequestURI = %q", r.RequestURI)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := handlerWithSources(t, true, tc.from)
			found, rsn := h.readToken(tc.req)
			if rsn != reasonAllowed || found.raw != "tok" {
				t.Fatalf("readToken = %q, %v", found.raw, rsn)
			}
			for i := range h.sources {
				if found.in&(1<<i) != 0 {
					h.sources[i].strip(tc.req)
				}
			}
			tc.check(t, tc.req)
		})
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

// TestStripTokenRemovesEveryPairTheReaderRead: with thousands of cookies
// and the token in several lines, strip_token removes each pair the reader
// counted and keeps every other one.
func TestStripTokenRemovesEveryPairTheReaderRead(t *testing.T) {
	h := handlerWithSources(t, true, &TokenSource{Cookie: "session"})
	var b strings.Builder
	for i := range 3500 {
		fmt.Fprintf(&b, "c%d=v; ", i)
	}
	r := request("/", "Cookie: "+b.String()+"session=tok", "Cookie: session =tok; keep=1", "Cookie: session=tok")
	found, rsn := h.readToken(r)
	if rsn != reasonAllowed || found.raw != "tok" {
		t.Fatalf("readToken = %q, %v", found.raw, rsn)
	}
	h.sources[0].strip(r)
	lines := r.Header.Values("Cookie")
	if len(lines) != 2 || lines[1] != "keep=1" || strings.Count(lines[0], "=v") != 3500 {
		t.Fatalf("Cookie lines after strip: %d, last %q", len(lines), lines[len(lines)-1])
	}
	if values, rsn := h.sources[0].values(r, nil); len(values) != 0 || rsn != reasonAllowed {
		t.Errorf("after strip the reader still finds %q (%v)", values, rsn)
	}
}

// TestStripTokenRemovesTheQueryTokenFromTheOriginalURI: php_fastcgi sends
// Caddy's copy of the original request URI as REQUEST_URI, where PHP
// frameworks read the query from; with strip_token the token must leave
// that copy too (found by the differential test: PHP read the stripped
// token from REQUEST_URI).
func TestStripTokenRemovesTheQueryTokenFromTheOriginalURI(t *testing.T) {
	h := handlerWithSources(t, true, &TokenSource{Query: "access_token"})
	r := request("/p?a=1&access_token=tok;b=2")
	orig := *r
	orig.URL = &url.URL{Path: r.URL.Path, RawQuery: r.URL.RawQuery}
	r = r.WithContext(context.WithValue(r.Context(), caddyhttp.OriginalRequestCtxKey, orig))
	found, rsn := h.readToken(r)
	if rsn != reasonAllowed || found.raw != "tok" {
		t.Fatalf("readToken = %q, %v", found.raw, rsn)
	}
	h.sources[0].strip(r)
	if got := r.URL.RawQuery; got != "a=1;b=2" {
		t.Errorf("r.URL.RawQuery = %q, want a=1;b=2", got)
	}
	if got := orig.URL.RequestURI(); got != "/p?a=1;b=2" {
		t.Errorf("original request URI = %q, want /p?a=1;b=2", got)
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
