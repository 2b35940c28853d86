package integration_test

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// nodeSigner runs testdata/node/sign.js, which signs with node's
// jsonwebtoken, the library most JWT tutorials use. It skips the test when
// node or the package is missing (scripts/install-test-deps.sh installs
// it), except under CI=true, where that fails the run.
type nodeSigner struct {
	node string
	dir  string
}

func newNodeSigner(t *testing.T) *nodeSigner {
	t.Helper()
	dir := filepath.Join(repoRoot, "integration_test", "testdata", "node")
	missing := func(what string) {
		msg := what + "; run scripts/install-test-deps.sh"
		if inCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "jsonwebtoken")); err != nil {
		missing("node's jsonwebtoken is not installed in " + dir)
	}
	return &nodeSigner{node: node, dir: dir}
}

// nodeRequest is what sign.js reads: jsonwebtoken.sign(claims, key,
// {algorithm, keyid, expiresIn, issuer, audience}).
type nodeRequest struct {
	Alg       string         `json:"alg,omitempty"`
	Key       string         `json:"key"`
	Claims    map[string]any `json:"claims"`
	KeyID     string         `json:"kid,omitempty"`
	ExpiresIn string         `json:"expiresIn,omitempty"`
	Issuer    string         `json:"issuer,omitempty"`
	Audience  string         `json:"audience,omitempty"`
}

// signAll signs every request in one node process (starting node costs
// far more than signing) and returns the tokens in order.
func (n *nodeSigner) signAll(t *testing.T, reqs []nodeRequest) []string {
	t.Helper()
	in, err := json.Marshal(reqs)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(n.node, "sign.js")
	cmd.Dir = n.dir
	cmd.Stdin = strings.NewReader(string(in))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node sign.js: %v\n%s", err, stderr.String())
	}
	tokens := strings.Fields(string(out))
	if len(tokens) != len(reqs) {
		t.Fatalf("node sign.js printed %d tokens for %d requests", len(tokens), len(reqs))
	}
	return tokens
}

// TestNodeJsonwebtokenTokensAreAccepted: tokens minted by node's
// jsonwebtoken, the way tutorials mint them, pass the real Caddy; the same
// library's tokens with the wrong key, an expired one, or another issuer
// do not, and none of those reach the upstream.
func TestNodeJsonwebtokenTokensAreAccepted(t *testing.T) {
	requireCaddy(t)
	signer := newNodeSigner(t)
	up := newUpstream(t)
	proxy := "reverse_proxy " + up.Addr()

	algs := []string{"HS256", "HS384", "HS512", "RS256", "RS512", "PS256", "ES256", "ES384", "ES512"}
	keys, c := startNodeInteropSite(t, algs, proxy)

	// Every token is described first, signed by node in one batch, then sent.
	attempts := nodeAttempts(t, algs, keys)

	reqs := make([]nodeRequest, len(attempts))
	for i, a := range attempts {
		reqs[i] = a.req
	}
	tokens := signer.signAll(t, reqs)
	for i, a := range attempts {
		t.Run(a.name, func(t *testing.T) {
			check(t, c, up, http.MethodGet, a.path, bearer(tokens[i]), a.want)
			if a.want.status != http.StatusOK {
				return
			}
			got := up.Last(t).Header
			if got.Get("X-User-Id") != "node-user" || got.Get("X-Email") != "node@example.com" {
				t.Errorf("upstream got X-User-Id %q, X-Email %q", got.Get("X-User-Id"), got.Get("X-Email"))
			}
		})
	}

	t.Run("HS256 signed with the RSA public key", func(t *testing.T) {
		// jsonwebtoken refuses to sign HS256 with a PEM key since v9, so
		// the confusion token is built by hand.
		rs := keys["RS256"]
		forged := resign(t, &testKey{Alg: "HS256", method: keys["HS256"].method, Signing: rs.PublicPEM(t)},
			segment(t, map[string]any{"alg": "HS256", "typ": "JWT"})+"."+segment(t, validClaims("iss", "https://auth.example.com/", "aud", "my-api")))
		check(t, c, up, http.MethodGet, "/RS256/", bearer(forged),
			expectation{http.StatusUnauthorized, invalidToken(descBadAlgorithm)})
	})
}

