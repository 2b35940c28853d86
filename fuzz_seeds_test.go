package caddyjwt

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtgate/caddy-jwt/internal/jws"
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

// namedToken is a token of the seed catalog with the reason the fuzz
// handler must give it.
type namedToken struct {
	name  string
	token string
	want  reason
}

// tokenCatalog returns tokens signed with the fuzz keys (accepted) and the
// classic JWT attacks (each refused with the reason given).
func tokenCatalog(tb testing.TB, k *fuzzKeys) (valid, attacks []namedToken) {
	tb.Helper()
	valid = validTokens(tb, k)
	return valid, attackTokens(tb, k, valid)
}

// joseHeader is a JOSE header with alg, typ JWT, kid unless empty, and the
// extra members given as JSON text.
func joseHeader(alg, kid string, extra ...string) string {
	h := `{"alg":"` + alg + `","typ":"JWT"`
	if kid != "" {
		h += `,"kid":"` + kid + `"`
	}
	for _, e := range extra {
		h += "," + e
	}
	return h + "}"
}

// validTokens are tokens the fuzz handler accepts, one per key family.
func validTokens(tb testing.TB, k *fuzzKeys) []namedToken {
	tb.Helper()
	hs := hmacSigner([]byte(fuzzSecret))
	claims := mustJSON(tb, fuzzClaims(nil))
	hdr := joseHeader
	sign := func(alg string) func(string) []byte {
		switch alg {
		case "RS256", "PS256":
			return jwtSigner(tb, jwt.GetSigningMethod(alg), k.rsa)
		case "ES256":
			return jwtSigner(tb, jwt.SigningMethodES256, k.ec)
		case "EdDSA":
			return jwtSigner(tb, jwt.SigningMethodEdDSA, k.ed)
		}
		return hs
	}
	return []namedToken{
		{"valid-hs256", compactToken(hdr("HS256", ""), claims, hs), reasonAllowed},
		{"valid-hs512", compactToken(hdr("HS512", ""), claims, jwtSigner(tb, jwt.SigningMethodHS512, []byte(fuzzSecret))), reasonAllowed},
		{"valid-rs256-kid", compactToken(hdr("RS256", "rsa-1"), claims, sign("RS256")), reasonAllowed},
		{"valid-ps256-kid", compactToken(hdr("PS256", "rsa-1"), claims, sign("PS256")), reasonAllowed},
		{"valid-es256-kid", compactToken(hdr("ES256", "ec-1"), claims, sign("ES256")), reasonAllowed},
		{"valid-eddsa", compactToken(hdr("EdDSA", ""), claims, sign("EdDSA")), reasonAllowed},
		{"valid-non-utf8-claim", compactToken(hdr("HS256", ""), "{\"sub\":\"al\xffice\",\"aud\":\"api\",\"exp\":4102444800}", hs), reasonAllowed},
		{"valid-nested-claims", compactToken(hdr("HS256", ""), `{"sub":"alice","aud":"api","exp":4102444800,"n":`+strings.Repeat("[", 30)+strings.Repeat("]", 30)+`}`, hs), reasonAllowed},
	}
}

