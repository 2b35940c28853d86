package integration_test

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestListModulesShowsTheJWTHandler(t *testing.T) {
	res := runCaddyCommand(t, []string{"list-modules"})
	if res.ExitCode != 0 {
		t.Fatalf("caddy list-modules: exit %d\n%s", res.ExitCode, res.Output())
	}
	for _, line := range strings.Split(res.Stdout, "\n") {
		if strings.TrimSpace(line) == "http.handlers.jwt" {
			return
		}
	}
	t.Fatalf("caddy list-modules does not show http.handlers.jwt:\n%s", res.Stdout)
}

// exampleDirs are the directories under examples/ that hold a Caddyfile.
func exampleDirs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "examples", "*", "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found %d examples, want at least quickstart and rs256-api", len(files))
	}
	var dirs []string
	for _, f := range files {
		dirs = append(dirs, filepath.Dir(f))
	}
	return dirs
}

// copyExample copies an example's Caddyfile into a temporary directory with
// what it needs to load (a public.pem for examples that read one), and
// returns that directory.
func copyExample(t *testing.T, dir string) string {
	t.Helper()
	tmp := t.TempDir()
	data, err := os.ReadFile(filepath.Join(dir, "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "Caddyfile"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "public.pem"), newKey(t, "RS256").PublicPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	return tmp
}

// inDir runs a Caddy command in dir, where relative paths of the config
// resolve.
func inDir(dir string) caddyOption {
	return func(c *exec.Cmd) { c.Dir = dir }
}

// TestExamplesAdaptAndRoundTrip: every examples/*/Caddyfile adapts to JSON
// with a jwt handler, and that JSON passes `caddy validate` (which
// provisions the handler: keys load, secrets are long enough).
func TestExamplesAdaptAndRoundTrip(t *testing.T) {
	requireCaddy(t)
	for _, dir := range exampleDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			tmp := copyExample(t, dir)
			res := runCaddyCommand(t, []string{"adapt", "--config", "Caddyfile", "--adapter", "caddyfile"}, inDir(tmp))
			if res.ExitCode != 0 {
				t.Fatalf("caddy adapt: exit %d\n%s", res.ExitCode, res.Output())
			}
			if strings.Contains(res.Stderr, "not formatted") {
				t.Errorf("the Caddyfile is not formatted as `caddy fmt` would")
			}
			var cfg map[string]any
			if err := json.Unmarshal([]byte(res.Stdout), &cfg); err != nil {
				t.Fatalf("adapt output is not JSON: %v", err)
			}
			if !strings.Contains(res.Stdout, `"handler":"jwt"`) {
				t.Errorf("adapted config has no jwt handler:\n%s", res.Stdout)
			}
			jsonPath := filepath.Join(tmp, "caddy.json")
			if err := os.WriteFile(jsonPath, []byte(res.Stdout), 0o600); err != nil {
				t.Fatal(err)
			}
			val := runCaddyCommand(t, []string{"validate", "--config", jsonPath}, inDir(tmp))
			if val.ExitCode != 0 {
				t.Fatalf("caddy validate of the adapted JSON: exit %d\n%s", val.ExitCode, lastLines(val.Output(), 3))
			}
		})
	}
}

