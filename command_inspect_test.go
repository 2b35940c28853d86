package caddyjwt

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func signToken(t *testing.T, args ...string) string {
	t.Helper()
	out, err := runCommand(t, newSignCommand, "", args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// assertNoSignature fails if any 8-character run of the token's signature
// appears in out.
func assertNoSignature(t *testing.T, token, out string) {
	t.Helper()
	sig := token[strings.LastIndexByte(token, '.')+1:]
	for i := 0; i+8 <= len(sig); i++ {
		if strings.Contains(out, sig[i:i+8]) {
			t.Fatalf("output shows part of the signature (%q)", sig[i:i+8])
		}
	}
}

func TestInspectWithoutKeysSaysNotVerifiedAndHidesTheSignature(t *testing.T) {
	priv, _ := keyPair(t, "ES256")
	// A year ahead, whatever today is, so the nbf always reads "in …".
	nbf := time.Now().UTC().Add(365 * 24 * time.Hour).Truncate(time.Second)
	token := signToken(t, "--key", priv, "--kid", "k1", "--sub", "alice", "--nbf", nbf.Format(time.RFC3339), "--allow-long", "--exp", "87600h")
	nbfLine := fmt.Sprintf("nbf       %s UTC  (unix %d, in ", nbf.Format(time.DateTime), nbf.Unix())

	for name, run := range map[string]func() (string, error){
		"argument":     func() (string, error) { return runCommand(t, newInspectCommand, "", token) },
		"stdin":        func() (string, error) { return runCommand(t, newInspectCommand, token+"\n", "-") },
		"bearer stdin": func() (string, error) { return runCommand(t, newInspectCommand, "Bearer "+token) },
	} {
		t.Run(name, func(t *testing.T) {
			out, err := run()
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(out, "\n")
			if !strings.HasPrefix(first, "NOT VERIFIED") {
				t.Errorf("first line = %q, want NOT VERIFIED", first)
			}
			for _, want := range []string{`"kid": "k1"`, `"alg": "ES256"`, `"sub": "alice"`, nbfLine, "Signature: 64 bytes"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			assertNoSignature(t, token, out)
		})
	}
}

func TestInspectVerifiesAsTheHandlerDoesAndSaysWhy(t *testing.T) {
	priv, pub := keyPair(t, "ES256")
	otherPriv, otherPub := keyPair(t, "ES256")
	_ = otherPriv
	rsaPriv, rsaPub := keyPair(t, "RS256")
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte(strings.Repeat("s", 32)), 0o600)

	jwksFile := filepath.Join(t.TempDir(), "jwks.json")
	doc, err := runCommand(t, newJWKSCommand, "", "--pub", pub, "--kid", "k1", "--pub", rsaPub, "--kid", "r1")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(jwksFile, []byte(doc), 0o644)

	good := signToken(t, "--key", priv, "--kid", "k1", "--aud", "api", "--iss", "https://id.example")
	tests := []struct {
		name    string
		args    []string
		verdict string
	}{
		{"good token, public key", []string{"--key", pub, good}, "VERIFIED: ES256 signature (kid \"k1\")"},
		{"good token, private key file", []string{"--key", priv, good}, "VERIFIED"},
		{"good token, jwks", []string{"--jwks", jwksFile, good}, "VERIFIED"},
		{"good token, right aud and iss", []string{"--key", pub, "--aud", "api", "--iss", "https://id.example", good}, "VERIFIED"},
		{"other key", []string{"--key", otherPub, good}, "VERIFICATION FAILED: the token's signature is invalid"},
		{"wrong aud", []string{"--key", pub, "--aud", "web", good}, "VERIFICATION FAILED: the token's audience is not accepted"},
		{"wrong iss", []string{"--key", pub, "--iss", "https://other.example", good}, "VERIFICATION FAILED: the token's issuer is not accepted"},
		{"ES token, RSA key", []string{"--key", rsaPub, good}, "VERIFICATION FAILED: the token's algorithm is not accepted (alg \"ES256\", kid \"k1\"; the keys given verify RS256,RS384,RS512,PS256,PS384,PS512)"},
		{"unknown kid in jwks", []string{"--jwks", jwksFile, signToken(t, "--key", priv, "--kid", "k9")}, "VERIFICATION FAILED: the token's signing key is not known"},
		{"expired", []string{"--key", pub, signToken(t, "--key", priv, "--claim", "iat=1000000000", "--claim", "exp=1000000060")}, "VERIFICATION FAILED: the token is expired (exp 2001-09-09 01:47:40 UTC, "},
		{"not yet valid", []string{"--key", pub, signToken(t, "--key", priv, "--nbf", "10m")}, "VERIFICATION FAILED: the token is not yet valid (nbf "},
		{"HS256 with secret", []string{"--secret", secret, signToken(t, "--key", secret)}, "VERIFIED: HS256"},
		{"HS256 token, public key only", []string{"--key", pub, signToken(t, "--key", secret)}, "VERIFICATION FAILED: the token's algorithm is not accepted"},
		{"RS256 with jwks", []string{"--jwks", jwksFile, signToken(t, "--key", rsaPriv, "--kid", "r1")}, "VERIFIED: RS256"},
		{"PS256 against an RS256 jwk", []string{"--jwks", jwksFile, signToken(t, "--key", rsaPriv, "--kid", "r1", "--alg", "PS256")}, "VERIFICATION FAILED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runCommand(t, newInspectCommand, "", tt.args...)
			first, _, _ := strings.Cut(out, "\n")
			if !strings.HasPrefix(first, tt.verdict) {
				t.Fatalf("first line = %q, want %q", first, tt.verdict)
			}
			if failed := strings.HasPrefix(first, "VERIFICATION FAILED"); failed != (err != nil) {
				t.Fatalf("exit error = %v with verdict %q: a refusal must exit non-zero, a pass zero", err, first)
			}
			assertNoSignature(t, tt.args[len(tt.args)-1], out)
		})
	}
}

func TestInspectRefusesWhatIsNotAToken(t *testing.T) {
	for name, token := range map[string]string{
		"empty":      "",
		"two parts":  "eyJhbGciOiJIUzI1NiJ9.e30",
		"JWE":        "a.b.c.d.e",
		"bad base64": "eyJhbGciOiJIUzI1NiJ9.!!!.sig",
		"not JSON":   "bm90IGpzb24.e30.c2ln",
		"JSON array": "W10.e30.c2ln",
	} {
		t.Run(name, func(t *testing.T) {
			if out, err := runCommand(t, newInspectCommand, token); err == nil {
				t.Fatalf("inspect accepted %q:\n%s", token, out)
			}
		})
	}
}

func TestInspectRelativeTimesReadAsAPersonWouldSayThem(t *testing.T) {
	now := time.Unix(2_000_000_000, 0)
	for d, want := range map[time.Duration]string{
		0:                    "now",
		90 * time.Second:     "in 1m30s",
		-47 * time.Hour:      "47h0m0s ago",
		-49 * time.Hour:      "2 days ago",
		400 * 24 * time.Hour: "in 400 days",
	} {
		if got := relativeTime(now.Add(d), now); got != want {
			t.Errorf("%s: %q, want %q", d, got, want)
		}
	}
}
