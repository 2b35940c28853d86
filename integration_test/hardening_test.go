package integration_test

// Limits an attacker runs into through the real Caddy: the size of the
// rejection log, fetched key sets with unusable members, key size and
// small-order rules, redirects of key fetches, credentials in store URLs,
// and claims that try to move an http revocation lookup.

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rejectionLogBytes sums the bytes of the jwt handler's rejection lines
// (and of its lines saying how many were not written) whose uri starts
// with prefix, the summaries counted with them; it returns the number of
// lines written and the rejections they account for.
func rejectionLogBytes(logs, prefix string) (bytes, lines, accounted int) {
	for line := range strings.Lines(logs) {
		e := caddyLogEntries(line)
		if len(e) != 1 || e[0].str("logger") != "http.handlers.jwt" {
			continue
		}
		switch e[0].str("msg") {
		case "request rejected":
			if strings.HasPrefix(e[0].str("uri"), prefix) {
				bytes += len(line)
				lines++
				accounted++
			}
		case "request rejections not logged":
			bytes += len(line)
			n, _ := e[0]["suppressed"].(float64)
			accounted += int(n)
		}
	}
	return bytes, lines, accounted
}

// TestRejectionLogOfHostilePathsStaysWithinASmallMultipleOfNormalOnes
// sends 1,000 requests without a token, first with a normal path and then
// with 15 KB paths, each to a Caddy of its own, and compares the bytes the
// handler logs. Lines are sampled per reason and second, so how many are
// written depends on the speed of the run: the comparison is per line
// written, and the bound for 1,000 requests is the one without sampling.
func TestRejectionLogOfHostilePathsStaysWithinASmallMultipleOfNormalOnes(t *testing.T) {
	t.Parallel()
	const requests = 1000
	k := newKey(t, "HS256")
	measure := func(prefix string, pathLen int) (perLine float64) {
		c := startCaddy(t, caddyfileFor(jwtRoute("/*", "secret "+k.Secret(), `respond "passed"`)))
		path := prefix + strings.Repeat("a", max(0, pathLen-len(prefix)))
		for i := range requests {
			if r := get(t, c.URL(fmt.Sprintf("%s%d", path, i)), nil); r.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%s…: %d, want 401", prefix, r.StatusCode)
			}
		}
		// A rejection of another reason, which sampling does not hold
		// back: once its line is in the log, so are all before it (each
		// is written before its response).
		if r := get(t, c.URL("/sentinel"), bearer("not.a.token")); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("sentinel: %d", r.StatusCode)
		}
		waitFor(t, "the sentinel's rejection line", func() bool { return strings.Contains(c.Logs(), `"uri":"/sentinel"`) })
		bytes, lines, accounted := rejectionLogBytes(c.Logs(), prefix)
		if lines < 100 || accounted > requests {
			t.Fatalf("%s: %d lines accounting for %d rejections of %d", prefix, lines, accounted, requests)
		}
		t.Logf("%s (%d-byte paths): %d lines written for %d rejections, %d bytes; %.0f bytes per line, %.0f KB per 1,000 rejections without sampling",
			prefix, pathLen, lines, requests, bytes, float64(bytes)/float64(lines), float64(bytes)/float64(lines)*requests/1000)
		return float64(bytes) / float64(lines)
	}
	normal := measure("/api/items/", 24)
	hostile := measure("/hostile/", 15*1024)
	if hostile > 3*normal {
		t.Fatalf("a rejection line with a 15 KB path is %.0f bytes, %.1f times a normal one (%.0f): the path is not capped", hostile, hostile/normal, normal)
	}
	if hostile*requests > 1<<20 {
		t.Fatalf("1,000 hostile rejections would write %.0f bytes", hostile*requests)
	}
}

// rawKeyPEM is a PKIX PEM file of pub.
func rawKeyPEM(t *testing.T, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "key.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// identityEd25519 is the encoding of the identity point: as a public key,
// R = identity and S = 0 is a valid signature of every message.
var identityEd25519 = ed25519.PublicKey(append([]byte{1}, make([]byte, 31)...))

// forgedIdentityToken is the token anyone can make for that key.
func forgedIdentityToken(t *testing.T, kid string, c claims) string {
	t.Helper()
	header := map[string]any{"alg": "EdDSA", "typ": "JWT"}
	if kid != "" {
		header["kid"] = kid
	}
	sig := make([]byte, ed25519.SignatureSize)
	sig[0] = 1
	signed := segment(t, header) + "." + segment(t, c)
	if !ed25519.Verify(identityEd25519, []byte(signed), sig) {
		t.Fatal("the forged signature does not verify with crypto/ed25519: the test proves nothing")
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// hugeRSAKey is an RSA public key of bits bits: a random odd modulus, as
// only its size matters to the rule and generating one would take minutes.
func hugeRSAKey(t *testing.T, bits int) *rsa.PublicKey {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits-1)))
	if err != nil {
		t.Fatal(err)
	}
	n.SetBit(n, bits-1, 1).SetBit(n, 0, 1)
	return &rsa.PublicKey{N: n, E: 65537}
}

