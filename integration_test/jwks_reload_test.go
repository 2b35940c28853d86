package integration_test

// Config reloads with remote key sets: no goroutine leaks, and the last
// good keys kept while the provider is down.

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

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
	pollStatus(t, "the first config's keys", c.URL("/api"), bearer(tok), http.StatusOK, 30*time.Second)
	before := goroutines(t, c)

	for i := 1; i <= 50; i++ {
		if err := c.Reload(config(i)); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		pollStatus(t, fmt.Sprintf("keys after reload %d", i), c.URL("/api"), bearer(tok), http.StatusOK, 30*time.Second)
	}
	after := goroutines(t, c)
	deadline := time.Now().Add(30 * time.Second)
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
	pollStatus(t, "keys", c.URL("/api"), bearer(tok), http.StatusOK, 30*time.Second)

	idp.srv.Close()
	if err := c.Reload(config("second")); err != nil {
		t.Fatal(err)
	}
	// The new config shares the loaded key set instead of starting empty:
	// no 503 window, and no loss of the keys while the provider is down.
	resp := pollStatus(t, "the new config", c.URL("/api"), bearer(tok), http.StatusOK, 30*time.Second)
	if resp.Body != "second" {
		t.Errorf("body = %q, want the new config's %q", resp.Body, "second")
	}
	if n := idp.jwksHits.Load(); n != 1 {
		t.Errorf("%d JWKS fetches, want 1: the reload must not refetch", n)
	}
}
