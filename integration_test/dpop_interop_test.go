package integration_test

// DPoP interoperability with real libraries: panva's oidc-provider issues
// DPoP-bound JWT access tokens (client credentials, a proof at its token
// endpoint), panva's dpop library makes the client's proofs, and the real
// Caddy, configured with `discover` against the provider, checks them.

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// dpopNodeDir holds the npm packages of this test (package.json and lock).
func dpopNodeDir(t *testing.T) (node, dir string) {
	t.Helper()
	dir = filepath.Join(repoRoot, "integration_test", "testdata", "dpop")
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
	for _, pkg := range []string{"oidc-provider", "dpop"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg)); err != nil {
			missing("node's " + pkg + " is not installed in " + dir)
		}
	}
	return node, dir
}

// startIdentityProvider runs idp.mjs (oidc-provider) on a free port until
// the test ends and returns its issuer URL.
func startIdentityProvider(t *testing.T, node, dir string) string {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(node, "idp.mjs", strconv.Itoa(port))
	cmd.Dir = dir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting oidc-provider: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ok := sc.Scan() && sc.Text() == "ready"
		ready <- ok
		for sc.Scan() {
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("oidc-provider did not start:\n%s", stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("oidc-provider not ready after 60s:\n%s", stderr.String())
	}
	return "http://127.0.0.1:" + strconv.Itoa(port)
}

// interopCall is one request client.mjs made to Caddy.
type interopCall struct {
	Name       string `json:"name"`
	Status     int    `json:"status"`
	Challenges string `json:"challenges"`
}

func TestDPoPInteropOIDCProviderTokensAndDPoPLibraryProofs(t *testing.T) {
	t.Parallel()
	node, dir := dpopNodeDir(t)
	issuer := startIdentityProvider(t, node, dir)
	up := newUpstream(t)
	c := startCaddy(t, caddyfileFor(`
	jwt {
		issuer `+issuer+` {
			discover
		}
		audience https://api.example
		token_type at+jwt
		dpop required
		claim_header client_id X-Client
		strip_token
	}
	reverse_proxy `+up.Addr()))
	// The keys are discovered in the background: until they are loaded the
	// client's first call would get 503 instead of the 200 it must get.
	waitForLog(t, c, `"msg":"jwks loaded"`)

	for _, alg := range []string{"ES256", "Ed25519", "PS256"} {
		t.Run(alg, func(t *testing.T) {
			before := up.Count()
			cmd := exec.Command(node, "client.mjs", issuer, c.URL("/orders"))
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "DPOP_ALG="+alg)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("node client.mjs: %v\n%s", err, stderr.String())
			}
			var res struct {
				TokenType string        `json:"token_type"`
				Token     string        `json:"token"`
				Calls     []interopCall `json:"calls"`
			}
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatalf("client.mjs printed %q: %v", out, err)
			}
			if cnf, _ := jwtClaims(t, res.Token)["cnf"].(map[string]any); res.TokenType != "DPoP" || cnf["jkt"] == nil {
				t.Fatalf("oidc-provider issued a %q token with cnf %v, want a DPoP-bound one", res.TokenType, cnf)
			}
			want := map[string]string{
				"fresh proof":                  "",
				"another fresh proof":          "",
				"the first proof again":        `error="invalid_dpop_proof", error_description="the DPoP proof has been used before"`,
				"as a Bearer token":            `error="invalid_token", error_description="the token is DPoP-bound: send it with the DPoP scheme and a proof"`,
				"without a proof":              `error="invalid_dpop_proof", error_description="the DPoP proof is missing"`,
				"proof for GET sent with POST": `error="invalid_dpop_proof", error_description="the DPoP proof is for another method"`,
				"proof for another URL":        `error="invalid_dpop_proof", error_description="the DPoP proof is for another URI"`,
				"proof without ath":            `error="invalid_dpop_proof", error_description="the DPoP proof is for another access token"`,
				"proof by another key":         `error="invalid_dpop_proof", error_description="the DPoP proof is signed by another key than the token is bound to"`,
			}
			if len(res.Calls) != len(want) {
				t.Fatalf("client.mjs made %d calls, want %d", len(res.Calls), len(want))
			}
			for _, call := range res.Calls {
				wantErr, known := want[call.Name]
				switch {
				case !known:
					t.Errorf("unexpected call %q", call.Name)
				case wantErr == "" && call.Status != http.StatusOK:
					t.Errorf("%s: status %d (%s), want 200", call.Name, call.Status, call.Challenges)
				case wantErr != "" && (call.Status != http.StatusUnauthorized || call.Challenges != dpopAlgs+", "+wantErr):
					t.Errorf("%s: status %d, WWW-Authenticate %q; want 401 with %q", call.Name, call.Status, call.Challenges, dpopAlgs+", "+wantErr)
				}
			}
			if got := up.Count() - before; got != 2 {
				t.Fatalf("the upstream got %d requests, want the 2 with valid proofs", got)
			}
			last := up.Last(t)
			if last.Header.Get("X-Client") != "orders-service" || last.Header.Get("DPoP") != "" || last.Header.Get("Authorization") != "" {
				t.Errorf("upstream got X-Client %q, DPoP %q, Authorization %q; want the client id and neither header",
					last.Header.Get("X-Client"), last.Header.Get("DPoP"), last.Header.Get("Authorization"))
			}
		})
	}
}
