package integration_test

// DPoP (RFC 9449) through the real Caddy: a DPoP-bound token passes only
// with a valid proof, each check of §4.3 broken one at a time is refused
// with its error in the DPoP challenge, a proof is accepted once, and the
// token, its proof and the client's claim headers reach the upstream as
// configured.

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// dpopAlgs is the DPoP challenge of the default proof algorithms.
const dpopAlgs = `DPoP algs="RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA Ed25519"`

// The challenges of a refusal on a site with dpop allowed: the realm-only
// Bearer challenge and the DPoP one with the error, or the other way round.
func dpopProofError(description string) []string {
	return []string{challengeMissing, dpopAlgs + `, error="invalid_dpop_proof", error_description="` + description + `"`}
}

func dpopTokenError(description string) []string {
	return []string{challengeMissing, dpopAlgs + `, error="invalid_token", error_description="` + description + `"`}
}

// dpopSite is a Caddy with a DPoP-accepting jwt handler in front of a
// recording upstream: the whole site, and /api/* through handle_path.
type dpopSite struct {
	caddy  *caddyProcess
	up     *upstream
	issuer *testKey
}

func startDPoPSite(t *testing.T, dpopConfig string, globalOptions ...string) *dpopSite {
	t.Helper()
	s := &dpopSite{up: newUpstream(t), issuer: newKey(t, "ES256")}
	jwt := s.issuer.keyDirective(t) + "\n\t\tclaim_header sub X-User\n\t\tstrip_token\n\t\t" + dpopConfig
	s.caddy = startCaddy(t, caddyfileFor(`
	handle_path /api/* {
		jwt {
			`+jwt+`
		}
		reverse_proxy `+s.up.Addr()+`
	}
	handle {
		jwt {
			`+jwt+`
		}
		reverse_proxy `+s.up.Addr()+`
	}`, globalOptions...))
	return s
}

// expectChallenges sends a request and checks the status and the exact
// WWW-Authenticate values; a refused request must not reach the upstream.
func (s *dpopSite) expect(t *testing.T, method, path string, header http.Header, status int, challenges []string) response {
	t.Helper()
	before := s.up.Count()
	resp := send(t, method, s.caddy.URL(path), header, nil)
	if resp.StatusCode != status {
		t.Errorf("status = %d, want %d (WWW-Authenticate %q)", resp.StatusCode, status, resp.Header.Values("WWW-Authenticate"))
	}
	if got := resp.Header.Values("WWW-Authenticate"); strings.Join(got, "\n") != strings.Join(challenges, "\n") {
		t.Errorf("WWW-Authenticate =\n\t%q\nwant\n\t%q", got, challenges)
	}
	reached := s.up.Count() - before
	if status == http.StatusOK && reached != 1 {
		t.Errorf("the upstream got %d requests, want 1", reached)
	}
	if status != http.StatusOK && reached != 0 {
		t.Errorf("a refused request reached the upstream")
	}
	return resp
}

func TestDPoPBoundTokenPassesWithItsProofAndReachesTheUpstreamWithoutIt(t *testing.T) {
	t.Parallel()
	s := startDPoPSite(t, "dpop allowed")
	key := newDPoPKey(t, "ES256")
	token := sign(t, s.issuer, boundClaims(key))
	url := s.caddy.URL("/orders")

	// Three requests, each with a fresh proof: the token is verified once
	// and cached, the proof checked every time.
	for i := 0; i < 3; i++ {
		s.expect(t, "GET", "/orders", dpopRequest(token, key.proof(t, "GET", url, token)), http.StatusOK, nil)
	}
	got := s.up.Last(t)
	if got.Header.Get("X-User") != "user-42" {
		t.Errorf("X-User = %q, want the token's sub", got.Header.Get("X-User"))
	}
	if got.Header.Get("Authorization") != "" || got.Header.Get("DPoP") != "" {
		t.Errorf("strip_token left Authorization %q / DPoP %q for the upstream", got.Header.Get("Authorization"), got.Header.Get("DPoP"))
	}
	m := scrapeMetrics(t, s.caddy)
	if m[`caddy_jwt_cache_lookups_total{result="hit"}`] < 2 {
		t.Errorf("cache hits = %v, want the token cached after its first use", m[`caddy_jwt_cache_lookups_total{result="hit"}`])
	}

	// Other algorithm families sign proofs too; a POST is its own method.
	for _, alg := range []string{"RS256", "PS384", "ES384", "ES512", "EdDSA"} {
		k := newDPoPKey(t, alg)
		tok := sign(t, s.issuer, boundClaims(k))
		s.expect(t, "POST", "/orders", dpopRequest(tok, k.proof(t, "POST", url, tok)), http.StatusOK, nil)
	}

	// An unbound token still works as a Bearer token in mode allowed.
	s.expect(t, "GET", "/orders", bearer(sign(t, s.issuer, validClaims())), http.StatusOK, nil)
}

