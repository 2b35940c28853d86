package caddyjwt

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestObserveModePassesEveryRequestWithoutIdentityFromFailedTokens: in
// observe mode a request that would be refused reaches the next handler
// with no challenge, no claim header and no user from its token, and is
// counted under observed_requests_total by the result enforcing would
// have given; a valid token is handed on as in enforce mode.
func TestObserveModePassesEveryRequestWithoutIdentityFromFailedTokens(t *testing.T) {
	h := mustProvision(t, &Handler{
		KeySources:    KeySources{Secret: &SecretKey{Value: testSecret}},
		Mode:          "observe",
		RequireClaims: []*ClaimRequirement{{Path: "role", Values: []string{"admin"}}},
		ClaimHeaders:  []*ClaimHeader{{Path: "sub", Header: "X-User"}},
	})
	good := validClaims()
	good["role"] = "admin"
	expired := validClaims()
	expired["role"], expired["exp"] = "admin", time.Now().Add(-time.Hour).Unix()
	user := validClaims()
	user["role"] = "user"
	tests := []struct {
		name     string
		token    string
		result   string
		wantUser string
	}{
		{"valid", sign(t, jwt.SigningMethodHS256, []byte(testSecret), good, nil), "allowed", "alice"},
		{"missing", "", "missing", ""},
		{"malformed", "not.a.token", "malformed", ""},
		{"expired", sign(t, jwt.SigningMethodHS256, []byte(testSecret), expired, nil), "expired", ""},
		{"bad signature", sign(t, jwt.SigningMethodHS256, []byte(testSecret+"x"), good, nil), "bad_signature", ""},
		{"forbidden", sign(t, jwt.SigningMethodHS256, []byte(testSecret), user, nil), "forbidden", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := testutil.ToFloat64(observedRequestsTotal.WithLabelValues(tt.result))
			enforced := testutil.ToFloat64(requestsTotal.WithLabelValues(tt.result))
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("X-User", "spoofed")
			if tt.token != "" {
				r.Header.Set("Authorization", "Bearer "+tt.token)
			}
			repl := caddy.NewReplacer()
			r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
			var reached *http.Request
			w := httptest.NewRecorder()
			err := h.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				reached = r
				return nil
			}))
			if err != nil || reached == nil {
				t.Fatalf("not passed on: %v", err)
			}
			if got := reached.Header.Get("X-User"); got != tt.wantUser {
				t.Errorf("X-User = %q, want %q", got, tt.wantUser)
			}
			if got, _ := repl.GetString("http.auth.user.id"); got != tt.wantUser {
				t.Errorf("{http.auth.user.id} = %q, want %q", got, tt.wantUser)
			}
			if got, _ := repl.GetString("http.auth.jwt.role"); tt.wantUser == "" && got != "" {
				t.Errorf("{http.auth.jwt.role} = %q from a token that failed", got)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != "" {
				t.Errorf("challenge %q sent in observe mode", got)
			}
			if got := testutil.ToFloat64(observedRequestsTotal.WithLabelValues(tt.result)) - before; got != 1 {
				t.Errorf("observed_requests_total{result=%q} moved by %v, want 1", tt.result, got)
			}
			if got := testutil.ToFloat64(requestsTotal.WithLabelValues(tt.result)) - enforced; got != 0 {
				t.Errorf("requests_total{result=%q} moved by %v in observe mode", tt.result, got)
			}
		})
	}
}

func TestModeMustBeEnforceOrObserve(t *testing.T) {
	h := &Handler{KeySources: KeySources{Secret: &SecretKey{Value: testSecret}}, Mode: "audit"}
	if err := provisionForTest(t, h); err == nil {
		t.Error("mode audit was accepted")
	}
}
