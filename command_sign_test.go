package caddyjwt

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// keyPair makes a key pair with keygen in a temp dir and returns the paths
// of the private and public PEM files.
func keyPair(t *testing.T, alg string) (priv, pub string) {
	t.Helper()
	dir := t.TempDir()
	if _, err := runCommand(t, newKeygenCommand, "", "--alg", alg, "--out-dir", dir); err != nil {
		t.Fatal(err)
	}
	name := strings.ToLower(alg)
	return filepath.Join(dir, name+".key.pem"), filepath.Join(dir, name+".pub.pem")
}

// signedClaims signs with the CLI and returns the token and its claims as
// the handler's verifier reads them.
func signedClaims(t *testing.T, pub string, args ...string) (string, map[string]any, map[string]any) {
	t.Helper()
	out, err := runCommand(t, newSignCommand, "", args...)
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(out)
	key, err := loadPublicKeyFile(&PublicKeyFile{Path: pub}, allAlgorithms)
	if err != nil {
		t.Fatal(err)
	}
	verified, rsn := verifierFor(key).verify(context.Background(), token, time.Now())
	if rsn != reasonAllowed {
		t.Fatalf("the handler refuses the token: %s", rsn)
	}
	decoded, err := decodeUnverified(token)
	if err != nil {
		t.Fatal(err)
	}
	return token, decoded.header, verified.decodedClaims()
}

func TestSignSetsTheRequestedClaimsAndHeader(t *testing.T) {
	priv, pub := keyPair(t, "ES256")
	claimsFile := filepath.Join(t.TempDir(), "claims.json")
	os.WriteFile(claimsFile, []byte(`{"tenant":"acme","sub":"overridden","realm_access":{"roles":["a"]}}`), 0o644)

	before := time.Now().Unix()
	_, header, claims := signedClaims(t, pub, "--key", priv, "--kid", "k1", "--typ", "at+jwt",
		"--sub", "alice", "--iss", "https://issuer.example", "--aud", "api", "--aud", "web",
		"--exp", "10m", "--claims-json", claimsFile,
		"--claim", "level=3", "--claim", "admin=true", "--claim", `id="007"`, "--claim", "name=Jane Doe", "--claim", `roles=["x","y"]`)

	if header["kid"] != "k1" || header["typ"] != "at+jwt" || header["alg"] != "ES256" {
		t.Errorf("header = %v", header)
	}
	want := map[string]string{
		"sub": `"alice"`, "iss": `"https://issuer.example"`, "aud": `["api","web"]`, "tenant": `"acme"`,
		"realm_access": `{"roles":["a"]}`, "level": `3`, "admin": `true`, "id": `"007"`, "name": `"Jane Doe"`, "roles": `["x","y"]`,
	}
	for name, js := range want {
		got, _ := json.Marshal(claims[name])
		if string(got) != js {
			t.Errorf("claim %s = %s, want %s", name, got, js)
		}
	}
	iat, _ := claims["iat"].(json.Number).Int64()
	exp, _ := claims["exp"].(json.Number).Int64()
	if iat < before || iat > time.Now().Unix() {
		t.Errorf("iat = %d, not now", iat)
	}
	if exp-iat != 600 {
		t.Errorf("exp - iat = %d, want 600", exp-iat)
	}
	if jti, _ := claims["jti"].(string); len(jti) < 20 {
		t.Errorf("jti = %q, want a random ID", jti)
	}
}

func TestSignGivesEachTokenItsOwnJTI(t *testing.T) {
	priv, pub := keyPair(t, "EdDSA")
	_, _, a := signedClaims(t, pub, "--key", priv)
	_, _, b := signedClaims(t, pub, "--key", priv)
	if a["jti"] == b["jti"] {
		t.Fatalf("two tokens share jti %v", a["jti"])
	}
	_, _, fixed := signedClaims(t, pub, "--key", priv, "--claim", "jti=chosen")
	if fixed["jti"] != "chosen" {
		t.Fatalf("--claim jti ignored: %v", fixed["jti"])
	}
}

