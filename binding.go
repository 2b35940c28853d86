package caddyjwt

import (
	"crypto/sha256"
	"encoding/base64"

	"github.com/jwtgate/caddy-jwt/internal/jws"
)

// tokenBinding is what a token's `cnf` (confirmation) claim binds it to,
// read once when the token is verified and cached with it, so that a
// request with a known token only compares.
type tokenBinding struct {
	// keyThumbprint is `cnf.jkt` (RFC 9449 §6.1), the RFC 7638 thumbprint
	// of the client's DPoP key; "" when the token is not DPoP-bound.
	keyThumbprint string
	// tokenHash is the base64url SHA-256 of the token, what a proof's
	// `ath` must be (RFC 9449 §4.2); set for DPoP-bound tokens only.
	tokenHash string

	// certificateHash is `cnf.x5t#S256` (RFC 8705 §3.1) decoded: the
	// SHA-256 of the DER client certificate the token is bound to.
	certificateHash [sha256.Size]byte
	hasCertificate  bool
}

// readTokenBinding reads the `cnf` claim of a verified token. A `cnf` that
// is not an object, or a `jkt` or `x5t#S256` of the wrong shape, makes the
// claims invalid: a binding the edge cannot read must not be ignored.
// Other confirmation methods (`jwk`, `jku`, …) are not sender checks this
// edge performs, and a token carrying only those is refused too.
//
// claim is cnf as the verifier read it; only this object is decoded, not
// the rest of the claims.
func readTokenBinding(claim rawClaim, raw string) (tokenBinding, bool) {
	var b tokenBinding
	switch claim.kind {
	case 0:
		return b, true
	case jws.Object:
	default:
		return b, false
	}
	cnf, ok := jws.ParseObject(claim.text)
	if !ok {
		return b, false
	}
	known := false
	if v, ok := cnf["jkt"]; ok {
		jkt, ok := v.(string)
		// A SHA-256 thumbprint is 43 base64url characters.
		if !ok || len(jkt) != 43 || !jws.DecodeBase64URL(make([]byte, sha256.Size), jkt) {
			return b, false
		}
		sum := sha256.Sum256([]byte(raw))
		b.keyThumbprint, b.tokenHash = jkt, base64.RawURLEncoding.EncodeToString(sum[:])
		known = true
	}
	if v, ok := cnf["x5t#S256"]; ok {
		x5t, ok := v.(string)
		if !ok || len(x5t) != 43 || !jws.DecodeBase64URL(b.certificateHash[:], x5t) {
			return b, false
		}
		b.hasCertificate = true
		known = true
	}
	return b, known
}
