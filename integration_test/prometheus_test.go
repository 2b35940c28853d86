package integration_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// monitoringDir holds the shipped Prometheus config, alert rules, their
// unit tests and the Grafana dashboard.
func monitoringDir() string { return filepath.Join(repoRoot, "examples", "monitoring") }

// requirePrometheusTool finds prometheus or promtool from Debian's
// prometheus package. It skips the test when the tool is missing, except
// under CI, where the monitoring tests must not silently drop out.
func requirePrometheusTool(t *testing.T, name string) string {
	t.Helper()
	path := "/usr/bin/" + name
	if _, err := os.Stat(path); err != nil {
		found, lookErr := exec.LookPath(name)
		if lookErr != nil {
			msg := fmt.Sprintf("%s not found (%v): install Debian's prometheus package, or run scripts/install-test-deps.sh", name, err)
			if inCI() {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
		path = found
	}
	return path
}

// The shipped rules run in a test after exactly these substitutions, which
// examples/monitoring/alerts.yml documents: its 5-minute windows become 15
// seconds and every `for:` 5 seconds, so that an alert goes pending within
// a few scrapes and fires 5 seconds later. The thresholds and expressions
// are the shipped ones.
var (
	ruleWindow   = regexp.MustCompile(`\[5m\]`)
	ruleFor      = regexp.MustCompile(`(?m)^(\s+)for: \S+$`)
	ruleAlert    = regexp.MustCompile(`(?m)^\s+- alert: (\w+)$`)
	anyRuleRange = regexp.MustCompile(`\[\d+[smhdwy]\]`)
	ruleComment  = regexp.MustCompile(`(?m)^\s*#.*$`)
)

// testWindow is the rate window of the rules as tested, and what the
// dashboard's $__rate_interval becomes.
const testWindow = "15s"

// testSizedRules is alerts.yml with test-sized windows and `for:` only.
func testSizedRules(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(monitoringDir(), "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	rules := string(b)
	alerts := len(ruleAlert.FindAllString(rules, -1))
	if n := len(ruleFor.FindAllString(rules, -1)); alerts == 0 || n != alerts {
		t.Fatalf("alerts.yml has %d alerts and %d `for:` lines: every alert needs one, for the test's substitution", alerts, n)
	}
	exprs := ruleComment.ReplaceAllString(rules, "")
	if windows, all := len(ruleWindow.FindAllString(exprs, -1)), len(anyRuleRange.FindAllString(exprs, -1)); windows != all {
		t.Fatalf("alerts.yml has %d ranges of which %d are [5m]: the test only shortens [5m], so every range must be [5m]", all, windows)
	}
	rules = ruleWindow.ReplaceAllString(rules, "["+testWindow+"]")
	return ruleFor.ReplaceAllString(rules, "${1}for: 5s")
}

// prometheusServer is a real Prometheus scraping one Caddy every second
// with the test-sized shipped rules.
type prometheusServer struct {
	url  string
	cmd  *exec.Cmd
	logs *lockedBuffer
	done chan struct{}
}

// startPrometheus runs Prometheus on a free loopback port with the shipped
// prometheus.yml, changed only to scrape and evaluate every second, to
// scrape c's admin endpoint, and to load the test-sized rules. It waits
// until Caddy has been scraped once, and stops Prometheus (by its PID) when
// the test ends.
func startPrometheus(t *testing.T, c *caddyProcess) *prometheusServer {
	t.Helper()
	bin := requirePrometheusTool(t, "prometheus")
	dir := t.TempDir()
	rulesPath := filepath.Join(dir, "alerts.yml")
	if err := os.WriteFile(rulesPath, []byte(testSizedRules(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	shipped, err := os.ReadFile(filepath.Join(monitoringDir(), "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	admin := strings.TrimPrefix(c.AdminURL(), "http://")
	config := string(shipped)
	for old, repl := range map[string]string{
		"scrape_interval: 15s":     "scrape_interval: 1s",
		"evaluation_interval: 15s": "evaluation_interval: 1s",
		"- alerts.yml":             "- " + rulesPath,
		"- localhost:2019":         "- " + admin,
	} {
		if strings.Count(config, old) != 1 {
			t.Fatalf("prometheus.yml no longer has %q once: update the test's substitutions", old)
		}
		config = strings.Replace(config, old, repl, 1)
	}
	configPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}

	// A port found free may be taken before Prometheus binds it: retry.
	for attempt := 1; ; attempt++ {
		p := &prometheusServer{logs: &lockedBuffer{}, done: make(chan struct{})}
		addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
		p.url = "http://" + addr
		p.cmd = exec.Command(bin, "--config.file="+configPath, "--storage.tsdb.path="+t.TempDir(),
			"--web.listen-address="+addr, "--log.level=warn")
		p.cmd.Dir = dir
		p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
		if err := p.cmd.Start(); err != nil {
			t.Fatalf("starting prometheus: %v", err)
		}
		go func() {
			_ = p.cmd.Wait()
			close(p.done)
		}()
		t.Cleanup(p.stop)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("prometheus log:\n%s", p.logs.String())
			}
		})
		err := p.waitScraped(admin)
		if err == nil {
			return p
		}
		p.stop()
		if !strings.Contains(p.logs.String(), "address already in use") || attempt == 3 {
			t.Fatalf("prometheus: %v\nlog:\n%s", err, p.logs.String())
		}
	}
}

// waitScraped polls until Prometheus answers and has scraped the target
// successfully.
func (p *prometheusServer) waitScraped(target string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("prometheus exited")
		default:
		}
		if v, err := p.tryQuery(`up{job="caddy", instance="` + target + `"}`); err == nil && len(v) == 1 && v[0].Value == 1 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("caddy at %s not scraped successfully within 30s", target)
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
}

// stop ends Prometheus by its PID: SIGTERM, then SIGKILL if it does not
// exit within a few seconds.
func (p *prometheusServer) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// apiGet reads one Prometheus HTTP API answer into data.
func (p *prometheusServer) apiGet(path string, query url.Values, data any) error {
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(p.url + path + "?" + query.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var envelope struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &envelope); err != nil {
		return fmt.Errorf("GET %s: %s: %v", path, resp.Status, err)
	}
	if envelope.Status != "success" {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, envelope.Error)
	}
	return json.Unmarshal(envelope.Data, data)
}

// sample is one element of an instant vector.
type sample struct {
	Labels map[string]string
	Time   float64 // Unix seconds of the evaluation
	Value  float64
}

// tryQuery runs an instant query at the current time.
func (p *prometheusServer) tryQuery(expr string) ([]sample, error) {
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	if err := p.apiGet("/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		return nil, err
	}
	if data.ResultType != "vector" {
		return nil, fmt.Errorf("query %s: result type %s, want vector", expr, data.ResultType)
	}
	var out []sample
	for _, r := range data.Result {
		ts, _ := r.Value[0].(float64)
		text, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return nil, fmt.Errorf("query %s: value %q: %v", expr, text, err)
		}
		out = append(out, sample{Labels: r.Metric, Time: ts, Value: v})
	}
	return out, nil
}

// query is tryQuery failing the test on an error.
func (p *prometheusServer) query(t *testing.T, expr string) []sample {
	t.Helper()
	v, err := p.tryQuery(expr)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// alertingRule is one rule of /api/v1/rules.
type alertingRule struct {
	Name           string    `json:"name"`
	State          string    `json:"state"` // inactive, pending or firing
	Health         string    `json:"health"`
	LastError      string    `json:"lastError"`
	LastEvaluation time.Time `json:"lastEvaluation"`
	Alerts         []struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		State       string            `json:"state"`
		ActiveAt    time.Time         `json:"activeAt"` // when it went pending
	} `json:"alerts"`
}

// rule is the named alerting rule as Prometheus last evaluated it.
func (p *prometheusServer) rule(t *testing.T, name string) alertingRule {
	t.Helper()
	var data struct {
		Groups []struct {
			Rules []alertingRule `json:"rules"`
		} `json:"groups"`
	}
	if err := p.apiGet("/api/v1/rules", url.Values{"type": {"alert"}}, &data); err != nil {
		t.Fatal(err)
	}
	for _, g := range data.Groups {
		for _, r := range g.Rules {
			if r.Name == name {
				if r.Health == "err" {
					t.Fatalf("rule %s fails to evaluate: %s", name, r.LastError)
				}
				return r
			}
		}
	}
	t.Fatalf("prometheus has no alerting rule %s", name)
	return alertingRule{}
}

// awaitRule polls the rule until cond holds, failing the test after
// timeout with what it last saw.
func (p *prometheusServer) awaitRule(t *testing.T, name, what string, timeout time.Duration, cond func(alertingRule) bool) alertingRule {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r := p.rule(t, name)
		if cond(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not %s within %v; last state %q, alerts %+v", name, what, timeout, r.State, r.Alerts)
		}
		time.Sleep(200 * time.Millisecond) // polling interval
	}
}

