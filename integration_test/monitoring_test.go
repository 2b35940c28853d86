package integration_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The monitoring example (examples/monitoring) checked with the tools it is
// made for: promtool on the rules and their unit tests, and a real
// Prometheus scraping a real Caddy for the alerts and the dashboard.

func runPromtool(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(requirePrometheusTool(t, "promtool"), args...)
	cmd.Dir = monitoringDir()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestMonitoringRulesPassPromtoolChecksAndUnitTests(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"check", "config", "prometheus.yml"},
		{"check", "rules", "alerts.yml"},
		{"test", "rules", "alerts_test.yml"},
	} {
		if out, err := runPromtool(t, args...); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	// Every alert has a unit test in which it fires (and promtool checks
	// that it fires for no other instance of that test).
	rules, err := os.ReadFile(filepath.Join(monitoringDir(), "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(filepath.Join(monitoringDir(), "alerts_test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	names := ruleAlert.FindAllStringSubmatch(string(rules), -1)
	if len(names) < 6 {
		t.Fatalf("alerts.yml has %d alerts, want at least 6", len(names))
	}
	for _, m := range names {
		fires := regexp.MustCompile(`alertname: ` + m[1] + `\n\s+exp_alerts:\n\s+- exp_labels:`)
		if !fires.Match(tests) {
			t.Errorf("alerts_test.yml has no case where %s fires", m[1])
		}
	}

	// Both READMEs explain every alert in their tables.
	for _, readme := range []string{filepath.Join(repoRoot, "README.md"), filepath.Join(monitoringDir(), "README.md")} {
		text, err := os.ReadFile(readme)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range names {
			if !strings.Contains(string(text), "| `"+m[1]+"`") {
				t.Errorf("%s has no table row for %s", readme, m[1])
			}
		}
	}
}

// Each threshold and `for:` of the rules is what keeps a single bad client
// (or a short burst) quiet: loosening any of them must fail the unit tests,
// or those tests would not be testing it.
func TestMonitoringUnitTestsFailWhenAThresholdIsLoosened(t *testing.T) {
	t.Parallel()
	promtool := requirePrometheusTool(t, "promtool")
	shipped, err := os.ReadFile(filepath.Join(monitoringDir(), "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(filepath.Join(monitoringDir(), "alerts_test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct{ name, old, new string }{
		{"bad signatures without the rate floor", `unknown_key"}[5m])) > 1`, `unknown_key"}[5m])) > 0`},
		{"bad signatures without the share", `[5m])) > 0.05`, `[5m])) > 0`},
		{"bad signatures without for", "for: 10m", "for: 1m"},
		{"expired without the rate floor", `not_yet_valid"}[5m])) > 1`, `not_yet_valid"}[5m])) > 0`},
		{"expired without the share", `[5m])) > 0.1
        for: 15m`, `[5m])) > 0
        for: 15m`},
		{"unavailable on any 503", `{result="unavailable"}[5m])) > 0.1`, `{result="unavailable"}[5m])) > 0`},
		{"a key set stale after one refresh", "> 3 * 3600", "> 3600"},
		{"revocation errors without the rate floor", `{outcome="error"}[5m])) > 0.1`, `{outcome="error"}[5m])) > 0`},
		{"revocation errors without the share", `[5m])) > 0.01`, `[5m])) > 0`},
		{"cache ratio at 70%", "< 0.5", "< 0.7"},
		{"cache ratio without the miss floor", `{result="miss"}[5m])) > 10`, `{result="miss"}[5m])) > 0`},
	} {
		t.Run(m.name, func(t *testing.T) {
			if strings.Count(string(shipped), m.old) != 1 {
				t.Fatalf("alerts.yml does not have %q exactly once", m.old)
			}
			dir := t.TempDir()
			loosened := strings.Replace(string(shipped), m.old, m.new, 1)
			for name, data := range map[string][]byte{"alerts.yml": []byte(loosened), "alerts_test.yml": tests} {
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(promtool, "test", "rules", "alerts_test.yml")
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err == nil {
				t.Errorf("with %q instead of %q the unit tests still pass:\n%s", m.new, m.old, out)
			}
		})
	}
}

// monitoredSite is a Caddy whose jwt handler is configured four ways: a
// public key (/api), a JWKS served by a live key server (/jwks), a
// revocation file (/revocable), and a JWKS whose server is down (/down),
// so that every metric of the dashboard has series.
type monitoredSite struct {
	caddy    *caddyProcess
	valid    string // ES256, kid k1: accepted on /api, /jwks and /revocable
	forged   string // claims kid k1, signed by another key
	downJWKS string
}

func startMonitoredSite(t *testing.T) *monitoredSite {
	t.Helper()
	key := newKey(t, "ES256")
	s := &monitoredSite{
		valid:  signToken(t, key, validClaims("exp", time.Now().Add(time.Hour).Unix()), map[string]any{"kid": "k1"}),
		forged: signToken(t, newKey(t, "ES256"), validClaims("exp", time.Now().Add(time.Hour).Unix()), map[string]any{"kid": "k1"}),
	}
	pub := key.writePublicKeyPEM(t)
	jwksURL := serveCLIJWKS(t, pub, "k1")
	// A key server that is down: nothing listens on its port (which no
	// other test is given either).
	s.downJWKS = fmt.Sprintf("http://127.0.0.1:%d/jwks.json", freePort(t))
	revocations := writeFile(t, "revoked.json", []byte(`{"revoked_jti": {}}`))

	up := newUpstream(t).Addr()
	s.caddy = startCaddy(t, caddyfileFor(fmt.Sprintf(`
	handle /api/* {
		jwt {
			public_key %[1]s k1
		}
		reverse_proxy %[2]s
	}
	handle /jwks/* {
		jwt {
			jwks %[3]s
		}
		reverse_proxy %[2]s
	}
	handle /revocable/* {
		jwt {
			public_key %[1]s k1
			revocation file %[4]s
		}
		reverse_proxy %[2]s
	}
	handle /down/* {
		jwt {
			jwks %[5]s {
				timeout 1s
			}
		}
		reverse_proxy %[2]s
	}`, pub, up, jwksURL, revocations, s.downJWKS)))

	waitFor(t, "the JWKS to load", func() bool { return len(jwtLogEntries(s.caddy.Logs(), "jwks loaded")) > 0 })
	return s
}

// traffic is a client sending requests at a steady rate from a goroutine
// until stopped.
type traffic struct {
	cancel context.CancelFunc
	done   chan struct{}
	sent   atomic.Int64
}

// startTraffic sends a GET request with the token every interval, to each
// path in turn, and reports any status other than want as a test error. It
// is stopped when the test ends, if not before.
func startTraffic(t *testing.T, s *monitoredSite, every time.Duration, token string, want int, paths ...string) *traffic {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tr := &traffic{cancel: cancel, done: make(chan struct{})}
	client := &http.Client{Timeout: 30 * time.Second}
	var once sync.Once
	go func() {
		defer close(tr.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.caddy.URL(fmt.Sprintf("%s/%d", paths[i%len(paths)], i)), nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := client.Do(req)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				once.Do(func() { t.Errorf("traffic to %s: %v", req.URL.Path, err) })
				continue
			}
			resp.Body.Close()
			tr.sent.Add(1)
			if resp.StatusCode != want {
				once.Do(func() {
					t.Errorf("traffic to %s: status %d (%s), want %d", req.URL.Path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), want)
				})
			}
		}
	}()
	t.Cleanup(tr.stop)
	return tr
}

func (tr *traffic) stop() {
	tr.cancel()
	<-tr.done
}

// alertDeadline bounds each wait for an alert's state: far more than the
// 15s window and 5s `for:` of the test-sized rules need.
const alertDeadline = 45 * time.Second

func inState(state string) func(alertingRule) bool {
	return func(r alertingRule) bool { return r.State == state }
}

func TestMonitoringBadSignatureAlertFiresOnAForgedTokenBurstAndResolves(t *testing.T) {
	t.Parallel()
	requirePrometheusTool(t, "prometheus")
	s := startMonitoredSite(t)
	prom := startPrometheus(t, s.caddy)
	const alert = "JWTBadSignatureSpike"

	// Normal traffic, and one bad client retrying a forged token every
	// 2s: about 9% of the tokens, over the 5% share, but under 1/s.
	startTraffic(t, s, 200*time.Millisecond, s.valid, http.StatusOK, "/api", "/jwks", "/revocable")
	startTraffic(t, s, 2*time.Second, s.forged, http.StatusUnauthorized, "/api")
	// Once the bad client has been sending for a whole window (the counter
	// had moved 15s ago) and its share is over 5%, the rule, evaluated
	// after that, must be inactive.
	seen := prom.awaitQuery(t, `(sum(rate(caddy_jwt_requests_total{result="bad_signature"}[15s]))
		/ sum(rate(caddy_jwt_requests_total{result!~"missing|anonymous"}[15s])) > 0.05)
		and on() (caddy_jwt_requests_total{result="bad_signature"} offset 15s > 0)`, alertDeadline)
	if quiet := prom.ruleEvaluatedAfter(t, alert, seen[0]); quiet.State != "inactive" {
		t.Fatalf("%s is %s for one client sending a forged token every 2s: the rate floor should keep it quiet", alert, quiet.State)
	}

	burst := startTraffic(t, s, 50*time.Millisecond, s.forged, http.StatusUnauthorized, "/api")
	firing := prom.awaitPendingThenFiring(t, alert)
	admin := strings.TrimPrefix(s.caddy.AdminURL(), "http://")
	if len(firing.Alerts) != 1 || firing.Alerts[0].Labels["instance"] != admin || firing.Alerts[0].Labels["severity"] != "warning" ||
		!strings.Contains(firing.Alerts[0].Annotations["summary"], "tokens/s with a bad signature") {
		t.Errorf("firing %s: alerts %+v, want one for instance %s with its summary", alert, firing.Alerts, admin)
	}
	burst.stop()
	prom.awaitRule(t, alert, "resolved after the burst", alertDeadline, inState("inactive"))

	t.Run("every dashboard query returns data", func(t *testing.T) {
		checkDashboardQueries(t, prom)
	})
}

func TestMonitoringUnavailableAlertFiresWhileAKeyServerIsDown(t *testing.T) {
	t.Parallel()
	requirePrometheusTool(t, "prometheus")
	s := startMonitoredSite(t)
	prom := startPrometheus(t, s.caddy)
	const alert = "JWTKeysOrRevocationUnavailable"
	admin := strings.TrimPrefix(s.caddy.AdminURL(), "http://")

	startTraffic(t, s, 200*time.Millisecond, s.valid, http.StatusOK, "/api", "/jwks", "/revocable")
	seen := prom.awaitQuery(t, `sum(rate(caddy_jwt_requests_total{result="allowed"}[15s])) > 0`, alertDeadline)
	if r := prom.ruleEvaluatedAfter(t, alert, seen[0]); r.State != "inactive" {
		t.Fatalf("%s is %s on normal traffic", alert, r.State)
	}

	// The set that never loaded: requests that need it get 503.
	stranded := startTraffic(t, s, 200*time.Millisecond, s.valid, http.StatusServiceUnavailable, "/down")
	firing := prom.awaitPendingThenFiring(t, alert)
	if len(firing.Alerts) != 1 || firing.Alerts[0].Labels["instance"] != admin || firing.Alerts[0].Labels["severity"] != "critical" {
		t.Errorf("firing %s: alerts %+v, want one for instance %s", alert, firing.Alerts, admin)
	}
	notLoaded := prom.awaitRule(t, "JWTJWKSNotLoaded", "firing", alertDeadline, inState("firing"))
	if len(notLoaded.Alerts) != 1 || notLoaded.Alerts[0].Labels["jwks"] != s.downJWKS {
		t.Errorf("JWTJWKSNotLoaded: alerts %+v, want one for jwks %s only", notLoaded.Alerts, s.downJWKS)
	}
	stranded.stop()
	prom.awaitRule(t, alert, "resolved once the 503s stopped", alertDeadline, inState("inactive"))
}
