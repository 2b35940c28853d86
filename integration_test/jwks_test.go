package integration_test

// JWKS, rotation, per-issuer keys and discovery, against real identity
// provider endpoints on loopback that count their hits.

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// pollStatus sends the request until it gets want or the deadline passes.
// A connection error counts as not yet: right after a reload, the old
// config's server may close a kept-alive connection under the request.
func pollStatus(t *testing.T, what, url string, header http.Header, want int, within time.Duration) response {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := "no response"
		if resp, err := tryGet(url, header); err != nil {
			got = err.Error()
		} else if resp.StatusCode == want {
			return resp
		} else {
			got = strconv.Itoa(resp.StatusCode)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s after %s, want %d", what, got, within, want)
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
}

// tryGet is get that returns a connection error instead of failing.
func tryGet(url string, header http.Header) (response, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return response{}, err
	}
	req.Header = header.Clone()
	resp, err := testClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{Response: resp, Body: string(b)}, nil
}

// metricsOf returns the admin API's Prometheus text.
func metricsOf(t *testing.T, c *caddyProcess) string {
	t.Helper()
	resp := get(t, c.AdminURL()+"/metrics", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	return resp.Body
}

// metricValue reads one sample ("name{labels}" exactly as exposed).
func metricValue(t *testing.T, metrics, series string) (float64, bool) {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(metrics)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatalf("%s: %v", series, err)
	}
	return v, true
}

var keysUnavailable = expectation{status: http.StatusServiceUnavailable}

func TestJWKSProviderDownAtStartGives503ThenTokensPassWithoutRestart(t *testing.T) {
	requireCaddy(t)
	k := idpKey{newKey(t, "RS256"), "rsa-1"}
	idp := newIDPServer(t, false, k)
	up := newUpstream(t)
	c := startCaddy(t, caddyfileFor(jwtRoute("/*", "jwks "+idp.JWKSURL(), "reverse_proxy "+up.Addr())))
	tok := signKID(t, k, validClaims())

	resp := check(t, c, up, http.MethodGet, "/api", bearer(tok), keysUnavailable)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}

	idp.start()
	// Fetches back off from 1s up to a minute (±10%): the next one comes
	// at most 66s after the provider is up.
	pollStatus(t, "token once the provider is up", c.URL("/api"), bearer(tok), http.StatusOK, 90*time.Second)
	check(t, c, up, http.MethodGet, "/api", bearer(tok), accepted)
	t.Logf("JWKS fetches until the first success (backoff from 1s): %d", idp.jwksHits.Load())
}

