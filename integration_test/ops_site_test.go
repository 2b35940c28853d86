package integration_test

// The operations site the metrics and logs tests share: one Caddy with the
// jwt handler configured seven ways, and the mix of requests that reaches
// every result.

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// opsSite is a Caddy with the jwt handler configured seven ways (required,
// optional, with a claim requirement, with an HMAC secret, with a JWKS
// served over HTTP, with a JWKS URL that never answers, with a revocation
// file) and an access log, so that one run of requests reaches every
// result.
type opsSite struct {
	caddy   *caddyProcess
	key     *testKey // ES256, configured with kid k1, also published in the JWKS
	other   *testKey // ES256, not configured
	hmac    *testKey // HS256, configured as `secret`
	jwksURL string   // a real JWKS server with key k1
	downURL string   // a JWKS URL nothing listens on
	// revokedJTI is on the deny list of the revocation file.
	revokedJTI string
}

const opsIssuer = "https://id.example.test"

// opsSiteBody is the site block of the operations site, a format of five
// arguments: the public key file, the upstream, the JWKS URL, the URL of a
// JWKS that never answers, and the revocation file.
const opsSiteBody = `
	log {
		output stderr
		format json
	}
	handle /anon/* {
		jwt {
			public_key %[1]s k1
			optional
		}
		reverse_proxy %[2]s
	}
	handle /admin/* {
		jwt {
			public_key %[1]s k1
			audience api
			require_claim role admin
		}
		reverse_proxy %[2]s
	}
	handle /hs/* {
		jwt {
			secret {env.OPS_HMAC_SECRET}
		}
		reverse_proxy %[2]s
	}
	handle /jwks/* {
		jwt {
			jwks %[3]s
		}
		reverse_proxy %[2]s
	}
	handle /down/* {
		jwt {
			jwks %[4]s {
				timeout 1s
			}
		}
		reverse_proxy %[2]s
	}
	handle /revocable/* {
		jwt {
			public_key %[1]s k1
			revocation file %[5]s
		}
		reverse_proxy %[2]s
	}
	handle {
		jwt {
			public_key %[1]s k1
			audience api
			from header Authorization Bearer
			from cookie session
		}
		reverse_proxy %[2]s
	}`

// serveCLIJWKS serves, until the test ends, the JWKS that `caddy jwt jwks`
// makes of the public key file pub with kid, and returns its URL.
func serveCLIJWKS(t *testing.T, pub, kid string) string {
	t.Helper()
	jwks := runCaddyCommand(t, []string{"jwt", "jwks", "--pub", pub, "--kid", kid})
	if jwks.ExitCode != 0 {
		t.Fatalf("caddy jwt jwks: %s", jwks.Output())
	}
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(jwks.Stdout))
	}))
	t.Cleanup(provider.Close)
	return provider.URL + "/jwks.json"
}

// startOpsSite starts the operations site, with globalOptions in Caddy's
// global options, and returns once its JWKS is loaded.
func startOpsSite(t *testing.T, globalOptions ...string) *opsSite {
	t.Helper()
	s := &opsSite{key: newKey(t, "ES256"), other: newKey(t, "ES256"), hmac: newKey(t, "HS256")}
	up := newUpstream(t).Addr()
	pub := s.key.writePublicKeyPEM(t)

	s.jwksURL = serveCLIJWKS(t, pub, "k1")
	s.downURL = fmt.Sprintf("http://127.0.0.1:%d/jwks.json", freePort(t))
	s.revokedJTI = randomText(t, 16)
	denyList := fmt.Sprintf(`{"revoked_jti": {%q: %d}}`, s.revokedJTI, time.Now().Add(time.Hour).Unix())
	revocationFile := writeFile(t, "revoked.json", []byte(denyList))

	body := fmt.Sprintf(opsSiteBody, pub, up, s.jwksURL, s.downURL, revocationFile)
	// The secret comes from the environment, as the README advises: a
	// literal secret is part of the config, which Caddy itself shows (in
	// its debug log and on the admin API's /config/).
	s.caddy = startCaddy(t, caddyfileFor(body, globalOptions...), withEnv("OPS_HMAC_SECRET="+s.hmac.Secret()))

	// The JWKS is fetched in the background: wait for it, so that every
	// request of the run has one known outcome.
	waitFor(t, "the JWKS at "+s.jwksURL+" to load", s.jwksLoaded)
	return s
}

func (s *opsSite) jwksLoaded() bool {
	for _, e := range jwtLogEntries(s.caddy.Logs(), "jwks loaded") {
		if e.str("jwks") == s.jwksURL {
			return true
		}
	}
	return false
}

// opsRequest is one request of the mixed run and what it must produce.
type opsRequest struct {
	path   string // unique per request, so that its log line can be found
	header http.Header
	token  string // the token sent, if any
	status int
	result string // the caddy_jwt_requests_total label it counts under
	// verified: the token reached verification, so it is observed by the
	// verification histogram.
	verified bool
	// logged are the fields its rejection log line must carry.
	logged map[string]string
}

