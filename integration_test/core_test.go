package integration_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// These tests drive the real Caddy binary over loopback with a recording
// upstream behind reverse_proxy: every algorithm family, every token
// location, and every row of the README's responses table with its exact
// WWW-Authenticate header. A request that is refused must never reach the
// upstream, and its token must never show up in Caddy's log.

// jwtRoute is a `handle <path>` block with a jwt handler configured by
// jwtConfig (one subdirective per line) in front of then.
func jwtRoute(path, jwtConfig, then string) string {
	return fmt.Sprintf("\thandle %s {\n\t\tjwt {\n\t\t\t%s\n\t\t}\n\t\t%s\n\t}\n",
		path, strings.ReplaceAll(strings.TrimSpace(jwtConfig), "\n", "\n\t\t\t"), then)
}

// Challenges as the loopback test site sends them: the realm defaults to
// the request's host.
const challengeMissing = `Bearer realm="127.0.0.1"`

func invalidToken(description string) string {
	return `Bearer realm="127.0.0.1", error="invalid_token", error_description="` + description + `"`
}

const (
	challengeInvalidRequest    = `Bearer realm="127.0.0.1", error="invalid_request"`
	challengeInsufficientScope = `Bearer realm="127.0.0.1", error="insufficient_scope"`
)

// The fixed descriptions of reason.go, as a client reads them.
const (
	descMalformed     = "the token is malformed"
	descTooLarge      = "the token is too large"
	descBadAlgorithm  = "the token's algorithm is not accepted"
	descBadType       = "the token's type is not accepted"
	descUnknownKey    = "the token's signing key is not known"
	descBadSignature  = "the token's signature is invalid"
	descNoExpiry      = "the token has no expiry"
	descExpired       = "the token is expired"
	descNotYetValid   = "the token is not yet valid"
	descIssuedFuture  = "the token is not yet valid: issued in the future"
	descLifetime      = "the token's lifetime is too long"
	descNoIssuedAt    = "the token has no iat, which max_lifetime needs"
	descBadIssuer     = "the token's issuer is not accepted"
	descBadAudience   = "the token's audience is not accepted"
	descInvalidClaims = "the token's claims are invalid"
)

// expectation is what a client must see for one request.
type expectation struct {
	status    int
	challenge string // exact WWW-Authenticate; "" means the header must be absent
}

// check sends the request and asserts status, challenge, and whether the
// upstream was reached: exactly once when the status is 200, never
// otherwise. Refused tokens must not appear in Caddy's log.
func check(t *testing.T, c *caddyProcess, up *upstream, method, path string, header http.Header, want expectation) response {
	t.Helper()
	before := up.Count()
	resp := send(t, method, c.URL(path), header, nil)
	if resp.StatusCode != want.status {
		t.Errorf("status = %d, want %d (WWW-Authenticate %q, body %q)", resp.StatusCode, want.status, resp.Header.Get("WWW-Authenticate"), resp.Body)
	}
	got := resp.Header.Values("WWW-Authenticate")
	switch {
	case want.challenge == "" && len(got) != 0:
		t.Errorf("WWW-Authenticate = %q, want none", got)
	case want.challenge != "" && (len(got) != 1 || got[0] != want.challenge):
		t.Errorf("WWW-Authenticate = %q\n                   want %q", got, want.challenge)
	}
	reached := up.Count() - before
	if want.status == http.StatusOK && reached != 1 {
		t.Errorf("accepted request reached the upstream %d times, want once", reached)
	}
	if want.status != http.StatusOK && reached != 0 {
		t.Errorf("refused request reached the upstream (%d times)", reached)
	}
	if want.status != http.StatusOK {
		for _, tok := range tokensIn(header) {
			if len(tok) > 20 && strings.Contains(c.Logs(), tok) {
				t.Errorf("Caddy's log contains the refused token")
			}
		}
	}
	return resp
}

// tokensIn returns the credential-looking values of a request's headers.
func tokensIn(h http.Header) []string {
	var out []string
	for _, vs := range h {
		for _, v := range vs {
			if i := strings.LastIndexByte(v, ' '); i >= 0 {
				v = v[i+1:]
			}
			if _, after, ok := strings.Cut(v, "="); ok {
				v = after
			}
			out = append(out, v)
		}
	}
	return out
}