func TestPublicKeysOutsideTheKeyRulesStopCaddyNamingTheDirective(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		pub  any
		says string
	}{
		"the Ed25519 identity point": {identityEd25519, "small order"},
		"RSA of 16384 bits":          {hugeRSAKey(t, 16384), "at most 8192"},
	} {
		t.Run(name, func(t *testing.T) {
			out := runCaddyExpectFailure(t, caddyfileFor(jwtRoute("/*", "public_key "+rawKeyPEM(t, tc.pub), `respond "passed"`))).Output()
			if !strings.Contains(out, "jwt: public_key ") || !strings.Contains(out, tc.says) {
				t.Fatalf("output does not name public_key and say %q:\n%s", tc.says, out)
			}
		})
	}
}

func TestJWKSWithUnusableMembersKeepsItsUsableKeysAndIgnoresForgeableOnes(t *testing.T) {
	t.Parallel()
	good := idpKey{newKey(t, "ES256"), "good"}
	rs := idpKey{newKey(t, "RS256"), "rs"}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	b64 := base64.RawURLEncoding.EncodeToString
	huge := hugeRSAKey(t, 8704)
	members := map[string]map[string]any{
		"wrap":       rawJWK(t, idpKey{&testKey{Alg: "ES256", Public: &ec.PublicKey}, "wrap"}, map[string]any{"use": "wrap"}),
		"frobnicate": rawJWK(t, idpKey{&testKey{Alg: "ES256", Public: &ec.PublicKey}, "frobnicate"}, map[string]any{"key_ops": []string{"verify", "frobnicate"}}),
		"bad-x5c":    rawJWK(t, idpKey{&testKey{Alg: "ES256", Public: &ec.PublicKey}, "bad-x5c"}, map[string]any{"x5c": []string{"bm90IGEgY2VydA=="}}),
		"e-1":        rawJWK(t, rs, map[string]any{"kid": "e-1", "e": "AQ"}),
		"off-curve":  {"kty": "EC", "crv": "P-256", "kid": "off-curve", "x": b64([]byte{1}), "y": b64([]byte{2})},
		"short-ed":   {"kty": "OKP", "crv": "Ed25519", "kid": "short-ed", "x": b64(make([]byte, 31))},
		"identity":   {"kty": "OKP", "crv": "Ed25519", "kid": "identity", "x": b64(identityEd25519)},
		"huge":       {"kty": "RSA", "kid": "huge", "n": b64(huge.N.Bytes()), "e": "AQAB"},
	}
	keys := []map[string]any{rawJWK(t, good, nil), rawJWK(t, rs, nil)}
	for _, m := range members {
		keys = append(keys, m)
	}
	idp := newIDPServer(t, true)
	idp.setRawKeys(keys...)
	up := newUpstream(t)
	c := startCaddy(t, caddyfileFor(jwtRoute("/*", "jwks "+idp.JWKSURL()+" {\n\trefresh 1s\n}", "reverse_proxy "+up.Addr())))

	pollStatus(t, "the usable ES256 key", c.URL("/api"), bearer(signKID(t, good, validClaims())), http.StatusOK, 30*time.Second)
	check(t, c, up, http.MethodGet, "/api", bearer(signKID(t, rs, validClaims())), expectation{http.StatusOK, ""})
	unknown := expectation{http.StatusUnauthorized, invalidToken(descUnknownKey)}
	admin := validClaims("sub", "admin")
	check(t, c, up, http.MethodGet, "/api", bearer(forgedIdentityToken(t, "identity", admin)), unknown)
	check(t, c, up, http.MethodGet, "/api", bearer(forgedIdentityToken(t, "", admin)), unknown)
	// Any signature at all: the point is that no 8704-bit check is run.
	check(t, c, up, http.MethodGet, "/api", bearer(signToken(t, rs.key, validClaims(), map[string]any{"kid": "huge"})), unknown)

	// Refreshes every second: each skipped member is logged once, by kid.
	hits := idp.jwksHits.Load()
	waitFor(t, "two more JWKS fetches (refresh 1s)", func() bool { return idp.jwksHits.Load() >= hits+2 })
	lines := jwtLogEntries(c.Logs(), "jwks key not used")
	seen := map[string]int{}
	for _, e := range lines {
		seen[e.str("kid")]++
		if e.str("why") == "" {
			t.Errorf("no reason for %q: %v", e.str("kid"), e)
		}
	}
	for kid := range members {
		if seen[kid] != 1 {
			t.Errorf("kid %q logged %d times as not used over %d fetches, want once", kid, seen[kid], idp.jwksHits.Load())
		}
	}
	for kid, m := range members {
		for _, field := range []string{"n", "x", "y"} {
			if v, ok := m[field].(string); ok && len(v) > 8 && strings.Contains(c.Logs(), v) {
				t.Errorf("key material of %q (%s) in the log", kid, field)
			}
		}
	}
}

