package integration_test

// Server nonces (RFC 9449 §8, §9): with dpop_nonce, a proof without the
// current nonce gets 401 use_dpop_nonce and a DPoP-Nonce to retry with;
// instances sharing the nonce secret accept each other's nonces.

import (
	"net/http"
	"testing"
)

func TestDPoPNonceIsHandedOutAndRequired(t *testing.T) {
	t.Parallel()
	const nonceConfig = "dpop_nonce {\n\t\t\tsecret {env.NONCE_SECRET}\n\t\t}\n\t\tdpop allowed {\n\t\t\torigin https://api.example.com\n\t\t}"
	secret := withEnv("NONCE_SECRET=" + randomText(t, 32))
	issuer := newKey(t, "ES256")
	key := newDPoPKey(t, "ES256")
	token := sign(t, issuer, boundClaims(key))
	const htu = "https://api.example.com/orders"
	start := func(opts ...caddyOption) *dpopSite {
		s := &dpopSite{up: newUpstream(t), issuer: issuer}
		s.caddy = startCaddy(t, caddyfileFor(`
	jwt {
		`+issuer.keyDirective(t)+`
		`+nonceConfig+`
	}
	reverse_proxy `+s.up.Addr()), opts...)
		return s
	}
	a, b := start(secret), start(secret)
	other := start(withEnv("NONCE_SECRET=" + randomText(t, 32)))
	useNonce := []string{challengeMissing, dpopAlgs + `, error="use_dpop_nonce", error_description="the DPoP proof needs the current server nonce"`}

	resp := a.expect(t, "GET", "/orders", dpopRequest(token, key.proof(t, "GET", htu, token)), http.StatusUnauthorized, useNonce)
	nonce := resp.Header.Get("DPoP-Nonce")
	if len(nonce) < 32 {
		t.Fatalf("DPoP-Nonce = %q, want a nonce to retry with", nonce)
	}
	resp = a.expect(t, "GET", "/orders", dpopRequest(token, key.proof(t, "GET", htu, token, withClaim("nonce", nonce))), http.StatusOK, nil)
	// (A new one comes only when the window rotated in between; the unit
	// tests pin that down with a clock of their own.)
	if got := resp.Header.Get("DPoP-Nonce"); got == nonce {
		t.Errorf("a nonce was answered with itself")
	}
	// Another instance with the same secret takes it; one with another
	// secret hands out its own.
	b.expect(t, "GET", "/orders", dpopRequest(token, key.proof(t, "GET", htu, token, withClaim("nonce", nonce))), http.StatusOK, nil)
	resp = other.expect(t, "GET", "/orders", dpopRequest(token, key.proof(t, "GET", htu, token, withClaim("nonce", nonce))), http.StatusUnauthorized, useNonce)
	if got := resp.Header.Get("DPoP-Nonce"); got == "" || got == nonce {
		t.Errorf("the instance with another secret answered DPoP-Nonce %q, want its own", got)
	}
	for _, bad := range []any{nonce + "x", "", 42} {
		a.expect(t, "GET", "/orders", dpopRequest(token, key.proof(t, "GET", htu, token, withClaim("nonce", bad))), http.StatusUnauthorized,
			map[bool][]string{true: useNonce, false: dpopProofError("the DPoP proof is malformed")}[bad != 42])
	}
	m := scrapeMetrics(t, a.caddy)
	if got := m[`caddy_jwt_requests_total{result="nonce_required"}`]; got < 3 {
		t.Errorf(`requests_total{result="nonce_required"} = %v, want at least 3`, got)
	}
}
