package caddyjwt

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestHTTPStoreFillsPlaceholdersEscaped(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.RawPath + "?" + r.URL.RawQuery
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()
	c, stop := newHTTPCheck(t, srv.URL+"/users/{http.auth.jwt.sub}/version?jti={http.auth.jwt.jti}", "")
	defer stop()

	tok := revokeTestToken(map[string]any{"sub": "a/../admin?x=1&y", "jti": "j 1"})
	if rsn := c.check(revokeTestRequest(), tok); rsn != reasonAllowed {
		t.Fatalf("404 (no record): got %v, want allowed", rsn)
	}
	want := "/users/a%2F..%2Fadmin%3Fx%3D1%26y/version?jti=j%201"
	if g := <-got; g != want {
		t.Errorf("auth service was asked %q, want %q", g, want)
	}
}

func TestHTTPStoreAnswers(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		headers map[string]string
		claims  map[string]any
		want    reason
	}{
		{"200 with a higher version revokes", 200, map[string]string{"Token-Version": "3"}, map[string]any{"ver": json.Number("2")}, reasonRevoked},
		{"200 with the same version passes", 200, map[string]string{"Token-Version": "3"}, map[string]any{"ver": json.Number("3")}, reasonAllowed},
		{"200 without a version passes", 200, nil, map[string]any{}, reasonAllowed},
		{"200 with a later logout revokes", 200, map[string]string{"Token-Not-Before": "1700000000"}, map[string]any{"iat": json.Number("1699999000")}, reasonRevoked},
		{"404 is no record", 404, nil, map[string]any{}, reasonAllowed},
		{"410 revokes the token", 410, nil, map[string]any{"ver": json.Number("9")}, reasonRevoked},
		{"500 is a store error", 500, nil, map[string]any{}, reasonRevocationUnavailable},
		{"a redirect is a store error", 302, map[string]string{"Location": "/elsewhere"}, map[string]any{}, reasonRevocationUnavailable},
		{"a garbled version is a store error", 200, map[string]string{"Token-Version": "three"}, map[string]any{}, reasonRevocationUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.headers {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			c, stop := newHTTPCheck(t, srv.URL+"/v/{http.auth.jwt.sub}", "")
			defer stop()
			tt.claims["sub"] = "alice"
			if got := c.check(revokeTestRequest(), revokeTestToken(tt.claims)); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHTTPStoreTimeoutIsAStoreError(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
	}))
	defer srv.Close()
	defer close(release)
	c, stop := newHTTPCheck(t, srv.URL+"/v/{http.auth.jwt.sub}", "")
	defer stop()
	if got := c.check(revokeTestRequest(), revokeTestToken(map[string]any{"sub": "alice"})); got != reasonRevocationUnavailable {
		t.Errorf("got %v, want revocation unavailable", got)
	}
}

func TestHTTPStoreClaimCannotMoveTheLookupToAnotherPath(t *testing.T) {
	asked := make(chan string, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked <- r.URL.EscapedPath()
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()
	for _, onError := range []string{"deny", "allow"} {
		c, stop := newHTTPCheck(t, srv.URL+"/users/{http.auth.jwt.sub}/status?jti={http.auth.jwt.jti}", onError)
		tests := []struct {
			sub  string
			want reason
			path string // what the store is asked, "" for nothing
		}{
			{"alice", reasonAllowed, "/users/alice/status"},
			{".", reasonBadClaims, ""},
			{"..", reasonBadClaims, ""},
			{"a/..", reasonAllowed, "/users/a%2F../status"},
			{"%2e%2e", reasonAllowed, "/users/%252e%252e/status"},
			{"..?x=", reasonAllowed, "/users/..%3Fx%3D/status"},
			{"..#", reasonAllowed, "/users/..%23/status"},
			{"...", reasonAllowed, "/users/.../status"},
		}
		for _, tt := range tests {
			// A jti of ".." is a query value, not a path segment.
			tok := revokeTestToken(map[string]any{"sub": tt.sub, "jti": ".."})
			if got := c.check(revokeTestRequest(), tok); got != tt.want {
				t.Errorf("on_error %s, sub %q: %v, want %v", onError, tt.sub, got, tt.want)
			}
			select {
			case p := <-asked:
				if p != tt.path {
					t.Errorf("sub %q: the store was asked %q, want %q", tt.sub, p, tt.path)
				}
			default:
				if tt.path != "" {
					t.Errorf("sub %q: the store was not asked", tt.sub)
				}
			}
		}
		stop()
	}
}

func TestHTTPStoreLocationWithDotSegmentsIsRefused(t *testing.T) {
	for _, loc := range []string{"http://auth/a/../{http.auth.jwt.sub}", "http://auth/./{http.auth.jwt.sub}"} {
		if _, err := parseURLTemplate(loc); err == nil {
			t.Errorf("%s accepted", loc)
		}
	}
	if _, err := parseURLTemplate("http://auth/a/{http.auth.jwt.sub}?next=../x"); err != nil {
		t.Errorf("dots in the query: %v", err)
	}
}
