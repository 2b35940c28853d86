package integration_test

// Revocation against real stores: a revocation file written by
// `caddy jwt revoke`, a real redis-server, and a real HTTP auth service on
// loopback. Every check asserts what the client sees and what reached the
// recording upstream.

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const revokedDescription = "the token has been revoked"

// ---------------------------------------------------------------------------
// Helpers

// revocationSite is a test site whose jwt handler checks revocation in the
// given store, in front of the recording upstream.
func revocationSite(key *testKey, t *testing.T, store, location, block string, up *upstream) string {
	return caddyfileFor(fmt.Sprintf(`	jwt {
		%s
		revocation %s %s {
			%s
		}
	}
	reverse_proxy %s`, key.keyDirective(t), store, location, block, up.Addr()))
}

// revokeCLI runs `caddy jwt revoke` with args and fails the test if it
// does not succeed.
func revokeCLI(t *testing.T, args ...string) {
	t.Helper()
	res := runCaddyCommand(t, append([]string{"jwt", "revoke"}, args...))
	if res.ExitCode != 0 {
		t.Fatalf("caddy jwt revoke %s: exit %d\n%s", strings.Join(args, " "), res.ExitCode, res.Output())
	}
}

// waitForTokenStatus polls until the token gets the status.
func waitForTokenStatus(t *testing.T, c *caddyProcess, token string, status int) response {
	t.Helper()
	var resp response
	waitFor(t, fmt.Sprintf("status %d", status), func() bool {
		resp = get(t, c.URL("/"), bearer(token))
		return resp.StatusCode == status
	})
	return resp
}

// assertRevoked checks the revoked answer: 401 with the revoked challenge,
// and the request did not reach the upstream.
func assertRevoked(t *testing.T, c *caddyProcess, up *upstream, token string) {
	t.Helper()
	check(t, c, up, http.MethodGet, "/", bearer(token), expectation{status: http.StatusUnauthorized, challenge: invalidToken(revokedDescription)})
}

// ---------------------------------------------------------------------------
// Tests

// revocationStoreUnderTest is one store with the ways a test revokes in it.
type revocationStoreUnderTest struct {
	store, location, block string
	denyJTI                func(jti string, exp time.Time)
	logout                 func(sub string)
	setVersion             func(sub string, v int64)
}

// TestRevocationChecksOnEachStore runs the three rules (denied jti, lower
// version, issued before logout) on the file, redis and http stores, each
// written the way an operator would: the CLI for the file, both the CLI
// and plain Redis commands for redis, the auth service's own state for
// http.
func TestRevocationChecksOnEachStore(t *testing.T) {
	requireCaddy(t)
	stores := revocationStoresUnderTest()
	for name, setup := range stores {
		t.Run(name, func(t *testing.T) {
			s := setup(t)
			checkRevocationRules(t, s)
		})
	}
}

// revocationStoresUnderTest sets up each store, written the way an
// operator would write it.
func revocationStoresUnderTest() map[string]func(t *testing.T) revocationStoreUnderTest {
	return map[string]func(t *testing.T) revocationStoreUnderTest{
		"file": func(t *testing.T) revocationStoreUnderTest {
			path := filepath.Join(t.TempDir(), "revoked.json")
			return revocationStoreUnderTest{
				store: "file", location: path, block: "reload_interval 50ms",
				denyJTI: func(jti string, exp time.Time) {
					revokeCLI(t, "--store", "file", "--location", path, "--jti", jti, "--exp", exp.UTC().Format(time.RFC3339))
				},
				logout: func(sub string) { revokeCLI(t, "--location", path, "--sub", sub, "--logout") },
				setVersion: func(sub string, v int64) {
					revokeCLI(t, "--store", "file", "--location", path, "--sub", sub, "--version", strconv.FormatInt(v, 10))
				},
			}
		},
		"redis": func(t *testing.T) revocationStoreUnderTest {
			r := startRedis(t)
			return revocationStoreUnderTest{
				store: "redis", location: r.URL(), block: "cache 100ms\n\t\t\tprefix auth:",
				// Plain commands, as an auth service would send them.
				denyJTI: func(jti string, exp time.Time) {
					r.do("SET", "auth:jti:"+jti, "1", "EXAT", exp.Unix())
				},
				logout: func(sub string) {
					revokeCLI(t, "--store", "redis", "--location", r.URL(), "--prefix", "auth:", "--sub", sub, "--logout")
				},
				setVersion: func(sub string, v int64) { r.do("HSET", "auth:sub:"+sub, "version", v) },
			}
		},
		"http": func(t *testing.T) revocationStoreUnderTest {
			a := newAuthService(t)
			return revocationStoreUnderTest{
				store: "http", location: a.location(), block: "cache 100ms",
				denyJTI: func(jti string, _ time.Time) { a.mu.Lock(); a.denied[jti] = true; a.mu.Unlock() },
				logout: func(sub string) {
					a.mu.Lock()
					a.notBefore[sub] = time.Now().Unix()
					a.mu.Unlock()
				},
				setVersion: func(sub string, v int64) { a.mu.Lock(); a.version[sub] = v; a.mu.Unlock() },
			}
		},
	}
}