// TestJWKSProviderThatNeverAnswersDoesNotBlockStartOrValidate: a provider
// that accepts connections and never answers (the fetch timeout here is ten
// minutes) holds up neither `caddy validate` nor `caddy run`; requests get
// 503 meanwhile.
func TestJWKSProviderThatNeverAnswersDoesNotBlockStartOrValidate(t *testing.T) {
	requireCaddy(t)
	hole, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hole.Close() })
	go func() {
		for {
			conn, err := hole.Accept()
			if err != nil {
				return
			}
			// Read the request, never answer; ends when Caddy hangs up.
			go io.Copy(io.Discard, conn)
		}
	}()
	cfg := caddyfileFor(jwtRoute("/*", "jwks http://"+hole.Addr().String()+"/jwks {\n\ttimeout 10m\n}", "respond ok"))

	res := validateCaddyfile(t, cfg)
	if res.ExitCode != 0 || !strings.Contains(res.Output(), "Valid configuration") {
		t.Fatalf("caddy validate: exit %d\n%s", res.ExitCode, lastLines(res.Output(), 5))
	}
	c := startCaddy(t, cfg)
	tok := signKID(t, idpKey{newKey(t, "ES256"), "k"}, validClaims())
	if resp := get(t, c.URL("/api"), bearer(tok)); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("while the provider hangs: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestJWKSRotatedKeyIsUsableWithoutRestart(t *testing.T) {
	requireCaddy(t)
	one := idpKey{newKey(t, "ES256"), "one"}
	two := idpKey{newKey(t, "ES256"), "two"}
	idp := newIDPServer(t, true, one)
	up := newUpstream(t)
	c := startCaddy(t, caddyfileFor(jwtRoute("/*", "jwks "+idp.JWKSURL(), "reverse_proxy "+up.Addr())))

	pollStatus(t, "key one", c.URL("/api"), bearer(signKID(t, one, validClaims())), http.StatusOK, 30*time.Second)
	if got := idp.jwksHits.Load(); got != 1 {
		t.Fatalf("%d JWKS fetches after start, want 1", got)
	}

	// The provider rotates in key two. Tokens naming it pass within one
	// unknown_kid_wait (the default 5m; the first unknown kid refetches at
	// once), through exactly one refetch however often we ask.
	idp.setKeys(one, two)
	tokTwo := signKID(t, two, validClaims())
	pollStatus(t, "key two after rotation", c.URL("/api"), bearer(tokTwo), http.StatusOK, 30*time.Second)
	check(t, c, up, http.MethodGet, "/api", bearer(tokTwo), accepted)
	check(t, c, up, http.MethodGet, "/api", bearer(signKID(t, one, validClaims())), accepted)
	if got := idp.jwksHits.Load(); got != 2 {
		t.Errorf("%d JWKS fetches after the rotation, want 2 (start + one refetch)", got)
	}

	m := metricsOf(t, c)
	if v, ok := metricValue(t, m, `caddy_jwt_jwks_refreshes_total{outcome="updated"}`); !ok || v < 2 {
		t.Errorf("jwks_refreshes_total{outcome=updated} = %v (present %v), want >= 2", v, ok)
	}
	if v, ok := metricValue(t, m, `caddy_jwt_jwks_age_seconds{jwks="`+idp.JWKSURL()+`"}`); !ok || v < 0 {
		t.Errorf("jwks_age_seconds for %s = %v (present %v), want a loaded set's age", idp.JWKSURL(), v, ok)
	}
}

func TestJWKSRemovedKeyIsRefusedAfterTheNextRefresh(t *testing.T) {
	requireCaddy(t)
	one := idpKey{newKey(t, "ES256"), "one"}
	two := idpKey{newKey(t, "EdDSA"), "two"}
	idp := newIDPServer(t, true, one, two)
	up := newUpstream(t)
	c := startCaddy(t, caddyfileFor(jwtRoute("/*", "jwks "+idp.JWKSURL()+" {\n\trefresh 1s\n}", "reverse_proxy "+up.Addr())))

	tokOne, tokTwo := signKID(t, one, validClaims()), signKID(t, two, validClaims())
	pollStatus(t, "key one", c.URL("/api"), bearer(tokOne), http.StatusOK, 30*time.Second)
	// Refreshes of an unchanged set are conditional: the provider answers 304.
	waitFor(t, "a refresh answered 304", func() bool { return idp.notModified.Load() >= 1 })

	idp.setKeys(two)
	resp := pollStatus(t, "key one refused after removal", c.URL("/api"), bearer(tokOne), http.StatusUnauthorized, 30*time.Second)
	if got := resp.Header.Get("WWW-Authenticate"); got != invalidToken(descUnknownKey) {
		t.Errorf("WWW-Authenticate = %q, want %q", got, invalidToken(descUnknownKey))
	}
	check(t, c, up, http.MethodGet, "/api", bearer(tokTwo), accepted)
	if v, ok := metricValue(t, metricsOf(t, c), `caddy_jwt_jwks_refreshes_total{outcome="not_modified"}`); !ok || v < 1 {
		t.Errorf("jwks_refreshes_total{outcome=not_modified} = %v (present %v), want >= 1", v, ok)
	}
}

// rawJWK is k's public JWK as a JSON object with members replaced.
func rawJWK(t *testing.T, k idpKey, members map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(jwkFor(t, k))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for name, v := range members {
		m[name] = v
	}
	return m
}