// tlsIDP is an identity provider over https whose certificate Caddy is
// told to trust through SSL_CERT_FILE.
func tlsIDP(t *testing.T, handler http.Handler) (*httptest.Server, caddyOption) {
	t.Helper()
	srv := httptest.NewTLSServer(handler)
	t.Cleanup(srv.Close)
	cert := writeFile(t, "idp-cert.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	return srv, withEnv("SSL_CERT_FILE=" + cert)
}

func TestJWKSAndDiscoveryFetchesThroughCaddyNeverFollowHTTPSToHTTP(t *testing.T) {
	t.Parallel()
	key := idpKey{newKey(t, "ES256"), "k"}
	plain := newIDPServer(t, true, key)
	var secure *httptest.Server
	secure, trust := tlsIDP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/downgrade":
			http.Redirect(w, r, plain.JWKSURL(), http.StatusFound)
		case "/moved":
			http.Redirect(w, r, secure.URL+"/jwks", http.StatusFound)
		case "/jwks":
			w.Write(jwksJSON(t, key))
		case "/.well-known/openid-configuration":
			http.Redirect(w, r, plain.URL()+"/.well-known/openid-configuration", http.StatusFound)
		}
	}))
	up := newUpstream(t)
	c := startCaddy(t, caddyfileFor(
		jwtRoute("/moved/*", "jwks "+secure.URL+"/moved", "reverse_proxy "+up.Addr())+
			jwtRoute("/downgrade/*", "jwks "+secure.URL+"/downgrade", "reverse_proxy "+up.Addr())+
			jwtRoute("/discover/*", "issuer "+secure.URL+" {\n\tdiscover\n}", "reverse_proxy "+up.Addr())), trust)

	token := signKID(t, key, validClaims())
	// The control: an https to https redirect is followed, and the
	// certificate is trusted.
	pollStatus(t, "keys behind an https redirect", c.URL("/moved/x"), bearer(token), http.StatusOK, 30*time.Second)
	discovered := signKID(t, key, validClaims("iss", secure.URL))
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(c.Logs(), "redirect from https to http refused") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no refused redirect logged for both the JWKS and the discovery document:\n%s", c.Logs())
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
	unavailable := expectation{http.StatusServiceUnavailable, ""}
	check(t, c, up, http.MethodGet, "/downgrade/x", bearer(token), unavailable)
	check(t, c, up, http.MethodGet, "/discover/x", bearer(discovered), unavailable)
	if n := plain.jwksHits.Load() + plain.discoveryHits.Load(); n != 0 {
		t.Fatalf("the http server was asked %d times", n)
	}
}

