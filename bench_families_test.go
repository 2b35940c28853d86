package caddyjwt

// The algorithm families the benchmarks run, their keys and typical tokens.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
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

	"github.com/jwtgate/caddy-jwt/internal/benchtoken"
)

// benchFamily is one algorithm family: its signing key, the key config the
// handler gets, and the raw verify of a token as the floor.
type benchFamily struct {
	name   string
	method jwt.SigningMethod
	signer any
	// keyConfig is the handler's key source as JSON members.
	keyConfig string
	// rawVerify checks the token's signature with the standard library
	// only: hash the signing input, verify. Signature decoding (and, for
	// ECDSA, the r||s to ASN.1 conversion) is done once, outside the loop,
	// so the floor is as low as it can be.
	rawVerify func(token string) func() bool
}

func benchFamilies(b testing.TB) []benchFamily {
	dir := b.TempDir()
	writePEM := func(name string, pub any) string {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			b.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
			b.Fatal(err)
		}
		return path
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	edPub, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	keyPath := func(name string, pub any) string {
		p, _ := json.Marshal(writePEM(name, pub))
		return `"public_key":[{"path":` + string(p) + `}]`
	}
	return []benchFamily{
		{
			name: "HS256", method: jwt.SigningMethodHS256, signer: secret,
			keyConfig: `"secret":{"value":"` + base64.StdEncoding.EncodeToString(secret) + `","base64":true}`,
			rawVerify: func(token string) func() bool {
				input, sig := splitForRawVerify(token)
				return func() bool {
					mac := hmac.New(sha256.New, secret)
					mac.Write([]byte(input))
					return hmac.Equal(mac.Sum(nil), sig)
				}
			},
		},
		{
			name: "RS256", method: jwt.SigningMethodRS256, signer: rsaKey,
			keyConfig: keyPath("rsa.pem", &rsaKey.PublicKey),
			rawVerify: func(token string) func() bool {
				input, sig := splitForRawVerify(token)
				return func() bool {
					sum := sha256.Sum256([]byte(input))
					return rsa.VerifyPKCS1v15(&rsaKey.PublicKey, crypto.SHA256, sum[:], sig) == nil
				}
			},
		},
		{
			name: "ES256", method: jwt.SigningMethodES256, signer: ecKey,
			keyConfig: keyPath("ec.pem", &ecKey.PublicKey),
			rawVerify: func(token string) func() bool {
				input, sig := splitForRawVerify(token)
				asn1Sig := ecdsaASN1(b, sig)
				return func() bool {
					sum := sha256.Sum256([]byte(input))
					return ecdsa.VerifyASN1(&ecKey.PublicKey, sum[:], asn1Sig)
				}
			},
		},
		{
			name: "EdDSA", method: jwt.SigningMethodEdDSA, signer: edKey,
			keyConfig: keyPath("ed.pem", edPub),
			rawVerify: func(token string) func() bool {
				input, sig := splitForRawVerify(token)
				return func() bool {
					return ed25519.Verify(edPub, []byte(input), sig)
				}
			},
		},
	}
}

func splitForRawVerify(token string) (signingInput string, sig []byte) {
	i := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
	if err != nil {
		panic(err)
	}
	return token[:i], sig
}

// ecdsaASN1 converts a JWS ECDSA signature (r||s, RFC 7518 §3.4) to the
// ASN.1 form crypto/ecdsa verifies.
func ecdsaASN1(b testing.TB, rs []byte) []byte {
	r := new(big.Int).SetBytes(rs[:len(rs)/2])
	s := new(big.Int).SetBytes(rs[len(rs)/2:])
	der, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
	if err != nil {
		b.Fatal(err)
	}
	return der
}

// typicalClaims are the claims of the typical access token every
// benchmark signs, the same as bench/load.sh sends.
func typicalClaims(i int) jwt.MapClaims {
	return benchtoken.Claims(i, time.Now(), time.Hour)
}

// signBench signs claims with fam's key; the header is golang-jwt's
// typical one, typ JWT included.
func signBench(b testing.TB, fam benchFamily, claims jwt.MapClaims) string {
	return sign(b, fam.method, fam.signer, claims, nil)
}
