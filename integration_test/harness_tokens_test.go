package integration_test

// The harness's keys of every algorithm, with their PEM files, and the
// tokens signed with them, well-formed or hand-built hostile.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ---------------------------------------------------------------------------
// Keys

// testKey is a signing key of one algorithm family with its public half.
type testKey struct {
	Alg    string
	method jwt.SigningMethod
	// Signing is what golang-jwt signs with: []byte for HMAC, else a
	// crypto.Signer (private key).
	Signing any
	// Public is the verification key: []byte for HMAC, else the public key.
	Public any
}

// hmacSizes are the minimum secret lengths (RFC 7518 §3.2).
var hmacSizes = map[string]int{"HS256": 32, "HS384": 48, "HS512": 64}

// newKey makes a fresh key for alg (HS*, RS*, PS*, ES256/384/512, EdDSA).
// HMAC secrets are printable (so they fit in a Caddyfile) and exactly as
// long as the hash. RSA keys are 2048 bits.
func newKey(t testing.TB, alg string) *testKey {
	t.Helper()
	k := &testKey{Alg: alg, method: jwt.GetSigningMethod(alg)}
	if k.method == nil {
		t.Fatalf("unknown algorithm %q", alg)
	}
	switch {
	case strings.HasPrefix(alg, "HS"):
		secret := []byte(randomText(t, hmacSizes[alg]))
		k.Signing, k.Public = secret, secret
	case strings.HasPrefix(alg, "RS"), strings.HasPrefix(alg, "PS"):
		priv := newRSAKey(t, 2048)
		k.Signing, k.Public = priv, &priv.PublicKey
	case strings.HasPrefix(alg, "ES"):
		curve := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
		priv, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k.Signing, k.Public = priv, &priv.PublicKey
	case alg == "EdDSA":
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k.Signing, k.Public = priv, pub
	default:
		t.Fatalf("no key family for %q", alg)
	}
	return k
}

// newHMACKey is an HMAC key with a secret of exactly size bytes.
func newHMACKey(t testing.TB, alg string, size int) *testKey {
	t.Helper()
	secret := []byte(randomText(t, size))
	return &testKey{Alg: alg, method: jwt.GetSigningMethod(alg), Signing: secret, Public: secret}
}

// newRSAKey generates an RSA key of the given size.
func newRSAKey(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

// withAlg is the same key material used for another algorithm of its
// family (RS256 → PS384, HS512 secret → HS256, …).
func (k *testKey) withAlg(alg string) *testKey {
	c := *k
	c.Alg, c.method = alg, jwt.GetSigningMethod(alg)
	return &c
}

// randomText returns n random characters from the base64url alphabet.
func randomText(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

// Secret is the HMAC secret as text, for `secret` in a Caddyfile.
func (k *testKey) Secret() string {
	b, ok := k.Public.([]byte)
	if !ok {
		panic("Secret on a non-HMAC key")
	}
	return string(b)
}

// PublicPEM is the public key as PKIX PEM ("PUBLIC KEY").
func (k *testKey) PublicPEM(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.Public)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// PrivatePEM is the private key as PKCS#8 PEM ("PRIVATE KEY").
func (k *testKey) PrivatePEM(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k.Signing)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// CertificatePEM is a self-signed X.509 certificate for the public key.
func (k *testKey) CertificatePEM(t testing.TB) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "caddy-jwt test signer"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public, k.Signing.(crypto.Signer))
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// writeFile writes data into a fresh temporary directory and returns the
// file's path.
func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// writePublicKeyPEM writes the key's public half as a PEM file and returns
// its path, for `public_key`.
func (k *testKey) writePublicKeyPEM(t testing.TB) string {
	t.Helper()
	return writeFile(t, "public.pem", k.PublicPEM(t))
}

// writePrivateKeyPEM writes the private key as a PEM file.
func (k *testKey) writePrivateKeyPEM(t testing.TB) string {
	t.Helper()
	return writeFile(t, "private.pem", k.PrivatePEM(t))
}

// writeCertificatePEM writes a self-signed certificate for the key.
func (k *testKey) writeCertificatePEM(t testing.TB) string {
	t.Helper()
	return writeFile(t, "cert.pem", k.CertificatePEM(t))
}

// keyDirective is the Caddyfile line that makes Caddy verify this key's
// tokens: `secret …` for HMAC, `public_key <file>` otherwise.
func (k *testKey) keyDirective(t testing.TB) string {
	t.Helper()
	if b, ok := k.Public.([]byte); ok {
		return "secret " + string(b)
	}
	return "public_key " + k.writePublicKeyPEM(t)
}

// ---------------------------------------------------------------------------
// Tokens

// claims is a token payload.
type claims = jwt.MapClaims

// validClaims are claims that pass every default check: a subject, issued
// now, expiring in five minutes. Extra pairs (key, value, key, value, …)
// are added or replace defaults; a nil value deletes the claim.
func validClaims(kv ...any) claims {
	now := time.Now()
	c := claims{
		"sub": "user-42",
		"iat": now.Unix(),
		"exp": now.Add(5 * time.Minute).Unix(),
	}
	for i := 0; i+1 < len(kv); i += 2 {
		key := kv[i].(string)
		if kv[i+1] == nil {
			delete(c, key)
			continue
		}
		c[key] = kv[i+1]
	}
	return c
}

// signToken signs the claims with the key. header sets extra JOSE header
// fields (kid, typ, crit, …) or overrides alg: a nil value deletes one.
func signToken(t testing.TB, k *testKey, c claims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(k.method, c)
	for name, v := range header {
		if v == nil {
			delete(tok.Header, name)
			continue
		}
		tok.Header[name] = v
	}
	s, err := tok.SignedString(k.Signing)
	if err != nil {
		t.Fatalf("signing a %s token: %v", k.Alg, err)
	}
	return s
}

// sign is signToken with no extra header fields.
func sign(t testing.TB, k *testKey, c claims) string {
	t.Helper()
	return signToken(t, k, c, nil)
}

// segment is the base64url encoding of v's JSON (or of v itself when it is
// a string or []byte), for hand-built tokens.
func segment(t testing.TB, v any) string {
	t.Helper()
	switch val := v.(type) {
	case string:
		return base64.RawURLEncoding.EncodeToString([]byte(val))
	case []byte:
		return base64.RawURLEncoding.EncodeToString(val)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// rawToken builds header.payload.signature from arbitrary values, without
// any signing: for alg=none, forged and malformed tokens. sig is encoded as
// segment does.
func rawToken(t testing.TB, header, payload, sig any) string {
	t.Helper()
	return segment(t, header) + "." + segment(t, payload) + "." + segment(t, sig)
}

// resign replaces a token's signature with one made by k over the same
// signing input, e.g. to sign a token whose header claims another alg.
func resign(t testing.TB, k *testKey, signingInput string) string {
	t.Helper()
	sig, err := k.method.Sign(signingInput, k.Signing)
	if err != nil {
		t.Fatal(err)
	}
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(sig)
}
