package integration_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Bounds of the soak test: it stops issuing requests after soakRequests,
// or once soakDuration has passed and at least soakMinRequests requests
// and soakMinReloads reloads are done, so that a machine too starved to
// reach those in soakDuration runs longer instead of failing; it always
// ends by itself, at soakMaxDuration at the latest. On this 2-core machine
// the duration is the bound that holds (a few thousand requests per 10 s).
const (
	soakRequests    = 20000
	soakDuration    = 12 * time.Second
	soakMaxDuration = 2 * time.Minute
	soakMinRequests = 500
	soakMinReloads  = 5
	soakWorkers     = 8
	soakReloadEvery = 200 * time.Millisecond
)

// soakClass is one kind of request in the soak mix, with the status it must
// get whatever config happens to be serving it.
type soakClass struct {
	name   string
	header http.Header
	status int
}

// soakSite is the Caddy under soak, its upstream, the two configs it is
// reloaded between and the mix of requests it is sent.
type soakSite struct {
	caddy   *caddyProcess
	up      *upstream
	config  func(variant string) string
	classes []soakClass
	client  *http.Client
}

// soakTally is what the burst of requests saw.
type soakTally struct {
	sent       int
	mismatches int
	retries    atomic.Int64
	mu         sync.Mutex
	firstBad   []string
	wantUp     map[string]bool
	sentAgain  map[string]bool
	perStatus  map[int]int
}

// soakBaseline is the state of Caddy before the burst, which it must come
// back to.
type soakBaseline struct {
	goroutines int
	heap, rss  int64
	upCount    int
}

// TestSoakConcurrentRequestsDuringReloads sends a bounded burst of mixed
// requests (valid, forged, expired, malformed, missing, ambiguous, revoked)
// from several clients while the config is reloaded through the admin API
// again and again, alternating two equivalent configs. Every response must have its class's status, only the
// valid requests may reach the upstream, each exactly once, and Caddy's
// goroutines and heap must come back to where they started.
func TestSoakConcurrentRequestsDuringReloads(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test skipped with -short")
	}
	requireCaddy(t)
	s := startSoakSite(t)
	defer s.client.CloseIdleConnections()
	before := s.warmUp(t)

	done := make(chan struct{})
	var reloadFailures int
	var reloadsSoFar atomic.Int64
	reloaderDone := make(chan struct{})
	go func() {
		defer close(reloaderDone)
		reloadFailures = s.reloadUntil(t, done, &reloadsSoFar)
	}()
	tally := s.burst(t, func() bool { return reloadsSoFar.Load() >= soakMinReloads })
	close(done)
	<-reloaderDone
	reloads := reloadsSoFar.Load()

	s.checkUpstream(t, before.upCount, tally)

	c := s.caddy
	goroutinesAfter := waitAtMost(t, before.goroutines+10, func() int { return adminGoroutines(t, c) })
	heapAfter := adminHeapInuse(t, c)
	rssAfter := processRSS(t, c)

	t.Logf("soak: %d requests (%v by status), %d reloads, %d mismatches, %d retries after connection errors",
		tally.sent, tally.perStatus, reloads, tally.mismatches, tally.retries.Load())
	t.Logf("soak: goroutines %d -> %d, heap in use after GC %d KiB -> %d KiB, RSS %d KiB -> %d KiB",
		before.goroutines, goroutinesAfter, before.heap>>10, heapAfter>>10, before.rss>>10, rssAfter>>10)

	if tally.mismatches != 0 {
		t.Errorf("%d responses had the wrong status, first: %s", tally.mismatches, strings.Join(tally.firstBad, "; "))
	}
	if reloads < soakMinReloads || reloadFailures > 0 {
		t.Errorf("%d reloads succeeded and %d failed during the burst; want at least %d and no failures", reloads, reloadFailures, soakMinReloads)
	}
	if tally.sent < soakMinRequests {
		t.Errorf("only %d requests were sent in %s", tally.sent, soakMaxDuration)
	}
	if goroutinesAfter > before.goroutines+10 {
		t.Errorf("goroutines did not come back: %d before, %d after:\n%s", before.goroutines, goroutinesAfter, adminGet(t, c.AdminURL()+"/debug/pprof/goroutine?debug=1"))
	}
	// Heap after a forced GC, with room for what the retired configs leave
	// to the next cycle (metrics, pools) and a noisy shared machine.
	if heapAfter > before.heap*2+32<<20 {
		t.Errorf("heap in use did not come back: %d KiB before, %d KiB after", before.heap>>10, heapAfter>>10)
	}
	// RSS is what the OS sees; Go returns freed memory lazily, so this
	// bound only catches runaway growth.
	if rssAfter > before.rss*2+128<<20 {
		t.Errorf("RSS grew from %d KiB to %d KiB", before.rss>>10, rssAfter>>10)
	}
}

