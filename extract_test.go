package caddyjwt

import (
	"net/http"
	"net/http/httptest"
	"slices"
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