// checkRevocationRules runs the three rules on a site that checks the
// store s: a denied jti, a version below the subject's, a logout.
func checkRevocationRules(t *testing.T, s revocationStoreUnderTest) {
	key := newKey(t, "HS256")
	up := newUpstream(t)
	c := startCaddy(t, revocationSite(key, t, s.store, s.location, s.block, up))
	exp := time.Now().Add(5 * time.Minute)

	// 1. A denied jti: that token is refused, a sibling is not.
	target := sign(t, key, validClaims("sub", "jti-user", "jti", "jti-1"))
	sibling := sign(t, key, validClaims("sub", "jti-user", "jti", "jti-2"))
	check(t, c, up, http.MethodGet, "/", bearer(target), accepted)
	s.denyJTI("jti-1", exp)
	waitForTokenStatus(t, c, target, http.StatusUnauthorized)
	assertRevoked(t, c, up, target)
	check(t, c, up, http.MethodGet, "/", bearer(sibling), accepted)

	// 2. Version: tokens below the subject's current version, or
	// without one, are refused; the current version passes.
	v1 := sign(t, key, validClaims("sub", "ver-user", "jti", "v-1", "ver", 1))
	noVersion := sign(t, key, validClaims("sub", "ver-user", "jti", "v-none"))
	check(t, c, up, http.MethodGet, "/", bearer(v1), accepted)
	check(t, c, up, http.MethodGet, "/", bearer(noVersion), accepted)
	s.setVersion("ver-user", 2)
	waitForTokenStatus(t, c, v1, http.StatusUnauthorized)
	assertRevoked(t, c, up, v1)
	waitForTokenStatus(t, c, noVersion, http.StatusUnauthorized)
	assertRevoked(t, c, up, noVersion)
	v2 := sign(t, key, validClaims("sub", "ver-user", "jti", "v-2", "ver", 2))
	check(t, c, up, http.MethodGet, "/", bearer(v2), accepted)

	// 3. Logout: tokens issued before it are refused, a token
	// issued after it passes, and so does another subject.
	before := sign(t, key, validClaims("sub", "logout-user", "jti", "l-1", "iat", time.Now().Add(-time.Minute).Unix()))
	other := sign(t, key, validClaims("sub", "someone-else", "jti", "l-2", "iat", time.Now().Add(-time.Minute).Unix()))
	check(t, c, up, http.MethodGet, "/", bearer(before), accepted)
	s.logout("logout-user")
	waitForTokenStatus(t, c, before, http.StatusUnauthorized)
	assertRevoked(t, c, up, before)
	after := sign(t, key, validClaims("sub", "logout-user", "jti", "l-3", "iat", time.Now().Add(time.Second).Unix()))
	check(t, c, up, http.MethodGet, "/", bearer(after), accepted)
	check(t, c, up, http.MethodGet, "/", bearer(other), accepted)

	// Operators see the lookups by outcome.
	metrics := get(t, c.AdminURL()+"/metrics", nil).Body
	for _, outcome := range []string{"valid", "revoked"} {
		if !strings.Contains(metrics, `caddy_jwt_revocation_lookups_total{outcome="`+outcome+`"}`) {
			t.Errorf("metrics have no revocation lookups with outcome %s", outcome)
		}
	}
}