// awaitQuery polls an instant query until it returns at least one finite
// sample, and returns the result.
func (p *prometheusServer) awaitQuery(t *testing.T, expr string, timeout time.Duration) []sample {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v := p.query(t, expr)
		for _, s := range v {
			if !math.IsNaN(s.Value) && !math.IsInf(s.Value, 0) {
				return v
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("query %s: no finite sample within %v (last result %+v)", expr, timeout, v)
		}
		time.Sleep(200 * time.Millisecond) // polling interval
	}
}

// ruleEvaluatedAfter is the rule as first evaluated after the query that
// returned seen: with at least the data that query saw.
func (p *prometheusServer) ruleEvaluatedAfter(t *testing.T, name string, seen sample) alertingRule {
	t.Helper()
	return p.awaitRule(t, name, "evaluated", alertDeadline, func(r alertingRule) bool {
		return float64(r.LastEvaluation.UnixNano())/1e9 > seen.Time
	})
}

// awaitPendingThenFiring polls the rule until it fires and checks that it
// was pending first, for the rules' test-sized 5s. Pending is normally
// seen by the polling; should the test be descheduled for the whole 5s,
// the firing alert's activeAt still shows the pending time.
func (p *prometheusServer) awaitPendingThenFiring(t *testing.T, name string) alertingRule {
	t.Helper()
	first := p.awaitRule(t, name, "pending", alertDeadline, func(r alertingRule) bool { return r.State != "inactive" })
	if first.State != "pending" {
		t.Logf("%s was already %s when first seen active", name, first.State)
	}
	firing := p.awaitRule(t, name, "firing", alertDeadline, func(r alertingRule) bool { return r.State == "firing" })
	for _, a := range firing.Alerts {
		if pending := firing.LastEvaluation.Sub(a.ActiveAt); pending < 5*time.Second {
			t.Errorf("%s fired %v after going pending, want at least its for: 5s", name, pending)
		}
	}
	return firing
}
