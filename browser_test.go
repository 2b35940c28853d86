package caddyjwt

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
)

// Accept headers as real clients send them.
const (
	acceptChrome  = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
	acceptFirefox = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	acceptSafari  = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
)

func TestBrowserNavigationIsToldApartFromAPIClients(t *testing.T) {
	for _, tc := range []struct {
		name   string
		accept string
		want   bool
	}{
		{"chrome navigation", acceptChrome, true},
		{"firefox navigation", acceptFirefox, true},
		{"safari navigation", acceptSafari, true},
		{"plain text/html", "text/html", true},
		{"xhtml", "application/xhtml+xml", true},
		{"html preferred by q", "application/json;q=0.5, text/html", true},
		{"no accept header", "", false},
		{"curl default", "*/*", false},
		{"text wildcard", "text/*", false},
		{"json", "application/json", false},
		{"json preferred by q", "text/html;q=0.5, application/json", false},
		{"tie listed json first", "application/json, text/html", false},
		{"tie listed html first", "text/html, application/json", true},
		{"html refused with q=0", "text/html;q=0, */*", false},
		{"fetch default", "*/*", false},
		{"garbage", ";;;,,,", false},
		{"bad q ignored", "text/html;q=abc, application/json", false},
		{"out of range q ignored", "text/html;q=7, application/json;q=0.5", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := prefersHTML(tc.accept); got != tc.want {
				t.Errorf("prefersHTML(%q) = %v, want %v", tc.accept, got, tc.want)
			}
		})
	}
}

func TestOnlyGetAndHeadNavigationsAreRedirected(t *testing.T) {
	lr := mustCompileRedirect(t, &Redirect{URL: "/login/"})
	for method, want := range map[string]bool{
		http.MethodGet: true, http.MethodHead: true,
		http.MethodPost: false, http.MethodPut: false, http.MethodDelete: false, http.MethodOptions: false,
	} {
		r := httptest.NewRequest(method, "/app/", nil)
		r.Header.Set("Accept", acceptChrome)
		if got := lr.wants(r); got != want {
			t.Errorf("%s with a browser Accept: wants = %v, want %v", method, got, want)
		}
	}
}

func TestTrustedOriginsAreCheckedAndCanonicalised(t *testing.T) {
	h := &Handler{TrustedOrigins: []string{"HTTPS://App.Example.com:443"}}
	if err := h.provisionBrowserProtection(); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "https://api.example.com/x", nil)
	r.Header.Set("Sec-Fetch-Site", "same-site")
	r.Header.Set("Origin", "https://app.example.com")
	if err := h.csrf.Check(r); err != nil {
		t.Errorf("trusted origin written in another case and with its default port was refused: %v", err)
	}

	for _, bad := range []string{"app.example.com", "https://app.example.com/", "https://app.example.com/path"} {
		h := &Handler{TrustedOrigins: []string{bad}}
		if err := h.provisionBrowserProtection(); err == nil {
			t.Errorf("trusted_origin %q was accepted", bad)
		}
	}
	h = &Handler{CSRF: "off", TrustedOrigins: []string{"https://app.example.com"}}
	if err := h.provisionBrowserProtection(); err == nil {
		t.Error("trusted_origin with csrf off was accepted")
	}
}