func TestDPoPProofDefectsAreEachRefusedWithTheirError(t *testing.T) {
	t.Parallel()
	s := startDPoPSite(t, "dpop allowed")
	key, other := newDPoPKey(t, "ES256"), newDPoPKey(t, "ES256")
	token := sign(t, s.issuer, boundClaims(key))
	url := s.caddy.URL("/orders")
	// Each case's proofs are made when the case runs: a proof is accepted
	// for max_age (1m) plus leeway after its iat, and made ahead of the
	// cases before it, it could be too old by its turn on a slow run.
	headers := func(proofs ...func(t *testing.T) string) func(t *testing.T) http.Header {
		return func(t *testing.T) http.Header {
			var values []string
			for _, p := range proofs {
				values = append(values, p(t))
			}
			return dpopRequest(token, values...)
		}
	}
	proof := func(k *dpopKey, edits ...proofEdit) func(t *testing.T) string {
		return func(t *testing.T) string { return k.proof(t, "GET", url, token, edits...) }
	}
	fixed := func(v string) func(t *testing.T) string { return func(*testing.T) string { return v } }
	get := func(edits ...proofEdit) func(t *testing.T) http.Header { return headers(proof(key, edits...)) }
	hmac := newKey(t, "HS256")
	hsProof := func(t *testing.T) string {
		return signToken(t, hmac, claims{"jti": "j1", "htm": "GET", "htu": url, "iat": time.Now().Unix(), "ath": tokenHash(token)},
			map[string]any{"typ": "dpop+jwt", "jwk": map[string]any{"kty": "oct", "k": b64(hmac.Public.([]byte))}})
	}
	noneProof := func(t *testing.T) string {
		return rawToken(t, map[string]any{"typ": "dpop+jwt", "alg": "none", "jwk": key.jwk},
			map[string]any{"jti": "j2", "htm": "GET", "htu": url, "iat": time.Now().Unix(), "ath": tokenHash(token)}, "x")
	}
	k384 := newDPoPKey(t, "ES384")
	// The replayed proof is accepted once, then sent again at once.
	replayed := func(t *testing.T) string {
		p := key.proof(t, "GET", url, token)
		s.expect(t, "GET", "/orders", dpopRequest(token, p), http.StatusOK, nil)
		return p
	}

	for _, tc := range []struct {
		name        string
		header      func(t *testing.T) http.Header
		description string
	}{
		{"no DPoP header", headers(), "the DPoP proof is missing"},
		{"two DPoP headers", headers(proof(key), proof(key)), "more than one DPoP proof"},
		{"not a JWS", headers(fixed("not-a-proof")), "the DPoP proof is malformed"},
		{"a JWE-shaped value", headers(fixed("a.b.c.d.e")), "the DPoP proof is malformed"},
		{"typ JWT", get(withHeader("typ", "JWT")), "the DPoP proof's typ is not dpop+jwt"},
		{"no typ", get(withHeader("typ", nil)), "the DPoP proof's typ is not dpop+jwt"},
		{"alg none", headers(noneProof), "the DPoP proof's algorithm is not accepted"},
		{"HS256 with an oct jwk", headers(hsProof), "the DPoP proof's algorithm is not accepted"},
		{"alg of another curve than the jwk", headers(proof(k384, withHeader("jwk", key.jwk))), "the DPoP proof's algorithm is not accepted"},
		{"no jwk", get(withHeader("jwk", nil)), "the DPoP proof is malformed"},
		{"private key in jwk", get(withHeader("jwk", key.privateJWK())), "the DPoP proof's jwk is not a usable public key"},
		{"jwk of another key than the signer", get(withHeader("jwk", other.jwk)), "the DPoP proof's signature is invalid"},
		{"crit header", get(withHeader("crit", []string{"exp"})), "the DPoP proof is malformed"},
		{"no jti", get(withClaim("jti", nil)), "the DPoP proof is malformed"},
		{"no iat", get(withClaim("iat", nil)), "the DPoP proof is malformed"},
		{"htm of another method", get(withClaim("htm", "POST")), "the DPoP proof is for another method"},
		{"htm in lower case", get(withClaim("htm", "get")), "the DPoP proof is for another method"},
		{"htu of another path", get(withClaim("htu", s.caddy.URL("/admin"))), "the DPoP proof is for another URI"},
		{"htu of another host", get(withClaim("htu", strings.Replace(url, "127.0.0.1", "example.com", 1))), "the DPoP proof is for another URI"},
		{"htu over https", get(withClaim("htu", strings.Replace(url, "http:", "https:", 1))), "the DPoP proof is for another URI"},
		{"htu not a URI", get(withClaim("htu", "/orders")), "the DPoP proof is for another URI"},
		{"iat too old", headers(func(t *testing.T) string {
			return key.proof(t, "GET", url, token, withClaim("iat", time.Now().Add(-5*time.Minute).Unix()))
		}), "the DPoP proof is too old or issued in the future"},
		{"iat in the future", headers(func(t *testing.T) string {
			return key.proof(t, "GET", url, token, withClaim("iat", time.Now().Add(time.Minute).Unix()))
		}), "the DPoP proof is too old or issued in the future"},
		{"no ath", get(withClaim("ath", nil)), "the DPoP proof is for another access token"},
		{"ath of another token", get(withClaim("ath", tokenHash(token+"x"))), "the DPoP proof is for another access token"},
		{"signed by another key than cnf.jkt", headers(proof(other)), "the DPoP proof is signed by another key than the token is bound to"},
		{"replayed", headers(replayed), "the DPoP proof has been used before"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.expect(t, "GET", "/orders", tc.header(t), http.StatusUnauthorized, dpopProofError(tc.description))
		})
	}

	// A tampered signature: the first character of a valid proof's signature
	// changed. Every bit of it is data, so the signature always differs.
	p := key.proof(t, "GET", url, token)
	sigStart := strings.LastIndexByte(p, '.') + 1
	tampered := p[:sigStart] + map[bool]string{true: "B", false: "A"}[p[sigStart] == 'A'] + p[sigStart+1:]
	s.expect(t, "GET", "/orders", dpopRequest(token, tampered), http.StatusUnauthorized, dpopProofError("the DPoP proof's signature is invalid"))

	m := scrapeMetrics(t, s.caddy)
	for series, min := range map[string]float64{`result="invalid_proof"`: 20, `result="replayed_proof"`: 1, `result="sender_mismatch"`: 1} {
		if got := m["caddy_jwt_requests_total{"+series+"}"]; got < min {
			t.Errorf("caddy_jwt_requests_total{%s} = %v, want at least %v", series, got, min)
		}
	}
	// The replayed proof's rejection is in the log with its reason (which
	// reaches us through a pipe, a moment after the response).
	waitForLog(t, s.caddy, `"reason":"the DPoP proof has been used before"`)
}