// TestTwoInstancesSharingRedisBothRefuseARevokedToken: a fleet of two
// Caddy instances on one Redis; one revocation reaches both within the
// cache window, and neither lets the token through again.
func TestTwoInstancesSharingRedisBothRefuseARevokedToken(t *testing.T) {
	requireCaddy(t)
	r := startRedis(t)
	key := newKey(t, "ES256")
	up := newUpstream(t)
	const cacheWindow = time.Second
	site := revocationSite(key, t, "redis", r.URL(), "cache 1s", up)
	a := startCaddy(t, site)
	b := startCaddy(t, site)

	tok := sign(t, key, validClaims("sub", "fleet-user", "jti", "fleet-1"))
	// Both instances now hold "not revoked" in their cache.
	check(t, a, up, http.MethodGet, "/", bearer(tok), accepted)
	check(t, b, up, http.MethodGet, "/", bearer(tok), accepted)

	revokeCLI(t, "--store", "redis", "--location", r.URL(), "--jti", "fleet-1",
		"--exp", strconv.FormatInt(time.Now().Add(5*time.Minute).Unix(), 10))
	revoked := time.Now()
	var took [2]time.Duration
	for i, c := range []*caddyProcess{a, b} {
		waitForTokenStatus(t, c, tok, http.StatusUnauthorized)
		took[i] = time.Since(revoked)
	}
	// Reported, not asserted: the machine is shared and noisy.
	t.Logf("refused by instance A after %v and B after %v (cache window %v)", took[0], took[1], cacheWindow)

	// From then on, neither instance lets the token through.
	reached := up.Count()
	for range 20 {
		for _, c := range []*caddyProcess{a, b} {
			if resp := get(t, c.URL("/"), bearer(tok)); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("a revoked token got %d after being refused", resp.StatusCode)
			}
		}
	}
	if up.Count() != reached {
		t.Errorf("the revoked token reached the upstream %d times", up.Count()-reached)
	}
	// Redis holds the jti key until the token's exp, as the README lays out the key layout.
	if ttl := r.do("TTL", "jwt:jti:fleet-1").(int64); ttl <= 0 || ttl > 300 {
		t.Errorf("TTL of jwt:jti:fleet-1 = %d, want the seconds until the token's exp", ttl)
	}
}

// TestRedisDownThenBack: with Redis stopped the handler answers 503 with
// Retry-After (on_error deny, the default) and lets nothing through; with
// on_error allow it lets tokens pass and logs why. Once Redis is back, both
// recover without a restart or reload.
func TestRedisDownThenBack(t *testing.T) {
	requireCaddy(t)
	r := startRedis(t)
	key := newKey(t, "HS256")
	up := newUpstream(t)
	deny := startCaddy(t, revocationSite(key, t, "redis", r.URL(), "cache 100ms", up))
	allowUp := newUpstream(t)
	allow := startCaddy(t, revocationSite(key, t, "redis", r.URL(), "cache 100ms\n\t\t\ton_error allow", allowUp))

	tok := sign(t, key, validClaims("sub", "down-user", "jti", "down-1"))
	check(t, deny, up, http.MethodGet, "/", bearer(tok), accepted)
	check(t, allow, allowUp, http.MethodGet, "/", bearer(tok), accepted)

	r.stop()
	stopped := time.Now()
	resp := waitForTokenStatus(t, deny, tok, http.StatusServiceUnavailable)
	t.Logf("503 %v after Redis stopped", time.Since(stopped))
	if resp.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	// A longer outage under traffic: every request refused, none reaches
	// the upstream (and the client stops dialling on every request).
	for range 50 {
		check(t, deny, up, http.MethodGet, "/", bearer(tok), expectation{status: http.StatusServiceUnavailable})
	}
	waitFor(t, "the on_error allow warning in the log", func() bool {
		check(t, allow, allowUp, http.MethodGet, "/", bearer(tok), accepted)
		return strings.Contains(allow.Logs(), "revocation store unavailable; request let through")
	})
	if strings.Contains(allow.Logs(), tok) || strings.Contains(deny.Logs(), tok) {
		t.Error("a log contains the token")
	}

	r.start() // same port, empty: nothing is revoked
	restarted := time.Now()
	waitForTokenStatus(t, deny, tok, http.StatusOK)
	t.Logf("200 again %v after Redis was back", time.Since(restarted))
	// It really asks the new server: a revocation written there now bites.
	r.do("SET", "jwt:jti:down-1", "1", "EXAT", time.Now().Add(time.Hour).Unix())
	waitForTokenStatus(t, deny, tok, http.StatusUnauthorized)
	assertRevoked(t, deny, up, tok)
	waitForTokenStatus(t, allow, tok, http.StatusUnauthorized)
	assertRevoked(t, allow, allowUp, tok)
}

