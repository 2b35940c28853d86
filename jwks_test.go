package caddyjwt

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/MicahParks/jwkset"
)

// publicJWK returns the JWK JSON object of key's public half with the given
// members added (kid, alg, use, key_ops, ...).
func publicJWK(t testing.TB, key any, members map[string]any) map[string]any {
	t.Helper()
	jwk, err := jwkset.NewJWKFromKey(key, jwkset.JWKOptions{})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(jwk.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range members {
		m[k] = v
	}
	return m
}

func octJWK(secret []byte, kid string) map[string]any {
	return map[string]any{"kty": "oct", "kid": kid, "k": base64.RawURLEncoding.EncodeToString(secret)}
}

func jwksBody(t testing.TB, keys ...map[string]any) []byte {
	t.Helper()
	if keys == nil {
		keys = []map[string]any{}
	}
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustJWK(t testing.TB, m map[string]any) jwkset.JWK {
	t.Helper()
	raw, _ := json.Marshal(m)
	jwk, err := jwkset.NewJWKFromRawJSON(raw, jwkset.JWKMarshalOptions{Private: true}, jwkset.JWKValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return jwk
}

func TestJWKConversionFollowsUseAlgCurveAndOrigin(t *testing.T) {
	ec256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	secret64 := make([]byte, 64)
	secret40 := make([]byte, 40)

	tests := []struct {
		name    string
		jwk     map[string]any
		fromURL bool
		allowed algorithmSet
		want    algorithmSet // 0: not usable
	}{
		{"EC P-256 key verifies ES256 only", publicJWK(t, &ec256.PublicKey, nil), true, allAlgorithms, setOf(algES256)},
		{"EC P-384 key verifies ES384 only", publicJWK(t, &ec384.PublicKey, nil), true, allAlgorithms, setOf(algES384)},
		{"EC key whose alg names another curve is not used", publicJWK(t, &ec256.PublicKey, map[string]any{"alg": "ES384"}), true, allAlgorithms, 0},
		{"Ed25519 key verifies EdDSA and Ed25519", publicJWK(t, edPub, nil), true, allAlgorithms, eddsaAlgorithms},
		{"RSA key verifies RS and PS", publicJWK(t, &rsa2048.PublicKey, nil), true, allAlgorithms, rsaAlgorithms},
		{"RSA key with alg verifies that alg only", publicJWK(t, &rsa2048.PublicKey, map[string]any{"alg": "PS256"}), true, allAlgorithms, setOf(algPS256)},
		{"RSA key narrowed by the allowlist", publicJWK(t, &rsa2048.PublicKey, nil), true, setOf(algRS256, algES256), setOf(algRS256)},
		{"RSA key outside the allowlist is not used", publicJWK(t, &rsa2048.PublicKey, nil), true, setOf(algES256), 0},
		{"RSA key under 2048 bits is not used", publicJWK(t, &rsa1024.PublicKey, nil), true, allAlgorithms, 0},
		{"encryption key is not used", publicJWK(t, &rsa2048.PublicKey, map[string]any{"use": "enc"}), true, allAlgorithms, 0},
		{"encryption alg is not used", publicJWK(t, &rsa2048.PublicKey, map[string]any{"alg": "RSA-OAEP"}), true, allAlgorithms, 0},
		{"key_ops without verify is not used", publicJWK(t, &ec256.PublicKey, map[string]any{"key_ops": []string{"encrypt"}}), true, allAlgorithms, 0},
		{"use sig is used", publicJWK(t, &ec256.PublicKey, map[string]any{"use": "sig"}), true, allAlgorithms, setOf(algES256)},
		{"oct key from a URL is never used", octJWK(secret64, "h"), true, allAlgorithms, 0},
		{"oct key from a file verifies the hashes it is long enough for", octJWK(secret40, "h"), false, allAlgorithms, setOf(algHS256)},
		{"64-byte oct key from a file verifies all HS", octJWK(secret64, "h"), false, allAlgorithms, hmacAlgorithms},
		{"oct key from a file with alg HS512 but too short is not used", octJWK(secret40, "h"), false, setOf(algHS512), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := verificationKeyFromJWK(mustJWK(t, tt.jwk), tt.allowed, tt.fromURL, "test")
			if tt.want == 0 {
				if err == nil {
					t.Fatalf("key accepted for %s; want it refused", key.algorithms)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if key.algorithms != tt.want {
				t.Fatalf("algorithms = %s, want %s", key.algorithms, tt.want)
			}
		})
	}
}

func TestJWKFromURLWithPrivateMaterialVerifiesWithPublicHalfOnly(t *testing.T) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwk, err := jwkset.NewJWKFromKey(priv, jwkset.JWKOptions{Marshal: jwkset.JWKMarshalOptions{Private: true}})
	if err != nil {
		t.Fatal(err)
	}
	key, err := verificationKeyFromJWK(jwk, allAlgorithms, true, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := key.material.(*ecdsa.PublicKey); !ok {
		t.Fatalf("material is %T, want *ecdsa.PublicKey", key.material)
	}
	if _, err := verificationKeyFromJWK(jwk, allAlgorithms, false, "test"); !errors.Is(err, errJWKPrivateInFile) {
		t.Fatalf("file with a private key: err = %v, want errJWKPrivateInFile", err)
	}
}

func TestJWKSFileMayHoldHMACKeysButNotUnusableOnes(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, jwksBody(t, octJWK(make([]byte, 32), "hmac"), publicJWK(t, &ec.PublicKey, map[string]any{"kid": "ec"})), 0o600)
	keys, err := loadJWKSFile(good, allAlgorithms)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].id != "hmac" || !keys[0].algorithms.has(algHS256) || keys[1].id != "ec" {
		t.Fatalf("keys = %+v", keys)
	}

	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, jwksBody(t, publicJWK(t, &ec.PublicKey, map[string]any{"kid": "enc", "use": "enc"})), 0o600)
	if _, err := loadJWKSFile(bad, allAlgorithms); err == nil || !strings.Contains(err.Error(), `kid "enc"`) {
		t.Fatalf("err = %v, want an error naming the key", err)
	}
	if _, err := loadJWKSFile(filepath.Join(dir, "missing.json"), allAlgorithms); err == nil {
		t.Fatal("missing file accepted")
	}
}