// startSoakSite starts Caddy with the first of the two configs and builds
// the mix of requests, revoked tokens included.
func startSoakSite(t *testing.T) *soakSite {
	up := newUpstream(t)
	hs := newKey(t, "HS256")
	rs := newKey(t, "RS256")
	attacker := newKey(t, "HS256")

	keys := hs.keyDirective(t) + "\n" + rs.keyDirective(t)
	keys += "\nrevocation file " + soakRevocationFile(t) + " {\n\tcache 1s\n}"
	revoked := signToken(t, hs, validClaims("jti", "soak-revoked"), nil)
	config := func(variant string) string {
		// The two variants differ only in a response header, so that each
		// reload really replaces the running config.
		// No keep-alive to the upstream: each reload makes a new proxy
		// transport, and the idle connections of retired ones linger for
		// Caddy's idle timeout (2m), which would hide what this test
		// measures: the jwt handler's own goroutines.
		return caddyfileFor(jwtRoute("/*", keys, "header X-Config "+variant+
			"\n\t\treverse_proxy "+up.Addr()+" {\n\t\t\ttransport http {\n\t\t\t\tkeepalive off\n\t\t\t}\n\t\t}"))
	}
	c := startCaddy(t, config("a"))

	classes := []soakClass{
		{"valid-hs256", bearer(sign(t, hs, validClaims())), http.StatusOK},
		{"valid-rs256", bearer(sign(t, rs, validClaims())), http.StatusOK},
		{"forged", bearer(sign(t, attacker, validClaims())), http.StatusUnauthorized},
		{"expired", bearer(sign(t, hs, validClaims("exp", time.Now().Add(-time.Hour).Unix()))), http.StatusUnauthorized},
		{"malformed", bearer("not.a.token"), http.StatusUnauthorized},
		{"missing", nil, http.StatusUnauthorized},
		{"ambiguous", http.Header{"Authorization": {"Bearer " + sign(t, hs, validClaims()), "Bearer " + sign(t, rs, validClaims())}}, http.StatusBadRequest},
		{"revoked", bearer(revoked), http.StatusUnauthorized},
	}

	// A fresh connection per request: keep-alive connections to a server
	// that a reload retires are closed under the client, which tests the
	// client, not the plugin.
	client := &http.Client{
		Timeout:   15 * time.Second,
		Transport: &http.Transport{DisableKeepAlives: true},
	}
	return &soakSite{caddy: c, up: up, config: config, classes: classes, client: client}
}

// send sends one request of the class, its id in the path.
func (s *soakSite) send(class soakClass, id int) (int, error) {
	req, err := http.NewRequest(http.MethodGet, s.caddy.URL("/soak/"+class.name+"/"+strconv.Itoa(id)), nil)
	if err != nil {
		return 0, err
	}
	for k, vs := range class.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// warmUp sends one request of each class and reloads twice, then measures
// the baseline, so that it includes what the first requests and reloads
// allocate for good (pools, metrics, TLS-less listeners).
func (s *soakSite) warmUp(t *testing.T) soakBaseline {
	for i, class := range s.classes {
		if _, err := s.send(class, -1-i); err != nil {
			t.Fatalf("warm-up request: %v", err)
		}
	}
	for _, v := range []string{"b", "a"} {
		if err := s.caddy.Reload(s.config(v)); err != nil {
			t.Fatalf("warm-up reload: %v", err)
		}
	}
	c := s.caddy
	return soakBaseline{
		goroutines: waitSettled(t, func() int { return adminGoroutines(t, c) }),
		heap:       adminHeapInuse(t, c),
		rss:        processRSS(t, c),
		upCount:    s.up.Count(),
	}
}

// reloadUntil reloads the config, alternating the two variants, until done
// is closed, counting the successes in reloads as they happen, and returns
// how many reloads failed.
func (s *soakSite) reloadUntil(t *testing.T, done <-chan struct{}, reloads *atomic.Int64) (failures int) {
	tick := time.NewTicker(soakReloadEvery)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-done:
			return failures
		case <-tick.C:
		}
		if err := s.caddy.Reload(s.config([]string{"b", "a"}[i%2])); err != nil {
			failures++
			t.Errorf("reload %d: %v", i, err)
			continue
		}
		reloads.Add(1)
	}
}

