package integration_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Bounds of the soak test: it stops issuing requests at whichever comes
// first, so that it always ends by itself. On this 2-core machine the
// duration is the bound that holds (a few thousand requests per 10 s).
const (
	soakRequests    = 20000
	soakDuration    = 12 * time.Second
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

// TestSoakConcurrentRequestsDuringReloads sends a bounded burst of mixed
// requests (valid, forged, expired, malformed, missing, ambiguous, revoked
// when a revocation store is available) from several clients while the
// config is reloaded through the admin API again and again, alternating two
// equivalent configs. Every response must have its class's status, only the
// valid requests may reach the upstream, each exactly once, and Caddy's
// goroutines and heap must come back to where they started.
func TestSoakConcurrentRequestsDuringReloads(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test skipped with -short")
	}
	requireCaddy(t)
	up := newUpstream(t)
	hs := newKey(t, "HS256")
	rs := newKey(t, "RS256")
	attacker := newKey(t, "HS256")

	keys := hs.keyDirective(t) + "\n" + rs.keyDirective(t)
	revoked := ""
	if store, ok := soakRevocationStore(t, keys); ok {
		keys += "\nrevocation file " + store + " {\n\tcache 1s\n}"
		revoked = signToken(t, hs, validClaims("jti", "soak-revoked"), nil)
	}
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
	}
	if revoked != "" {
		classes = append(classes, soakClass{"revoked", bearer(revoked), http.StatusUnauthorized})
	} else {
		t.Log("no revocation store available: the soak mix has no revoked tokens")
	}

	// A fresh connection per request: keep-alive connections to a server
	// that a reload retires are closed under the client, which tests the
	// client, not the plugin.
	client := &http.Client{
		Timeout:   15 * time.Second,
		Transport: &http.Transport{DisableKeepAlives: true},
	}
	defer client.CloseIdleConnections()
	send := func(class soakClass, id int) (int, error) {
		req, err := http.NewRequest(http.MethodGet, c.URL("/soak/"+class.name+"/"+strconv.Itoa(id)), nil)
		if err != nil {
			return 0, err
		}
		for k, vs := range class.header {
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}

	// Warm up, so that the baseline includes what the first requests and
	// reloads allocate for good (pools, metrics, TLS-less listeners).
	for i, class := range classes {
		if _, err := send(class, -1-i); err != nil {
			t.Fatalf("warm-up request: %v", err)
		}
	}
	for _, v := range []string{"b", "a"} {
		if err := c.Reload(config(v)); err != nil {
			t.Fatalf("warm-up reload: %v", err)
		}
	}
	goroutinesBefore := waitSettled(t, func() int { return adminGoroutines(t, c) })
	heapBefore := adminHeapInuse(t, c)
	rssBefore := processRSS(t, c)
	upBefore := up.Count()

	var (
		next       atomic.Int64
		sent       int
		mismatches atomic.Int64
		retries    atomic.Int64
		mu         sync.Mutex
		firstBad   []string
		wantUp     = make(map[string]bool)
		sentAgain  = make(map[string]bool)
		perStatus  = make(map[int]int)
	)
	deadline := time.Now().Add(soakDuration)
	done := make(chan struct{})
	var reloads, reloadFailures int
	reloaderDone := make(chan struct{})
	go func() {
		defer close(reloaderDone)
		tick := time.NewTicker(soakReloadEvery)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			if err := c.Reload(config([]string{"b", "a"}[i%2])); err != nil {
				reloadFailures++
				t.Errorf("reload %d: %v", i, err)
				continue
			}
			reloads++
		}
	}()

	var wg sync.WaitGroup
	for w := 0; w < soakWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				id := int(next.Add(1))
				if id > soakRequests || time.Now().After(deadline) {
					return
				}
				class := classes[id%len(classes)]
				status, err := send(class, id)
				// A request may meet a connection that a retiring server
				// closes; it is sent again, at most twice.
				retried := err != nil
				for attempt := 0; err != nil && attempt < 2; attempt++ {
					if retries.Add(1) <= 3 {
						t.Logf("%s #%d: %v (sent again)", class.name, id, err)
					}
					status, err = send(class, id)
				}
				mu.Lock()
				sent++
				perStatus[status]++
				uri := "/soak/" + class.name + "/" + strconv.Itoa(id)
				if class.status == http.StatusOK {
					wantUp[uri] = true
				}
				if retried {
					sentAgain[uri] = true
				}
				if err != nil || status != class.status {
					mismatches.Add(1)
					if len(firstBad) < 5 {
						firstBad = append(firstBad, fmt.Sprintf("%s #%d: status %d, err %v, want %d", class.name, id, status, err, class.status))
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(done)
	<-reloaderDone

	// What reached the upstream: exactly the valid requests, once each.
	reached := make(map[string]int)
	for _, r := range up.Requests()[upBefore:] {
		reached[r.URI]++
	}
	for uri, n := range reached {
		if !wantUp[uri] {
			t.Errorf("refused request %s reached the upstream", uri)
		} else if n != 1 && !sentAgain[uri] {
			t.Errorf("%s reached the upstream %d times", uri, n)
		}
	}
	for uri := range wantUp {
		if reached[uri] == 0 {
			t.Errorf("valid request %s never reached the upstream", uri)
		}
	}

	goroutinesAfter := waitAtMost(t, goroutinesBefore+10, func() int { return adminGoroutines(t, c) })
	heapAfter := adminHeapInuse(t, c)
	rssAfter := processRSS(t, c)

	t.Logf("soak: %d requests (%v by status), %d reloads, %d mismatches, %d retries after connection errors",
		sent, perStatus, reloads, mismatches.Load(), retries.Load())
	t.Logf("soak: goroutines %d -> %d, heap in use after GC %d KiB -> %d KiB, RSS %d KiB -> %d KiB",
		goroutinesBefore, goroutinesAfter, heapBefore>>10, heapAfter>>10, rssBefore>>10, rssAfter>>10)

	if m := mismatches.Load(); m != 0 {
		t.Errorf("%d responses had the wrong status, first: %s", m, strings.Join(firstBad, "; "))
	}
	if reloads < 5 || reloadFailures > 0 {
		t.Errorf("%d reloads succeeded and %d failed during the burst; want at least 5 and no failures", reloads, reloadFailures)
	}
	if sent < 500 {
		t.Errorf("only %d requests were sent in %s", sent, soakDuration)
	}
	if goroutinesAfter > goroutinesBefore+10 {
		t.Errorf("goroutines did not come back: %d before, %d after:\n%s", goroutinesBefore, goroutinesAfter, adminGet(t, c.AdminURL()+"/debug/pprof/goroutine?debug=1"))
	}
	// Heap after a forced GC, with room for what the retired configs leave
	// to the next cycle (metrics, pools) and a noisy shared machine.
	if heapAfter > heapBefore*2+32<<20 {
		t.Errorf("heap in use did not come back: %d KiB before, %d KiB after", heapBefore>>10, heapAfter>>10)
	}
	// RSS is what the OS sees; Go returns freed memory lazily, so this
	// bound only catches runaway growth.
	if rssAfter > rssBefore*2+128<<20 {
		t.Errorf("RSS grew from %d KiB to %d KiB", rssBefore>>10, rssAfter>>10)
	}
}

// soakRevocationStore writes a revocation file listing the jti
// "soak-revoked" and reports whether Caddy accepts `revocation file` with
// these keys; the soak mix includes revoked tokens only if it does.
func soakRevocationStore(t *testing.T, keys string) (string, bool) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "revoked.json")
	doc, _ := json.Marshal(map[string]any{
		"revoked_jti": map[string]any{"soak-revoked": time.Now().Add(time.Hour).Unix()},
		"subjects":    map[string]any{},
	})
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	res := validateCaddyfile(t, caddyfileFor(jwtRoute("/*", keys+"\nrevocation file "+path, "respond ok")))
	return path, res.ExitCode == 0
}