func TestFetchedKeysUnfitForSignaturesAreNotUsed(t *testing.T) {
	requireCaddy(t)
	rs := idpKey{newKey(t, "RS256"), "rs"}
	enc := idpKey{newKey(t, "RS256"), "enc"}
	hmac := idpKey{newKey(t, "HS256"), "shared"}
	idp := newIDPServer(t, true)
	idp.setRawKeys(
		rawJWK(t, rs, nil),
		rawJWK(t, enc, map[string]any{"use": "enc", "alg": "RSA-OAEP"}),
		// Whoever controls a JWKS response must not be able to hand out
		// an HMAC secret: tokens signed with it would then pass.
		map[string]any{"kty": "oct", "kid": hmac.kid, "k": base64.RawURLEncoding.EncodeToString(hmac.key.Public.([]byte))},
	)
	up := newUpstream(t)
	c := startCaddy(t, caddyfileFor(jwtRoute("/*", "jwks "+idp.JWKSURL(), "reverse_proxy "+up.Addr())))
	pollStatus(t, "the usable key", c.URL("/api"), bearer(signKID(t, rs, validClaims())), http.StatusOK, 30*time.Second)

	refused := expectation{http.StatusUnauthorized, invalidToken(descUnknownKey)}
	tests := []struct {
		name  string
		token string
	}{
		{"HS256 with the oct key of the fetched set", signKID(t, hmac, validClaims())},
		{"signed with a key published for encryption", signKID(t, enc, validClaims())},
		{"PS256 with a key whose JWK alg is RS256", signKID(t, idpKey{rs.key.withAlg("PS256"), rs.kid}, validClaims())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, c, up, http.MethodGet, "/api", bearer(tt.token), refused)
		})
	}
}

func TestJWKSFloodOfRandomKIDsCausesAtMostOneRefetchPerWindow(t *testing.T) {
	requireCaddy(t)
	good := idpKey{newKey(t, "ES256"), "good"}
	idp := newIDPServer(t, true, good)
	up := newUpstream(t)
	c := startCaddy(t, caddyfileFor(jwtRoute("/*", "jwks "+idp.JWKSURL()+" {\n\tunknown_kid_wait 10m\n}", "reverse_proxy "+up.Addr())))
	pollStatus(t, "the set to load", c.URL("/api"), bearer(signKID(t, good, validClaims())), http.StatusOK, 30*time.Second)
	before := idp.jwksHits.Load()

	attacker := newKey(t, "ES256")
	const workers, perWorker = 8, 50
	var wg sync.WaitGroup
	var unexpected atomic.Int64
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				tok := signKID(t, idpKey{attacker, fmt.Sprintf("forged-%d-%d-%s", w, i, randomText(t, 8))}, validClaims())
				resp := get(t, c.URL("/api"), bearer(tok))
				if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != invalidToken(descUnknownKey) {
					unexpected.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := unexpected.Load(); n != 0 {
		t.Errorf("%d forged-kid requests were not refused with 401 unknown key", n)
	}
	fetches := idp.jwksHits.Load() - before
	t.Logf("JWKS fetches caused by %d requests with random kids: %d", workers*perWorker, fetches)
	if fetches > 1 {
		t.Errorf("%d JWKS fetches during the flood, want at most 1 per unknown_kid_wait", fetches)
	}
	if up.Count() != 1 {
		t.Errorf("upstream reached %d times, want once (the good token)", up.Count())
	}
}

func TestIssuerKeysAreIsolated(t *testing.T) {
	requireCaddy(t)
	a := idpKey{newKey(t, "RS256"), "a"}
	b := idpKey{newKey(t, "RS256"), "b"}
	idpA, idpB := newIDPServer(t, true, a), newIDPServer(t, true, b)
	up := newUpstream(t)
	cfg := fmt.Sprintf("issuer https://a.example {\n\tjwks %s\n}\nissuer https://b.example {\n\tjwks %s\n}", idpA.JWKSURL(), idpB.JWKSURL())
	c := startCaddy(t, caddyfileFor(jwtRoute("/*", cfg, "reverse_proxy "+up.Addr())))

	issA, issB := validClaims("iss", "https://a.example"), validClaims("iss", "https://b.example")
	pollStatus(t, "issuer a's keys", c.URL("/api"), bearer(signKID(t, a, issA)), http.StatusOK, 30*time.Second)
	pollStatus(t, "issuer b's keys", c.URL("/api"), bearer(signKID(t, b, issB)), http.StatusOK, 30*time.Second)

	tests := []struct {
		name  string
		token string
		want  expectation
	}{
		{"issuer a's token with a's key", signKID(t, a, issA), accepted},
		{"issuer b's token with b's key", signKID(t, b, issB), accepted},
		{"issuer a claimed, signed with b's key under b's kid", signKID(t, b, issA), expectation{http.StatusUnauthorized, invalidToken(descUnknownKey)}},
		{"issuer a claimed, signed with b's key under a's kid", signKID(t, idpKey{b.key, "a"}, issA), expectation{http.StatusUnauthorized, invalidToken(descBadSignature)}},
		{"issuer b claimed, signed with a's key", signKID(t, a, issB), expectation{http.StatusUnauthorized, invalidToken(descUnknownKey)}},
		{"unknown issuer, signed with a's key", signKID(t, a, validClaims("iss", "https://c.example")), expectation{http.StatusUnauthorized, invalidToken(descBadIssuer)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, c, up, http.MethodGet, "/api", bearer(tt.token), tt.want)
		})
	}
}

