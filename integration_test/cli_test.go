package integration_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// caddyJWT runs `caddy jwt <args>` through the real binary.
func caddyJWT(t *testing.T, args ...string) commandResult {
	t.Helper()
	return runCaddyCommand(t, append([]string{"jwt"}, args...))
}

// mustCaddyJWT is caddyJWT that fails the test unless the command succeeds.
func mustCaddyJWT(t *testing.T, args ...string) string {
	t.Helper()
	res := caddyJWT(t, args...)
	if res.ExitCode != 0 {
		t.Fatalf("caddy jwt %s: exit %d\n%s", strings.Join(args, " "), res.ExitCode, res.Output())
	}
	return res.Stdout
}

func TestCaddyJWTListsItsSubcommands(t *testing.T) {
	out := caddyJWT(t, "--help").Output()
	for _, sub := range []string{"keygen", "sign", "inspect", "jwks"} {
		if !strings.Contains(out, sub) {
			t.Errorf("caddy jwt --help does not list %s:\n%s", sub, out)
		}
	}
}

// cliKey is a key made by `caddy jwt keygen` and the directive that
// configures it.
type cliKey struct {
	alg, kid  string
	signFlags []string // how `caddy jwt sign` and `inspect` are given the key
	verify    []string // how `caddy jwt inspect` verifies with it
	directive string
}

func keygenThroughCLI(t *testing.T, dir, alg string) cliKey {
	t.Helper()
	kid := "cli-" + strings.ToLower(alg)
	out := mustCaddyJWT(t, "keygen", "--alg", alg, "--kid", kid, "--out-dir", dir)
	k := cliKey{alg: alg, kid: kid}
	if strings.HasPrefix(alg, "HS") {
		secret := filepath.Join(dir, kid+".secret")
		assertMode(t, secret, 0o600)
		k.signFlags = []string{"--key", secret, "--secret-base64"}
		k.verify = []string{"--secret", secret, "--secret-base64"}
		k.directive = fmt.Sprintf("secret {file.%s} base64", secret)
	} else {
		priv, pub := filepath.Join(dir, kid+".key.pem"), filepath.Join(dir, kid+".pub.pem")
		assertMode(t, priv, 0o600)
		k.signFlags = []string{"--key", priv, "--kid", kid}
		k.verify = []string{"--key", pub}
		k.directive = fmt.Sprintf("public_key %s %s", pub, kid)
	}
	// What keygen suggests for the Caddyfile is what works.
	if !strings.Contains(out, k.directive) {
		t.Errorf("keygen %s suggests:\n%s\nwant the line %q", alg, out, k.directive)
	}
	return k
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != want {
		t.Errorf("%s: mode %04o, want %04o", path, got, want)
	}
}

