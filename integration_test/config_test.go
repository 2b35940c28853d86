package integration_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
)

// TestUnsafeConfigsAreRefused: configs that would make the edge unsafe or
// could never work stop `caddy run` with a message naming the directive,
// and never with the secret in it.
func TestUnsafeConfigsAreRefused(t *testing.T) {
	requireCaddy(t)
	rsa := newKey(t, "RS256")
	rsaPEM := rsa.writePublicKeyPEM(t)
	small := newRSAKey(t, 1024)
	smallDER, err := x509.MarshalPKIXPublicKey(&small.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	smallPEM := writeFile(t, "small.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: smallDER}))
	shortSecret := "short-secret-" + randomText(t, 8)

	cases := []struct {
		name   string
		config string
		env    []string
		want   []string // all must appear in the output
		secret string   // must not appear in the output
	}{
		{"short secret", "secret " + shortSecret, nil,
			[]string{"jwt: secret is 21 bytes", "HS256 needs at least 32"}, shortSecret},
		{"short secret from an env variable", "secret {env.JWT_TEST_SECRET}", []string{"JWT_TEST_SECRET=" + shortSecret},
			[]string{"jwt: secret is 21 bytes", "HS256 needs at least 32"}, shortSecret},
		{"secret too short for an explicitly allowed HS512", "secret " + randomText(t, 32) + "\nalgorithms HS256 HS512", nil,
			[]string{"jwt: secret", "HS512 needs at least 64"}, ""},
		{"secret from an unset env variable", "secret {env.JWT_TEST_UNSET_VARIABLE}", nil,
			[]string{"jwt: secret", "JWT_TEST_UNSET_VARIABLE"}, ""},
		{"secret from an empty env variable", "secret {env.JWT_TEST_EMPTY}", []string{"JWT_TEST_EMPTY="},
			[]string{"jwt: secret", "empty"}, ""},
		{"secret from a missing file", "secret {file./nonexistent/jwt-secret}", nil,
			[]string{"jwt: secret"}, ""},
		{"secret that is not base64", "secret " + strings.Repeat("*", 48) + " base64", nil,
			[]string{"jwt: secret", "base64"}, strings.Repeat("*", 48)},
		{"none in algorithms", "secret " + randomText(t, 32) + "\nalgorithms HS256 none", nil,
			[]string{"jwt: algorithms", "none", "is never accepted"}, ""},
		{"unknown algorithm", "secret " + randomText(t, 32) + "\nalgorithms HS257", nil,
			[]string{"jwt: algorithms", "HS257"}, ""},
		{"HMAC algorithm with only an RSA key", "public_key " + rsaPEM + "\nalgorithms HS256", nil,
			[]string{"jwt: public_key", "algorithms"}, ""},
		{"HMAC algorithm beside RS256 with only an RSA key", "public_key " + rsaPEM + "\nalgorithms RS256 HS256", nil,
			[]string{"jwt: algorithms lists HS256", "no configured key"}, ""},
		{"secret with only asymmetric algorithms", "secret " + randomText(t, 32) + "\nalgorithms RS256", nil,
			[]string{"jwt: secret", "algorithms"}, ""},
		{"private key given as public_key", "public_key " + rsa.writePrivateKeyPEM(t), nil,
			[]string{"jwt: public_key", "PRIVATE KEY", "give the public key"}, ""},
		{"RSA key below 2048 bits", "public_key " + smallPEM, nil,
			[]string{"jwt: public_key", "1024 bits"}, ""},
		{"public_key file missing", "public_key /nonexistent/key.pem", nil,
			[]string{"jwt: public_key /nonexistent/key.pem"}, ""},
		{"public_key file without PEM", "public_key " + writeFile(t, "garbage.pem", []byte("not a key")), nil,
			[]string{"jwt: public_key", "no PEM"}, ""},
		{"no keys", "audience api", nil,
			[]string{"jwt: no keys configured"}, ""},
		{"unknown subdirective", "secret " + randomText(t, 32) + "\nsecrets x", nil,
			[]string{"unknown subdirective", "secrets", "Caddyfile:13"}, ""},
		{"wrong argument count", "secret " + randomText(t, 32) + "\nclaim_header sub", nil,
			[]string{"wrong argument count", "Caddyfile:13"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := runCaddyExpectFailure(t, caddyfileFor(jwtRoute("/*", tc.config, "respond ok")), withEnv(tc.env...))
			out := res.Output()
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, lastLines(out, 3))
				}
			}
			if tc.secret != "" && strings.Contains(out, tc.secret) {
				t.Errorf("output contains the secret:\n%s", lastLines(out, 3))
			}
		})
	}
}

