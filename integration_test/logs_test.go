package integration_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// logEntry is one JSON line of Caddy's log.
type logEntry map[string]any

func (e logEntry) str(key string) string { s, _ := e[key].(string); return s }

// caddyLogEntries parses the JSON lines of a Caddy process's output.
func caddyLogEntries(logs string) []logEntry {
	var entries []logEntry
	for _, line := range strings.Split(logs, "\n") {
		var e logEntry
		if json.Unmarshal([]byte(line), &e) == nil {
			entries = append(entries, e)
		}
	}
	return entries
}

// jwtLogEntries are the lines the jwt handler logged with this message.
func jwtLogEntries(logs, msg string) []logEntry {
	var out []logEntry
	for _, e := range caddyLogEntries(logs) {
		if e.str("logger") == "http.handlers.jwt" && e.str("msg") == msg {
			out = append(out, e)
		}
	}
	return out
}

// waitForLogEntries polls until the handler has logged at least n lines
// with msg: the log reaches us through a pipe, a moment after the response.
func waitForLogEntries(t *testing.T, c *caddyProcess, msg string, n int) []logEntry {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		entries := jwtLogEntries(c.Logs(), msg)
		if len(entries) >= n || time.Now().After(deadline) {
			return entries
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestEveryRejectionIsLoggedAtInfoWithReasonClientAndTokenIDs(t *testing.T) {
	s := startOpsSite(t, "debug")
	reqs := s.mixedRequests(t)
	s.run(t, reqs)

	byPath := map[string]opsRequest{}
	rejections := 0
	for _, r := range reqs {
		byPath[r.path] = r
		if r.logged != nil {
			rejections++
		}
	}
	entries := waitForLogEntries(t, s.caddy, "request rejected", rejections)
	if len(entries) != rejections {
		t.Fatalf("%d rejection lines, want one per rejected request (%d)", len(entries), rejections)
	}
	for _, e := range entries {
		r, ok := byPath[e.str("uri")]
		if !ok || r.logged == nil {
			t.Errorf("rejection line for %q, which was not rejected: %v", e.str("uri"), e)
			continue
		}
		if e.str("level") != "info" {
			t.Errorf("%s: level %q, want info", r.path, e.str("level"))
		}
		for field, want := range r.logged {
			if got := e.str(field); got != want {
				t.Errorf("%s (%s): %s = %q, want %q", r.path, r.result, field, got, want)
			}
		}
		for _, field := range []string{"kid", "iss", "sub", "jti"} {
			if _, want := r.logged[field]; !want && e[field] != nil {
				t.Errorf("%s (%s): unexpected %s %v", r.path, r.result, field, e[field])
			}
		}
	}
	if testing.Verbose() && len(entries) > 0 {
		line, _ := json.Marshal(entries[len(entries)-1])
		t.Logf("example rejection line: %s", line)
	}
}

func TestLogsNeverContainTokensOrSecrets(t *testing.T) {
	// debug on: whatever Caddy and the handler log at any level must be
	// free of credentials, including the access log of every request.
	s := startOpsSite(t, "debug")
	reqs := s.mixedRequests(t)
	s.run(t, reqs)
	rejections := 0
	for _, r := range reqs {
		if r.logged != nil {
			rejections++
		}
	}
	waitForLogEntries(t, s.caddy, "request rejected", rejections)
	// The access log line of a request is written after its response,
	// so the last one may come a moment after the client has its answer.
	accessLines := func() int {
		n := 0
		for _, e := range caddyLogEntries(s.caddy.Logs()) {
			if strings.HasPrefix(e.str("logger"), "http.log.access") {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(30 * time.Second)
	for accessLines() < len(reqs) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := accessLines(); n < len(reqs) {
		t.Fatalf("%d access log lines for %d requests: the scan would miss what the access log shows", n, len(reqs))
	}
	logs := s.caddy.Logs()

	secret := s.hmac.Secret()
	forbidden := map[string]string{
		"the HMAC secret":            secret,
		"the HMAC secret in base64":  base64.StdEncoding.EncodeToString([]byte(secret)),
		"the HMAC secret, base64url": base64.RawURLEncoding.EncodeToString([]byte(secret)),
	}
	for i, r := range reqs {
		if strings.Count(r.token, ".") != 2 || r.token == "not.a.token" {
			continue
		}
		parts := strings.Split(r.token, ".")
		forbidden[r.path+": token"] = r.token
		forbidden[r.path+": header.payload"] = parts[0] + "." + parts[1]
		forbidden[r.path+": payload"] = parts[1]
		forbidden[r.path+": signature"] = parts[2]
		// Any 12 characters of a signature would be a fragment of it.
		for j := 0; j+12 <= len(parts[2]); j += 6 {
			forbidden[r.path+": signature fragment "+string(rune('a'+i%26))+parts[2][j:j+12]] = parts[2][j : j+12]
		}
	}
	for what, s := range forbidden {
		if strings.Contains(logs, s) {
			t.Errorf("the log contains %s", what)
		}
	}
	if shapes := tokenShapes(logs); len(shapes) > 0 {
		t.Errorf("the log contains %d token-shaped strings, e.g. %.24s…", len(shapes), shapes[0])
	}
	// And the secret's fragments, in case something logged part of it.
	for j := 0; j+12 <= len(secret); j += 4 {
		if strings.Contains(logs, secret[j:j+12]) {
			t.Fatalf("the log contains 12 characters of the HMAC secret")
		}
	}
}

// tokenShape matches what any JWS looks like whoever made it: a base64url
// JSON object ("eyJ" is `{"`) followed by a dot and another segment.
var tokenShape = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`)

// tokenShapes returns every token-shaped string in logs, so that a log can
// be checked for tokens it was never told about.
func tokenShapes(logs string) []string { return tokenShape.FindAllString(logs, -1) }

func TestProvisioningLogsEachKeySourceAndTheAlgorithmsOnce(t *testing.T) {
	s := startOpsSite(t)
	// Written while Caddy provisions, but read through a pipe: wait until
	// all seven are in.
	waitForLogEntries(t, s.caddy, "jwt verifier ready", 7)
	logs := s.caddy.Logs()

	ready := jwtLogEntries(logs, "jwt verifier ready")
	if len(ready) != 7 {
		t.Fatalf("%d 'jwt verifier ready' lines, want one per jwt handler (7)", len(ready))
	}
	algorithms := map[string]int{}
	for _, e := range ready {
		algs, _ := json.Marshal(e["algorithms"])
		algorithms[string(algs)]++
	}
	// With a JWKS URL and no `algorithms`, the keys (and so the algorithms)
	// are only known once fetched: every algorithm stays allowed, and each
	// fetched key is still used only with its own.
	all := `["HS256","HS384","HS512","RS256","RS384","RS512","PS256","PS384","PS512","ES256","ES384","ES512","EdDSA","Ed25519"]`
	if algorithms[`["ES256"]`] != 4 || algorithms[`["HS256"]`] != 1 || algorithms[all] != 2 {
		t.Errorf("effective algorithms logged = %v, want [ES256] four times, [HS256] once, and all twice", algorithms)
	}

	// Fetched key sets are logged when their first fetch ends, loaded or not.
	if loaded := jwtLogEntries(logs, "jwks loaded"); len(loaded) != 1 || loaded[0].str("jwks") != s.jwksURL || fmt.Sprint(loaded[0]["kids"]) != "[k1]" {
		t.Errorf("'jwks loaded' lines: %v, want one for %s with kids [k1]", loaded, s.jwksURL)
	}
	notLoaded := waitForLogEntries(t, s.caddy, "jwks not loaded: requests that need its keys get 503", 1)
	if len(notLoaded) == 0 || notLoaded[0].str("jwks") != s.downURL || notLoaded[0].str("level") != "error" {
		t.Errorf("'jwks not loaded' lines: %v, want an error for %s", notLoaded, s.downURL)
	}

	sources := map[string]int{}
	for _, e := range jwtLogEntries(logs, "loaded verification key") {
		key, _ := e["key"].(map[string]any)
		source, _ := key["source"].(string)
		kid, _ := key["kid"].(string)
		if strings.HasPrefix(source, "public_key ") {
			source = "public_key"
		}
		sources[source+" kid="+kid]++
	}
	if sources["public_key kid=k1"] != 4 || sources["secret {env.OPS_HMAC_SECRET} kid="] != 1 || len(sources) != 2 {
		t.Errorf("key sources logged = %v, want the public key (k1) four times and the secret, by its placeholder, once", sources)
	}
	if warnings := jwtLogEntries(logs, secretInConfigWarning); len(warnings) != 0 {
		t.Errorf("a secret from {env.*} was warned about: %v", warnings)
	}
}

const secretInConfigWarning = "secret is written in the config, where Caddy's debug log and admin API show it; use {env.*} or {file.*} instead"

// A secret written in the Caddyfile works, but the operator is told that
// Caddy itself will show it, and the warning does not.
func TestALiteralSecretIsWarnedAboutWithoutShowingIt(t *testing.T) {
	k := newKey(t, "HS256")
	c := startCaddy(t, caddyfileFor("\tjwt {\n\t\t"+k.keyDirective(t)+"\n\t}\n\trespond ok"))
	warnings := waitForLogEntries(t, c, secretInConfigWarning, 1)
	if len(warnings) != 1 || warnings[0].str("level") != "warn" {
		t.Fatalf("%d warnings about the literal secret, want one at warn:\n%s", len(warnings), c.Logs())
	}
	for _, e := range jwtLogEntries(c.Logs(), "loaded verification key") {
		line, _ := json.Marshal(e)
		if strings.Contains(string(line), k.Secret()) {
			t.Fatal("the provisioning log shows the secret")
		}
	}
}

// The scanner must see a token however it is embedded in a log line.
func TestTokenShapesFindTokensInLogLines(t *testing.T) {
	token := sign(t, newKey(t, "ES256"), validClaims())
	parts := strings.Split(token, ".")
	for name, line := range map[string]string{
		"whole token":    `{"msg":"x","authorization":"Bearer ` + token + `"}`,
		"header.payload": `{"msg":"x","input":"` + parts[0] + "." + parts[1] + `"}`,
		"in a URI":       `{"uri":"/cb?access_token=` + token + `&x=1"}`,
	} {
		if len(tokenShapes(line)) != 1 {
			t.Errorf("%s: not found in %s", name, line)
		}
	}
	if shapes := tokenShapes(`{"msg":"request rejected","jti":"f4VsFPc3YIp6nQ_K","kid":"k1"}`); len(shapes) != 0 {
		t.Errorf("false positives: %v", shapes)
	}
}