func TestDiscoveryFindsKeysAndRefusesAMismatchingIssuer(t *testing.T) {
	requireCaddy(t)
	good := idpKey{newKey(t, "ES384"), "good"}
	bad := idpKey{newKey(t, "ES384"), "bad"}
	idpGood := newIDPServer(t, true, good)
	idpBad := newIDPServer(t, true, bad)
	// This document claims to be another issuer's: its keys must not be
	// trusted for tokens that name idpBad's URL.
	idpBad.mu.Lock()
	idpBad.docIssuer = "https://elsewhere.example"
	idpBad.mu.Unlock()
	up := newUpstream(t)
	cfg := fmt.Sprintf("issuer %s {\n\tdiscover\n}\nissuer %s {\n\tdiscover\n}", idpGood.URL(), idpBad.URL())
	c := startCaddy(t, caddyfileFor(jwtRoute("/*", cfg, "reverse_proxy "+up.Addr())))

	tokGood := signKID(t, good, validClaims("iss", idpGood.URL()))
	pollStatus(t, "discovered keys", c.URL("/api"), bearer(tokGood), http.StatusOK, 30*time.Second)
	check(t, c, up, http.MethodGet, "/api", bearer(tokGood), accepted)
	if idpGood.discoveryHits.Load() < 1 || idpGood.jwksHits.Load() < 1 {
		t.Errorf("good provider: %d discovery and %d JWKS fetches, want both", idpGood.discoveryHits.Load(), idpGood.jwksHits.Load())
	}

	// The mismatch is handled like an outage: 503 while discovery is
	// retried, and the JWKS it names is never fetched.
	waitFor(t, "discovery of the mismatching issuer to be retried", func() bool { return idpBad.discoveryHits.Load() >= 2 })
	tokBad := signKID(t, bad, validClaims("iss", idpBad.URL()))
	resp := check(t, c, up, http.MethodGet, "/api", bearer(tokBad), keysUnavailable)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if n := idpBad.jwksHits.Load(); n != 0 {
		t.Errorf("the JWKS of a mismatching discovery document was fetched %d times", n)
	}
	// The issuer mismatch is logged.
	waitForLog(t, c, `the document is for issuer \"https://elsewhere.example\"`)
}