// TestSecretPlaceholdersResolveAtLoad: {env.*} and {file.*} secrets are
// read when the config loads, trailing newline trimmed, base64 decoded.
func TestSecretPlaceholdersResolveAtLoad(t *testing.T) {
	requireCaddy(t)
	up := newUpstream(t)
	envKey := newKey(t, "HS256")
	fileKey := newKey(t, "HS384")
	b64Key := newHMACKey(t, "HS512", 64)
	secretFile := writeFile(t, "secret", []byte(fileKey.Secret()+"\n"))
	proxy := "reverse_proxy " + up.Addr()
	c := startCaddy(t, caddyfileFor(
		jwtRoute("/env/*", "secret {env.JWT_TEST_SECRET}", proxy)+
			jwtRoute("/file/*", "secret {file."+secretFile+"}", proxy)+
			jwtRoute("/b64/*", "secret "+encodeStd(b64Key.Secret())+" base64", proxy)+
			"\trespond 404\n"),
		withEnv("JWT_TEST_SECRET="+envKey.Secret()))

	check(t, c, up, http.MethodGet, "/env/", bearer(sign(t, envKey, validClaims())), accepted)
	check(t, c, up, http.MethodGet, "/file/", bearer(sign(t, fileKey, validClaims())), accepted)
	check(t, c, up, http.MethodGet, "/b64/", bearer(sign(t, b64Key, validClaims())), accepted)
	// The placeholder text itself is not the key.
	lit := &testKey{Alg: "HS256", method: envKey.method, Signing: []byte("{env.JWT_TEST_SECRET}")}
	check(t, c, up, http.MethodGet, "/env/", bearer(sign(t, lit, validClaims())), expectation{http.StatusUnauthorized, invalidToken(descBadSignature)})
	if strings.Contains(c.Logs(), envKey.Secret()) || strings.Contains(c.Logs(), fileKey.Secret()) {
		t.Error("Caddy's log contains a secret")
	}
}

// TestReloadSwapsKeys: a config reload through the admin API takes effect
// at once: the old key stops verifying, the new one starts.
func TestReloadSwapsKeys(t *testing.T) {
	requireCaddy(t)
	up := newUpstream(t)
	oldKey, newK := newKey(t, "ES256"), newKey(t, "HS256")
	proxy := "reverse_proxy " + up.Addr()
	c := startCaddy(t, caddyfileFor(jwtRoute("/*", oldKey.keyDirective(t), proxy)))
	check(t, c, up, http.MethodGet, "/", bearer(sign(t, oldKey, validClaims())), accepted)

	if err := c.Reload(caddyfileFor(jwtRoute("/*", newK.keyDirective(t), proxy))); err != nil {
		t.Fatal(err)
	}
	check(t, c, up, http.MethodGet, "/", bearer(sign(t, newK, validClaims())), accepted)
	check(t, c, up, http.MethodGet, "/", bearer(sign(t, oldKey, validClaims())), expectation{http.StatusUnauthorized, invalidToken(descBadAlgorithm)})

	// A refused config leaves the running one in place.
	if err := c.Reload(caddyfileFor(jwtRoute("/*", "secret short", proxy))); err == nil || !strings.Contains(err.Error(), "jwt: secret is 5 bytes") {
		t.Fatalf("reload with a short secret: %v", err)
	}
	check(t, c, up, http.MethodGet, "/", bearer(sign(t, newK, validClaims())), accepted)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func encodeStd(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