// exampleOnTestPorts rewrites an example's site address to the test site
// and adds the test's global options, so it runs beside other tests.
func exampleOnTestPorts(t *testing.T, name, siteAddress string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "examples", name, "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	site := "\n" + siteAddress + " {"
	if !strings.Contains(string(data), site) {
		t.Fatalf("examples/%s/Caddyfile does not serve %s any more; update this test", name, siteAddress)
	}
	return "{\n\t{{base}}\n}\n" + strings.Replace(string(data), site, "\n{{site}} {", 1)
}

// TestQuickstartServesPublicPageAndProtectedAPI runs the quick-start
// Caddyfile with the demo token its README gives.
func TestQuickstartServesPublicPageAndProtectedAPI(t *testing.T) {
	requireCaddy(t)
	readme, err := os.ReadFile(filepath.Join(repoRoot, "examples", "quickstart", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	demoToken := regexp.MustCompile(`TOKEN=(\S+)`).FindSubmatch(readme)
	if demoToken == nil {
		t.Fatal("examples/quickstart/README.md has no TOKEN=… demo token")
	}
	tok := string(demoToken[1])
	caddyfile := exampleOnTestPorts(t, "quickstart", "http://localhost:8080")
	c := startCaddy(t, caddyfile)

	if resp := get(t, c.URL("/"), nil); resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, "public") {
		t.Errorf("GET / = %d %q, want the public page", resp.StatusCode, resp.Body)
	}
	resp := get(t, c.URL("/api/hello"), nil)
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != challengeMissing {
		t.Errorf("GET /api/hello without token = %d %q, want 401 %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), challengeMissing)
	}
	resp = get(t, c.URL("/api/hello"), bearer(tok))
	if want := "hello alice"; resp.StatusCode != http.StatusOK || resp.Body != want {
		t.Errorf("GET /api/hello with the demo token = %d %q, want 200 %q", resp.StatusCode, resp.Body, want)
	}

	// With JWT_SECRET set, the demo secret (and its token) is out.
	own := newKey(t, "HS256")
	c2 := startCaddy(t, caddyfile, withEnv("JWT_SECRET="+own.Secret()))
	if resp := get(t, c2.URL("/api/hello"), bearer(tok)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("demo token with JWT_SECRET set: %d, want 401", resp.StatusCode)
	}
	if resp := get(t, c2.URL("/api/hello"), bearer(sign(t, own, validClaims()))); resp.StatusCode != http.StatusOK {
		t.Errorf("own token with JWT_SECRET set: %d, want 200", resp.StatusCode)
	}
}

// TestRS256APIExample runs the rs256-api Caddyfile in front of a recording
// upstream, as its README describes.
func TestRS256APIExample(t *testing.T) {
	requireCaddy(t)
	up := newUpstream(t)
	k := newKey(t, "RS256")
	pemPath := k.writePublicKeyPEM(t)
	c := startCaddy(t, exampleOnTestPorts(t, "rs256-api", "http://localhost:8081"),
		withEnv("JWT_PUBLIC_KEY="+pemPath, "API_UPSTREAM="+up.Addr()))

	good := validClaims("iss", "https://auth.example.com/", "aud", "orders-api", "scope", "orders:read orders:write")
	tok := sign(t, k, good)
	check(t, c, up, http.MethodGet, "/orders/7", bearer(tok), accepted)
	got := up.Last(t).Header
	if got.Get("X-User-Id") != "user-42" || got.Get("X-Scopes") != "orders:read orders:write" || got.Get("Authorization") != "" {
		t.Errorf("upstream got X-User-Id %q, X-Scopes %q, Authorization %q", got.Get("X-User-Id"), got.Get("X-Scopes"), got.Get("Authorization"))
	}

	wrongAud := validClaims("iss", "https://auth.example.com/", "aud", "billing-api")
	check(t, c, up, http.MethodGet, "/orders/7", bearer(sign(t, k, wrongAud)), expectation{http.StatusUnauthorized, invalidToken(descBadAudience)})
	ps := k.withAlg("PS256")
	check(t, c, up, http.MethodGet, "/orders/7", bearer(sign(t, ps, good)), expectation{http.StatusUnauthorized, invalidToken(descBadAlgorithm)})
	expired := validClaims("iss", "https://auth.example.com/", "aud", "orders-api", "exp", time.Now().Add(-time.Hour).Unix())
	check(t, c, up, http.MethodGet, "/orders/7", bearer(sign(t, k, expired)), expectation{http.StatusUnauthorized, invalidToken(descExpired)})
}
