package caddyjwt

// The token catalog of the fuzz seeds: tokens signed with the fuzz keys,
// which pass, and the classic JWT attacks, each with the reason it must be
// refused for.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtgate/caddy-jwt/internal/jws"
)

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
		{"es256-der-signature", withSig(esInput, ecdsaASN1(tb, esSig)), reasonBadSignature},
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
