package caddyjwt

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// runCommand runs one `caddy jwt` subcommand as the CLI would, with stdin
// and captured stdout.
func runCommand(t *testing.T, build func() *cobra.Command, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := build()
	var out bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	cmd.SilenceUsage = true
	err := cmd.Execute()
	return out.String(), err
}

// verifierFor builds the handler's own verifier around keys, as a config
// with only those keys would.
func verifierFor(keys ...*verificationKey) *tokenVerifier {
	var algs algorithmSet
	for _, k := range keys {
		algs |= k.algorithms
	}
	v, err := newTokenVerifier(verifierRules{maxTokenSize: defaultMaxTokenSize, algorithms: algs, leeway: defaultLeeway}, nil)
	if err != nil {
		panic(err)
	}
	if _, err := v.addScope("", nil, []keySource{&staticKeys{keys: keys}}); err != nil {
		panic(err)
	}
	return v
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode().Perm()
}

func TestKeygenKeyPairsSignTokensTheHandlerAccepts(t *testing.T) {
	for _, alg := range []string{"ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			dir := t.TempDir()
			out, err := runCommand(t, newKeygenCommand, "", "--alg", alg, "--out-dir", dir, "--kid", "k-"+alg)
			if err != nil {
				t.Fatal(err)
			}
			priv := filepath.Join(dir, "k-"+alg+".key.pem")
			pub := filepath.Join(dir, "k-"+alg+".pub.pem")
			if m := fileMode(t, priv); m != 0o600 {
				t.Errorf("private key mode = %04o, want 0600", m)
			}
			if m := fileMode(t, pub); m != 0o644 {
				t.Errorf("public key mode = %04o, want 0644", m)
			}
			if !strings.Contains(out, "public_key "+pub+" k-"+alg) {
				t.Errorf("keygen does not suggest the public_key line:\n%s", out)
			}
			privPEM, _ := os.ReadFile(priv)
			if strings.Contains(out, string(privPEM)) {
				t.Error("keygen printed the private key")
			}

			key, err := loadPublicKeyFile(&PublicKeyFile{Path: pub, KeyID: "k-" + alg}, allAlgorithms)
			if err != nil {
				t.Fatalf("the handler cannot load the public key: %v", err)
			}
			token, err := runCommand(t, newSignCommand, "", "--key", priv, "--alg", alg, "--kid", "k-"+alg, "--sub", "alice")
			if err != nil {
				t.Fatal(err)
			}
			verified, rsn := verifierFor(key).verify(context.Background(), strings.TrimSpace(token), time.Now())
			if rsn != reasonAllowed {
				t.Fatalf("the handler refuses the signed token: %s", rsn)
			}
			if verified.subject != "alice" || verified.keyID != "k-"+alg || verified.algorithm.String() != alg {
				t.Errorf("verified token = sub %q kid %q alg %s", verified.subject, verified.keyID, verified.algorithm)
			}
		})
	}
}

func TestKeygenHMACSecretHasTheHashLengthAndLoadsInTheHandler(t *testing.T) {
	for alg, size := range map[string]int{"HS256": 32, "HS384": 48, "HS512": 64} {
		t.Run(alg, func(t *testing.T) {
			dir := t.TempDir()
			out, err := runCommand(t, newKeygenCommand, "", "--alg", alg, "--out-dir", dir)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, strings.ToLower(alg)+".secret")
			if m := fileMode(t, path); m != 0o600 {
				t.Errorf("secret mode = %04o, want 0600", m)
			}
			data, _ := os.ReadFile(path)
			secret, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
			if err != nil || len(secret) != size {
				t.Fatalf("secret is %d bytes (err %v), want %d", len(secret), err, size)
			}
			if strings.Contains(out, strings.TrimSpace(string(data))) {
				t.Error("keygen printed the secret")
			}
			key, err := loadSecret(&SecretKey{Value: "{file." + path + "}", Base64: true}, setOf(parseAlgorithm(alg)))
			if err != nil {
				t.Fatalf("the handler refuses the secret: %v", err)
			}
			token, err := runCommand(t, newSignCommand, "", "--key", path, "--secret-base64", "--alg", alg)
			if err != nil {
				t.Fatal(err)
			}
			if _, rsn := verifierFor(key).verify(context.Background(), strings.TrimSpace(token), time.Now()); rsn != reasonAllowed {
				t.Fatalf("the handler refuses the signed token: %s", rsn)
			}
		})
	}
}

func TestKeygenSecretsDiffer(t *testing.T) {
	a, _ := newKeyFiles(algHS256, 0, t.TempDir(), "a")
	b, _ := newKeyFiles(algHS256, 0, t.TempDir(), "b")
	if bytes.Equal(a[0].content, b[0].content) {
		t.Fatal("two secrets are equal")
	}
}

func TestKeygenRefusesToOverwriteExistingKeys(t *testing.T) {
	dir := t.TempDir()
	if _, err := runCommand(t, newKeygenCommand, "", "--alg", "EdDSA", "--out-dir", dir); err != nil {
		t.Fatal(err)
	}
	priv := filepath.Join(dir, "eddsa.key.pem")
	before, _ := os.ReadFile(priv)
	if _, err := runCommand(t, newKeygenCommand, "", "--alg", "EdDSA", "--out-dir", dir); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second keygen: err = %v, want a refusal", err)
	}
	if after, _ := os.ReadFile(priv); !bytes.Equal(before, after) {
		t.Fatal("the private key was overwritten")
	}

	// Only the public half existing still protects the pair.
	dir = t.TempDir()
	os.WriteFile(filepath.Join(dir, "es256.pub.pem"), []byte("mine"), 0o644)
	if _, err := runCommand(t, newKeygenCommand, "", "--alg", "ES256", "--out-dir", dir); err == nil {
		t.Fatal("keygen overwrote an existing public key")
	}
	if _, err := os.Stat(filepath.Join(dir, "es256.key.pem")); err == nil {
		t.Fatal("keygen wrote half a pair")
	}
}

func TestKeygenRefusesBadInput(t *testing.T) {
	for name, args := range map[string][]string{
		"no alg":         {},
		"none":           {"--alg", "none"},
		"kid as a path":  {"--alg", "ES256", "--kid", "../evil"},
		"small RSA":      {"--alg", "RS256", "--rsa-bits", "1024"},
		"huge RSA":       {"--alg", "RS256", "--rsa-bits", "8200"},
		"stray argument": {"--alg", "ES256", "extra"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := runCommand(t, newKeygenCommand, "", append(args, "--out-dir", dir)...); err == nil {
				t.Fatal("keygen accepted it")
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Fatalf("keygen wrote %d files", len(entries))
			}
		})
	}
}
