package integration_test

// JWKS, rotation, per-issuer keys and discovery, against real identity
// provider endpoints on loopback that count their hits.

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
)

// idpKey is a signing key published under a kid.
type idpKey struct {
	key *testKey
	kid string
}

// jwkFor is the public JWK of k, with kid, alg and use sig.
func jwkFor(t testing.TB, k idpKey) jwkset.JWKMarshal {
	t.Helper()
	jwk, err := jwkset.NewJWKFromKey(k.key.Public, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
		KID: k.kid, ALG: jwkset.ALG(k.key.Alg), USE: jwkset.UseSig,
	}})
	if err != nil {
		t.Fatal(err)
	}
	return jwk.Marshal()
}

func jwksJSON(t testing.TB, keys ...idpKey) []byte {
	t.Helper()
	set := jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{}}
	for _, k := range keys {
		set.Keys = append(set.Keys, jwkFor(t, k))
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// idpServer is an identity provider on loopback: a JWKS at /jwks (with an
// ETag, answering If-None-Match with 304) and an OpenID discovery document.
// It counts every request.
type idpServer struct {
	t    testing.TB
	addr string
	srv  *http.Server

	mu        sync.Mutex
	jwks      []byte
	docIssuer string // "" means the server's own URL, as it should be

	jwksHits, notModified, discoveryHits atomic.Int64
}

// newIDPServer makes a provider on a free port, listening when started is
// true; otherwise it is down until start.
func newIDPServer(t testing.TB, started bool, keys ...idpKey) *idpServer {
	t.Helper()
	s := &idpServer{t: t, addr: "127.0.0.1:" + strconv.Itoa(freePort(t)), jwks: jwksJSON(t, keys...)}
	mux := http.NewServeMux()
	mux.HandleFunc("/jwks", s.serveJWKS)
	mux.HandleFunc("/.well-known/openid-configuration", s.serveDiscovery)
	s.srv = &http.Server{Handler: mux}
	t.Cleanup(func() { s.srv.Close() })
	if started {
		s.start()
	}
	return s
}

func (s *idpServer) start() {
	s.t.Helper()
	l, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatalf("identity provider: %v", err)
	}
	go s.srv.Serve(l)
}

func (s *idpServer) URL() string     { return "http://" + s.addr }
func (s *idpServer) JWKSURL() string { return s.URL() + "/jwks" }

func (s *idpServer) setKeys(keys ...idpKey) {
	b := jwksJSON(s.t, keys...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jwks = b
}

// setRawKeys publishes JWK objects as given, for keys jwkset would not
// write (oct, use enc).
func (s *idpServer) setRawKeys(keys ...map[string]any) {
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		s.t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jwks = b
}

func (s *idpServer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	s.jwksHits.Add(1)
	s.mu.Lock()
	body := s.jwks
	s.mu.Unlock()
	etag := fmt.Sprintf(`"%x"`, sha256.Sum256(body))
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		s.notModified.Add(1)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Write(body)
}

func (s *idpServer) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	s.discoveryHits.Add(1)
	s.mu.Lock()
	issuer := s.docIssuer
	s.mu.Unlock()
	if issuer == "" {
		issuer = s.URL()
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"issuer": issuer, "jwks_uri": s.JWKSURL()})
}

// signKID signs claims with k, naming its kid.
func signKID(t testing.TB, k idpKey, c claims) string {
	t.Helper()
	return signToken(t, k.key, c, map[string]any{"kid": k.kid})
}

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
	pollStatus(t, "token once the provider is up", c.URL("/api"), bearer(tok), http.StatusOK, 60*time.Second)
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

	pollStatus(t, "key one", c.URL("/api"), bearer(signKID(t, one, validClaims())), http.StatusOK, 20*time.Second)
	if got := idp.jwksHits.Load(); got != 1 {
		t.Fatalf("%d JWKS fetches after start, want 1", got)
	}

	// The provider rotates in key two. Tokens naming it pass within one
	// unknown_kid_wait (the default 5m; the first unknown kid refetches at
	// once), through exactly one refetch however often we ask.
	idp.setKeys(one, two)
	tokTwo := signKID(t, two, validClaims())
	pollStatus(t, "key two after rotation", c.URL("/api"), bearer(tokTwo), http.StatusOK, 20*time.Second)
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
	pollStatus(t, "key one", c.URL("/api"), bearer(tokOne), http.StatusOK, 20*time.Second)
	// Refreshes of an unchanged set are conditional: the provider answers 304.
	waitFor(t, "a refresh answered 304", func() bool { return idp.notModified.Load() >= 1 })

	idp.setKeys(two)
	resp := pollStatus(t, "key one refused after removal", c.URL("/api"), bearer(tokOne), http.StatusUnauthorized, 20*time.Second)
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
	pollStatus(t, "the usable key", c.URL("/api"), bearer(signKID(t, rs, validClaims())), http.StatusOK, 20*time.Second)

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
	pollStatus(t, "the set to load", c.URL("/api"), bearer(signKID(t, good, validClaims())), http.StatusOK, 20*time.Second)
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
	pollStatus(t, "issuer a's keys", c.URL("/api"), bearer(signKID(t, a, issA)), http.StatusOK, 20*time.Second)
	pollStatus(t, "issuer b's keys", c.URL("/api"), bearer(signKID(t, b, issB)), http.StatusOK, 20*time.Second)

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
	pollStatus(t, "discovered keys", c.URL("/api"), bearer(tokGood), http.StatusOK, 20*time.Second)
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
	if !strings.Contains(c.Logs(), `the document is for issuer \"https://elsewhere.example\"`) {
		t.Error("the issuer mismatch is not logged")
	}
}