func TestDPoPTokenAndSchemeMismatchesAreRefused(t *testing.T) {
	t.Parallel()
	s := startDPoPSite(t, "dpop allowed")
	key := newDPoPKey(t, "ES256")
	bound := sign(t, s.issuer, boundClaims(key))
	unbound := sign(t, s.issuer, validClaims())
	url := s.caddy.URL("/orders")

	// A bound token as Bearer, with or without its proof: what a thief does.
	h := bearer(bound)
	h.Set("DPoP", key.proof(t, "GET", url, bound))
	s.expect(t, "GET", "/orders", h, http.StatusUnauthorized,
		[]string{invalidToken("the token is DPoP-bound: send it with the DPoP scheme and a proof"), dpopAlgs})
	// An unbound token with the DPoP scheme and a proof.
	s.expect(t, "GET", "/orders", dpopRequest(unbound, key.proof(t, "GET", url, unbound)), http.StatusUnauthorized,
		dpopTokenError("the token is not DPoP-bound"))
	// A token error with the DPoP scheme goes to the DPoP challenge.
	expired := sign(t, s.issuer, boundClaims(key, "exp", time.Now().Add(-time.Hour).Unix()))
	s.expect(t, "GET", "/orders", dpopRequest(expired, key.proof(t, "GET", url, expired)), http.StatusUnauthorized,
		dpopTokenError("the token is expired"))
	// The same token under both schemes is ambiguous.
	both := dpopRequest(bound, key.proof(t, "GET", url, bound))
	both.Add("Authorization", "Bearer "+bound)
	s.expect(t, "GET", "/orders", both, http.StatusBadRequest,
		[]string{challengeMissing, dpopAlgs + `, error="invalid_request", error_description="more than one token in the request"`})
	// A cnf that is not an object is not ignored.
	odd := sign(t, s.issuer, validClaims("cnf", "jkt"))
	s.expect(t, "GET", "/orders", bearer(odd), http.StatusUnauthorized,
		[]string{invalidToken(descInvalidClaims), dpopAlgs})
}

