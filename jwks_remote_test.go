package caddyjwt

// Remote key sets against a JWKS server on loopback: the first fetch,
// refetches for unknown kids, refreshes, size limits, discovery and the
// timings that are refused.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// jwksServer is a real JWKS endpoint on loopback that counts its hits and
// answers conditional requests.
type jwksServer struct {
	*httptest.Server
	mu           sync.Mutex
	body         []byte
	status       int
	cacheControl string
	hits         atomic.Int64
	notModified  atomic.Int64
}

func newJWKSServer(t *testing.T, body []byte) *jwksServer {
	s := &jwksServer{body: body, status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		body, status, cc := s.body, s.status, s.cacheControl
		s.mu.Unlock()
		if status != http.StatusOK {
			w.WriteHeader(status)
			return
		}
		etag := fmt.Sprintf(`"%x"`, len(body)*31+int(body[len(body)/2]))
		w.Header().Set("ETag", etag)
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		if r.Header.Get("If-None-Match") == etag {
			s.notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(body []byte, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.status = body, status
}

func startTestKeySet(t *testing.T, cfg remoteKeySetConfig) *remoteKeySet {
	t.Helper()
	if cfg.refresh == 0 {
		cfg.refresh = time.Hour
	}
	if cfg.unknownKIDWait == 0 {
		cfg.unknownKIDWait = time.Hour
	}
	if cfg.timeout == 0 {
		cfg.timeout = 5 * time.Second
	}
	if cfg.allowed == 0 {
		cfg.allowed = allAlgorithms
	}
	s := startRemoteKeySet(cfg, zap.NewNop())
	t.Cleanup(func() { s.Destruct() })
	return s
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func keyIDsFor(t *testing.T, s *remoteKeySet, kid string, alg algorithm) ([]string, error) {
	t.Helper()
	keys, err := s.appendKeys(context.Background(), nil, kid, alg)
	return keyIDs(keys), err
}

func TestRemoteKeySetIsUnavailableUntilFirstFetchThenKeepsLastGoodSet(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srv := newJWKSServer(t, jwksBody(t, publicJWK(t, &ec.PublicKey, map[string]any{"kid": "a"})))
	srv.set(nil, http.StatusServiceUnavailable)

	set := startTestKeySet(t, remoteKeySetConfig{url: srv.URL, refresh: 200 * time.Millisecond})
	eventually(t, "a failed fetch", func() bool { return srv.hits.Load() >= 1 })
	if _, err := keyIDsFor(t, set, "a", algES256); !errors.Is(err, errKeysUnavailable) {
		t.Fatalf("before any successful fetch: err = %v, want errKeysUnavailable", err)
	}

	srv.set(jwksBody(t, publicJWK(t, &ec.PublicKey, map[string]any{"kid": "a"})), http.StatusOK)
	eventually(t, "the set to load after the provider recovers", func() bool {
		ids, err := keyIDsFor(t, set, "a", algES256)
		return err == nil && len(ids) == 1
	})

	hits := srv.hits.Load()
	srv.set(nil, http.StatusInternalServerError)
	// Fetches are made one after another: the second failed one is sent
	// only once the first one's answer was handled.
	eventually(t, "two failed refreshes", func() bool { return srv.hits.Load() > hits+1 })
	if ids, err := keyIDsFor(t, set, "a", algES256); err != nil || len(ids) != 1 {
		t.Fatalf("after a failed refresh: keys %v, err %v; want the last good set", ids, err)
	}
}

func TestUnknownKIDFloodCausesOneRefetchPerWindow(t *testing.T) {
	a, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	b, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srv := newJWKSServer(t, jwksBody(t, publicJWK(t, &a.PublicKey, map[string]any{"kid": "a"})))
	set := startTestKeySet(t, remoteKeySetConfig{url: srv.URL, unknownKIDWait: time.Hour})
	eventually(t, "the first fetch", func() bool { return set.current.Load() != nil })
	before := srv.hits.Load()

	// The provider rotates in key b; the first request naming it triggers
	// the one refetch of the window and gets the key.
	srv.set(jwksBody(t, publicJWK(t, &a.PublicKey, map[string]any{"kid": "a"}), publicJWK(t, &b.PublicKey, map[string]any{"kid": "b"})), http.StatusOK)
	eventually(t, "key b after an unknown-kid refetch", func() bool {
		ids, _ := keyIDsFor(t, set, "b", algES256)
		return len(ids) == 1
	})

	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				ids, err := keyIDsFor(t, set, fmt.Sprintf("forged-%d-%d", i, j), algES256)
				if err != nil || len(ids) != 0 {
					t.Errorf("forged kid got keys %v, err %v", ids, err)
				}
			}
		}()
	}
	wg.Wait()
	if got := srv.hits.Load() - before; got != 1 {
		t.Fatalf("%d fetches for a rotation plus 1000 forged kids in one window; want 1", got)
	}
}

func TestRefreshDropsRemovedKeysAndSendsIfNoneMatch(t *testing.T) {
	a, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	b, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	both := jwksBody(t, publicJWK(t, &a.PublicKey, map[string]any{"kid": "a"}), publicJWK(t, &b.PublicKey, map[string]any{"kid": "b"}))
	srv := newJWKSServer(t, both)
	var changes atomic.Int64
	set := startTestKeySet(t, remoteKeySetConfig{url: srv.URL, refresh: 100 * time.Millisecond})
	set.subscribe(func() { changes.Add(1) })
	eventually(t, "the first fetch", func() bool { return set.current.Load() != nil })
	eventually(t, "a conditional refresh answered 304", func() bool { return srv.notModified.Load() >= 1 })
	if ids, _ := keyIDsFor(t, set, "a", algES256); len(ids) != 1 {
		t.Fatal("key a lost after a 304")
	}
	changesBefore := changes.Load()

	srv.set(jwksBody(t, publicJWK(t, &b.PublicKey, map[string]any{"kid": "b"})), http.StatusOK)
	eventually(t, "key a to disappear after a refresh", func() bool {
		ids, _ := keyIDsFor(t, set, "a", algES256)
		return len(ids) == 0
	})
	if ids, _ := keyIDsFor(t, set, "b", algES256); len(ids) != 1 {
		t.Fatal("key b lost")
	}
	// The new set is visible before the subscribers are called. The lookup
	// that first missed key a waited for the fetch to end, calls included,
	// but for at most unknownKIDMaxWait: after a longer stall of the fetch
	// goroutine the call may still be under way here.
	eventually(t, "the subscribers to be told that the key set changed", func() bool { return changes.Load() > changesBefore })
}

func TestOversizedJWKSIsRefused(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key := publicJWK(t, &ec.PublicKey, map[string]any{"kid": "a", "padding": strings.Repeat("x", maxJWKSBytes)})
	srv := newJWKSServer(t, jwksBody(t, key))
	set := startTestKeySet(t, remoteKeySetConfig{url: srv.URL})
	// A second hit is the retry that follows a failed first fetch.
	eventually(t, "a retry", func() bool { return srv.hits.Load() >= 2 })
	if _, err := keyIDsFor(t, set, "a", algES256); !errors.Is(err, errKeysUnavailable) {
		t.Fatalf("a set over the size limit was used: err = %v", err)
	}
}

func TestDiscoveryUsesJWKSURIOnlyWhenIssuerMatches(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwks := jwksBody(t, publicJWK(t, &ec.PublicKey, map[string]any{"kid": "a"}))
	var docIssuer atomic.Value
	var jwksHits atomic.Int64
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": docIssuer.Load().(string), "jwks_uri": srv.URL + "/keys"})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		jwksHits.Add(1)
		w.Write(jwks)
	})

	docIssuer.Store("https://someone-else.example")
	client := &http.Client{}
	if _, err := discoverJWKSURL(context.Background(), client, srv.URL, 10*time.Second); err == nil || !strings.Contains(err.Error(), "not used") {
		t.Fatalf("mismatching issuer: err = %v", err)
	}

	docIssuer.Store(srv.URL)
	set := startTestKeySet(t, remoteKeySetConfig{issuer: srv.URL})
	eventually(t, "discovered keys", func() bool {
		ids, err := keyIDsFor(t, set, "a", algES256)
		return err == nil && len(ids) == 1
	})
	if jwksHits.Load() == 0 {
		t.Fatal("jwks_uri never fetched")
	}
}

