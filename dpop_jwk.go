package caddyjwt

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"strings"

	"github.com/jwtgate/caddy-jwt/internal/jws"
)

// maxProofRSABits bounds the RSA keys of proofs: verifying with a larger
// modulus costs more than any client needs to make us spend.
const maxProofRSABits = 8192

// proofKey is the public key of a DPoP proof's jwk header.
type proofKey struct {
	material   any // *ecdsa.PublicKey, *rsa.PublicKey or ed25519.PublicKey
	algorithms algorithmSet
	// thumbprint is the key's RFC 7638 SHA-256 thumbprint, base64url.
	thumbprint string
}

// privateKeyMembers are the JWK members of private keys (RFC 7518 §6.2.2,
// §6.3.2; RFC 8037 §2) and of symmetric ones (§6.4.1). A proof carrying
// any of them is refused (RFC 9449 §4.3 step 7): a client that sends its
// private key has lost it.
var privateKeyMembers = [...]string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// parseProofKey turns a proof's jwk into a public key. Members are read
// with the same strict base64url decoder as tokens, so each key has one
// spelling and so one thumbprint.
func parseProofKey(jwk map[string]any) (*proofKey, reason) {
	for _, m := range privateKeyMembers {
		if _, ok := jwk[m]; ok {
			return nil, reasonDPoPBadKey
		}
	}
	kty, _ := jwk["kty"].(string)
	switch kty {
	case "EC":
		return ecProofKey(jwk)
	case "RSA":
		return rsaProofKey(jwk)
	case "OKP":
		return okpProofKey(jwk)
	}
	return nil, reasonDPoPBadKey
}

func ecProofKey(jwk map[string]any) (*proofKey, reason) {
	crv, _ := jwk["crv"].(string)
	var curve elliptic.Curve
	var alg algorithm
	switch crv {
	case "P-256":
		curve, alg = elliptic.P256(), algES256
	case "P-384":
		curve, alg = elliptic.P384(), algES384
	case "P-521":
		curve, alg = elliptic.P521(), algES512
	default:
		return nil, reasonDPoPBadKey
	}
	size := (curve.Params().BitSize + 7) / 8
	x, okX := jwkBytes(jwk, "x")
	y, okY := jwkBytes(jwk, "y")
	// RFC 7518 §6.2.1.2: coordinates are exactly the field size.
	if !okX || !okY || len(x) != size || len(y) != size {
		return nil, reasonDPoPBadKey
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, reasonDPoPBadKey
	}
	// RFC 7638 §3.2: the required members, sorted, no white space.
	tp := thumbprint(`{"crv":"`, crv, `","kty":"EC","x":"`, jwk["x"].(string), `","y":"`, jwk["y"].(string), `"}`)
	return &proofKey{material: pub, algorithms: setOf(alg), thumbprint: tp}, reasonAllowed
}

func rsaProofKey(jwk map[string]any) (*proofKey, reason) {
	n, okN := jwkBytes(jwk, "n")
	e, okE := jwkBytes(jwk, "e")
	// A leading zero byte would give the same key another thumbprint
	// (RFC 7518 §6.3.1.1 forbids it).
	if !okN || !okE || len(n) == 0 || n[0] == 0 || len(e) == 0 || len(e) > 4 || e[0] == 0 {
		return nil, reasonDPoPBadKey
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n)}
	for _, b := range e {
		pub.E = pub.E<<8 | int(b)
	}
	if bits := pub.N.BitLen(); bits < minRSABits || bits > maxProofRSABits || pub.E < 3 || pub.E%2 == 0 {
		return nil, reasonDPoPBadKey
	}
	tp := thumbprint(`{"e":"`, jwk["e"].(string), `","kty":"RSA","n":"`, jwk["n"].(string), `"}`)
	return &proofKey{material: pub, algorithms: rsaAlgorithms, thumbprint: tp}, reasonAllowed
}

func okpProofKey(jwk map[string]any) (*proofKey, reason) {
	if crv, _ := jwk["crv"].(string); crv != "Ed25519" {
		return nil, reasonDPoPBadKey
	}
	x, ok := jwkBytes(jwk, "x")
	if !ok || len(x) != ed25519.PublicKeySize {
		return nil, reasonDPoPBadKey
	}
	tp := thumbprint(`{"crv":"Ed25519","kty":"OKP","x":"`, jwk["x"].(string), `"}`)
	return &proofKey{material: ed25519.PublicKey(x), algorithms: eddsaAlgorithms, thumbprint: tp}, reasonAllowed
}

// jwkBytes decodes a base64url member of a JWK.
func jwkBytes(jwk map[string]any, name string) ([]byte, bool) {
	s, ok := jwk[name].(string)
	if !ok {
		return nil, false
	}
	b := make([]byte, base64.RawURLEncoding.DecodedLen(len(s)))
	if !jws.DecodeBase64URL(b, s) {
		return nil, false
	}
	return b, true
}

// thumbprint is the base64url SHA-256 of the concatenated parts, which
// are the RFC 7638 JSON of a key. Its member values are base64url or
// fixed names, so none needs JSON escaping.
func thumbprint(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "")))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