// TestRevokeCommandRefusesIncompleteFlags: the CLI explains what is
// missing instead of writing half a revocation.
func TestRevokeCommandRefusesIncompleteFlags(t *testing.T) {
	requireCaddy(t)
	path := filepath.Join(t.TempDir(), "revoked.json")
	for _, args := range [][]string{
		{"--location", path},
		{"--location", path, "--jti", "x"},
		{"--location", path, "--sub", "alice"},
		{"--location", path, "--logout"},
		{"--jti", "x", "--exp", "4102444800"},
		{"--location", path, "--jti", "x", "--exp", "tomorrow"},
		{"--store", "ldap", "--location", path, "--sub", "a", "--logout"},
	} {
		res := runCaddyCommand(t, append([]string{"jwt", "revoke"}, args...))
		if res.ExitCode == 0 {
			t.Errorf("caddy jwt revoke %s succeeded", strings.Join(args, " "))
		}
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("a refused command wrote the file")
	}
	// Redis down: the command fails and says so, without hanging.
	port := freePort(t)
	res := runCaddyCommand(t, []string{"jwt", "revoke", "--store", "redis", "--location", "redis://127.0.0.1:" + strconv.Itoa(port), "--sub", "a", "--logout"})
	if res.ExitCode == 0 || !strings.Contains(res.Output(), "refused") {
		t.Errorf("revoke with redis down: exit %d\n%s", res.ExitCode, res.Output())
	}
}

// TestRedisFleetExample runs examples/redis-fleet as its README says, on
// test ports and a test Redis: the README's demo token passes both sites;
// revoked once with the CLI, both refuse it.
func TestRedisFleetExample(t *testing.T) {
	requireCaddy(t)
	r := startRedis(t)
	readme, err := os.ReadFile(filepath.Join(repoRoot, "examples", "redis-fleet", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "TOKEN=")
	if !ok {
		t.Fatal("examples/redis-fleet/README.md has no TOKEN=… demo token")
	}
	tok := strings.Fields(rest)[0]

	// Site A takes the test site's port, site B another free one.
	caddyfile := exampleOnTestPorts(t, "redis-fleet", "http://localhost:8091")
	portB := freePort(t)
	if !strings.Contains(caddyfile, "http://localhost:8092 {") {
		t.Fatal("examples/redis-fleet/Caddyfile does not serve http://localhost:8092 any more; update this test")
	}
	caddyfile = strings.Replace(caddyfile, "http://localhost:8092 {", "http://127.0.0.1:"+strconv.Itoa(portB)+" {", 1)
	c := startCaddy(t, caddyfile, withEnv("REDIS_URL="+r.URL()))
	urlB := "http://127.0.0.1:" + strconv.Itoa(portB) + "/"

	if resp := get(t, c.URL("/"), bearer(tok)); resp.StatusCode != http.StatusOK || resp.Body != "instance A: hello demo-user" {
		t.Fatalf("site A with the demo token: %d %q", resp.StatusCode, resp.Body)
	}
	if resp := get(t, urlB, bearer(tok)); resp.StatusCode != http.StatusOK || resp.Body != "instance B: hello demo-user" {
		t.Fatalf("site B with the demo token: %d %q", resp.StatusCode, resp.Body)
	}
	revokeCLI(t, "--store", "redis", "--location", r.URL(), "--jti", "demo-1", "--exp", "4102444800")
	for _, url := range []string{c.URL("/"), urlB} {
		waitFor(t, "the revoked demo token refused at "+url, func() bool {
			return get(t, url, bearer(tok)).StatusCode == http.StatusUnauthorized
		})
		if got := get(t, url, bearer(tok)).Header.Get("WWW-Authenticate"); got != invalidToken(revokedDescription) {
			t.Errorf("%s: WWW-Authenticate = %q", url, got)
		}
	}
}