// TestSignLifetimes: --exp takes Caddy's durations (days included), and a
// negative one signs a token that has already expired, which the handler
// refuses as expired.
func TestSignLifetimes(t *testing.T) {
	priv, pub := keyPair(t, "ES256")
	key, err := loadPublicKeyFile(&PublicKeyFile{Path: pub}, allAlgorithms)
	if err != nil {
		t.Fatal(err)
	}
	for flag, want := range map[string]time.Duration{
		"1d":    24 * time.Hour,
		"1h30m": 90 * time.Minute,
		"-1h":   -time.Hour,
		"-2d":   -48 * time.Hour,
	} {
		// sign reads the clock once, between before and after.
		before := time.Now()
		out, err := runCommand(t, newSignCommand, "", "--key", priv, "--exp", flag)
		after := time.Now()
		if err != nil {
			t.Fatalf("--exp %s: %v", flag, err)
		}
		token := strings.TrimSpace(out)
		decoded, _ := decodeUnverified(token)
		got, _ := decoded.claims["exp"].(json.Number).Int64()
		if lo, hi := before.Add(want).Unix(), after.Add(want).Unix(); got < lo || got > hi {
			t.Errorf("--exp %s: exp = %d, want %d to %d", flag, got, lo, hi)
		}
		_, rsn := verifierFor(key).verify(context.Background(), token, time.Now())
		if wantReason := map[bool]reason{true: reasonAllowed, false: reasonExpired}[want > 0]; rsn != wantReason {
			t.Errorf("--exp %s: the handler says %s, want %s", flag, rsn, wantReason)
		}
	}
}

// TestSignTakesAlgorithmNamesInAnyCase: a name typed on the command line
// is matched in any case; the header carries the registered spelling.
func TestSignTakesAlgorithmNamesInAnyCase(t *testing.T) {
	priv, pub := keyPair(t, "EdDSA")
	_, header, _ := signedClaims(t, pub, "--key", priv, "--alg", "eddsa")
	if header["alg"] != "EdDSA" {
		t.Fatalf("--alg eddsa: header alg %v, want EdDSA", header["alg"])
	}
}

func TestSignNotBefore(t *testing.T) {
	priv, _ := keyPair(t, "ES256")
	for flag, want := range map[string]func(now time.Time) int64{
		"-1m":                  func(now time.Time) int64 { return now.Add(-time.Minute).Unix() },
		"2030-01-02T03:04:05Z": func(time.Time) int64 { return time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC).Unix() },
		"1900000000":           func(time.Time) int64 { return 1900000000 },
	} {
		// sign reads the clock once, between before and after.
		before := time.Now()
		out, err := runCommand(t, newSignCommand, "", "--key", priv, "--nbf", flag)
		after := time.Now()
		if err != nil {
			t.Fatal(err)
		}
		decoded, _ := decodeUnverified(strings.TrimSpace(out))
		got, _ := decoded.claims["nbf"].(json.Number).Int64()
		if lo, hi := want(before), want(after); got < lo || got > hi {
			t.Errorf("--nbf %s: nbf = %d, want %d to %d", flag, got, lo, hi)
		}
	}
	if _, err := runCommand(t, newSignCommand, "", "--key", priv, "--nbf", "soon"); err == nil {
		t.Error("--nbf soon accepted")
	}
}

func TestSignRefusesLifetimesOver24hUnlessAllowed(t *testing.T) {
	priv, pub := keyPair(t, "ES256")
	if _, err := runCommand(t, newSignCommand, "", "--key", priv, "--exp", "25h"); err == nil || !strings.Contains(err.Error(), "--allow-long") {
		t.Fatalf("--exp 25h: err = %v, want a refusal naming --allow-long", err)
	}
	if _, err := runCommand(t, newSignCommand, "", "--key", priv, "--exp", "24h"); err != nil {
		t.Fatalf("--exp 24h refused: %v", err)
	}
	farExp := "--claim=exp=" + strconv.FormatInt(time.Now().Add(48*time.Hour).Unix(), 10)
	if _, err := runCommand(t, newSignCommand, "", "--key", priv, farExp); err == nil {
		t.Fatal("an exp claim 48h away slipped past the limit")
	}
	_, _, claims := signedClaims(t, pub, "--key", priv, "--exp", "720h", "--allow-long")
	iat, _ := claims["iat"].(json.Number).Int64()
	exp, _ := claims["exp"].(json.Number).Int64()
	if exp-iat != 720*3600 {
		t.Fatalf("--allow-long: lifetime %d s", exp-iat)
	}
}

