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

// The load of TestFileStoreRewrittenDuringLoad: at least fileLoadRequests
// requests from fileLoadWorkers clients, over tokens of four kinds.
const (
	fileLoadRequests    = 1000
	fileLoadWorkers     = 8
	fileLoadPreRevoked  = 10
	fileLoadPerWriter   = 8
	fileLoadNeverRevoke = 10
)

// fileLoadToken is one token of the load, with the kind that says when it
// is revoked.
type fileLoadToken struct {
	jti, raw string
	kind     string // "pre", "writerN", "never"
}

// fileLoadResult is one request of the load, when it was sent and answered.
type fileLoadResult struct {
	tok           fileLoadToken
	sent, arrived time.Time
	status        int
}

// TestFileStoreRewrittenDuringLoad sends 1,000 requests while two
// concurrent `caddy jwt revoke` runs rewrite the file store (each an atomic
// rename, serialised by the file lock). Tokens revoked before the start are
// never let through; once a token has been refused it is never let through
// again (no reload loses a revocation); tokens never revoked always pass;
// and in the end the file holds every revocation of both writers.
func TestFileStoreRewrittenDuringLoad(t *testing.T) {
	requireCaddy(t)
	path := filepath.Join(t.TempDir(), "revoked.json")
	key := newKey(t, "HS256")
	exp := time.Now().Add(10 * time.Minute)
	expArg := strconv.FormatInt(exp.Unix(), 10)

	tokens := fileLoadTokens(t, key, exp)
	for _, tk := range tokens[:fileLoadPreRevoked] {
		revokeCLI(t, "--location", path, "--jti", tk.jti, "--exp", expArg)
	}

	up := newUpstream(t)
	c := startCaddy(t, revocationSite(key, t, "file", path, "reload_interval 20ms", up))

	results := sendFileLoad(t, c, tokens, func() <-chan struct{} {
		return startRevokeWriters(t, path, expArg, tokens)
	})

	passed, refused := checkFileLoadResults(t, up, tokens, results)
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
	t.Logf("%d requests, %d passed, %d tokens refused during the run", len(results), passed, refused)
}

// fileLoadTokens signs the tokens of the load: revoked before the start,
// revoked by each of the two writers, and never revoked.
func fileLoadTokens(t *testing.T, key *testKey, exp time.Time) []fileLoadToken {
	var tokens []fileLoadToken
	add := func(kind string, n int) {
		for i := range n {
			jti := fmt.Sprintf("%s-%d", kind, i)
			tokens = append(tokens, fileLoadToken{jti: jti, kind: kind,
				raw: sign(t, key, validClaims("sub", "load-"+jti, "jti", jti, "exp", exp.Unix()))})
		}
	}
	add("pre", fileLoadPreRevoked)
	add("writer0", fileLoadPerWriter)
	add("writer1", fileLoadPerWriter)
	add("never", fileLoadNeverRevoke)
	return tokens
}

// sendFileLoad starts the clients, then the writers, and sends the load
// until both writers are done, and returns every request's result.
func sendFileLoad(t *testing.T, c *caddyProcess, tokens []fileLoadToken, startWriters func() <-chan struct{}) []fileLoadResult {
	var (
		mu      sync.Mutex
		results []fileLoadResult
		wg      sync.WaitGroup
		next    = make(chan int)
	)
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: fileLoadWorkers}}
	defer client.CloseIdleConnections()
	for range fileLoadWorkers {
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
				results = append(results, fileLoadResult{tok: tk, sent: sent, arrived: time.Now(), status: status})
				mu.Unlock()
			}
		}()
	}
	writersDone := startWriters()
	// At least fileLoadRequests requests, and the load lasts until both
	// writers are done, so that every rewrite happens under load (bounded).
	sent := 0
	for writing := true; sent < fileLoadRequests || (writing && sent < 50*fileLoadRequests); sent++ {
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
	return results
}

// startRevokeWriters starts the two writers, which run beside the load,
// each revoking its own tokens one by one with the real CLI. The channel is
// closed when both are done.
func startRevokeWriters(t *testing.T, path, expArg string, tokens []fileLoadToken) <-chan struct{} {
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
	return writersDone
}

// checkFileLoadResults checks what the load saw and what reached the
// upstream, and returns how many requests passed and how many tokens were
// refused during the run.
func checkFileLoadResults(t *testing.T, up *upstream, tokens []fileLoadToken, results []fileLoadResult) (passed, refused int) {
	// What the upstream received: every request it saw carried a token,
	// and none of them a token revoked before the start.
	preRevokedRaw := map[string]bool{}
	for _, tk := range tokens[:fileLoadPreRevoked] {
		preRevokedRaw[tk.raw] = true
	}
	for _, req := range up.Requests() {
		if preRevokedRaw[strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")] {
			t.Fatal("a token revoked before the start reached the upstream")
		}
	}
	refusedAt := map[string]time.Time{}
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
	return passed, len(refusedAt)
}
