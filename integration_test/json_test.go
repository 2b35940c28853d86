package integration_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// loadJSON loads a JSON config through the admin API (POST /load).
func loadJSON(t *testing.T, c *caddyProcess, cfg map[string]any) {
	t.Helper()
	body, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Post(c.AdminURL()+"/load", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /load: %s: %s", resp.Status, msg)
	}
	testClient.CloseIdleConnections()
}

// loadJSONRoutes loads, through the admin API, a JSON config of one HTTP
// server with routes, on c's own admin and HTTP ports.
func loadJSONRoutes(t *testing.T, c *caddyProcess, routes []map[string]any) {
	t.Helper()
	ports := c.Ports()
	loadJSON(t, c, map[string]any{
		"admin": map[string]any{"listen": "127.0.0.1:" + strconv.Itoa(ports.Admin)},
		"apps": map[string]any{"http": map[string]any{"servers": map[string]any{"test": map[string]any{
			"listen": []string{"127.0.0.1:" + strconv.Itoa(ports.HTTP)},
			"routes": routes,
		}}}},
	})
}

// TestJSONConfig: the JSON field names the README documents (the Caddyfile
// subdirectives in snake_case) configure the handler when loaded directly.
func TestJSONConfig(t *testing.T) {
	requireCaddy(t)
	up := newUpstream(t)
	k := newKey(t, "HS256")
	c := startCaddy(t, caddyfileFor("\trespond 404"))

	// A revocation store is a guest module chosen by its "module" key.
	revoked := writeFile(t, "revoked.json", []byte(`{"revoked_jti": {"revoked-1": 4102444800}, "subjects": {}}`))

	jwtHandler := map[string]any{
		"handler":        "jwt",
		"secret":         map[string]any{"value": k.Secret()},
		"algorithms":     []string{"HS256"},
		"from":           []map[string]any{{"header": "X-Token", "scheme": "Token"}, {"cookie": "session"}},
		"audience":       []string{"api"},
		"leeway":         "5s",
		"max_lifetime":   "1h",
		"require_claim":  []map[string]any{{"path": "role", "values": []string{"admin"}}},
		"claim_header":   []map[string]any{{"path": "sub", "header": "X-User-Id"}},
		"user_claim":     "sub",
		"strip_token":    true,
		"realm":          "json",
		"max_token_size": 4096,
		"revocation": map[string]any{
			"store":    map[string]any{"module": "file", "location": revoked, "reload_interval": "1s"},
			"on_error": "deny",
		},
	}
	loadJSONRoutes(t, c, []map[string]any{{"handle": []map[string]any{
		jwtHandler,
		{"handler": "reverse_proxy", "upstreams": []map[string]any{{"dial": up.Addr()}}},
	}}})

	good := validClaims("aud", "api", "role", "admin")
	check(t, c, up, http.MethodGet, "/", http.Header{"X-Token": {"Token " + sign(t, k, good)}}, accepted)
	last := up.Last(t)
	if last.Header.Get("X-User-Id") != "user-42" || last.Header.Get("X-Token") != "" {
		t.Errorf("upstream got X-User-Id %q, X-Token %q", last.Header.Get("X-User-Id"), last.Header.Get("X-Token"))
	}
	check(t, c, up, http.MethodGet, "/", http.Header{"Cookie": {"session=" + sign(t, k, good)}}, accepted)
	check(t, c, up, http.MethodGet, "/", nil, expectation{http.StatusUnauthorized, `Bearer realm="json"`})
	check(t, c, up, http.MethodGet, "/", http.Header{"X-Token": {"Token " + sign(t, k, validClaims("aud", "api", "role", "user"))}},
		expectation{http.StatusForbidden, `Bearer realm="json", error="insufficient_scope"`})
	check(t, c, up, http.MethodGet, "/", http.Header{"X-Token": {"Token " + sign(t, k, validClaims("aud", "api", "role", "admin", "jti", "revoked-1"))}},
		expectation{http.StatusUnauthorized, `Bearer realm="json", error="invalid_token", error_description="` + revokedDescription + `"`})
	check(t, c, up, http.MethodGet, "/", http.Header{"X-Token": {"Token " + sign(t, k, validClaims("aud", "api", "role", "admin", "exp", time.Now().Add(2*time.Hour).Unix()))}},
		expectation{http.StatusUnauthorized, `Bearer realm="json", error="invalid_token", error_description="` + descLifetime + `"`})
}