var accepted = expectation{status: http.StatusOK}

func TestEveryAlgorithmFamilyIsAccepted(t *testing.T) {
	requireCaddy(t)
	up := newUpstream(t)

	type family struct {
		name string
		key  *testKey
		// keyLine configures the key; default keyDirective (secret or
		// public_key PEM).
		keyLine string
	}
	var families []family
	for _, alg := range []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"} {
		k := newKey(t, alg)
		families = append(families, family{name: alg, key: k, keyLine: k.keyDirective(t)})
	}
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		k := newKey(t, alg)
		families = append(families, family{name: alg + "-cert", key: k, keyLine: "public_key " + k.writeCertificatePEM(t)})
	}

	var site strings.Builder
	for _, f := range families {
		site.WriteString(jwtRoute("/"+f.name+"/*", f.keyLine, "reverse_proxy "+up.Addr()))
	}
	site.WriteString("\trespond 404\n")
	c := startCaddy(t, caddyfileFor(site.String()))

	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			path := "/" + f.name + "/resource"
			check(t, c, up, http.MethodGet, path, bearer(sign(t, f.key, validClaims())), accepted)
			if got := up.Last(t).URI; got != path {
				t.Errorf("upstream got %q, want %q", got, path)
			}

			// The same algorithm with another key of the family: the
			// signature must not verify.
			other := newKey(t, f.key.Alg)
			check(t, c, up, http.MethodGet, path, bearer(sign(t, other, validClaims())),
				expectation{http.StatusUnauthorized, invalidToken(descBadSignature)})
		})
	}
}

