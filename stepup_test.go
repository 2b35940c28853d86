package caddyjwt

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/golang-jwt/jwt/v5"
)

// TestStepUpChallengesNameWhatIsRequired: a valid token that misses a
// scope gets 403 insufficient_scope naming the scopes (RFC 6750 §3); one
// whose acr or auth_time falls short gets 401
// insufficient_user_authentication with acr_values and max_age (RFC 9470
// §3); other claims keep the plain 403.
func TestStepUpChallengesNameWhatIsRequired(t *testing.T) {
	h := mustProvision(t, &Handler{
		KeySources: KeySources{Secret: &SecretKey{Value: testSecret}},
		Realm:      "api",
		RequireClaims: []*ClaimRequirement{
			{Path: "role", Values: []string{"admin"}},
			{Path: "scope", Values: []string{"files:read", "files:write"}},
			{Path: "scope", Values: []string{"files:read"}},
			{Path: "acr", Values: []string{"urn:mace:incommon:iap:silver", "phr"}},
		},
		MaxAge: caddy.Duration(10 * time.Minute),
	})
	now := time.Now()
	claims := func(kv ...any) jwt.MapClaims {
		c := validClaims()
		c["role"], c["scope"], c["acr"], c["auth_time"] = "admin", "files:read", "phr", now.Add(-time.Minute).Unix()
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(c, kv[i].(string))
				continue
			}
			c[kv[i].(string)] = kv[i+1]
		}
		return c
	}
	const stepUp = `Bearer realm="api", error="insufficient_user_authentication", error_description="`
	const params = `", acr_values="urn:mace:incommon:iap:silver phr", max_age="600"`
	tests := []struct {
		name      string
		claims    jwt.MapClaims
		status    int
		challenge string
	}{
		{"all met", claims(), http.StatusOK, ""},
		{"role missing: plain 403", claims("role", "user"), http.StatusForbidden, `Bearer realm="api", error="insufficient_scope"`},
		{"scope missing: 403 naming the scopes", claims("scope", "other"), http.StatusForbidden, `Bearer realm="api", error="insufficient_scope", scope="files:read files:write"`},
		{"acr too weak", claims("acr", "pwd"), http.StatusUnauthorized, stepUp + "a stronger authentication is required" + params},
		{"acr missing", claims("acr", nil), http.StatusUnauthorized, stepUp + "a stronger authentication is required" + params},
		{"authentication too old", claims("auth_time", now.Add(-time.Hour).Unix()), http.StatusUnauthorized, stepUp + "a more recent authentication is required" + params},
		{"no auth_time", claims("auth_time", nil), http.StatusUnauthorized, stepUp + "the token has no auth_time, which max_age needs" + params},
		{"auth_time not a number", claims("auth_time", "yesterday"), http.StatusUnauthorized, stepUp + "the token has no auth_time, which max_age needs" + params},
		{"auth_time within leeway of max_age", claims("auth_time", now.Add(-10*time.Minute-5*time.Second).Unix()), http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer "+sign(t, jwt.SigningMethodHS256, []byte(testSecret), tt.claims, nil))
			w := httptest.NewRecorder()
			if got := serveTo(h, w, r); got != tt.status {
				t.Errorf("status = %d, want %d", got, tt.status)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate = %q\n                  want %q", got, tt.challenge)
			}
		})
	}
}

func TestMaxAgeMustBeWholeSeconds(t *testing.T) {
	for _, d := range []time.Duration{-time.Second, 500 * time.Millisecond} {
		h := &Handler{KeySources: KeySources{Secret: &SecretKey{Value: testSecret}}, MaxAge: caddy.Duration(d)}
		if err := provisionForTest(t, h); err == nil {
			t.Errorf("max_age %s was accepted", d)
		}
	}
}
