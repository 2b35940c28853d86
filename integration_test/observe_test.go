package integration_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

const observedLogMessage = "request would be rejected (observe mode: passed on without identity)"

// TestObserveModePassesTheWholeResultTableUpstreamWithoutIdentity: with
// `mode observe`, every row of the result table (missing, malformed,
// expired, bad signature, unknown key, revoked, forbidden, csrf) reaches
// the upstream, counted in caddy_jwt_observed_requests_total by the
// result enforcing would have had (requests_total does not move) and
// logged with its reason; no claim header or placeholder from a token
// that failed reaches the upstream, and the client's own X-User-Id never
// does. A reload to `mode enforce` then refuses the same requests.
func TestObserveModePassesTheWholeResultTableUpstreamWithoutIdentity(t *testing.T) {
	t.Parallel()
	requireCaddy(t)
	up := newUpstream(t)
	k := newKey(t, "ES256")
	revocations := writeFile(t, "revoked.json", []byte(fmt.Sprintf(`{"revoked_jti": {"revoked-jti": %d}}`, time.Now().Add(time.Hour).Unix())))
	c := startObserveSite(t, k, revocations, up)
	rows, good := observeRows(t, k)

	before := scrapeMetrics(t, c)
	wantCounts := map[string]float64{}
	for _, row := range rows {
		wantCounts[row.result]++
		t.Run(row.name, func(t *testing.T) {
			checkObservedRow(t, c, up, row)
		})
	}
	checkObservedMetrics(t, before, scrapeMetrics(t, c), wantCounts)
	checkObservedLogs(t, c, len(rows)-1, wantCounts)

	// Switching to enforce is a config reload.
	if err := c.Reload(strings.Replace(readCaddyfile(t, c), "mode observe", "mode enforce", 1)); err != nil {
		t.Fatal(err)
	}
	check(t, c, up, http.MethodGet, "/orders", rows[3].header, expectation{http.StatusUnauthorized, invalidToken(descExpired)})
	for _, row := range rows[1:] {
		want := http.StatusUnauthorized
		if row.result == "forbidden" {
			want = http.StatusForbidden
		}
		n := up.Count()
		if resp := send(t, row.method, c.URL("/orders"), row.header, nil); resp.StatusCode != want || up.Count() != n {
			t.Errorf("%s after the switch to enforce: status %d, reached the upstream %d times; want %d and never", row.name, resp.StatusCode, up.Count()-n, want)
		}
	}
	check(t, c, up, http.MethodGet, "/orders", bearer(good), accepted)
}

// observeRow is one row of the result table, sent in observe mode.
type observeRow struct {
	name   string
	method string
	header http.Header
	result string // the result label enforcing would have had
}

// startObserveSite starts a site in observe mode with every check that has
// a result of its own: a key, a claim requirement, revocation, CSRF for
// cookies, and the claim header and placeholders that must stay empty.
func startObserveSite(t *testing.T, k *testKey, revocations string, up *upstream) *caddyProcess {
	return startCaddy(t, caddyfileFor(fmt.Sprintf(`	jwt {
		public_key %s k1
		from header Authorization
		from cookie session
		require_claim role admin
		claim_header sub X-User-Id
		revocation file %s
		mode observe
	}
	reverse_proxy %s {
		header_up X-Placeholder-User {http.auth.user.id}
		header_up X-Placeholder-Sub {http.auth.jwt.sub}
	}`, k.writePublicKeyPEM(t), revocations, up.Addr())))
}

// observeRows are the requests of the result table, and the valid token.
func observeRows(t *testing.T, k *testKey) ([]observeRow, string) {
	kid := map[string]any{"kid": "k1"}
	tok := func(kv ...any) string {
		return signToken(t, k, validClaims(append([]any{"role", "admin"}, kv...)...), kid)
	}
	good := tok()
	return []observeRow{
		{"allowed", http.MethodGet, bearer(good), "allowed"},
		{"missing", http.MethodGet, http.Header{}, "missing"},
		{"malformed", http.MethodGet, bearer("not-a-token"), "malformed"},
		{"expired", http.MethodGet, bearer(tok("exp", time.Now().Add(-time.Hour).Unix())), "expired"},
		{"bad signature", http.MethodGet, bearer(signToken(t, newKey(t, "ES256"), validClaims("role", "admin"), kid)), "bad_signature"},
		{"unknown key", http.MethodGet, bearer(signToken(t, k, validClaims("role", "admin"), map[string]any{"kid": "k2"})), "unknown_key"},
		{"revoked", http.MethodGet, bearer(tok("jti", "revoked-jti")), "revoked"},
		{"forbidden", http.MethodGet, bearer(tok("role", "user")), "forbidden"},
		{"csrf", http.MethodPost, http.Header{"Cookie": {"session=" + good}, "Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}, "forbidden"},
	}, good
}

// checkObservedRow sends the row's request with a spoofed X-User-Id: it
// passes on once, without a challenge, and no identity reaches the
// upstream unless the token was good.
func checkObservedRow(t *testing.T, c *caddyProcess, up *upstream, row observeRow) {
	h := row.header.Clone()
	h.Set("X-User-Id", "spoofed-admin")
	n := up.Count()
	resp := send(t, row.method, c.URL("/orders"), h, nil)
	if resp.StatusCode != http.StatusOK || up.Count() != n+1 {
		t.Fatalf("status %d, reached the upstream %d times; observe mode passes every request on once", resp.StatusCode, up.Count()-n)
	}
	if got := resp.Header.Get("WWW-Authenticate"); got != "" {
		t.Errorf("challenge %q sent in observe mode", got)
	}
	got := up.Last(t).Header
	wantUser := ""
	if row.result == "allowed" {
		wantUser = "user-42"
	}
	for _, name := range []string{"X-User-Id", "X-Placeholder-User", "X-Placeholder-Sub"} {
		if got.Get(name) != wantUser {
			t.Errorf("upstream got %s %q, want %q", name, got.Get(name), wantUser)
		}
	}
}

// checkObservedMetrics checks that observed_requests_total moved by
// wantCounts and requests_total did not move.
func checkObservedMetrics(t *testing.T, before, after metricsScrape, wantCounts map[string]float64) {
	for _, result := range allResults {
		observed := `caddy_jwt_observed_requests_total{result="` + result + `"}`
		if got := after[observed] - before[observed]; got != wantCounts[result] {
			t.Errorf("%s moved by %v, want %v", observed, got, wantCounts[result])
		}
		enforced := `caddy_jwt_requests_total{result="` + result + `"}`
		if got := after[enforced] - before[enforced]; got != 0 {
			t.Errorf("%s moved by %v in observe mode, want 0", enforced, got)
		}
	}
}

// checkObservedLogs checks that each request that enforcing would have
// refused is logged once with its result, reason and client, and nothing
// else is.
func checkObservedLogs(t *testing.T, c *caddyProcess, refused int, wantCounts map[string]float64) {
	entries := waitForLogEntries(t, c, observedLogMessage, refused)
	logged := map[string]int{}
	for _, e := range entries {
		logged[e.str("result")]++
		if e.str("reason") == "" || e.str("client_ip") == "" {
			t.Errorf("log line without reason or client: %v", e)
		}
	}
	for result, n := range wantCounts {
		if result != "allowed" && logged[result] != int(n) {
			t.Errorf("%d log lines with result %s, want %d", logged[result], result, int(n))
		}
	}
	if logged["allowed"] != 0 || len(jwtLogEntries(c.Logs(), "request rejected")) != 0 {
		t.Error("observe mode logged an allowed request, or a rejection it did not make")
	}
}