func TestDPoPProofNamesTheURIClientsAddress(t *testing.T) {
	t.Parallel()
	s := startDPoPSite(t, "dpop allowed")
	key := newDPoPKey(t, "ES256")
	token := sign(t, s.issuer, boundClaims(key))

	// handle_path strips /api before the handler runs; the proof names
	// what the client sent, query and all not part of it.
	url := s.caddy.URL("/api/things")
	s.expect(t, "GET", "/api/things?page=2", dpopRequest(token, key.proof(t, "GET", url, token)), http.StatusOK, nil)
	if got := s.up.Last(t).URI; got != "/things?page=2" {
		t.Errorf("the upstream got %q, want the stripped path", got)
	}
	s.expect(t, "GET", "/api/things", dpopRequest(token, key.proof(t, "GET", s.caddy.URL("/things"), token)),
		http.StatusUnauthorized, dpopProofError("the DPoP proof is for another URI"))

	// Scheme and host case, the default port, a query, a fragment and
	// percent-encoding case are normalised (RFC 9449 §4.3, RFC 3986 §6).
	port := strings.TrimPrefix(s.caddy.URL(""), "http://127.0.0.1")
	for _, htu := range []string{
		"HTTP://127.0.0.1" + port + "/api/th%69ngs?x=1#top",
		"http://127.0.0.1" + port + "/api/things#frag",
	} {
		s.expect(t, "GET", "/api/things", dpopRequest(token, key.proof(t, "GET", htu, token)), http.StatusOK, nil)
	}
}

func TestDPoPOriginOptionNamesThePublicOriginBehindAProxy(t *testing.T) {
	t.Parallel()
	s := startDPoPSite(t, "dpop allowed {\n\t\t\torigin https://API.example.com:443\n\t\t}")
	key := newDPoPKey(t, "ES256")
	token := sign(t, s.issuer, boundClaims(key))
	s.expect(t, "GET", "/orders", dpopRequest(token, key.proof(t, "GET", "https://api.example.com/orders", token)), http.StatusOK, nil)
	// The loopback address Caddy is reached on is no longer the origin,
	// and a forwarded header does not change that.
	h := dpopRequest(token, key.proof(t, "GET", s.caddy.URL("/orders"), token))
	h.Set("X-Forwarded-Host", "127.0.0.1")
	s.expect(t, "GET", "/orders", h, http.StatusUnauthorized, dpopProofError("the DPoP proof is for another URI"))
}

func TestDPoPModesRequiredAndOff(t *testing.T) {
	t.Parallel()
	required := startDPoPSite(t, "dpop required {\n\t\t\talgorithms ES256 EdDSA Ed25519\n\t\t}")
	key := newDPoPKey(t, "ES256")
	bound := sign(t, required.issuer, boundClaims(key))
	unbound := sign(t, required.issuer, validClaims())
	url := required.caddy.URL("/orders")
	algs := `DPoP algs="ES256 EdDSA Ed25519"`

	required.expect(t, "GET", "/orders", dpopRequest(bound, key.proof(t, "GET", url, bound)), http.StatusOK, nil)
	required.expect(t, "GET", "/orders", nil, http.StatusUnauthorized, []string{algs})
	required.expect(t, "GET", "/orders", bearer(unbound), http.StatusUnauthorized,
		[]string{algs + `, error="invalid_token", error_description="a DPoP-bound token is required"`})
	rsa := newDPoPKey(t, "RS256")
	rsaBound := sign(t, required.issuer, boundClaims(rsa))
	required.expect(t, "GET", "/orders", dpopRequest(rsaBound, rsa.proof(t, "GET", url, rsaBound)), http.StatusUnauthorized,
		[]string{algs + `, error="invalid_dpop_proof", error_description="the DPoP proof's algorithm is not accepted"`})

	off := startDPoPSite(t, "dpop off")
	bound = sign(t, off.issuer, boundClaims(key))
	off.expect(t, "GET", "/orders", bearer(bound), http.StatusUnauthorized,
		[]string{invalidToken("DPoP-bound tokens are not accepted here")})
	// With DPoP off the DPoP scheme is not read at all: no token.
	off.expect(t, "GET", "/orders", dpopRequest(bound, key.proof(t, "GET", off.caddy.URL("/orders"), bound)),
		http.StatusUnauthorized, []string{challengeMissing})
	// A DPoP-bound token under dpop off is logged as a configuration error.
	waitForLog(t, off.caddy, "dpop is off")
}