// mixedRequests are requests with one or more of each result the site can
// produce. Every token has its own jti.
func (s *opsSite) mixedRequests(t *testing.T) []opsRequest {
	t.Helper()
	now := time.Now()
	es := func(kv ...any) string {
		return signToken(t, s.key, validClaims(append([]any{"aud", "api", "iss", opsIssuer, "jti", randomText(t, 16)}, kv...)...), map[string]any{"kid": "k1"})
	}
	// claimsOf gives the fields a rejection line must carry for a token.
	claimsOf := func(token string, result, reason string) map[string]string {
		c := jwtClaims(t, token)
		m := map[string]string{"result": result, "reason": reason, "client_ip": "127.0.0.1", "kid": "k1", "jti": c["jti"].(string), "sub": c["sub"].(string)}
		if iss, ok := c["iss"].(string); ok {
			m["iss"] = iss
		}
		return m
	}
	var reqs []opsRequest
	add := func(r opsRequest) {
		if r.token != "" && r.header == nil {
			r.header = bearer(r.token)
		}
		if r.header == nil {
			r.header = http.Header{}
		}
		// A client cannot choose the logged IP: there are no trusted proxies.
		r.header.Set("X-Forwarded-For", "203.0.113.9")
		r.path = fmt.Sprintf("%s/%d", r.path, len(reqs))
		reqs = append(reqs, r)
	}

	for range 3 {
		add(opsRequest{path: "/api", token: es(), status: 200, result: "allowed", verified: true})
	}
	cookieToken := es()
	add(opsRequest{path: "/api", token: cookieToken, header: http.Header{"Cookie": {"session=" + cookieToken}}, status: 200, result: "allowed", verified: true})
	add(opsRequest{path: "/admin", token: es("role", "admin"), status: 200, result: "allowed", verified: true})
	add(opsRequest{path: "/hs", token: sign(t, s.hmac, validClaims("jti", randomText(t, 16))), status: 200, result: "allowed", verified: true})
	add(opsRequest{path: "/jwks", token: es(), status: 200, result: "allowed", verified: true})
	add(opsRequest{path: "/revocable", token: es(), status: 200, result: "allowed", verified: true})
	add(opsRequest{path: "/anon", status: 200, result: "anonymous"})

	for range 2 {
		add(opsRequest{path: "/api", status: 401, result: "missing", logged: map[string]string{"result": "missing", "reason": "no token", "client_ip": "127.0.0.1"}})
	}
	add(opsRequest{path: "/api", token: "not.a.token", status: 401, result: "malformed", verified: true,
		logged: map[string]string{"result": "malformed", "reason": "the token is malformed", "client_ip": "127.0.0.1"}})
	twoA, twoB := es(), es()
	add(opsRequest{path: "/api", token: twoA, header: http.Header{"Authorization": {"Bearer " + twoA}, "Cookie": {"session=" + twoB}}, status: 400, result: "malformed",
		logged: map[string]string{"result": "malformed", "reason": "more than one token in the request"}})

	expired := es("iat", now.Add(-time.Hour).Unix(), "exp", now.Add(-10*time.Minute).Unix())
	add(opsRequest{path: "/api", token: expired, status: 401, result: "expired", verified: true, logged: claimsOf(expired, "expired", "the token is expired")})
	early := es("nbf", now.Add(time.Hour).Unix())
	add(opsRequest{path: "/api", token: early, status: 401, result: "not_yet_valid", verified: true, logged: claimsOf(early, "not_yet_valid", "the token is not yet valid")})
	forged := signToken(t, s.other, validClaims("aud", "api", "iss", opsIssuer, "jti", randomText(t, 16)), map[string]any{"kid": "k1"})
	add(opsRequest{path: "/api", token: forged, status: 401, result: "bad_signature", verified: true, logged: claimsOf(forged, "bad_signature", "the token's signature is invalid")})
	forgedHS := sign(t, newKey(t, "HS256"), validClaims("jti", randomText(t, 16)))
	hsFields := claimsOf(forgedHS, "bad_signature", "the token's signature is invalid")
	delete(hsFields, "kid")
	add(opsRequest{path: "/hs", token: forgedHS, status: 401, result: "bad_signature", verified: true, logged: hsFields})
	unknown := signToken(t, s.key, validClaims("aud", "api", "jti", randomText(t, 16)), map[string]any{"kid": "k9"})
	unknownFields := claimsOf(unknown, "unknown_key", "the token's signing key is not known")
	unknownFields["kid"] = "k9"
	add(opsRequest{path: "/api", token: unknown, status: 401, result: "unknown_key", verified: true, logged: unknownFields})
	wrongAud := es("aud", "billing")
	add(opsRequest{path: "/api", token: wrongAud, status: 401, result: "bad_claims", verified: true, logged: claimsOf(wrongAud, "bad_claims", "the token's audience is not accepted")})
	noRole := es("role", "viewer")
	add(opsRequest{path: "/admin", token: noRole, status: 403, result: "forbidden", verified: true, logged: claimsOf(noRole, "forbidden", "the token does not grant access to this resource")})
	revoked := es("jti", s.revokedJTI)
	add(opsRequest{path: "/revocable", token: revoked, status: 401, result: "revoked", verified: true, logged: claimsOf(revoked, "revoked", "the token has been revoked")})
	stranded := es()
	add(opsRequest{path: "/down", token: stranded, status: 503, result: "unavailable", verified: true, logged: claimsOf(stranded, "unavailable", "signing keys are not available")})
	return reqs
}

// run sends the requests in order and checks each status.
func (s *opsSite) run(t *testing.T, reqs []opsRequest) {
	t.Helper()
	for _, r := range reqs {
		resp := get(t, s.caddy.URL(r.path), r.header)
		if resp.StatusCode != r.status {
			t.Fatalf("GET %s (%s): status %d, want %d", r.path, r.result, resp.StatusCode, r.status)
		}
	}
}

// jwtClaims decodes a token's payload without verifying it.
func jwtClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	var c claims
	parts := strings.Split(token, ".")
	if _, _, err := jwtParser.ParseUnverified(token, &c); err != nil || len(parts) != 3 {
		t.Fatalf("decoding a test token: %v", err)
	}
	return c
}