// startNodeInteropSite starts a site with one route per algorithm, each
// with a key of its own, and returns the keys by algorithm.
func startNodeInteropSite(t *testing.T, algs []string, proxy string) (map[string]*testKey, *caddyProcess) {
	keys := map[string]*testKey{}
	var site strings.Builder
	for _, alg := range algs {
		k := newKey(t, alg)
		keys[alg] = k
		site.WriteString(jwtRoute("/"+alg+"/*", k.keyDirective(t)+`
issuer https://auth.example.com/
audience my-api
claim_header sub X-User-Id
claim_header email X-Email`, proxy))
	}
	site.WriteString("\trespond 404\n")
	return keys, startCaddy(t, caddyfileFor(site.String()))
}

// nodeAttempt is a token for jsonwebtoken to sign, where it is sent and
// what the client must see.
type nodeAttempt struct {
	name string
	path string
	req  nodeRequest
	want expectation
}

// nodeAttempts describes every token of the test: per algorithm a good
// one, one with a kid, and one each signed with another key, expired, from
// another issuer and for another audience; then the tutorial's defaults and
// a token without expiry.
func nodeAttempts(t *testing.T, algs []string, keys map[string]*testKey) []nodeAttempt {
	keyText := func(k *testKey) string {
		if strings.HasPrefix(k.Alg, "HS") {
			return k.Secret()
		}
		return string(k.PrivatePEM(t))
	}
	std := func(k *testKey) nodeRequest {
		return nodeRequest{
			Alg: k.Alg, Key: keyText(k), ExpiresIn: "15m",
			Issuer: "https://auth.example.com/", Audience: "my-api",
			Claims: map[string]any{"sub": "node-user", "email": "node@example.com"},
		}
	}

	var attempts []nodeAttempt
	for _, alg := range algs {
		path := "/" + alg + "/orders"
		expired := std(keys[alg])
		expired.ExpiresIn = "-1h"
		otherIssuer := std(keys[alg])
		otherIssuer.Issuer = "https://evil.example.com/"
		otherAudience := std(keys[alg])
		otherAudience.Audience = "another-api"
		attempts = append(attempts,
			nodeAttempt{alg, path, std(keys[alg]), accepted},
			nodeAttempt{alg + " with a kid", path, withKid(std(keys[alg]), "2024-key"), accepted},
			nodeAttempt{alg + " signed with another key", path, std(newKey(t, alg)), expectation{http.StatusUnauthorized, invalidToken(descBadSignature)}},
			nodeAttempt{alg + " expired", path, expired, expectation{http.StatusUnauthorized, invalidToken(descExpired)}},
			nodeAttempt{alg + " from another issuer", path, otherIssuer, expectation{http.StatusUnauthorized, invalidToken(descBadIssuer)}},
			nodeAttempt{alg + " for another audience", path, otherAudience, expectation{http.StatusUnauthorized, invalidToken(descBadAudience)}},
		)
	}
	// jwt.sign({sub}, secret, {expiresIn: '1h'}): HS256 by default, iat
	// set by the library (issuer and audience as the route requires).
	tutorial := std(keys["HS256"])
	tutorial.Alg, tutorial.ExpiresIn = "", "1h"
	noExpiry := std(keys["HS256"])
	noExpiry.ExpiresIn = ""
	attempts = append(attempts,
		nodeAttempt{"tutorial defaults", "/HS256/", tutorial, accepted},
		nodeAttempt{"no expiry", "/HS256/", noExpiry, expectation{http.StatusUnauthorized, invalidToken(descNoExpiry)}},
	)
	return attempts
}

func withKid(r nodeRequest, kid string) nodeRequest {
	r.KeyID = kid
	return r
}
