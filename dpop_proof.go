package caddyjwt

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/jwtgate/caddy-jwt/internal/jws"
)

// dpopProof is a DPoP proof whose form, key and signature held (RFC 9449
// §4.3 steps 1 to 7); what it claims is checked against the request by
// checkProof.
type dpopProof struct {
	// keyThumbprint is the RFC 7638 thumbprint of the proof's jwk.
	keyThumbprint string
	jti, htm, htu string
	ath, nonce    string
	hasAth        bool
	iat           time.Time
}

// checkProof verifies the request's DPoP proof for a DPoP-bound token:
// every check of RFC 9449 §4.3, then the nonce, then that the proof was
// not used before. The order puts the cheap request comparisons first
// after the signature, and remembers a proof only once it is valid.
func (d *dpopChecker) checkProof(w http.ResponseWriter, r *http.Request, b *tokenBinding) reason {
	values := r.Header["Dpop"]
	switch {
	case len(values) == 0:
		return reasonDPoPMissingProof
	case len(values) > 1:
		return reasonDPoPManyProofs
	}
	p, rsn := d.parseProof(values[0])
	if rsn != reasonAllowed {
		return rsn
	}
	method, requestURI := originalRequest(r)
	if p.htm != method {
		return reasonDPoPWrongMethod
	}
	htu, ok := normalizeHTU(p.htu)
	if !ok || htu != d.requestHTU(r, requestURI) {
		return reasonDPoPWrongURI
	}
	now := time.Now()
	if p.iat.After(now.Add(d.leeway)) || p.iat.Before(now.Add(-d.maxAge-d.leeway)) {
		return reasonDPoPStale
	}
	if !p.hasAth || p.ath != b.tokenHash {
		return reasonDPoPWrongToken
	}
	if p.keyThumbprint != b.keyThumbprint {
		return reasonDPoPWrongKey
	}
	if d.nonces != nil {
		if rsn := d.nonces.check(w, p.nonce, now); rsn != reasonAllowed {
			return rsn
		}
	}
	// Remembered until the proof could no longer pass the iat check.
	return d.replay.check(r.Context(), p.keyThumbprint, p.jti, p.iat.Add(d.maxAge+d.leeway))
}

// parseProof reads one DPoP header value: a compact JWS (§4.3 steps 2
// to 7) with typ dpop+jwt, an accepted asymmetric alg, a public jwk that
// verifies the signature, and the claims jti, htm, htu and iat.
func (d *dpopChecker) parseProof(raw string) (*dpopProof, reason) {
	if len(raw) > maxProofSize {
		return nil, reasonDPoPMalformedProof
	}
	headerEnd, payloadEnd, ok := jws.Split(raw)
	if !ok {
		return nil, reasonDPoPMalformedProof
	}
	s, ok := jws.DecodeSegment(raw[:headerEnd])
	if !ok {
		return nil, reasonDPoPMalformedProof
	}
	header, ok := jws.ParseObject(s)
	if !ok {
		return nil, reasonDPoPMalformedProof
	}
	// RFC 7515 §4.1.11: no extension is understood here.
	if _, critical := header["crit"]; critical {
		return nil, reasonDPoPMalformedProof
	}
	if typ, ok := header["typ"].(string); !ok || normalizeTokenType(typ) != "dpop+jwt" {
		return nil, reasonDPoPBadType
	}
	// Ed25519, RFC 9864's fully-specified name for EdDSA with Ed25519, is
	// what panva's dpop and oidc-provider sign proofs with by default.
	algName, _ := header["alg"].(string)
	alg := parseAlgorithm(algName)
	if !d.algorithms.has(alg) {
		return nil, reasonDPoPBadAlgorithm
	}
	jwk, ok := header["jwk"].(map[string]any)
	if !ok {
		return nil, reasonDPoPMalformedProof
	}
	key, rsn := parseProofKey(jwk)
	if rsn != reasonAllowed {
		return nil, rsn
	}
	if !key.algorithms.has(alg) {
		return nil, reasonDPoPBadAlgorithm
	}

	sig, ok := decodeSignature(raw[payloadEnd+1:])
	if !ok {
		return nil, reasonDPoPMalformedProof
	}
	if !verifySignature(alg, raw[:payloadEnd], sig, key.material) {
		return nil, reasonDPoPBadSignature
	}

	s, ok = jws.DecodeSegment(raw[headerEnd+1 : payloadEnd])
	if !ok {
		return nil, reasonDPoPMalformedProof
	}
	claims, ok := jws.ParseObject(s)
	if !ok {
		return nil, reasonDPoPMalformedProof
	}
	return readProofClaims(claims, key.thumbprint)
}

// readProofClaims takes the claims of a proof whose signature held. jti,
// htm, htu and iat are required (§4.2); ath and nonce are read when
// present, each a string.
func readProofClaims(claims map[string]any, thumbprint string) (*dpopProof, reason) {
	p := &dpopProof{keyThumbprint: thumbprint}
	var ok bool
	if p.jti, ok = claims["jti"].(string); !ok || p.jti == "" {
		return nil, reasonDPoPMalformedProof
	}
	if p.htm, ok = claims["htm"].(string); !ok {
		return nil, reasonDPoPMalformedProof
	}
	if p.htu, ok = claims["htu"].(string); !ok {
		return nil, reasonDPoPMalformedProof
	}
	iat, ok := claims["iat"].(json.Number)
	if !ok {
		return nil, reasonDPoPMalformedProof
	}
	if p.iat, ok = parseNumericDate(string(iat)); !ok {
		return nil, reasonDPoPMalformedProof
	}
	if v, present := claims["ath"]; present {
		if p.ath, ok = v.(string); !ok {
			return nil, reasonDPoPMalformedProof
		}
		p.hasAth = true
	}
	if v, present := claims["nonce"]; present {
		if p.nonce, ok = v.(string); !ok {
			return nil, reasonDPoPMalformedProof
		}
	}
	return p, reasonAllowed
}