func TestCacheMaxAge(t *testing.T) {
	tests := []struct {
		cacheControl, age string
		want              time.Duration
	}{
		{"", "", 0},
		{"public, max-age=3600", "", time.Hour},
		{"max-age=3600, must-revalidate", "600", 50 * time.Minute},
		{"no-cache, max-age=3600", "", 0},
		{"max-age=99999999", "", maxAgeCeiling},
		{"max-age=junk", "", 0},
	}
	for _, tt := range tests {
		h := http.Header{}
		h.Set("Cache-Control", tt.cacheControl)
		if tt.age != "" {
			h.Set("Age", tt.age)
		}
		if got := cacheMaxAge(h); got != tt.want {
			t.Errorf("Cache-Control %q Age %q: %s, want %s", tt.cacheControl, tt.age, got, tt.want)
		}
	}
}

func TestRetryDelayBacksOffFromOneSecondToOneMinute(t *testing.T) {
	within := func(got, want time.Duration) bool { return got >= want*9/10 && got <= want*11/10 }
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 7: time.Minute, 30: time.Minute} {
		if got := retryDelay(n, time.Hour); !within(got, want) {
			t.Errorf("failure %d: %s, want about %s", n, got, want)
		}
	}
	if got := retryDelay(10, 5*time.Second); !within(got, 5*time.Second) {
		t.Errorf("backoff beyond the refresh interval: %s", got)
	}
}

func BenchmarkRemoteKeySetLookup(b *testing.B) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	set := &remoteKeySet{}
	set.current.Store(&keySnapshot{keys: []*verificationKey{{id: "a", algorithms: setOf(algES256), material: &ec.PublicKey}}})
	var buf [maxKeysPerToken]*verificationKey
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if keys, _ := set.appendKeys(ctx, buf[:0], "a", algES256); len(keys) != 1 {
			b.Fatal("key not found")
		}
	}
}

func TestJWKSTimingsThatWouldHammerTheProviderAreRefused(t *testing.T) {
	for _, src := range []*JWKSSource{
		{URL: "https://idp.example/jwks", Refresh: caddy.Duration(time.Millisecond)},
		{URL: "https://idp.example/jwks", UnknownKIDWait: caddy.Duration(10 * time.Millisecond)},
		{URL: "https://idp.example/jwks", Timeout: caddy.Duration(-time.Second)},
		{URL: "https:///jwks"},
	} {
		if _, err := src.remoteConfig(allAlgorithms); err == nil {
			t.Errorf("%+v accepted", src)
		}
	}
	cfg, err := (&JWKSSource{URL: "https://idp.example/jwks"}).remoteConfig(allAlgorithms)
	if err != nil || cfg.refresh != time.Hour || cfg.unknownKIDWait != 5*time.Minute || cfg.timeout != 10*time.Second {
		t.Errorf("defaults: %+v, %v", cfg, err)
	}
}