// attackTokens are the classic JWT attacks, each with the reason the fuzz
// handler must refuse it with. valid is what validTokens returned.
func attackTokens(tb testing.TB, k *fuzzKeys, valid []namedToken) []namedToken {
	tb.Helper()
	hs := hmacSigner([]byte(fuzzSecret))
	claims := mustJSON(tb, fuzzClaims(nil))
	hdr := joseHeader

	attacker, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	attackerEC, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	attackerRS := jwtSigner(tb, jwt.SigningMethodRS256, attacker)
	attackerES := jwtSigner(tb, jwt.SigningMethodES256, attackerEC)
	jwk := fmt.Sprintf(`"jwk":{"kty":"EC","crv":"P-256","x":%q,"y":%q}`,
		base64.RawURLEncoding.EncodeToString(attackerEC.X.FillBytes(make([]byte, 32))),
		base64.RawURLEncoding.EncodeToString(attackerEC.Y.FillBytes(make([]byte, 32))))
	validES := valid[4].token
	esSig, _ := base64.RawURLEncoding.DecodeString(validES[strings.LastIndexByte(validES, '.')+1:])
	esInput := validES[:strings.LastIndexByte(validES, '.')]
	withSig := func(input string, sig []byte) string {
		return input + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	validRS := valid[2].token
	rsParts := strings.Split(validRS, ".")
	nested := func(depth int) string {
		return `{"sub":"alice","aud":"api","exp":4102444800,"n":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`
	}
	withClaims := func(extra map[string]any) string { return mustJSON(tb, fuzzClaims(extra)) }

	return []namedToken{
		// alg none, in every spelling: RFC 7518 §3.6 unsecured JWS.
		{"alg-none", compactToken(hdr("none", ""), claims, noSignature), reasonMalformed},
		{"alg-None", compactToken(hdr("None", ""), claims, noSignature), reasonMalformed},
		{"alg-NONE", compactToken(hdr("NONE", ""), claims, noSignature), reasonMalformed},
		{"alg-nOnE", compactToken(hdr("nOnE", ""), claims, noSignature), reasonMalformed},
		{"alg-none-with-signature", compactToken(hdr("none", ""), claims, hs), reasonBadAlgorithm},
		{"alg-None-with-signature", compactToken(hdr("None", ""), claims, hs), reasonBadAlgorithm},
		{"alg-missing", compactToken(`{"typ":"JWT"}`, claims, hs), reasonBadAlgorithm},
		{"alg-lowercase-hs256", compactToken(hdr("hs256", ""), claims, hs), reasonBadAlgorithm},
		// A member name used twice could be read differently by another
		// parser (first or last wins): refused, even when well signed.
		{"alg-duplicate-last-none", compactToken(`{"alg":"HS256","alg":"none"}`, claims, hs), reasonMalformed},
		{"duplicate-sub", compactToken(hdr("HS256", ""), `{"sub":"mallory","sub":"alice","aud":"api","exp":4102444800}`, hs), reasonMalformed},
		// Header member names are case-sensitive (RFC 7515 §4): "Alg" is
		// not alg, whatever Go's JSON decoder would match it to.
		{"alg-member-name-Alg", compactToken(`{"Alg":"HS256"}`, claims, hs), reasonBadAlgorithm},
		{"alg-none-beside-ALG", compactToken(`{"alg":"none","ALG":"HS256"}`, claims, hs), reasonBadAlgorithm},
		// Algorithm confusion: the RSA public key (which is public) used as
		// an HMAC secret.
		{"hs256-rsa-public-key-as-secret", compactToken(hdr("HS256", ""), claims, hmacSigner(k.rsaPubPEM)), reasonBadSignature},
		{"hs256-rsa-public-key-as-secret-with-rsa-kid", compactToken(hdr("HS256", "rsa-1"), claims, hmacSigner(k.rsaPubPEM)), reasonBadSignature},
		{"hs256-rsa-public-key-der-as-secret", compactToken(hdr("HS256", ""), claims, hmacSigner(mustDER(tb, k.rsa.Public()))), reasonBadSignature},
		// kid injection: a kid is a name to look up, never a path or query.
		{"kid-path-traversal-empty-key", compactToken(hdr("HS256", "../../../../../../dev/null"), claims, hmacSigner(nil)), reasonBadSignature},
		{"kid-sql-injection", compactToken(hdr("HS256", "x' UNION SELECT 'key'--"), claims, hmacSigner([]byte("key"))), reasonBadSignature},
		{"kid-unknown-rs256", compactToken(hdr("RS256", "attacker"), claims, attackerRS), reasonUnknownKey},
		{"kid-of-rsa-key-on-es256", compactToken(hdr("ES256", "rsa-1"), claims, attackerES), reasonUnknownKey},
		// Keys named by the token itself are never fetched or used.
		{"jku-attacker-jwks", compactToken(hdr("RS256", "attacker", `"jku":"http://127.0.0.1:1/jwks.json"`), claims, attackerRS), reasonUnknownKey},
		{"jku-with-known-kid", compactToken(hdr("RS256", "rsa-1", `"jku":"http://127.0.0.1:1/jwks.json"`), claims, attackerRS), reasonBadSignature},
		{"x5u-attacker-cert", compactToken(hdr("RS256", "rsa-1", `"x5u":"http://127.0.0.1:1/cert.pem"`), claims, attackerRS), reasonBadSignature},
		{"jwk-embedded-attacker-key", compactToken(hdr("ES256", "", jwk), claims, attackerES), reasonBadSignature},
		{"jwk-embedded-with-known-kid", compactToken(hdr("ES256", "ec-1", jwk), claims, attackerES), reasonBadSignature},
		// ECDSA signatures that must never verify (CVE-2022-21449 "psychic
		// signatures" is r = s = 0).
		{"es256-zero-signature", withSig(esInput, make([]byte, 64)), reasonBadSignature},
		{"es256-truncated-signature", withSig(esInput, esSig[:32]), reasonBadSignature},
		{"es256-empty-signature", esInput + ".", reasonMalformed},
		{"es256-der-signature", withSig(esInput, derECDSA(esSig)), reasonBadSignature},
		{"eddsa-zero-signature", withSig(valid[5].token[:strings.LastIndexByte(valid[5].token, '.')], make([]byte, 64)), reasonBadSignature},
		// Tampering after signing.
		{"tampered-payload", rsParts[0] + "." + b64(withClaims(map[string]any{"sub": "admin"})) + "." + rsParts[2], reasonBadSignature},
		{"tampered-header-alg", b64(hdr("RS384", "rsa-1")) + "." + rsParts[1] + "." + rsParts[2], reasonBadSignature},
		{"signature-of-other-token", rsParts[0] + "." + b64(withClaims(map[string]any{"sub": "bob"})) + "." + rsParts[2], reasonBadSignature},
		// RFC 7515 §4.1.11: unknown critical extensions must be refused,
		// even on a well-signed token.
		{"crit-unknown-extension", compactToken(hdr("HS256", "", `"crit":["x-acme"]`, `"x-acme":1`), claims, hs), reasonMalformed},
		{"crit-empty", compactToken(hdr("HS256", "", `"crit":[]`), claims, hs), reasonMalformed},
		{"crit-null", compactToken(hdr("HS256", "", `"crit":null`), claims, hs), reasonMalformed},
		// The HS256 signature's 32 bytes end in a partial group with two
		// unused bits: set, they spell the same bytes another way.
		{"signature-unused-bits-set", valid[0].token[:len(valid[0].token)-1] + string(jws.Base64URLAlphabet[strings.IndexByte(jws.Base64URLAlphabet, valid[0].token[len(valid[0].token)-1])|1]), reasonMalformed},
		// Registered claims of the wrong type, well signed.
		{"exp-string", compactToken(hdr("HS256", ""), withClaims(map[string]any{"exp": "4102444800"}), hs), reasonBadClaims},
		{"exp-missing", compactToken(hdr("HS256", ""), withClaims(map[string]any{"exp": nil}), hs), reasonNoExpiry},
		{"exp-past", compactToken(hdr("HS256", ""), withClaims(map[string]any{"exp": 1000000000}), hs), reasonExpired},
		{"exp-beyond-float-range", compactToken(hdr("HS256", ""), `{"sub":"alice","aud":"api","exp":1e400}`, hs), reasonMalformed},
		{"nbf-string", compactToken(hdr("HS256", ""), withClaims(map[string]any{"nbf": "0"}), hs), reasonBadClaims},
		{"nbf-future", compactToken(hdr("HS256", ""), withClaims(map[string]any{"nbf": fuzzFarFuture - 1}), hs), reasonNotYetValid},
		{"nbf-beyond-float-range", compactToken(hdr("HS256", ""), `{"sub":"alice","aud":"api","exp":4102444800,"nbf":1e400}`, hs), reasonMalformed},
		{"nbf-beyond-int64-seconds", compactToken(hdr("HS256", ""), `{"sub":"alice","aud":"api","exp":4102444800,"nbf":1e19}`, hs), reasonBadClaims},
		{"iat-string", compactToken(hdr("HS256", ""), withClaims(map[string]any{"iat": "now"}), hs), reasonBadClaims},
		{"iat-future", compactToken(hdr("HS256", ""), withClaims(map[string]any{"iat": fuzzFarFuture - 1}), hs), reasonIssuedInFuture},
		{"iat-beyond-float-range", compactToken(hdr("HS256", ""), `{"sub":"alice","aud":"api","exp":4102444800,"iat":1e400}`, hs), reasonMalformed},
		{"aud-number", compactToken(hdr("HS256", ""), withClaims(map[string]any{"aud": 1}), hs), reasonBadAudience},
		{"aud-other", compactToken(hdr("HS256", ""), withClaims(map[string]any{"aud": "other"}), hs), reasonBadAudience},
		{"aud-missing", compactToken(hdr("HS256", ""), withClaims(map[string]any{"aud": nil}), hs), reasonBadAudience},
		{"iss-number", compactToken(hdr("HS256", ""), withClaims(map[string]any{"iss": 1}), hs), reasonBadClaims},
		{"sub-object", compactToken(hdr("HS256", ""), withClaims(map[string]any{"sub": map[string]any{"id": 1}}), hs), reasonBadClaims},
		// Size and shape.
		{"huge-payload", compactToken(hdr("HS256", ""), withClaims(map[string]any{"pad": strings.Repeat("A", 20000)}), hs), reasonTooLarge},
		{"deeply-nested-payload-bad-signature", compactToken(hdr("HS256", ""), nested(5000), attackerRS), reasonMalformed},
		{"nested-beyond-32-well-signed", compactToken(hdr("HS256", ""), nested(40), hs), reasonMalformed},
		{"deeply-nested-payload-too-large", compactToken(hdr("HS256", ""), nested(11000), hs), reasonTooLarge},
		{"header-not-object", compactToken(`"HS256"`, claims, hs), reasonMalformed},
		{"header-null", compactToken(`null`, claims, hs), reasonMalformed},
		{"payload-null", compactToken(hdr("HS256", ""), `null`, hs), reasonMalformed},
		{"payload-array", compactToken(hdr("HS256", ""), `[]`, hs), reasonMalformed},
		{"payload-trailing-data", compactToken(hdr("HS256", ""), claims+`{}`, hs), reasonMalformed},
		{"payload-not-json", compactToken(hdr("HS256", ""), "\xff\xfe", hs), reasonMalformed},
		{"non-base64url-plus-slash", strings.ReplaceAll(strings.ReplaceAll(validRS, "-", "+"), "_", "/") + "+/", reasonMalformed},
		{"base64-padding", rsParts[0] + "==." + rsParts[1] + "." + rsParts[2], reasonMalformed},
		{"whitespace-inside", rsParts[0] + " ." + rsParts[1] + "." + rsParts[2], reasonMalformed},
		{"jwe-five-segments", b64(`{"alg":"RSA-OAEP","enc":"A256GCM"}`) + ".a.b.c.d", reasonMalformed},
		{"two-segments", rsParts[0] + "." + rsParts[1], reasonMalformed},
		{"four-segments", validRS + ".x", reasonMalformed},
		{"empty-segments", "..", reasonMalformed},
		{"empty", "", reasonMalformed},
	}
}

func mustDER(tb testing.TB, pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

// derECDSA re-encodes a JOSE r||s signature as ASN.1 DER, the format JOSE
// does not use (RFC 7518 §3.4).
func derECDSA(sig []byte) []byte {
	enc := func(b []byte) []byte {
		for len(b) > 1 && b[0] == 0 {
			b = b[1:]
		}
		if b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return append([]byte{0x02, byte(len(b))}, b...)
	}
	body := append(enc(sig[:32]), enc(sig[32:])...)
	return append([]byte{0x30, byte(len(body))}, body...)
}

// fuzzCorpusEnv, when set to 1, makes TestWriteFuzzSeedCorpus write the seed
// catalog to testdata/fuzz, in the layout `go test -fuzz` reads.
const fuzzCorpusEnv = "CADDY_JWT_WRITE_FUZZ_CORPUS"

// TestWriteFuzzSeedCorpus regenerates testdata/fuzz/<Target>/<seed> from the
// catalogs in this file. It runs only when asked to.
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
