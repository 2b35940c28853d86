package integration_test

// The file store under load: `caddy jwt revoke` rewriting the revocation
// file while requests keep arriving.

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestFileStoreRewrittenDuringLoad sends 1,000 requests while two
// concurrent `caddy jwt revoke` runs rewrite the file store (each an atomic
// rename, serialised by the file lock). Tokens revoked before the start are
// never let through; once a token has been refused it is never let through
// again (no reload loses a revocation); tokens never revoked always pass;
// and in the end the file holds every revocation of both writers.
func TestFileStoreRewrittenDuringLoad(t *testing.T) {
	requireCaddy(t)
	const (
		requests    = 1000
		workers     = 8
		preRevoked  = 10
		perWriter   = 8
		neverRevoke = 10
	)
	path := filepath.Join(t.TempDir(), "revoked.json")
	key := newKey(t, "HS256")
	exp := time.Now().Add(10 * time.Minute)
	expArg := strconv.FormatInt(exp.Unix(), 10)

	type token struct {
		jti, raw string
		kind     string // "pre", "writerN", "never"
	}
	var tokens []token
	add := func(kind string, n int) {
		for i := range n {
			jti := fmt.Sprintf("%s-%d", kind, i)
			tokens = append(tokens, token{jti: jti, kind: kind,
				raw: sign(t, key, validClaims("sub", "load-"+jti, "jti", jti, "exp", exp.Unix()))})
		}
	}
	add("pre", preRevoked)
	add("writer0", perWriter)
	add("writer1", perWriter)
	add("never", neverRevoke)
	for _, tk := range tokens[:preRevoked] {
		revokeCLI(t, "--location", path, "--jti", tk.jti, "--exp", expArg)
	}

	up := newUpstream(t)
	c := startCaddy(t, revocationSite(key, t, "file", path, "reload_interval 20ms", up))

	type result struct {
		tok           token
		sent, arrived time.Time
		status        int
	}
	var (
		mu      sync.Mutex
		results []result
		wg      sync.WaitGroup
		next    = make(chan int)
	)
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer client.CloseIdleConnections()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				tk := tokens[i%len(tokens)]
				req, _ := http.NewRequest(http.MethodGet, c.URL("/"), nil)
				req.Header.Set("Authorization", "Bearer "+tk.raw)
				sent := time.Now()
				resp, err := client.Do(req)
				status := 0
				if err == nil {
					status = resp.StatusCode
					resp.Body.Close()
				}
				mu.Lock()
				results = append(results, result{tok: tk, sent: sent, arrived: time.Now(), status: status})
				mu.Unlock()
			}
		}()
	}
	// The two writers run beside the load, each revoking its own tokens
	// one by one with the real CLI.
	var writers sync.WaitGroup
	writersDone := make(chan struct{})
	for w := range 2 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			kind := fmt.Sprintf("writer%d", w)
			for _, tk := range tokens {
				if tk.kind != kind {
					continue
				}
				res := runCaddyCommand(t, []string{"jwt", "revoke", "--location", path, "--jti", tk.jti, "--exp", expArg})
				if res.ExitCode != 0 {
					t.Errorf("revoke %s: exit %d\n%s", tk.jti, res.ExitCode, res.Output())
				}
			}
		}()
	}
	go func() { writers.Wait(); close(writersDone) }()
	// At least `requests` requests, and the load lasts until both writers
	// are done, so that every rewrite happens under load (bounded).
	sent := 0
	for writing := true; sent < requests || (writing && sent < 50*requests); sent++ {
		select {
		case <-writersDone:
			writing = false
		default:
		}
		next <- sent
	}
	close(next)
	wg.Wait()
	<-writersDone

	// What the upstream received: every request it saw carried a token,
	// and none of them a token revoked before the start.
	preRevokedRaw := map[string]bool{}
	for _, tk := range tokens[:preRevoked] {
		preRevokedRaw[tk.raw] = true
	}
	for _, req := range up.Requests() {
		if preRevokedRaw[strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")] {
			t.Fatal("a token revoked before the start reached the upstream")
		}
	}
	passed, refusedAt := 0, map[string]time.Time{}
	for _, r := range results {
		switch {
		case r.status == http.StatusOK:
			passed++
		case r.status == http.StatusUnauthorized:
			if r.tok.kind == "never" {
				t.Errorf("token %s, never revoked, was refused", r.tok.jti)
			}
			if first, ok := refusedAt[r.tok.jti]; !ok || r.arrived.Before(first) {
				refusedAt[r.tok.jti] = r.arrived
			}
		default:
			t.Errorf("token %s got status %d", r.tok.jti, r.status)
		}
		if r.tok.kind == "pre" && r.status != http.StatusUnauthorized {
			t.Errorf("token %s, revoked before the start, got %d", r.tok.jti, r.status)
		}
	}
	if up.Count() != passed {
		t.Errorf("the upstream saw %d requests, but %d were answered 200", up.Count(), passed)
	}
	// No revocation lost: a request sent after its token was first refused
	// is refused too.
	for _, r := range results {
		if first, ok := refusedAt[r.tok.jti]; ok && r.sent.After(first) && r.status == http.StatusOK {
			t.Errorf("token %s was let through after it had been refused: a reload lost its revocation", r.tok.jti)
		}
	}
	// Every revocation of both writers is in force at the end, and in the
	// file.
	for _, tk := range tokens {
		if tk.kind == "never" {
			check(t, c, up, http.MethodGet, "/", bearer(tk.raw), accepted)
			continue
		}
		waitForTokenStatus(t, c, tk.raw, http.StatusUnauthorized)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range tokens {
		if in := strings.Contains(string(data), `"`+tk.jti+`"`); in != (tk.kind != "never") {
			t.Errorf("jti %s in the file: %v", tk.jti, in)
		}
	}
	t.Logf("%d requests, %d passed, %d tokens refused during the run", len(results), passed, len(refusedAt))
}