// goroutines reads go_goroutines from the admin API once it stops moving,
// so that a request's own goroutines have ended.
func goroutines(t *testing.T, c *caddyProcess) float64 {
	t.Helper()
	testClient.CloseIdleConnections()
	var last float64 = -1
	for range 50 {
		v, ok := metricValue(t, metricsOf(t, c), "go_goroutines")
		if !ok {
			t.Fatal("no go_goroutines in /metrics")
		}
		if v == last {
			return v
		}
		last = v
		time.Sleep(100 * time.Millisecond) // polling interval
	}
	return last
}

func TestFiftyReloadsDoNotLeakJWKSGoroutines(t *testing.T) {
	requireCaddy(t)
	k := idpKey{newKey(t, "ES256"), "k"}
	idp := newIDPServer(t, true, k)
	tok := signKID(t, k, validClaims())
	// Two configs whose JWKS URLs differ, so that every reload starts a new
	// key set and must stop the old one. `respond` rather than
	// reverse_proxy: Caddy's proxy keeps upstream connections of replaced
	// configs open (about two goroutines per reload here), which would
	// hide what this test measures.
	config := func(n int) string {
		return caddyfileFor(jwtRoute("/*", fmt.Sprintf("jwks %s?config=%d", idp.JWKSURL(), n%2), "respond 200"))
	}
	c := startCaddy(t, config(0))
	pollStatus(t, "the first config's keys", c.URL("/api"), bearer(tok), http.StatusOK, 20*time.Second)
	before := goroutines(t, c)

	for i := 1; i <= 50; i++ {
		if err := c.Reload(config(i)); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		pollStatus(t, fmt.Sprintf("keys after reload %d", i), c.URL("/api"), bearer(tok), http.StatusOK, 20*time.Second)
	}
	after := goroutines(t, c)
	deadline := time.Now().Add(20 * time.Second)
	for after > before+5 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond) // polling interval
		after = goroutines(t, c)
	}
	t.Logf("go_goroutines before 50 reloads: %v, after: %v; JWKS fetches: %d", before, after, idp.jwksHits.Load())
	if after > before+5 {
		t.Log(get(t, c.AdminURL()+"/debug/pprof/goroutine?debug=1", nil).Body)
		t.Errorf("go_goroutines grew from %v to %v over 50 reloads", before, after)
	}
}

func TestReloadWhileProviderIsDownKeepsTheLastGoodKeys(t *testing.T) {
	requireCaddy(t)
	k := idpKey{newKey(t, "ES256"), "k"}
	idp := newIDPServer(t, true, k)
	tok := signKID(t, k, validClaims())
	config := func(greeting string) string {
		return caddyfileFor(jwtRoute("/*", "jwks "+idp.JWKSURL(), `respond "`+greeting+`"`))
	}
	c := startCaddy(t, config("first"))
	pollStatus(t, "keys", c.URL("/api"), bearer(tok), http.StatusOK, 20*time.Second)

	idp.srv.Close()
	if err := c.Reload(config("second")); err != nil {
		t.Fatal(err)
	}
	// The new config shares the loaded key set instead of starting empty:
	// no 503 window, and no loss of the keys while the provider is down.
	resp := pollStatus(t, "the new config", c.URL("/api"), bearer(tok), http.StatusOK, 20*time.Second)
	if resp.Body != "second" {
		t.Errorf("body = %q, want the new config's %q", resp.Body, "second")
	}
	if n := idp.jwksHits.Load(); n != 1 {
		t.Errorf("%d JWKS fetches, want 1: the reload must not refetch", n)
	}
}