func TestKeygenSignAcceptedByCaddyThenInspect(t *testing.T) {
	dir := t.TempDir()
	algs := []string{"ES256", "RS256", "EdDSA", "HS256"}
	keys := map[string]cliKey{}
	var body strings.Builder
	up := newUpstream(t)
	for _, alg := range algs {
		k := keygenThroughCLI(t, dir, alg)
		keys[alg] = k
		fmt.Fprintf(&body, "\thandle /%s/* {\n\t\tjwt {\n\t\t\t%s\n\t\t\taudience api\n\t\t}\n\t\treverse_proxy %s\n\t}\n", k.kid, k.directive, up.Addr())
	}
	c := startCaddy(t, caddyfileFor(body.String()))

	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			k := keys[alg]
			token := strings.TrimSpace(mustCaddyJWT(t, append([]string{"sign", "--alg", alg, "--sub", "alice", "--aud", "api", "--claim", "role=admin", "--exp", "10m"}, k.signFlags...)...))

			resp := get(t, c.URL("/"+k.kid+"/x"), bearer(token))
			if resp.StatusCode != 200 {
				t.Fatalf("Caddy answered %d to a token signed by `caddy jwt sign`: %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
			if got := up.Last(t).Header.Get("Authorization"); got != "Bearer "+token {
				t.Fatalf("the upstream did not get the request with its token")
			}

			sig := token[strings.LastIndexByte(token, '.')+1:]
			out := mustCaddyJWT(t, "inspect", token)
			if !strings.HasPrefix(out, "NOT VERIFIED") {
				t.Errorf("inspect without a key starts with %q", firstLine(out))
			}
			for _, want := range []string{`"alg": "` + alg + `"`, `"sub": "alice"`, `"role": "admin"`, " UTC  (unix "} {
				if !strings.Contains(out, want) {
					t.Errorf("inspect output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, sig[:16]) {
				t.Error("inspect printed the signature")
			}

			out = mustCaddyJWT(t, append(append([]string{"inspect"}, k.verify...), "--aud", "api", token)...)
			if !strings.HasPrefix(out, "VERIFIED: "+alg) {
				t.Errorf("inspect with the key: %q", firstLine(out))
			}

			// A tampered token: Caddy and inspect refuse it for the same reason.
			parts := strings.Split(token, ".")
			tampered := parts[0] + "." + segment(t, validClaims("sub", "mallory", "aud", "api")) + "." + parts[2]
			if resp := get(t, c.URL("/"+k.kid+"/x"), bearer(tampered)); resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "signature is invalid") {
				t.Fatalf("Caddy answered %d %q to a tampered token", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
			res := caddyJWT(t, append(append([]string{"inspect"}, k.verify...), tampered)...)
			if res.ExitCode == 0 || !strings.HasPrefix(res.Stdout, "VERIFICATION FAILED: the token's signature is invalid") {
				t.Errorf("inspect of a tampered token: exit %d, %q", res.ExitCode, firstLine(res.Stdout))
			}
		})
	}
}

func TestInspectExplainsAnExpiredTokenAndExitsNonZero(t *testing.T) {
	dir := t.TempDir()
	k := keygenThroughCLI(t, dir, "ES256")
	token := strings.TrimSpace(mustCaddyJWT(t, append([]string{"sign", "--claim", "iat=1000000000", "--claim", "exp=1000000600"}, k.signFlags...)...))
	res := caddyJWT(t, append(append([]string{"inspect"}, k.verify...), token)...)
	if res.ExitCode == 0 {
		t.Fatal("inspect of an expired token exited 0")
	}
	if want := "VERIFICATION FAILED: the token is expired (exp 2001-09-09 01:56:40 UTC"; !strings.HasPrefix(res.Stdout, want) {
		t.Fatalf("inspect: %q, want it to start with %q", firstLine(res.Stdout), want)
	}
}

func TestSignThroughCLIRefusesLongLivedTokens(t *testing.T) {
	k := keygenThroughCLI(t, t.TempDir(), "EdDSA")
	res := caddyJWT(t, append([]string{"sign", "--exp", "48h"}, k.signFlags...)...)
	if res.ExitCode == 0 || res.Stdout != "" {
		t.Fatalf("sign --exp 48h: exit %d, printed %q", res.ExitCode, res.Stdout)
	}
	if !strings.Contains(res.Stderr, "--allow-long") {
		t.Errorf("the refusal does not say how to override it: %s", res.Stderr)
	}
	if res := caddyJWT(t, append([]string{"sign", "--exp", "48h", "--allow-long"}, k.signFlags...)...); res.ExitCode != 0 {
		t.Fatalf("sign --exp 48h --allow-long: %s", res.Output())
	}
}

func TestKeygenThroughCLINeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	keygenThroughCLI(t, dir, "ES256")
	before, _ := os.ReadFile(filepath.Join(dir, "cli-es256.key.pem"))
	res := caddyJWT(t, "keygen", "--alg", "ES256", "--kid", "cli-es256", "--out-dir", dir)
	if res.ExitCode == 0 {
		t.Fatal("keygen overwrote an existing key")
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "cli-es256.key.pem")); string(after) != string(before) {
		t.Fatal("the private key changed")
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// jwks output published by Caddy's own file_server is a JWKS that verifies
// the tokens `caddy jwt sign` makes: here read back by `inspect --jwks`.
func TestJWKSPublishedByFileServerVerifiesSignedTokens(t *testing.T) {
	dir := t.TempDir()
	es, ed := keygenThroughCLI(t, dir, "ES256"), keygenThroughCLI(t, dir, "EdDSA")
	doc := mustCaddyJWT(t, "jwks", "--pub", filepath.Join(dir, es.kid+".pub.pem"), "--kid", es.kid, "--pub", filepath.Join(dir, ed.kid+".pub.pem"))
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal([]byte(doc), &set); err != nil || len(set.Keys) != 2 {
		t.Fatalf("jwks printed %d keys (%v):\n%s", len(set.Keys), err, doc)
	}
	if set.Keys[0]["kid"] != es.kid || set.Keys[0]["use"] != "sig" || set.Keys[0]["alg"] != "ES256" {
		t.Errorf("first key: %v", set.Keys[0])
	}
	thumbprint := set.Keys[1]["kid"]
	if len(thumbprint) != 43 || set.Keys[1]["alg"] != "EdDSA" {
		t.Errorf("second key: %v, want an RFC 7638 thumbprint as kid", set.Keys[1])
	}

	site := t.TempDir()
	if err := os.WriteFile(filepath.Join(site, "jwks.json"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	c := startCaddy(t, caddyfileFor(fmt.Sprintf("\troot * %s\n\tfile_server", site)))
	url := c.URL("/jwks.json")

	for kid, k := range map[string]cliKey{es.kid: es, thumbprint: ed} {
		signFlags := append([]string{}, k.signFlags...)
		if kid == thumbprint {
			signFlags = []string{"--key", filepath.Join(dir, ed.kid+".key.pem"), "--kid", thumbprint}
		}
		token := strings.TrimSpace(mustCaddyJWT(t, append([]string{"sign", "--alg", k.alg}, signFlags...)...))
		if out := mustCaddyJWT(t, "inspect", "--jwks", url, token); !strings.HasPrefix(out, "VERIFIED: "+k.alg) {
			t.Errorf("inspect --jwks %s: %q", url, firstLine(out))
		}
	}
	stranger := strings.TrimSpace(mustCaddyJWT(t, append([]string{"sign", "--alg", "ES256", "--kid", "nobody"}, es.signFlags[:2]...)...))
	if res := caddyJWT(t, "inspect", "--jwks", url, stranger); res.ExitCode == 0 || !strings.HasPrefix(res.Stdout, "VERIFICATION FAILED: the token's signing key is not known") {
		t.Errorf("a kid the JWKS lacks: exit %d, %q", res.ExitCode, firstLine(res.Stdout))
	}
}

// The whole publishing path: keys from keygen, a JWKS from `caddy jwt
// jwks` served by one Caddy's file_server, and another Caddy's jwt handler
// verifying tokens from `caddy jwt sign` with that JWKS.
func TestJWKSFromTheCLIServedByFileServerVerifiesInTheHandler(t *testing.T) {
	dir := t.TempDir()
	es, ed := keygenThroughCLI(t, dir, "ES256"), keygenThroughCLI(t, dir, "EdDSA")
	site := t.TempDir()
	doc := mustCaddyJWT(t, "jwks", "--pub", filepath.Join(dir, es.kid+".pub.pem"), "--kid", es.kid, "--pub", filepath.Join(dir, ed.kid+".pub.pem"), "--kid", ed.kid)
	if err := os.WriteFile(filepath.Join(site, "jwks.json"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	publisher := startCaddy(t, caddyfileFor(fmt.Sprintf("\troot * %s\n\tfile_server", site)))

	up := newUpstream(t)
	cfg := caddyfileFor(fmt.Sprintf("\tjwt {\n\t\tjwks %s {\n\t\t\ttimeout 5s\n\t\t}\n\t}\n\treverse_proxy %s", publisher.URL("/jwks.json"), up.Addr()))
	verifier := startCaddy(t, cfg)

	for _, k := range []cliKey{es, ed} {
		token := strings.TrimSpace(mustCaddyJWT(t, append([]string{"sign", "--alg", k.alg, "--sub", "alice"}, k.signFlags...)...))
		// The first fetch may still be under way: 503 until it is done.
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp := get(t, verifier.URL("/x"), bearer(token))
			if resp.StatusCode == 200 {
				break
			}
			if resp.StatusCode != 503 || time.Now().After(deadline) {
				t.Fatalf("%s token with kid %s: %d %s", k.alg, k.kid, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	stranger := keygenThroughCLI(t, t.TempDir(), "ES256")
	forged := strings.TrimSpace(mustCaddyJWT(t, "sign", "--alg", "ES256", "--key", stranger.signFlags[1], "--kid", es.kid))
	if resp := get(t, verifier.URL("/x"), bearer(forged)); resp.StatusCode != 401 {
		t.Fatalf("a token signed by another key under a published kid: %d", resp.StatusCode)
	}
}