func TestSignRefusesKeysThatDoNotFitTheAlgorithm(t *testing.T) {
	priv, pub := keyPair(t, "ES256")
	shortSecret := filepath.Join(t.TempDir(), "short")
	os.WriteFile(shortSecret, []byte("too-short\n"), 0o600)
	secret32 := filepath.Join(t.TempDir(), "s32")
	os.WriteFile(secret32, []byte(strings.Repeat("k", 32)+"\n"), 0o600)

	for name, args := range map[string][]string{
		"no key":                   {},
		"EC key, RSA alg":          {"--key", priv, "--alg", "RS256"},
		"EC P-256 key, ES384":      {"--key", priv, "--alg", "ES384"},
		"EC key, HMAC alg":         {"--key", priv, "--alg", "HS256"},
		"public key":               {"--key", pub},
		"none":                     {"--key", priv, "--alg", "none"},
		"short secret":             {"--key", shortSecret},
		"32-byte secret for HS512": {"--key", secret32, "--alg", "HS512"},
		"secret for ES256":         {"--key", secret32, "--alg", "ES256"},
		"decoded secret too short": {"--key", secret32, "--secret-base64"},
		"bad claim":                {"--key", priv, "--claim", "novalue"},
		"zero exp":                 {"--key", priv, "--exp", "0s"},
		"exp without a unit":       {"--key", priv, "--exp", "15"},
		"unknown algorithm":        {"--key", priv, "--alg", "ES999"},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := runCommand(t, newSignCommand, "", args...)
			if err == nil {
				t.Fatalf("sign accepted it and printed %q", out)
			}
			if out != "" {
				t.Fatalf("sign printed %q on failure", out)
			}
		})
	}
}

func TestSignWithRawSecretIsAcceptedByTheHandler(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(path, []byte(strings.Repeat("s", 48)+"\n"), 0o600)
	out, err := runCommand(t, newSignCommand, "", "--key", path, "--alg", "HS384")
	if err != nil {
		t.Fatal(err)
	}
	key, err := loadSecret(&SecretKey{Value: "{file." + path + "}"}, allAlgorithms)
	if err != nil {
		t.Fatal(err)
	}
	if _, rsn := verifierFor(key).verify(context.Background(), strings.TrimSpace(out), time.Now()); rsn != reasonAllowed {
		t.Fatalf("handler: %s", rsn)
	}
}

// A tutorial secret such as "secret" gets the same advice as in the
// handler: how to make a proper one.
func TestSignShortSecretSaysHowToMakeOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(path, []byte("secret\n"), 0o600)
	_, err := runCommand(t, newSignCommand, "", "--key", path)
	if err == nil {
		t.Fatal("a 6-byte secret was accepted")
	}
	for _, want := range []string{"6 bytes", "HS256 needs at least 32", "openssl rand -hex 32"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestSignWithEd25519NamesItInTheHeader: keygen and sign take RFC 9864's
// name, the token says alg Ed25519, and the handler verifies it.
func TestSignWithEd25519NamesItInTheHeader(t *testing.T) {
	priv, pub := keyPair(t, "Ed25519")
	_, header, _ := signedClaims(t, pub, "--key", priv, "--alg", "Ed25519")
	if header["alg"] != "Ed25519" {
		t.Errorf("header alg = %v, want Ed25519", header["alg"])
	}
	_, header, _ = signedClaims(t, pub, "--key", priv)
	if header["alg"] != "EdDSA" {
		t.Errorf("default alg for an Ed25519 key = %v, want EdDSA", header["alg"])
	}
}