// TestJWKSIdPExample runs examples/jwks-idp: one site publishes the key set
// with file_server, the other verifies against it and picks up a rotated
// key without a reload.
func TestJWKSIdPExample(t *testing.T) {
	requireCaddy(t)
	data, err := os.ReadFile(filepath.Join(repoRoot, "examples", "jwks-idp", "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	res := runCaddyCommand(t, []string{"adapt", "--config", filepath.Join(repoRoot, "examples", "jwks-idp", "Caddyfile"), "--adapter", "caddyfile"}, inDir(dir))
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, `"handler":"jwt"`) {
		t.Fatalf("caddy adapt of examples/jwks-idp: exit %d\n%s", res.ExitCode, res.Output())
	}

	publisher := "127.0.0.1:" + strconv.Itoa(freePort(t))
	caddyfile := string(data)
	for _, s := range []string{"http://localhost:8084", "http://localhost:8083 {"} {
		if !strings.Contains(caddyfile, s) {
			t.Fatalf("examples/jwks-idp/Caddyfile no longer has %q; update this test", s)
		}
	}
	caddyfile = strings.ReplaceAll(caddyfile, "http://localhost:8083 {", "{{site}} {")
	caddyfile = strings.ReplaceAll(caddyfile, "http://localhost:8084", "http://"+publisher)
	caddyfile = "{\n\t{{base}}\n}\n" + caddyfile

	one := idpKey{newKey(t, "ES256"), "2026-01"}
	two := idpKey{newKey(t, "RS256"), "2026-02"}
	writeJWKS := func(keys ...idpKey) {
		if err := os.WriteFile(filepath.Join(dir, "jwks.json"), jwksJSON(t, keys...), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeJWKS(one)
	c := startCaddy(t, caddyfile, withEnv("JWKS_DIR="+dir))

	published := get(t, "http://"+publisher+"/.well-known/jwks.json", nil)
	if published.StatusCode != http.StatusOK || !strings.Contains(published.Body, `"kid":"2026-01"`) || published.Header.Get("ETag") == "" {
		t.Fatalf("published JWKS: %d, ETag %q, body %q", published.StatusCode, published.Header.Get("ETag"), published.Body)
	}
	if other := get(t, "http://"+publisher+"/jwks.json", nil); other.StatusCode != http.StatusNotFound {
		t.Errorf("the publisher serves more than the key set: /jwks.json = %d", other.StatusCode)
	}

	claimsFor := func(sub string) claims {
		return validClaims("iss", "https://idp.example.com", "aud", "demo-api", "sub", sub)
	}
	resp := pollStatus(t, "a token of the published key", c.URL("/"), bearer(signKID(t, one, claimsFor("alice"))), http.StatusOK, 20*time.Second)
	if resp.Body != "Hello alice" {
		t.Errorf("body = %q, want %q", resp.Body, "Hello alice")
	}
	if resp := get(t, c.URL("/"), bearer(signKID(t, one, validClaims("iss", "https://idp.example.com", "aud", "other")))); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong audience: %d, want 401", resp.StatusCode)
	}

	writeJWKS(one, two)
	resp = pollStatus(t, "a token of the rotated-in key", c.URL("/"), bearer(signKID(t, two, claimsFor("bob"))), http.StatusOK, 20*time.Second)
	if resp.Body != "Hello bob" {
		t.Errorf("body = %q, want %q", resp.Body, "Hello bob")
	}
}

// TestReadmeIdentityProviderBlocksAdapt: every `jwt` block of the README's
// identity provider section is valid Caddyfile. Only adapted: validating
// would start fetches from the providers' real URLs.
func TestReadmeIdentityProviderBlocksAdapt(t *testing.T) {
	requireCaddy(t)
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Identity providers and JWKS\n")
	if !ok {
		t.Fatal("README.md has no Identity providers and JWKS section")
	}
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	blocks := regexp.MustCompile("(?s)```caddyfile\n(jwt \\{.*?\n\\})\n```").FindAllStringSubmatch(section, -1)
	if len(blocks) < 5 {
		t.Fatalf("found %d jwt blocks in the section, want one per provider at least", len(blocks))
	}
	for i, b := range blocks {
		caddyfile := caddyfileFor("\t" + strings.ReplaceAll(b[1], "\n", "\n\t") + "\n\trespond ok")
		res := adaptCaddyfile(t, caddyfile)
		if res.ExitCode != 0 || !strings.Contains(res.Stdout, `"handler":"jwt"`) {
			t.Errorf("block %d does not adapt: exit %d\n%s\n%s", i+1, res.ExitCode, b[1], res.Output())
		}
	}
}