// The handler as a whole: which requests pass, which get 403 for CSRF, and
// which are redirected, depending on where the token came from.
func TestCSRFAppliesOnlyToCookieBorneTokens(t *testing.T) {
	const secret = "a-test-secret-that-is-32-bytes-!"
	valid := signHS256(t, secret, time.Now().Add(time.Hour))

	crossSite := func(r *http.Request) {
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		r.Header.Set("Origin", "https://evil.example")
	}
	cookie := func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "session", Value: valid}) }
	bearer := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+valid) }
	query := func(r *http.Request) { r.URL.RawQuery = "access_token=" + valid }

	for _, tc := range []struct {
		name    string
		csrf    string
		trusted []string
		method  string
		set     []func(*http.Request)
		origin  string // Origin header with no Sec-Fetch-Site (older browsers)
		want    int
	}{
		{name: "cross-site POST with cookie refused", method: "POST", set: []func(*http.Request){cookie, crossSite}, want: 403},
		{name: "cross-site DELETE with cookie refused", method: "DELETE", set: []func(*http.Request){cookie, crossSite}, want: 403},
		{name: "old browser cross-origin POST refused", method: "POST", set: []func(*http.Request){cookie}, origin: "https://evil.example", want: 403},
		{name: "old browser same-origin POST passes", method: "POST", set: []func(*http.Request){cookie}, origin: "http://site.example", want: 200},
		{name: "same-origin POST with cookie passes", method: "POST", set: []func(*http.Request){cookie, func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "same-origin") }}, want: 200},
		{name: "non-browser POST with cookie passes", method: "POST", set: []func(*http.Request){cookie}, want: 200},
		{name: "cross-site GET with cookie passes", method: "GET", set: []func(*http.Request){cookie, crossSite}, want: 200},
		{name: "cross-site POST with bearer header passes", method: "POST", set: []func(*http.Request){bearer, crossSite}, want: 200},
		{name: "cross-site POST with query token passes", method: "POST", set: []func(*http.Request){query, crossSite}, want: 200},
		{name: "csrf off lets cross-site POST with cookie pass", csrf: "off", method: "POST", set: []func(*http.Request){cookie, crossSite}, want: 200},
		{name: "trusted origin passes", trusted: []string{"https://evil.example"}, method: "POST", set: []func(*http.Request){cookie, crossSite}, want: 200},
		{name: "cross-site POST with cookie and same bearer refused", method: "POST", set: []func(*http.Request){cookie, bearer, crossSite}, want: 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := provisionTestHandler(t, &Handler{
				KeySources:     KeySources{Secret: &SecretKey{Value: secret}},
				From:           []*TokenSource{{Cookie: "session"}, {Header: "Authorization"}, {Query: "access_token"}},
				CSRF:           tc.csrf,
				TrustedOrigins: tc.trusted,
			})
			r := httptest.NewRequest(tc.method, "http://site.example/api/thing", nil)
			for _, f := range tc.set {
				f(r)
			}
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			if got := serve(h, r); got != tc.want {
				t.Errorf("status = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestBrowsersWithoutValidTokenAreRedirectedAndAPIClientsChallenged(t *testing.T) {
	const secret = "a-test-secret-that-is-32-bytes-!"
	expired := signHS256(t, secret, time.Now().Add(-time.Hour))
	h := provisionTestHandler(t, &Handler{
		KeySources: KeySources{Secret: &SecretKey{Value: secret}},
		From:       []*TokenSource{{Cookie: "session"}},
		Redirect:   &Redirect{URL: "/login/"},
		RequireClaims: []*ClaimRequirement{
			{Path: "role", Values: []string{"admin"}},
		},
	})
	validWithoutRole := signHS256(t, secret, time.Now().Add(time.Hour))

	for _, tc := range []struct {
		name   string
		method string
		accept string
		cookie string
		want   int
	}{
		{"navigation without cookie", "GET", acceptChrome, "", 302},
		{"HEAD navigation without cookie", "HEAD", acceptChrome, "", 302},
		{"navigation with expired cookie", "GET", acceptChrome, expired, 302},
		{"navigation with garbage cookie", "GET", acceptChrome, "not.a.jwt", 302},
		{"json client without cookie", "GET", "application/json", "", 401},
		{"client without Accept", "GET", "", "", 401},
		{"form POST without cookie", "POST", acceptChrome, "", 401},
		// A logged-in user who lacks a claim would loop through the login
		// page forever: they get the 403.
		{"navigation with valid cookie but missing claim", "GET", acceptChrome, validWithoutRole, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "http://site.example/app/?a=1", nil)
			if tc.accept != "" {
				r.Header.Set("Accept", tc.accept)
			}
			if tc.cookie != "" {
				r.AddCookie(&http.Cookie{Name: "session", Value: tc.cookie})
			}
			w := httptest.NewRecorder()
			got := serveTo(h, w, r)
			if got != tc.want {
				t.Fatalf("status = %d, want %d", got, tc.want)
			}
			switch got {
			case 302:
				if loc := w.Header().Get("Location"); loc != "/login/?next=%2Fapp%2F%3Fa%3D1" {
					t.Errorf("Location = %q", loc)
				}
				if w.Header().Get("WWW-Authenticate") != "" {
					t.Error("a redirect also carried a WWW-Authenticate challenge")
				}
			case 401:
				if !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer ") {
					t.Errorf("401 without a Bearer challenge: %q", w.Header().Get("WWW-Authenticate"))
				}
			}
		})
	}
}