// adminGoroutines reads the goroutine count from the admin API's pprof
// endpoint ("goroutine profile: total N").
func adminGoroutines(t *testing.T, c *caddyProcess) int {
	t.Helper()
	line := adminProfileValue(t, c.AdminURL()+"/debug/pprof/goroutine?debug=1", "goroutine profile: total ")
	n, err := strconv.Atoi(line)
	if err != nil {
		t.Fatalf("goroutine count %q: %v", line, err)
	}
	return n
}

// adminHeapInuse forces a GC through the admin API's heap profile (gc=1)
// and returns the bytes of heap in use after it.
func adminHeapInuse(t *testing.T, c *caddyProcess) int64 {
	t.Helper()
	line := adminProfileValue(t, c.AdminURL()+"/debug/pprof/heap?gc=1&debug=1", "# HeapInuse = ")
	n, err := strconv.ParseInt(line, 10, 64)
	if err != nil {
		t.Fatalf("HeapInuse %q: %v", line, err)
	}
	return n
}

// adminGet returns the body of an admin API GET.
func adminGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := testClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// adminProfileValue fetches an admin API profile and returns the rest of
// the first line that starts with prefix.
func adminProfileValue(t *testing.T, url, prefix string) string {
	t.Helper()
	resp, err := testClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			return strings.TrimSpace(rest)
		}
	}
	t.Fatalf("GET %s: no line starting with %q (status %s)", url, prefix, resp.Status)
	return ""
}

// processRSS is the Caddy process's resident set size in bytes, from
// /proc/<pid>/status.
func processRSS(t *testing.T, c *caddyProcess) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("reading the process status: %v", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/<pid>/status")
	return 0
}

// waitSettled polls read until two readings a moment apart agree (at most
// 10 s), and returns the value: the baseline after warm-up work has ended.
func waitSettled(t *testing.T, read func() int) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	last := read()
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond) // polling interval
		now := read()
		if now == last {
			return now
		}
		last = now
	}
	return last
}

// waitAtMost polls read until it is at most limit (retired servers finish
// their grace period), for at most 30 s, and returns the last reading.
func waitAtMost(t *testing.T, limit int, read func() int) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := read()
		if n <= limit || time.Now().After(deadline) {
			return n
		}
		time.Sleep(200 * time.Millisecond) // polling interval
	}
}