// burst sends the mix from soakWorkers clients until soakRequests are sent,
// or soakDuration has passed with soakMinRequests sent and reloaded true,
// or soakMaxDuration has passed, and tallies the statuses.
func (s *soakSite) burst(t *testing.T, reloaded func() bool) *soakTally {
	tally := &soakTally{
		wantUp:    make(map[string]bool),
		sentAgain: make(map[string]bool),
		perStatus: make(map[int]int),
	}
	var next atomic.Int64
	start := time.Now()
	enough := func(id int) bool {
		since := time.Since(start)
		return since > soakMaxDuration || (since > soakDuration && id > soakMinRequests && reloaded())
	}
	var wg sync.WaitGroup
	for w := 0; w < soakWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				id := int(next.Add(1))
				if id > soakRequests || enough(id) {
					return
				}
				class := s.classes[id%len(s.classes)]
				status, err := s.send(class, id)
				// A request may meet a connection that a retiring server
				// closes; it is sent again until it is answered, for 30s
				// at most: under the race detector a reload can take long
				// enough for a few attempts in a row to meet it.
				retried := err != nil
				for retryUntil := time.Now().Add(30 * time.Second); err != nil && time.Now().Before(retryUntil); {
					if tally.retries.Add(1) <= 3 {
						t.Logf("%s #%d: %v (sent again)", class.name, id, err)
					}
					time.Sleep(20 * time.Millisecond) // polling interval
					status, err = s.send(class, id)
				}
				tally.record(class, id, status, err, retried)
			}
		}()
	}
	wg.Wait()
	return tally
}

// record counts one response of the burst.
func (tally *soakTally) record(class soakClass, id, status int, err error, retried bool) {
	tally.mu.Lock()
	defer tally.mu.Unlock()
	tally.sent++
	tally.perStatus[status]++
	uri := "/soak/" + class.name + "/" + strconv.Itoa(id)
	if class.status == http.StatusOK {
		tally.wantUp[uri] = true
	}
	if retried {
		tally.sentAgain[uri] = true
	}
	if err != nil || status != class.status {
		tally.mismatches++
		if len(tally.firstBad) < 5 {
			tally.firstBad = append(tally.firstBad, fmt.Sprintf("%s #%d: status %d, err %v, want %d", class.name, id, status, err, class.status))
		}
	}
}

// checkUpstream checks what reached the upstream since the baseline:
// exactly the valid requests, once each.
func (s *soakSite) checkUpstream(t *testing.T, upBefore int, tally *soakTally) {
	reached := make(map[string]int)
	for _, r := range s.up.Requests()[upBefore:] {
		reached[r.URI]++
	}
	for uri, n := range reached {
		if !tally.wantUp[uri] {
			t.Errorf("refused request %s reached the upstream", uri)
		} else if n != 1 && !tally.sentAgain[uri] {
			t.Errorf("%s reached the upstream %d times", uri, n)
		}
	}
	for uri := range tally.wantUp {
		if reached[uri] == 0 {
			t.Errorf("valid request %s never reached the upstream", uri)
		}
	}
}

// soakRevocationFile writes a revocation file listing the jti
// "soak-revoked", whose token the soak mix sends among the others.
func soakRevocationFile(t *testing.T) string {
	t.Helper()
	doc, _ := json.Marshal(map[string]any{
		"revoked_jti": map[string]any{"soak-revoked": time.Now().Add(time.Hour).Unix()},
		"subjects":    map[string]any{},
	})
	return writeFile(t, "revoked.json", doc)
}
