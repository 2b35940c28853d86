package integration_test

// Configurations that would open an attack are refused at load: HMAC with
// only remote keys, claim headers that can never work, too many token
// sources.

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestHMACWithOnlyRemoteKeysIsRefused: keys from a JWKS URL never verify
// HS* tokens, so an allowlist with an HMAC algorithm and no secret can
// never be right and stops Caddy at load, naming the algorithm.
func TestHMACWithOnlyRemoteKeysIsRefused(t *testing.T) {
	requireCaddy(t)
	res := runCaddyExpectFailure(t, caddyfileFor(jwtRoute("/*", "jwks http://127.0.0.1:1/jwks.json\nalgorithms RS256 HS256", "respond ok")))
	for _, want := range []string{"jwt: algorithms lists HS256", "HMAC needs a secret"} {
		if !strings.Contains(res.Output(), want) {
			t.Errorf("output lacks %q:\n%s", want, lastLines(res.Output(), 3))
		}
	}

	// A JWKS file may hold HMAC (oct) keys: with one, HS256 is fine.
	t.Run("a JWKS file with an oct key", func(t *testing.T) {
		up := newUpstream(t)
		key := newKey(t, "HS256")
		set, _ := json.Marshal(map[string]any{"keys": []any{map[string]any{
			"kty": "oct", "kid": "h", "k": base64.RawURLEncoding.EncodeToString(key.Public.([]byte)),
		}}})
		file := writeFile(t, "jwks.json", set)
		c := startCaddy(t, caddyfileFor(jwtRoute("/*", "jwks "+file+"\njwks http://127.0.0.1:1/jwks.json\nalgorithms HS256 RS256", "reverse_proxy "+up.Addr())))
		check(t, c, up, http.MethodGet, "/", bearer(signToken(t, key, validClaims(), map[string]any{"kid": "h"})), accepted)
	})
}

// TestClaimHeadersThatCanNeverWorkAreRefused: a claim in a header that
// frames the request or carries the credentials would split the request
// upstream or delete the token before it is read; such configs stop Caddy
// at load, naming the header.
func TestClaimHeadersThatCanNeverWorkAreRefused(t *testing.T) {
	requireCaddy(t)
	key := newKey(t, "HS256")
	for _, header := range []string{"Content-Length", "transfer-encoding", "Host", "Connection", "Authorization", "Cookie"} {
		t.Run(header, func(t *testing.T) {
			res := runCaddyExpectFailure(t, caddyfileFor(jwtRoute("/*", key.keyDirective(t)+"\nclaim_header sub "+header, "respond ok")))
			if want := "jwt: claim_header: " + http.CanonicalHeaderKey(header) + " cannot carry a claim"; !strings.Contains(res.Output(), want) {
				t.Errorf("output lacks %q:\n%s", want, lastLines(res.Output(), 3))
			}
		})
	}
}

// TestTooManyTokenSourcesAreRefused: where a token was found is one bit per
// source, so more than 64 sources stop Caddy at load instead of silently
// skipping the CSRF check and strip_token for the rest.
func TestTooManyTokenSourcesAreRefused(t *testing.T) {
	requireCaddy(t)
	key := newKey(t, "HS256")
	var from strings.Builder
	for i := range 65 {
		fmt.Fprintf(&from, "\nfrom cookie c%d", i)
	}
	res := runCaddyExpectFailure(t, caddyfileFor(jwtRoute("/*", key.keyDirective(t)+from.String(), "respond ok")))
	if want := "jwt: from: 65 token sources; at most 64"; !strings.Contains(res.Output(), want) {
		t.Errorf("output lacks %q:\n%s", want, lastLines(res.Output(), 3))
	}
}