func TestBrowserSubdirectivesParse(t *testing.T) {
	var h Handler
	err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`jwt {
		from cookie session
		redirect https://auth.example.com/login return_to
		csrf on
		trusted_origin https://app.example.com https://admin.example.com
		trusted_origin https://other.example.com
	}`))
	if err != nil {
		t.Fatal(err)
	}
	if h.Redirect == nil || h.Redirect.URL != "https://auth.example.com/login" || h.Redirect.Param != "return_to" {
		t.Errorf("redirect = %+v", h.Redirect)
	}
	if h.CSRF != "on" {
		t.Errorf("csrf = %q", h.CSRF)
	}
	if want := []string{"https://app.example.com", "https://admin.example.com", "https://other.example.com"}; strings.Join(h.TrustedOrigins, " ") != strings.Join(want, " ") {
		t.Errorf("trusted_origin = %q, want %q", h.TrustedOrigins, want)
	}

	for _, bad := range []string{
		"jwt {\n redirect\n}",
		"jwt {\n redirect /login/ next extra\n}",
		"jwt {\n csrf\n}",
		"jwt {\n trusted_origin\n}",
	} {
		var h Handler
		if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(bad)); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}

// csrf's value is judged by Validate, so that a JSON config meets the same
// check with the same message as a Caddyfile.
func TestCSRFValueIsJudgedOnceForCaddyfileAndJSON(t *testing.T) {
	var fromCaddyfile Handler
	if err := fromCaddyfile.UnmarshalCaddyfile(caddyfile.NewTestDispenser("jwt {\n csrf maybe\n}")); err != nil {
		t.Fatal(err)
	}
	fromJSON := Handler{CSRF: "maybe"}
	errCaddyfile, errJSON := fromCaddyfile.Validate(), fromJSON.Validate()
	if errCaddyfile == nil || errJSON == nil || errCaddyfile.Error() != errJSON.Error() {
		t.Errorf("csrf maybe: Caddyfile config gave %v, JSON config %v; want the same refusal", errCaddyfile, errJSON)
	}
}

func signHS256(t *testing.T, secret string, exp time.Time) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "alice",
		"iat": time.Now().Add(-2 * time.Hour).Unix(),
		"exp": exp.Unix(),
	}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func provisionTestHandler(t *testing.T, h *Handler) *Handler {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := h.Provision(ctx); err != nil {
		t.Fatalf("provision: %v", err)
	}
	if err := h.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	t.Cleanup(func() { h.Cleanup() })
	h.logger = zap.NewNop()
	return h
}

// serve runs the handler as Caddy would and returns the status the client
// gets: the one written, or the one of the returned caddyhttp.Error.
func serve(h *Handler, r *http.Request) int {
	return serveTo(h, httptest.NewRecorder(), r)
}

func serveTo(h *Handler, w *httptest.ResponseRecorder, r *http.Request) int {
	repl := caddy.NewReplacer()
	r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
	upstream := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusOK)
		return nil
	})
	err := h.ServeHTTP(w, r, upstream)
	var he caddyhttp.HandlerError
	if errors.As(err, &he) {
		return he.StatusCode
	}
	if err != nil {
		return http.StatusInternalServerError
	}
	return w.Code
}
