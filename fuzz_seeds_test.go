package caddyjwt

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
)

// Test-only keys, fixed so that the valid tokens written to testdata/fuzz
// stay valid from one run to the next. They protect nothing.
const (
	fuzzRSAKeyPEM = `-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDz+h1Sqm1sPAJx
nU3bMVDwKEjRyhGSpjKRbxAonV2bRNH89v74lScrr7XZK1TurMF2yHzq3gNMbey2
Ucom3ZqW4Dc/Iog1UOl+tAVah1x/gVlTh2PEllALcPFL8n24QRZWEChslAI2hs0V
IkiG4YIH0PIUhJ0/iF9366E0H0GowdAKEZYbRixxWlsZcNKg0AH6hlhgtdg+jVxd
cmt2KTCmBc2LpVyJwAbn/sxsSmSxt3AhedUnWEYZPj2OBI0CsTdaaAmzYmUzt039
WrsPFd4omNHTRZyqff48Aq+LYiTR+KfqyZ/dvTcxVK/d8Zjzlz8FV9SEfSxIWFoa
DaNA5F/VAgMBAAECggEAE4j50xYpV8rASVeWlc/vkqMvHXkoCg17rBBwA0iCZ73N
cItYZBARSFqz3VUuYkP746Zu9iFbs0Fz/C81WAJTb/Q5CDmcHWTCpW4FpbeD7QOu
4tTK5MFCXIApGfMrJNc1UiPOEM+TE8mcXy5VD1O8JSMSVxk9PAqP1lrMGA/OopPm
LdJ+QrtOYaIAvkPpKGz+h1qiMhO/Xo9kTzRs9Um5vEZiTxRYUPuc6gUhY376I+h0
WDlTgss5Ly0cN/8yFrJAGiPfoHYiaEqBqGMQyBqhGlzIyGClK2x7rUE9K7K3Q/mj
vnVSfGkFTEH2UEL+wxO+oE7FQOqIdrf/J0MUoxFrSwKBgQD8nNlbu7w4XLXqRgAy
g/QLrPX5rKq7T5EjfqgVy+Fgk4CAPZ7H21dc/OypF69/ntPBrRy4JURb747vmAga
sEASaMxSDa452YZvEx9xPzYmAEPKQPy7W0ck/86qgqkoaKo9bTPsGznyuE5/ML31
AtE5/5eGChP3lrTAQZJursYJbwKBgQD3P58coLAry9YProCIe/uZ/Ak7kVXnOwEO
6QxVPXTQ4JVS5Hi3/Fi3TaOYaJ0PIdZgDFIyyOohnK5ueJBPZavRek4vTQYovvX3
F9v0NdCV++T2iZq9QPxmKe/xkmZYgiR/tRMbark88j4YLO43zgOHGwCNuA+3IhD7
xOgyPwjg+wKBgDSQWrY44ViFCiF+gWoBhRWs3t4eLMSfMN9G6qjmbLZQ2wtURybl
IE+sHX6t/Am9PejuIay7rHbI6WA3rXAIPrzV67YjPJ6zAcM5InDJK3ZK1dBPJ4fA
3ZP4WsOmPpa2+L2hbI1zuOIlscfLl6tU875yzc/JZxA83s2ml1bKrVCnAoGANYLn
hOKiPlhXc/1ohCGRSrpppSLHXMxAZmG58Zjjd3Gj39Ti668J5GJBTfMWSvgf1ZnV
EHi7c5rdhbtCQGzYyvWVhlc9RgROZ7QaPriG9G8YFuOhQeSWu+XHsJjm3bENBTbD
c+OdQ7uKBOF0jU9hJBSMAiAcBp6w3ky3lGhgG5ECgYEA9o3CeYOLBrpVvZAr2eeP
NUkDt5sQ8YBOoxfOnT8tOFyNrSdgUOw2uUSP3JwYnkKHw40LA4Jo5i8t3EE0OmSc
MoIzgqWwDZA9iiAl58NEb+czNbaTTvgC7+sR88fBUJf9qEbML/zBESXOv70dq/Ea
D97LrUBZcLvx+H6a3KNdEww=
-----END PRIVATE KEY-----
`
	fuzzECKeyPEM = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgfb6S1LjHqzo8KdLH
rHGwgROGSn9K8QawJJxv9PVIeI6hRANCAATjeRP51qyKoSbVJyN2qow4GH2/2cAI
tb4lD7jEPqL0JCoMyD3aeuC/o5yfAWcXsHuXqQ14y+F/STWhnmm0Fs8u
-----END PRIVATE KEY-----
`
	fuzzEd25519Seed = "caddy-jwt fuzz test ed25519 seed" // 32 bytes
	fuzzSecret      = "caddy-jwt fuzz test secret, 64 bytes so HS512 is offered as well"
	fuzzAudience    = "api"
	// fuzzFarFuture is 2100-01-01: the valid seed tokens expire then.
	fuzzFarFuture = 4102444800
	fuzzIssuedAt  = 1700000000
)

// fuzzKeys are the signing halves of the keys the fuzz handler verifies
// with.
type fuzzKeys struct {
	rsa       *rsa.PrivateKey
	ec        *ecdsa.PrivateKey
	ed        ed25519.PrivateKey
	rsaPubPEM []byte // what an attacker would use as an HMAC secret
}

func loadFuzzKeys(tb testing.TB) *fuzzKeys {
	tb.Helper()
	parse := func(s string) any {
		block, _ := pem.Decode([]byte(s))
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			tb.Fatal(err)
		}
		return k
	}
	k := &fuzzKeys{
		rsa: parse(fuzzRSAKeyPEM).(*rsa.PrivateKey),
		ec:  parse(fuzzECKeyPEM).(*ecdsa.PrivateKey),
		ed:  ed25519.NewKeyFromSeed([]byte(fuzzEd25519Seed)),
	}
	k.rsaPubPEM = publicKeyPEM(tb, k.rsa.Public())
	return k
}

func publicKeyPEM(tb testing.TB, pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// newFuzzHandler provisions a handler as Caddy would: a secret (no kid), an
// RSA key with kid rsa-1, an EC P-256 key with kid ec-1, an Ed25519 key
// without kid, an audience, and tokens read from the Authorization header,
// an X-Token header, a cookie and a query parameter, stripped when passed on.
func newFuzzHandler(tb testing.TB, keys *fuzzKeys) *Handler {
	tb.Helper()
	dir := tb.TempDir()
	write := func(name string, pub crypto.PublicKey) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, publicKeyPEM(tb, pub), 0o600); err != nil {
			tb.Fatal(err)
		}
		return path
	}
	h := &Handler{
		KeySources: KeySources{
			Secret: &SecretKey{Value: fuzzSecret},
			PublicKeys: []*PublicKeyFile{
				{Path: write("rsa.pem", keys.rsa.Public()), KeyID: "rsa-1"},
				{Path: write("ec.pem", keys.ec.Public()), KeyID: "ec-1"},
				{Path: write("ed.pem", keys.ed.Public())},
			},
		},
		Audience: []string{fuzzAudience},
		From: []*TokenSource{
			{Header: "Authorization"},
			{Header: "X-Token"},
			{Cookie: "session"},
			{Query: "access_token"},
		},
		ClaimHeaders: []*ClaimHeader{{Path: "sub", Header: "X-User-Id"}},
		StripToken:   true,
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	tb.Cleanup(func() { _ = h.Cleanup(); cancel() })
	if err := h.Provision(ctx); err != nil {
		tb.Fatalf("provisioning the fuzz handler: %v", err)
	}
	if err := h.Validate(); err != nil {
		tb.Fatalf("validating the fuzz handler: %v", err)
	}
	// Rejections are the common case while fuzzing; logging each would
	// drown the output.
	h.logger = zap.NewNop()
	return h
}

// fuzzClaims are claims that satisfy the fuzz handler.
func fuzzClaims(extra map[string]any) map[string]any {
	c := map[string]any{"sub": "alice", "aud": fuzzAudience, "iat": fuzzIssuedAt, "exp": fuzzFarFuture}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func mustJSON(tb testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// compactToken joins header and payload JSON as they are (so duplicate keys
// and odd numbers survive) and signs them with sign.
func compactToken(header, payload string, sign func(signingInput string) []byte) string {
	input := b64(header) + "." + b64(payload)
	return input + "." + base64.RawURLEncoding.EncodeToString(sign(input))
}

func hmacSigner(key []byte) func(string) []byte {
	return func(input string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(input))
		return m.Sum(nil)
	}
}

// jwtSigner signs with a golang-jwt method, so that the valid seeds are
// produced by the library issuers use, not by our own code.
func jwtSigner(tb testing.TB, method jwt.SigningMethod, key any) func(string) []byte {
	return func(input string) []byte {
		sig, err := method.Sign(input, key)
		if err != nil {
			tb.Fatal(err)
		}
		return sig
	}
}

func noSignature(string) []byte { return nil }

// fuzzCorpusEnv, when set to 1, makes TestWriteFuzzSeedCorpus write the seed
// catalog to testdata/fuzz, in the layout `go test -fuzz` reads.
const fuzzCorpusEnv = "CADDY_JWT_WRITE_FUZZ_CORPUS"

// TestWriteFuzzSeedCorpus regenerates testdata/fuzz/<Target>/<seed> from the
// seed catalogs of the fuzz targets. It runs only when asked to.
func TestWriteFuzzSeedCorpus(t *testing.T) {
	if os.Getenv(fuzzCorpusEnv) != "1" {
		t.Skip("set " + fuzzCorpusEnv + "=1 to rewrite testdata/fuzz")
	}
	keys := loadFuzzKeys(t)
	valid, attacks := tokenCatalog(t, keys)
	for _, s := range append(valid, attacks...) {
		writeCorpusEntry(t, "FuzzVerify", s.name, s.token)
	}
	for _, s := range readTokenSeeds(valid[0].token, valid[2].token) {
		writeCorpusEntry(t, "FuzzReadToken", s.name, s.args...)
	}
	for _, s := range signedClaimsSeeds() {
		writeCorpusEntry(t, "FuzzVerifySignedClaims", s.name, s.args...)
	}
	for _, s := range claimSeeds() {
		writeCorpusEntry(t, "FuzzClaimHeaderValue", s.name, s.args...)
	}
	for _, s := range caddyfileSeeds() {
		writeCorpusEntry(t, "FuzzUnmarshalCaddyfile", s.name, s.args...)
	}
	for _, s := range fetchedJWKSSeeds() {
		writeCorpusEntry(t, "FuzzFetchedJWKS", s.name, s.args...)
	}
}

// namedSeed is one entry of a fuzz target's seed corpus.
type namedSeed struct {
	name string
	args []any
}

func writeCorpusEntry(t *testing.T, target, name string, args ...any) {
	t.Helper()
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case string:
			b.WriteString("string(" + strconv.Quote(v) + ")\n")
		case []byte:
			b.WriteString("[]byte(" + strconv.Quote(string(v)) + ")\n")
		default:
			t.Fatalf("seed %s/%s: unsupported type %T", target, name, a)
		}
	}
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
