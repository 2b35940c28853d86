package integration_test

import (
	"bufio"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// metricsScrape is one scrape of the admin /metrics endpoint: each series
// ("name{labels}") and its value.
type metricsScrape map[string]float64

func scrapeMetrics(t *testing.T, c *caddyProcess) metricsScrape {
	t.Helper()
	resp := get(t, c.AdminURL()+"/metrics", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, resp.Body)
	}
	m := metricsScrape{}
	sc := bufio.NewScanner(strings.NewReader(resp.Body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		m[line[:i]] = v
	}
	return m
}

// allResults are the values of the requests counter's result label.
var allResults = []string{"allowed", "anonymous", "missing", "malformed", "expired", "not_yet_valid",
	"bad_signature", "unknown_key", "bad_claims", "forbidden", "revoked", "unavailable"}

func TestMetricsCountEveryRequestByResultOnTheAdminEndpoint(t *testing.T) {
	// With Caddy's own HTTP metrics on, as operators usually run it: the
	// handler's series sit next to Caddy's on the same endpoint.
	s := startOpsSite(t, "metrics")
	reqs := s.mixedRequests(t)

	before := scrapeMetrics(t, s.caddy)
	for _, result := range allResults {
		if _, ok := before[`caddy_jwt_requests_total{result="`+result+`"}`]; !ok {
			t.Errorf("/metrics has no caddy_jwt_requests_total series for result %q before any request", result)
		}
	}
	s.run(t, reqs)
	after := scrapeMetrics(t, s.caddy)

	want := map[string]float64{}
	verified := 0.0
	for _, r := range reqs {
		want[r.result]++
		if r.verified {
			verified++
		}
	}
	for _, result := range allResults {
		if want[result] == 0 {
			t.Errorf("the mixed run has no request with result %s", result)
		}
		series := `caddy_jwt_requests_total{result="` + result + `"}`
		if got := after[series] - before[series]; got != want[result] {
			t.Errorf("%s moved by %v, want %v", series, got, want[result])
		}
	}
	const histogram = "caddy_jwt_verification_duration_seconds_count"
	if got := after[histogram] - before[histogram]; got != verified {
		t.Errorf("%s moved by %v, want %v (one per token verified)", histogram, got, verified)
	}
	if after["caddy_jwt_verification_duration_seconds_sum"] <= before["caddy_jwt_verification_duration_seconds_sum"] {
		t.Error("verification_duration_seconds_sum did not grow")
	}
	caddyOwn := false
	for series := range after {
		caddyOwn = caddyOwn || strings.HasPrefix(series, "caddy_http_request_duration_seconds_count{")
		if strings.HasPrefix(series, "caddy_jwt_requests_total{") && !knownResultSeries(series) {
			t.Errorf("unexpected series %s: label values must come from the fixed set", series)
		}
	}
	if !caddyOwn {
		t.Error("Caddy's own caddy_http_request_duration_seconds is not on the same endpoint")
	}

	// The revocation file answers from memory, one lookup per token that
	// reaches it: one valid, one revoked.
	for outcome, want := range map[string]float64{"valid": 1, "revoked": 1, "cached": 0, "error": 0} {
		series := `caddy_jwt_revocation_lookups_total{outcome="` + outcome + `"}`
		if got := after[series] - before[series]; got != want {
			t.Errorf("%s moved by %v, want %v", series, got, want)
		}
	}

	// The JWKS collectors: background fetches, so at least, not exactly.
	if after[`caddy_jwt_jwks_refreshes_total{outcome="updated"}`] < 1 {
		t.Error(`jwks_refreshes_total{outcome="updated"} did not count the JWKS that loaded`)
	}
	if after[`caddy_jwt_jwks_refreshes_total{outcome="error"}`] < 1 {
		t.Error(`jwks_refreshes_total{outcome="error"} did not count the JWKS that never answers`)
	}
	if age, ok := after[`caddy_jwt_jwks_age_seconds{jwks="`+s.jwksURL+`"}`]; !ok || age < 0 {
		t.Errorf("jwks_age_seconds of the loaded JWKS = %v (present %v), want >= 0", age, ok)
	}
	if age, ok := after[`caddy_jwt_jwks_age_seconds{jwks="`+s.downURL+`"}`]; !ok || age != -1 {
		t.Errorf("jwks_age_seconds of the JWKS that never loaded = %v (present %v), want -1", age, ok)
	}
}

// senderConstraintResults are the results of DPoP and certificate-bound
// tokens, which the dpop tests count.
var senderConstraintResults = []string{"invalid_proof", "replayed_proof", "nonce_required", "sender_mismatch"}

func knownResultSeries(series string) bool {
	for _, r := range append(allResults, senderConstraintResults...) {
		if series == `caddy_jwt_requests_total{result="`+r+`"}` {
			return true
		}
	}
	return false
}

// The counters live on Caddy's registry: they must survive a config reload
// (a fresh registry per load) without being reset or doubled. They are
// served without the `metrics` global option, which only adds Caddy's own
// HTTP metrics.
func TestMetricsSurviveAReload(t *testing.T) {
	s := startOpsSite(t)
	token := signToken(t, s.key, validClaims("aud", "api"), map[string]any{"kid": "k1"})
	const series = `caddy_jwt_requests_total{result="allowed"}`
	before := scrapeMetrics(t, s.caddy)[series]
	get(t, s.caddy.URL("/api"), bearer(token))

	cfg := strings.Replace(readCaddyfile(t, s.caddy), "audience api", "audience api other", 1)
	if err := s.caddy.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	mid := scrapeMetrics(t, s.caddy)[series]
	if mid-before != 1 {
		t.Fatalf("after reload %s moved by %v, want 1", series, mid-before)
	}
	get(t, s.caddy.URL("/api"), bearer(token))
	if after := scrapeMetrics(t, s.caddy)[series]; after-mid != 1 {
		t.Fatalf("a request after the reload moved %s by %v, want 1", series, after-mid)
	}
}

// jwtParser decodes test tokens; it never verifies anything.
var jwtParser = jwt.NewParser()

// readCaddyfile is the Caddyfile an instance was started with, markers
// already expanded.
func readCaddyfile(t *testing.T, c *caddyProcess) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.Dir(), "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
