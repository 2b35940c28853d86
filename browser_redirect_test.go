package caddyjwt

// The login redirect of browser navigations: the escaped request URI it
// carries, never an open redirect, and its configuration checked.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func TestRedirectCarriesTheEscapedRequestURI(t *testing.T) {
	for _, tc := range []struct {
		name     string
		redirect Redirect
		request  string
		wantLoc  string
		wantNext string
	}{
		{
			name:     "path",
			redirect: Redirect{URL: "/login/"},
			request:  "/app/page",
			wantLoc:  "/login/?next=%2Fapp%2Fpage",
			wantNext: "/app/page",
		},
		{
			name:     "query is kept and escaped",
			redirect: Redirect{URL: "/login/"},
			request:  "/app/search?q=a+b&lang=en",
			wantLoc:  "/login/?next=%2Fapp%2Fsearch%3Fq%3Da%2Bb%26lang%3Den",
			wantNext: "/app/search?q=a+b&lang=en",
		},
		{
			name:     "percent-encoded path stays encoded",
			redirect: Redirect{URL: "/login/"},
			request:  "/files/a%20b%2Fc",
			wantNext: "/files/a%20b%2Fc",
		},
		{
			name:     "custom parameter",
			redirect: Redirect{URL: "https://auth.example.com/login", Param: "return_to"},
			request:  "/app/",
			wantLoc:  "https://auth.example.com/login?return_to=%2Fapp%2F",
			wantNext: "/app/",
		},
		{
			name:     "login URL's own query is kept",
			redirect: Redirect{URL: "https://auth.example.com/login?client=site"},
			request:  "/x",
			wantLoc:  "https://auth.example.com/login?client=site&next=%2Fx",
			wantNext: "/x",
		},
		{
			name:     "a next in the login URL is replaced, not duplicated",
			redirect: Redirect{URL: "/login/?next=/elsewhere"},
			request:  "/x",
			wantLoc:  "/login/?next=%2Fx",
			wantNext: "/x",
		},
		{
			name:     "parameter name with special characters",
			redirect: Redirect{URL: "/login/", Param: "back to"},
			request:  "/x",
			wantLoc:  "/login/?back+to=%2Fx",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lr := mustCompileRedirect(t, &tc.redirect)
			w := httptest.NewRecorder()
			lr.send(w, httptest.NewRequest(http.MethodGet, tc.request, nil))
			if w.Code != http.StatusFound {
				t.Fatalf("status = %d, want 302", w.Code)
			}
			loc := w.Header().Get("Location")
			if tc.wantLoc != "" && loc != tc.wantLoc {
				t.Errorf("Location = %q, want %q", loc, tc.wantLoc)
			}
			if tc.wantNext != "" {
				if got := nextOf(t, loc, tc.redirect.Param); got != tc.wantNext {
					t.Errorf("next = %q, want %q", got, tc.wantNext)
				}
			}
			if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
		})
	}
}

// A login page that redirects to `next` as it is given must never be sent
// off-site: whatever the request, the target stays on the configured login
// URL and next is a path on this site.
func TestNextIsNeverAnOpenRedirect(t *testing.T) {
	lr := mustCompileRedirect(t, &Redirect{URL: "/login/"})
	for _, target := range []string{
		"//evil.example/x",
		"///evil.example/x",
		"/\\evil.example/x",
		"/%5Cevil.example",
		"http://evil.example/x",
		"https://evil.example//evil.example/x",
		"/?next=https://evil.example",
		"/login/?next=//evil.example",
	} {
		t.Run(target, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			// Set the raw target as Go's server would have parsed it from
			// the request line, so the test sees what Caddy sees.
			u, err := url.ParseRequestURI(target)
			if err != nil {
				t.Fatalf("parsing %q: %v", target, err)
			}
			r.URL, r.RequestURI = u, target
			w := httptest.NewRecorder()
			lr.send(w, r)

			loc, err := url.Parse(w.Header().Get("Location"))
			if err != nil {
				t.Fatalf("Location %q does not parse: %v", w.Header().Get("Location"), err)
			}
			if loc.Host != "" || loc.Path != "/login/" || len(loc.Query()) != 1 {
				t.Fatalf("Location %q is not the login page with one parameter", loc)
			}
			next := loc.Query().Get("next")
			if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next[:min(len(next), 2)], "\\") {
				t.Fatalf("next = %q: not a path on this site", next)
			}
			// What a browser would do with it, relative to the login page.
			base, _ := url.Parse("https://site.example/login/")
			back, err := base.Parse(next)
			if err != nil || back.Host != "site.example" {
				t.Fatalf("next = %q resolves to host %q, want site.example", next, back.Host)
			}
		})
	}
}

// handle_path and rewrite change r.URL before jwt runs; the user must come
// back to what they asked for, not to the rewritten path.
func TestNextIsTheURIBeforeRewrites(t *testing.T) {
	lr := mustCompileRedirect(t, &Redirect{URL: "/login/"})
	r := httptest.NewRequest(http.MethodGet, "/app/report?id=7", nil)
	orig := *r
	origURL := *r.URL
	orig.URL = &origURL
	r = r.WithContext(context.WithValue(r.Context(), caddyhttp.OriginalRequestCtxKey, orig))
	r.URL.Path = "/report" // what handle_path /app/* leaves

	w := httptest.NewRecorder()
	lr.send(w, r)
	if got := nextOf(t, w.Header().Get("Location"), ""); got != "/app/report?id=7" {
		t.Errorf("next = %q, want /app/report?id=7", got)
	}
}

func TestRedirectConfigIsChecked(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"/login/", true},
		{"https://auth.example.com/login", true},
		{"http://localhost:9000/login?x=1", true},
		{"", false},
		{"login", false},
		{"../login", false},
		{"//auth.example.com/login", false},
		{"javascript:alert(1)", false},
		{"data:text/html,hi", false},
		{"https:///login", false},
		{"/login#top", false},
		{"%zz", false},
	} {
		_, err := compileRedirect(&Redirect{URL: tc.url})
		if (err == nil) != tc.ok {
			t.Errorf("redirect %q: err = %v, want ok = %v", tc.url, err, tc.ok)
		}
	}
}

func mustCompileRedirect(t *testing.T, cfg *Redirect) *loginRedirect {
	t.Helper()
	lr, err := compileRedirect(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return lr
}

func nextOf(t *testing.T, location, param string) string {
	t.Helper()
	u, err := url.Parse(location)
	if err != nil {
		t.Fatalf("Location %q: %v", location, err)
	}
	if param == "" {
		param = "next"
	}
	return u.Query().Get(param)
}
