package caddyjwt

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"math/big"
	"strings"
	"testing"
	"time"
)

// oversizedRSAKey is an RSA public key with a modulus of the given size.
// Only its size matters to the rules, so it is a random odd number rather
// than a generated key, which would take minutes at these sizes.
func oversizedRSAKey(t testing.TB, bits int) *rsa.PublicKey {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits-1)))
	if err != nil {
		t.Fatal(err)
	}
	n.SetBit(n, bits-1, 1)
	n.SetBit(n, 0, 1)
	return &rsa.PublicKey{N: n, E: 65537}
}

// smallOrderEd25519Keys are encodings of points of small order: the
// identity (0, 1), the point (0, -1) of order 2, and a point of order 8.
var smallOrderEd25519Keys = map[string]string{
	"identity":                          "0100000000000000000000000000000000000000000000000000000000000000",
	"order 2":                           "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"order 8":                           "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
	"identity, non-canonical y = p + 1": "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
}

func hexKey(t testing.TB, s string) ed25519.PublicKey {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return ed25519.PublicKey(b)
}

// forgedIdentityToken is the token anyone can make for a published
// identity key: R = the identity's encoding, S = 0, any claims.
func forgedIdentityToken(claims string) string {
	sig := make([]byte, ed25519.SignatureSize)
	sig[0] = 1
	return rawToken(`{"alg":"EdDSA","typ":"JWT"}`, claims, sig)
}

func TestForgedTokenForTheEd25519IdentityKeyIsRefusedAtLoad(t *testing.T) {
	identity := hexKey(t, smallOrderEd25519Keys["identity"])
	claims := `{"sub":"admin","exp":` + big.NewInt(time.Now().Add(time.Hour).Unix()).String() + `}`
	token := forgedIdentityToken(claims)
	// The premise: crypto/ed25519 takes this signature for any message.
	parts := strings.Split(token, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	if !ed25519.Verify(identity, []byte(parts[0]+"."+parts[1]), sig) {
		t.Fatal("the forged signature does not verify with crypto/ed25519: the test proves nothing")
	}

	err := provisionForTest(t, &Handler{KeySources: KeySources{PublicKeys: []*PublicKeyFile{{Path: writePublicKeyPEM(t, identity)}}}})
	if err == nil || !strings.Contains(err.Error(), "public_key") || !strings.Contains(err.Error(), "small order") {
		t.Fatalf("public_key with the identity point: %v; want a config error naming public_key", err)
	}
}

func TestEd25519KeysOfSmallOrderAreRefused(t *testing.T) {
	for name, enc := range smallOrderEd25519Keys {
		t.Run(name, func(t *testing.T) {
			if _, err := algorithmsForKey(hexKey(t, enc)); err != errEd25519SmallOrder {
				t.Fatalf("%v, want it refused for its small order", err)
			}
		})
	}
	good, _, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := algorithmsForKey(good); err != nil {
		t.Fatalf("a generated key: %v", err)
	}
	// y = 2 is not on the curve.
	if _, err := algorithmsForKey(hexKey(t, "0200000000000000000000000000000000000000000000000000000000000000")); err == nil {
		t.Fatal("a point off the curve was accepted")
	}
}

func TestRSAKeySizeRules(t *testing.T) {
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	ok, _ := rsa.GenerateKey(rand.Reader, 2048)
	tests := []struct {
		name string
		key  *rsa.PublicKey
		want string // "" accepted
	}{
		{"2048 bits", &ok.PublicKey, ""},
		{"8192 bits", oversizedRSAKey(t, 8192), ""},
		{"1024 bits", &small.PublicKey, "at least 2048"},
		{"8193 bits", oversizedRSAKey(t, 8193), "at most 8192"},
		{"65536 bits", oversizedRSAKey(t, 65536), "at most 8192"},
		{"exponent 1", &rsa.PublicKey{N: ok.N, E: 1}, "exponent"},
		{"even exponent", &rsa.PublicKey{N: ok.N, E: 65536}, "exponent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := algorithmsForKey(tt.key)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
}

func TestRSAPublicKeyAbove8192BitsIsAConfigErrorNamingTheDirective(t *testing.T) {
	err := provisionForTest(t, &Handler{KeySources: KeySources{PublicKeys: []*PublicKeyFile{{Path: writePublicKeyPEM(t, oversizedRSAKey(t, 16384))}}}})
	if err == nil || !strings.HasPrefix(err.Error(), "jwt: public_key ") || !strings.Contains(err.Error(), "at most 8192") {
		t.Fatalf("16384-bit public_key: %v", err)
	}
}

func TestHMACAlgorithmsForLengthFollowTheHashSizes(t *testing.T) {
	for n, want := range map[int]algorithmSet{
		31: 0, 32: setOf(algHS256), 47: setOf(algHS256), 48: setOf(algHS256, algHS384), 64: hmacAlgorithms,
	} {
		if got := hmacAlgorithmsForLength(n); got != want {
			t.Errorf("%d bytes: %s, want %s", n, got, want)
		}
	}
}
