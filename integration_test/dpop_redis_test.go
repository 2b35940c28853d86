package integration_test

// A fleet's replay check: two Caddy instances behind one public origin
// share a real redis-server, and a proof accepted by one is refused by the
// other; with Redis down, on_error decides.

import (
	"net/http"
	"strings"
	"testing"
)

func TestDPoPProofIsAcceptedOnceAcrossAFleetSharingRedis(t *testing.T) {
	t.Parallel()
	redisSrv := startRedis(t)
	issuer := newKey(t, "ES256")
	keyDirective := issuer.keyDirective(t)
	up := newUpstream(t)
	fleet := func(onError string) *caddyProcess {
		// Caddy's error log prints every request header of a 5xx but
		// Authorization and Cookie; the DPoP proof of the Redis-down 503
		// below would be there, token-shaped (though useless without the
		// token it names by hash), and the harness refuses any such string.
		return startCaddy(t, caddyfileFor(`
	jwt {
		`+keyDirective+`
		dpop required {
			origin https://api.example.com
			replay redis `+redisSrv.URL()+` {
				prefix fleet:
				on_error `+onError+`
			}
		}
	}
	reverse_proxy `+up.Addr(), "log default {\n\t\texclude http.log.error\n\t}"))
	}
	a, b, lenient := fleet("deny"), fleet("deny"), fleet("allow")
	key := newDPoPKey(t, "ES256")
	token := sign(t, issuer, boundClaims(key))
	const htu = "https://api.example.com/orders"

	proof := key.proof(t, "GET", htu, token)
	if resp := get(t, a.URL("/orders"), dpopRequest(token, proof)); resp.StatusCode != http.StatusOK {
		t.Fatalf("instance A: %d %q, want 200", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	for name, c := range map[string]*caddyProcess{"A": a, "B": b} {
		resp := get(t, c.URL("/orders"), dpopRequest(token, proof))
		want := `error_description="the DPoP proof has been used before"`
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), want) {
			t.Errorf("instance %s, the proof again: %d %q, want 401 used before", name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	if resp := get(t, b.URL("/orders"), dpopRequest(token, key.proof(t, "GET", htu, token))); resp.StatusCode != http.StatusOK {
		t.Errorf("instance B, a fresh proof: %d, want 200", resp.StatusCode)
	}
	if up.Count() != 2 {
		t.Errorf("the upstream got %d requests, want 2", up.Count())
	}
	// What Redis holds: one key per proof under the prefix, expiring.
	keys, _ := redisSrv.do("KEYS", "fleet:dpop:*").([]any)
	if len(keys) != 2 {
		t.Errorf("redis holds %d fleet:dpop:* keys, want 2", len(keys))
	}
	for _, k := range keys {
		if ttl, _ := redisSrv.do("PTTL", k).(int64); ttl <= 0 {
			t.Errorf("%v has no expiry (PTTL %d)", k, ttl)
		}
	}

	// Redis down: on_error deny refuses with 503, allow lets a valid proof
	// through unchecked for replay.
	redisSrv.stop()
	resp := get(t, a.URL("/orders"), dpopRequest(token, key.proof(t, "GET", htu, token)))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("redis down, on_error deny: %d (Retry-After %q), want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp := get(t, lenient.URL("/orders"), dpopRequest(token, key.proof(t, "GET", htu, token))); resp.StatusCode != http.StatusOK {
		t.Errorf("redis down, on_error allow: %d, want 200", resp.StatusCode)
	}
	waitForLog(t, lenient, "proof accepted unchecked (on_error allow)")
}
