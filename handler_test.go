package caddyjwt

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// TestCORSPreflightCarryingATokenIsAuthenticated: a browser's preflight
// carries no credentials and passes anonymously, but one that carries a
// token anyway is authenticated like any other request, so that the
// upstream never reads a token nobody verified (found by the differential
// test: preflights with a forged token in each location reached every
// upstream).
func TestCORSPreflightCarryingATokenIsAuthenticated(t *testing.T) {
	h := provisionTestHandler(t, &Handler{
		KeySources: KeySources{Secret: &SecretKey{Value: testSecret}},
		From:       []*TokenSource{{Header: "Authorization"}, {Cookie: "session"}, {Query: "access_token"}},
	})
	valid := signHS256(t, testSecret, time.Now().Add(time.Hour))
	forged := signHS256(t, "an-attacker-secret-of-32-bytes-or-more", time.Now().Add(time.Hour))
	cases := []struct {
		name   string
		target string
		header []string
		status int
		user   string
	}{
		{"no token: passes anonymously", "/", nil, http.StatusOK, ""},
		{"forged token in the header: refused", "/", []string{"Authorization: Bearer " + forged}, http.StatusUnauthorized, ""},
		{"forged token in a cookie: refused", "/", []string{"Cookie: session=" + forged}, http.StatusUnauthorized, ""},
		{"forged token in the query: refused", "/?access_token=" + forged, nil, http.StatusUnauthorized, ""},
		{"malformed token: refused", "/", []string{"Authorization: Bearer\u00a0" + forged}, http.StatusUnauthorized, ""},
		{"valid token: passes as its user", "/?access_token=" + valid, nil, http.StatusOK, "alice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := request(tc.target, append(tc.header, "Origin: https://app.example", "Access-Control-Request-Method: DELETE")...)
			r.Method = http.MethodOptions
			repl := caddy.NewReplacer()
			r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
			w := httptest.NewRecorder()
			reached, user := false, ""
			err := h.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				reached = true
				user = repl.ReplaceKnown("{http.auth.user.id}", "")
				return nil
			}))
			status := http.StatusOK
			if he, ok := err.(caddyhttp.HandlerError); ok {
				status = he.StatusCode
			} else if err != nil {
				t.Fatal(err)
			}
			if status != tc.status || reached != (tc.status == http.StatusOK) {
				t.Fatalf("status %d, upstream reached %v; want %d", status, reached, tc.status)
			}
			if user != tc.user {
				t.Errorf("{http.auth.user.id} = %q, want %q", user, tc.user)
			}
		})
	}
}
