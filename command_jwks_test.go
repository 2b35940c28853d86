package caddyjwt

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The example key of RFC 7638 §3.1 and the thumbprint the RFC gives for it.
const (
	rfc7638N          = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	rfc7638Thumbprint = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
)

func TestJWKSDerivesTheRFC7638Thumbprint(t *testing.T) {
	n, _ := base64.RawURLEncoding.DecodeString(rfc7638N)
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}
	jwk, err := newJSONWebKey(pub, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if jwk.KeyID != rfc7638Thumbprint {
		t.Fatalf("kid = %s, want the RFC's %s", jwk.KeyID, rfc7638Thumbprint)
	}
	if jwk.N != rfc7638N || jwk.E != "AQAB" || jwk.Use != "sig" || jwk.Algorithm != "RS256" {
		t.Fatalf("jwk = %+v", jwk)
	}
}

// jwksDocument runs `caddy jwt jwks` and decodes what it prints.
func jwksDocument(t *testing.T, args ...string) (string, []map[string]any) {
	t.Helper()
	out, err := runCommand(t, newJWKSCommand, "", args...)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Keys []map[string]any }
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	return out, doc.Keys
}

func TestJWKSPublishesEveryKeyWithKidUseAndAlg(t *testing.T) {
	algs := []string{"ES256", "ES384", "ES512", "RS256", "EdDSA"}
	var args []string
	privs := map[string]string{}
	for _, alg := range algs {
		priv, pub := keyPair(t, alg)
		privs[alg] = priv
		args = append(args, "--pub", pub)
	}
	args = append(args, "--kid", "first") // only the first gets a kid of its own
	out, keys := jwksDocument(t, args...)
	if len(keys) != len(algs) {
		t.Fatalf("%d keys, want %d", len(keys), len(algs))
	}
	wantKty := map[string]string{"ES256": "EC", "ES384": "EC", "ES512": "EC", "RS256": "RSA", "EdDSA": "OKP"}
	for i, k := range keys {
		if k["alg"] != algs[i] || k["use"] != "sig" || k["kty"] != wantKty[algs[i]] {
			t.Errorf("key %d = %v, want alg %s use sig kty %s", i, k, algs[i], wantKty[algs[i]])
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := k[private]; ok {
				t.Errorf("key %d has private member %q", i, private)
			}
		}
	}
	if keys[0]["kid"] != "first" {
		t.Errorf("kid of the first key = %v", keys[0]["kid"])
	}
	if kid, _ := keys[1]["kid"].(string); len(kid) != 43 {
		t.Errorf("derived kid = %q, want a base64url SHA-256 thumbprint", kid)
	}

	// What jwks prints verifies what sign signs, by kid, as a JWKS-reading
	// verifier would use it.
	file := filepath.Join(t.TempDir(), "jwks.json")
	os.WriteFile(file, []byte(out), 0o644)
	verifyKeys, err := loadJWKSKeys(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, alg := range algs {
		kid := keys[i]["kid"].(string)
		token := signToken(t, "--key", privs[alg], "--kid", kid)
		if _, rsn := verifierFor(verifyKeys...).verify(context.Background(), token, time.Now()); rsn != reasonAllowed {
			t.Errorf("%s token with kid %s: %s", alg, kid, rsn)
		}
	}
}

func TestJWKSIsStableForTheSameKey(t *testing.T) {
	_, pub := keyPair(t, "EdDSA")
	a, _ := jwksDocument(t, "--pub", pub)
	b, _ := jwksDocument(t, "--pub", pub)
	if a != b {
		t.Fatal("two runs over the same key differ")
	}
}

func TestJWKSRefusesPrivateKeysAndAmbiguity(t *testing.T) {
	priv, pub := keyPair(t, "ES256")
	_, pub2 := keyPair(t, "ES256")
	_, rsaPub := keyPair(t, "RS256")
	for name, args := range map[string][]string{
		"no --pub":       {},
		"private key":    {"--pub", priv},
		"duplicate kid":  {"--pub", pub, "--kid", "same", "--pub", pub2, "--kid", "same"},
		"same key twice": {"--pub", pub, "--pub", pub},
		"alg of another": {"--pub", pub, "--alg", "ES384"},
		"RSA with HS256": {"--pub", rsaPub, "--alg", "HS256"},
		"more kids":      {"--pub", pub, "--kid", "a", "--kid", "b"},
		"missing file":   {"--pub", filepath.Join(t.TempDir(), "nope.pem")},
	} {
		t.Run(name, func(t *testing.T) {
			if out, err := runCommand(t, newJWKSCommand, "", args...); err == nil {
				t.Fatalf("jwks accepted it:\n%s", out)
			}
		})
	}
	_, keys := jwksDocument(t, "--pub", rsaPub, "--alg", "PS256")
	if keys[0]["alg"] != "PS256" {
		t.Fatalf("--alg PS256 gave %v", keys[0]["alg"])
	}
}

func TestInspectReadsAJWKSOverHTTP(t *testing.T) {
	priv, pub := keyPair(t, "ES256")
	doc, _ := jwksDocument(t, "--pub", pub, "--kid", "k1")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(doc))
	}))
	defer srv.Close()
	token := signToken(t, "--key", priv, "--kid", "k1")
	out, err := runCommand(t, newInspectCommand, "", "--jwks", srv.URL, token)
	if err != nil || !strings.HasPrefix(out, "VERIFIED") {
		t.Fatalf("err = %v, out:\n%s", err, out)
	}
}

// A JWKS file with a key that cannot verify signatures is refused, as the
// handler refuses it at load.
func TestJWKSKeysThatMustNotVerify(t *testing.T) {
	_, pub := keyPair(t, "ES256")
	doc, _ := jwksDocument(t, "--pub", pub, "--kid", "k1")
	for name, edit := range map[string]func(string) string{
		"encryption key": func(s string) string { return strings.Replace(s, `"use": "sig"`, `"use": "enc"`, 1) },
		// (x, x) is a point of the right size that is not on P-256.
		"off the curve": func(s string) string {
			var set map[string][]map[string]any
			json.Unmarshal([]byte(s), &set)
			set["keys"][0]["y"] = set["keys"][0]["x"]
			b, _ := json.Marshal(set)
			return string(b)
		},
	} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "jwks.json")
			os.WriteFile(file, []byte(edit(doc)), 0o644)
			if keys, err := loadJWKSKeys(file); err == nil {
				t.Fatalf("loaded %d keys", len(keys))
			}
		})
	}
}

// A symmetric key in a fetched JWKS is a secret chosen by whoever controls
// the response: inspect, like the handler, never verifies HS* with it.
func TestInspectNeverUsesASymmetricKeyFromAURL(t *testing.T) {
	secret := []byte(strings.Repeat("k", 32))
	path := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(path, secret, 0o600)
	_, pub := keyPair(t, "ES256")
	doc, _ := jwksDocument(t, "--pub", pub, "--kid", "e1")
	var set map[string][]map[string]any
	json.Unmarshal([]byte(doc), &set)
	set["keys"] = append(set["keys"], map[string]any{"kty": "oct", "kid": "h1", "alg": "HS256", "k": base64.RawURLEncoding.EncodeToString(secret)})
	body, _ := json.Marshal(set)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer srv.Close()

	token := signToken(t, "--key", path, "--alg", "HS256", "--kid", "h1")
	out, err := runCommand(t, newInspectCommand, "", "--jwks", srv.URL, token)
	if err == nil || !strings.HasPrefix(out, "VERIFICATION FAILED") {
		t.Fatalf("an HS256 token verified with an oct key from a URL: err %v\n%s", err, out)
	}
}
