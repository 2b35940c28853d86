package caddyjwt

// strip_token: the token removed from every place the reader read it, the
// original URI included, before the request goes on.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

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
