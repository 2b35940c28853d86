package integration_test

// The identity provider examples: examples/jwks-idp run end to end, and the
// README's identity provider blocks adapted.

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestJWKSIdPExample runs examples/jwks-idp: one site publishes the key set
// with file_server, the other verifies against it and picks up a rotated
// key without a reload.
func TestJWKSIdPExample(t *testing.T) {
	requireCaddy(t)
	data, err := os.ReadFile(filepath.Join(repoRoot, "examples", "jwks-idp", "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	res := runCaddyCommand(t, []string{"adapt", "--config", filepath.Join(repoRoot, "examples", "jwks-idp", "Caddyfile"), "--adapter", "caddyfile"}, inDir(dir))
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, `"handler":"jwt"`) {
		t.Fatalf("caddy adapt of examples/jwks-idp: exit %d\n%s", res.ExitCode, res.Output())
	}

	publisher := "127.0.0.1:" + strconv.Itoa(freePort(t))
	caddyfile := string(data)
	for _, s := range []string{"http://localhost:8084", "http://localhost:8083 {"} {
		if !strings.Contains(caddyfile, s) {
			t.Fatalf("examples/jwks-idp/Caddyfile no longer has %q; update this test", s)
		}
	}
	caddyfile = strings.ReplaceAll(caddyfile, "http://localhost:8083 {", "{{site}} {")
	caddyfile = strings.ReplaceAll(caddyfile, "http://localhost:8084", "http://"+publisher)
	caddyfile = "{\n\t{{base}}\n}\n" + caddyfile

	one := idpKey{newKey(t, "ES256"), "2026-01"}
	two := idpKey{newKey(t, "RS256"), "2026-02"}
	writeJWKS := func(keys ...idpKey) {
		if err := os.WriteFile(filepath.Join(dir, "jwks.json"), jwksJSON(t, keys...), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeJWKS(one)
	c := startCaddy(t, caddyfile, withEnv("JWKS_DIR="+dir))

	published := get(t, "http://"+publisher+"/.well-known/jwks.json", nil)
	if published.StatusCode != http.StatusOK || !strings.Contains(published.Body, `"kid":"2026-01"`) || published.Header.Get("ETag") == "" {
		t.Fatalf("published JWKS: %d, ETag %q, body %q", published.StatusCode, published.Header.Get("ETag"), published.Body)
	}
	if other := get(t, "http://"+publisher+"/jwks.json", nil); other.StatusCode != http.StatusNotFound {
		t.Errorf("the publisher serves more than the key set: /jwks.json = %d", other.StatusCode)
	}

	claimsFor := func(sub string) claims {
		return validClaims("iss", "https://idp.example.com", "aud", "demo-api", "sub", sub)
	}
	resp := pollStatus(t, "a token of the published key", c.URL("/"), bearer(signKID(t, one, claimsFor("alice"))), http.StatusOK, 30*time.Second)
	if resp.Body != "Hello alice" {
		t.Errorf("body = %q, want %q", resp.Body, "Hello alice")
	}
	if resp := get(t, c.URL("/"), bearer(signKID(t, one, validClaims("iss", "https://idp.example.com", "aud", "other")))); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong audience: %d, want 401", resp.StatusCode)
	}

	writeJWKS(one, two)
	resp = pollStatus(t, "a token of the rotated-in key", c.URL("/"), bearer(signKID(t, two, claimsFor("bob"))), http.StatusOK, 30*time.Second)
	if resp.Body != "Hello bob" {
		t.Errorf("body = %q, want %q", resp.Body, "Hello bob")
	}
}

// TestReadmeIdentityProviderBlocksAdapt: every `jwt` block of the README's
// identity provider section is valid Caddyfile. Only adapted: validating
// would start fetches from the providers' real URLs.
func TestReadmeIdentityProviderBlocksAdapt(t *testing.T) {
	requireCaddy(t)
	section := readmeSection(t, "## Identity providers and JWKS")
	blocks := regexp.MustCompile("(?s)```caddyfile\n(jwt \\{.*?\n\\})\n```").FindAllStringSubmatch(section, -1)
	if len(blocks) < 5 {
		t.Fatalf("found %d jwt blocks in the section, want one per provider at least", len(blocks))
	}
	for i, b := range blocks {
		caddyfile := caddyfileFor("\t" + indent(b[1]) + "\n\trespond ok")
		res := adaptCaddyfile(t, caddyfile)
		if res.ExitCode != 0 || !strings.Contains(res.Stdout, `"handler":"jwt"`) {
			t.Errorf("block %d does not adapt: exit %d\n%s\n%s", i+1, res.ExitCode, b[1], res.Output())
		}
	}
}