func TestTokenLocations(t *testing.T) {
	requireCaddy(t)
	up := newUpstream(t)
	k := newKey(t, "HS256")
	key := k.keyDirective(t)
	proxy := "reverse_proxy " + up.Addr()
	c := startCaddy(t, caddyfileFor(
		jwtRoute("/default/*", key, proxy)+
			jwtRoute("/raw/*", key+"\nfrom header X-Token", proxy)+
			jwtRoute("/scheme/*", key+"\nfrom header X-Token Token", proxy)+
			jwtRoute("/cookie/*", key+"\nfrom cookie session", proxy)+
			jwtRoute("/query/*", key+"\nfrom query access_token", proxy)+
			jwtRoute("/ordered/*", key+"\nfrom header Authorization Bearer\nfrom cookie session\nfrom query access_token", proxy)+
			"\trespond 404\n"))

	tok := sign(t, k, validClaims())
	other := sign(t, k, validClaims("sub", "someone-else"))
	otherKey := sign(t, newKey(t, "HS256"), validClaims())
	q := "?access_token=" + url.QueryEscape(tok)

	cases := []struct {
		name   string
		path   string
		header http.Header
		want   expectation
	}{
		{"bearer scheme", "/default/", http.Header{"Authorization": {"Bearer " + tok}}, accepted},
		{"bearer scheme lower case", "/default/", http.Header{"Authorization": {"bearer " + tok}}, accepted},
		{"bearer scheme upper case", "/default/", http.Header{"Authorization": {"BEARER " + tok}}, accepted},
		{"bearer with extra spaces", "/default/", http.Header{"Authorization": {"Bearer   " + tok}}, accepted},
		{"no token", "/default/", nil, expectation{http.StatusUnauthorized, challengeMissing}},
		{"basic credentials are not a bearer token", "/default/", http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}, expectation{http.StatusUnauthorized, challengeMissing}},
		{"bearer without a token", "/default/", http.Header{"Authorization": {"Bearer"}}, expectation{http.StatusUnauthorized, invalidToken(descMalformed)}},
		{"bearer with only spaces", "/default/", http.Header{"Authorization": {"Bearer    "}}, expectation{http.StatusUnauthorized, invalidToken(descMalformed)}},
		{"a scheme that merely starts with bearer", "/default/", http.Header{"Authorization": {"Bearerx " + tok}}, expectation{http.StatusUnauthorized, challengeMissing}},
		{"token without scheme in Authorization", "/default/", http.Header{"Authorization": {tok}}, expectation{http.StatusUnauthorized, challengeMissing}},
		{"cookie is not read by default", "/default/", http.Header{"Cookie": {"session=" + tok}}, expectation{http.StatusUnauthorized, challengeMissing}},
		{"query is not read by default", "/default/" + q, nil, expectation{http.StatusUnauthorized, challengeMissing}},
		{"same token in two Authorization headers", "/default/", http.Header{"Authorization": {"Bearer " + tok, "Bearer " + tok}}, accepted},
		{"two different tokens in Authorization headers", "/default/", http.Header{"Authorization": {"Bearer " + tok, "Bearer " + other}}, expectation{http.StatusBadRequest, challengeInvalidRequest}},

		{"custom header without scheme", "/raw/", http.Header{"X-Token": {tok}}, accepted},
		{"custom header is not the Authorization header", "/raw/", bearer(tok), expectation{http.StatusUnauthorized, challengeMissing}},
		{"custom header with scheme", "/scheme/", http.Header{"X-Token": {"Token " + tok}}, accepted},
		{"custom header scheme is case-insensitive", "/scheme/", http.Header{"X-Token": {"tOKEN " + tok}}, accepted},
		{"custom header missing its scheme", "/scheme/", http.Header{"X-Token": {tok}}, expectation{http.StatusUnauthorized, challengeMissing}},

		{"cookie", "/cookie/", http.Header{"Cookie": {"theme=dark; session=" + tok}}, accepted},
		{"cookie with another name", "/cookie/", http.Header{"Cookie": {"other=" + tok}}, expectation{http.StatusUnauthorized, challengeMissing}},
		{"two different session cookies", "/cookie/", http.Header{"Cookie": {"session=" + tok + "; session=" + other}}, expectation{http.StatusBadRequest, challengeInvalidRequest}},

		{"query parameter", "/query/" + q, nil, accepted},
		{"empty query parameter", "/query/?access_token=", nil, expectation{http.StatusUnauthorized, invalidToken(descMalformed)}},
		{"two different query tokens", "/query/" + q + "&access_token=" + url.QueryEscape(other), nil, expectation{http.StatusBadRequest, challengeInvalidRequest}},

		{"ordered: header only", "/ordered/", bearer(tok), accepted},
		{"ordered: cookie only", "/ordered/", http.Header{"Cookie": {"session=" + tok}}, accepted},
		{"ordered: query only", "/ordered/" + q, nil, accepted},
		{"ordered: same token in header, cookie and query", "/ordered/" + q, http.Header{"Authorization": {"Bearer " + tok}, "Cookie": {"session=" + tok}}, accepted},
		{"ordered: header and cookie differ", "/ordered/", http.Header{"Authorization": {"Bearer " + tok}, "Cookie": {"session=" + other}}, expectation{http.StatusBadRequest, challengeInvalidRequest}},
		{"ordered: header and query differ", "/ordered/?access_token=" + url.QueryEscape(other), bearer(tok), expectation{http.StatusBadRequest, challengeInvalidRequest}},
		// A valid token beside a forged one is still ambiguous: the
		// upstream could read the forged one.
		{"ordered: valid header beside a token of another key", "/ordered/", http.Header{"Authorization": {"Bearer " + tok}, "Cookie": {"session=" + otherKey}}, expectation{http.StatusBadRequest, challengeInvalidRequest}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check(t, c, up, http.MethodGet, tc.path, tc.header, tc.want)
		})
	}

	// Tokens in URLs leak into logs: the operator is warned at load.
	for _, warning := range []string{"tokens read from the query string end up in access logs", "from query without strip_token"} {
		if !strings.Contains(c.Logs(), warning) {
			t.Errorf("no warning %q in Caddy's log", warning)
		}
	}
}

// TestDirectiveOrderAndMatcher: jwt sorts before reverse_proxy without an
// `order` option, wherever it is written, and takes a matcher.
func TestDirectiveOrderAndMatcher(t *testing.T) {
	requireCaddy(t)
	up := newUpstream(t)
	k := newKey(t, "HS256")
	c := startCaddy(t, caddyfileFor("\treverse_proxy "+up.Addr()+"\n\tjwt /api/* {\n\t\tsecret "+k.Secret()+"\n\t}\n"))

	check(t, c, up, http.MethodGet, "/public", nil, accepted)
	check(t, c, up, http.MethodGet, "/api/orders", nil, expectation{http.StatusUnauthorized, challengeMissing})
	check(t, c, up, http.MethodGet, "/api/orders", bearer(sign(t, k, validClaims())), accepted)
}