func TestCredentialsInStoreURLsNeverReachTheLogOrMetrics(t *testing.T) {
	t.Parallel()
	key := idpKey{newKey(t, "ES256"), "k"}
	idp := newIDPServer(t, true, key)
	down := freePort(t) // nothing listens there
	secrets := map[string]string{
		"JWKS password":       "jwks-pa55word-zz",
		"JWKS user":           "jwks-user-token-zz",
		"JWKS query secret":   "jwks-query-s3cret-zz",
		"live query secret":   "live-query-s3cret-zz",
		"revocation api key":  "revocation-api-key-zz",
		"redis password":      "redis-pa55word-zz",
		"discovery jwks_uri":  "jwks-uri-s3cret-zz",
		"jwks_uri in the doc": "doc-user-zz",
	}
	// A provider whose discovery document names a jwks_uri with
	// credentials that is not https although the issuer is.
	var discoveryHits atomic.Int64
	discovery, trust := tlsIDP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		discoveryHits.Add(1)
		fmt.Fprintf(w, `{"issuer":"https://%s","jwks_uri":"http://%s:x@127.0.0.1:%d/jwks?key=%s"}`,
			r.Host, secrets["jwks_uri in the doc"], down, secrets["discovery jwks_uri"])
	}))
	up := newUpstream(t)
	c := startCaddy(t, caddyfileFor(
		jwtRoute("/jwks-down/*", fmt.Sprintf("jwks http://%s:%s@127.0.0.1:%d/jwks?token=%s", secrets["JWKS user"], secrets["JWKS password"], down, secrets["JWKS query secret"]), "reverse_proxy "+up.Addr())+
			jwtRoute("/jwks-live/*", fmt.Sprintf("jwks %s?key=%s", idp.JWKSURL(), secrets["live query secret"]), "reverse_proxy "+up.Addr())+
			jwtRoute("/discover/*", "issuer "+discovery.URL+" {\n\tdiscover\n}", "reverse_proxy "+up.Addr())+
			jwtRoute("/revoked-http/*", fmt.Sprintf("jwks %s\nrevocation http http://127.0.0.1:%d/check/{http.auth.jwt.sub}?api_key=%s", idp.JWKSURL(), down, secrets["revocation api key"]), "reverse_proxy "+up.Addr())+
			jwtRoute("/revoked-redis/*", fmt.Sprintf("jwks %s\nrevocation redis redis://:%s@127.0.0.1:%d/0", idp.JWKSURL(), secrets["redis password"], down), "reverse_proxy "+up.Addr()),
		// Not debug: Caddy's own debug log prints the whole config,
		// these URLs included, as it does a secret written in it.
		"metrics"), trust)

	token := signKID(t, key, validClaims())
	pollStatus(t, "the live JWKS", c.URL("/jwks-live/x"), bearer(token), http.StatusOK, 30*time.Second)
	pollStatus(t, "the http store down", c.URL("/revoked-http/x"), bearer(token), http.StatusServiceUnavailable, 30*time.Second)
	pollStatus(t, "the redis store down", c.URL("/revoked-redis/x"), bearer(token), http.StatusServiceUnavailable, 30*time.Second)
	check(t, c, up, http.MethodGet, "/jwks-down/x", bearer(token), expectation{http.StatusServiceUnavailable, ""})
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(c.Logs(), "jwks not loaded") < 2 || discoveryHits.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the failing JWKS and discovery were not logged:\n%s", c.Logs())
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}

	metrics := metricsOf(t, c)
	if !strings.Contains(metrics, "key=redacted") || !strings.Contains(metrics, "redacted@127.0.0.1") {
		t.Fatalf("no redacted jwks label in /metrics: the scan proves nothing\n%s", metrics)
	}
	for what, secret := range secrets {
		if strings.Contains(c.Logs(), secret) {
			t.Errorf("the %s is in Caddy's log", what)
		}
		if strings.Contains(metrics, secret) {
			t.Errorf("the %s is in /metrics", what)
		}
	}
}

// pathRecorder is an http revocation store that answers 404 (no record)
// and records each path it is asked, as sent.
type pathRecorder struct {
	mu    sync.Mutex
	paths []string
}

func (p *pathRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.paths = append(p.paths, r.URL.EscapedPath())
	p.mu.Unlock()
	http.NotFound(w, r)
}

func (p *pathRecorder) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.paths
	p.paths = nil
	return out
}

func TestClaimsCannotMoveTheHTTPRevocationLookupToAnotherPath(t *testing.T) {
	t.Parallel()
	k := newKey(t, "HS256")
	rec := &pathRecorder{}
	store := httptest.NewServer(rec)
	t.Cleanup(store.Close)
	up := newUpstream(t)
	c := startCaddy(t, revocationSite(k, t, "http", store.URL+"/users/{http.auth.jwt.sub}/status", "cache 0s\non_error allow", up))

	passes := expectation{http.StatusOK, ""}
	refused := expectation{http.StatusUnauthorized, invalidToken(descInvalidClaims)}
	for _, tc := range []struct {
		sub  string
		want expectation
		path string // what the store is asked; "" for nothing
	}{
		{"alice", passes, "/users/alice/status"},
		{".", refused, ""},
		{"..", refused, ""},
		{"a/../..", passes, "/users/a%2F..%2F../status"},
		{"%2e%2e", passes, "/users/%252e%252e/status"},
		{"..?admin=1", passes, "/users/..%3Fadmin%3D1/status"},
		{"..#x", passes, "/users/..%23x/status"},
	} {
		t.Run(tc.sub, func(t *testing.T) {
			check(t, c, up, http.MethodGet, "/x", bearer(sign(t, k, validClaims("sub", tc.sub))), tc.want)
			got := rec.take()
			switch {
			case tc.path == "" && len(got) != 0:
				t.Errorf("the store was asked %q; want nothing", got)
			case tc.path != "" && (len(got) != 1 || got[0] != tc.path):
				t.Errorf("the store was asked %q; want exactly %q", got, tc.path)
			}
		})
	}
}
