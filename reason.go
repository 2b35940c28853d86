package caddyjwt

import "net/http"

// reason is the outcome of checking one request: why it was let through or
// refused. Every step of the request path returns one, and the table below
// turns it into a status, an RFC 6750 error code, a fixed description, a
// metric label and a log message, so that these never drift apart.
type reason uint8

const (
	reasonAllowed reason = iota
	reasonAnonymous
	reasonMissing
	reasonAmbiguous
	reasonTooLarge
	reasonMalformed
	reasonBadAlgorithm
	reasonBadType
	reasonUnknownKey
	reasonBadSignature
	reasonNoExpiry
	reasonExpired
	reasonNotYetValid
	reasonIssuedInFuture
	reasonLifetimeTooLong
	reasonNoIssuedAt
	reasonBadIssuer
	reasonBadAudience
	reasonBadClaims
	reasonRevoked
	reasonForbidden
	reasonCrossOrigin
	reasonKeysUnavailable
	reasonRevocationUnavailable
	reasonScopeNotGranted
	reasonAuthenticationLevel
	reasonAuthenticationTooOld
	reasonNoAuthTime
	reasonDPoPMissingProof
	reasonDPoPManyProofs
	reasonDPoPMalformedProof
	reasonDPoPBadType
	reasonDPoPBadAlgorithm
	reasonDPoPBadKey
	reasonDPoPBadSignature
	reasonDPoPWrongMethod
	reasonDPoPWrongURI
	reasonDPoPStale
	reasonDPoPWrongToken
	reasonDPoPWrongKey
	reasonDPoPReplayed
	reasonDPoPNonceRequired
	reasonDPoPReplayUnavailable
	reasonDPoPBoundAsBearer
	reasonDPoPTokenUnbound
	reasonDPoPRequired
	reasonDPoPOff
	reasonCertificateMissing
	reasonCertificateMismatch
	reasonCount
)

// RFC 6750 §3.1 error codes.
const (
	errInvalidRequest    = "invalid_request"
	errInvalidToken      = "invalid_token"
	errInsufficientScope = "insufficient_scope"
	// RFC 9470 §3: the token is valid, the user's authentication is not
	// strong or recent enough.
	errInsufficientUserAuthentication = "insufficient_user_authentication"

	// RFC 9449 §7.1 and §9: errors of the DPoP proof, carried by the
	// DPoP challenge.
	errInvalidDPoPProof = "invalid_dpop_proof"
	errUseDPoPNonce     = "use_dpop_nonce"
)

type reasonInfo struct {
	status int
	// code is the RFC 6750 error code, "" for no error attribute (a missing
	// token, §3.1: "the resource server SHOULD NOT include an error code").
	code string
	// description goes to the client in error_description. It is fixed text:
	// never token contents, never an internal error.
	description string
	// metric is the `result` label of the requests counter.
	metric string
	// challenge: whether a WWW-Authenticate challenge is sent.
	challenge bool
	// dpop: the error concerns the DPoP proof, so the DPoP challenge
	// carries it, whatever scheme the token came with.
	dpop bool
}

var reasons = [reasonCount]reasonInfo{
	reasonAllowed:               {status: http.StatusOK, metric: "allowed"},
	reasonAnonymous:             {status: http.StatusOK, metric: "anonymous"},
	reasonMissing:               {status: http.StatusUnauthorized, metric: "missing", challenge: true, description: "no token"},
	reasonAmbiguous:             {status: http.StatusBadRequest, code: errInvalidRequest, metric: "malformed", challenge: true, description: "more than one token in the request"},
	reasonTooLarge:              {status: http.StatusUnauthorized, code: errInvalidToken, metric: "malformed", challenge: true, description: "the token is too large"},
	reasonMalformed:             {status: http.StatusUnauthorized, code: errInvalidToken, metric: "malformed", challenge: true, description: "the token is malformed"},
	reasonBadAlgorithm:          {status: http.StatusUnauthorized, code: errInvalidToken, metric: "unknown_key", challenge: true, description: "the token's algorithm is not accepted"},
	reasonBadType:               {status: http.StatusUnauthorized, code: errInvalidToken, metric: "bad_claims", challenge: true, description: "the token's type is not accepted"},
	reasonUnknownKey:            {status: http.StatusUnauthorized, code: errInvalidToken, metric: "unknown_key", challenge: true, description: "the token's signing key is not known"},
	reasonBadSignature:          {status: http.StatusUnauthorized, code: errInvalidToken, metric: "bad_signature", challenge: true, description: "the token's signature is invalid"},
	reasonNoExpiry:              {status: http.StatusUnauthorized, code: errInvalidToken, metric: "bad_claims", challenge: true, description: "the token has no expiry"},
	reasonExpired:               {status: http.StatusUnauthorized, code: errInvalidToken, metric: "expired", challenge: true, description: "the token is expired"},
	reasonNotYetValid:           {status: http.StatusUnauthorized, code: errInvalidToken, metric: "not_yet_valid", challenge: true, description: "the token is not yet valid"},
	reasonIssuedInFuture:        {status: http.StatusUnauthorized, code: errInvalidToken, metric: "not_yet_valid", challenge: true, description: "the token is not yet valid: issued in the future"},
	reasonLifetimeTooLong:       {status: http.StatusUnauthorized, code: errInvalidToken, metric: "bad_claims", challenge: true, description: "the token's lifetime is too long"},
	reasonNoIssuedAt:            {status: http.StatusUnauthorized, code: errInvalidToken, metric: "bad_claims", challenge: true, description: "the token has no iat, which max_lifetime needs"},
	reasonBadIssuer:             {status: http.StatusUnauthorized, code: errInvalidToken, metric: "bad_claims", challenge: true, description: "the token's issuer is not accepted"},
	reasonBadAudience:           {status: http.StatusUnauthorized, code: errInvalidToken, metric: "bad_claims", challenge: true, description: "the token's audience is not accepted"},
	reasonBadClaims:             {status: http.StatusUnauthorized, code: errInvalidToken, metric: "bad_claims", challenge: true, description: "the token's claims are invalid"},
	reasonRevoked:               {status: http.StatusUnauthorized, code: errInvalidToken, metric: "revoked", challenge: true, description: "the token has been revoked"},
	reasonForbidden:             {status: http.StatusForbidden, code: errInsufficientScope, metric: "forbidden", challenge: true, description: "the token does not grant access to this resource"},
	reasonCrossOrigin:           {status: http.StatusForbidden, metric: "forbidden", description: "cross-origin request refused"},
	reasonKeysUnavailable:       {status: http.StatusServiceUnavailable, metric: "unavailable", description: "signing keys are not available"},
	reasonRevocationUnavailable: {status: http.StatusServiceUnavailable, metric: "unavailable", description: "revocation store is not available"},
	reasonScopeNotGranted:       {status: http.StatusForbidden, code: errInsufficientScope, metric: "forbidden", challenge: true, description: "the token lacks a required scope"},
	reasonAuthenticationLevel:   {status: http.StatusUnauthorized, code: errInsufficientUserAuthentication, metric: "forbidden", challenge: true, description: "a stronger authentication is required"},
	reasonAuthenticationTooOld:  {status: http.StatusUnauthorized, code: errInsufficientUserAuthentication, metric: "forbidden", challenge: true, description: "a more recent authentication is required"},
	reasonNoAuthTime:            {status: http.StatusUnauthorized, code: errInsufficientUserAuthentication, metric: "forbidden", challenge: true, description: "the token has no auth_time, which max_age needs"},

	// Sender-constrained tokens: DPoP proofs (RFC 9449) and certificate-bound tokens (RFC 8705).
	reasonDPoPMissingProof:      {status: http.StatusUnauthorized, code: errInvalidDPoPProof, metric: "invalid_proof", challenge: true, dpop: true, description: "the DPoP proof is missing"},
	reasonDPoPManyProofs:        {status: http.StatusUnauthorized, code: errInvalidDPoPProof, metric: "invalid_proof", challenge: true, dpop: true, description: "more than one DPoP proof"},
	reasonDPoPMalformedProof:    {status: http.StatusUnauthorized, code: errInvalidDPoPProof, metric: "invalid_proof", challenge: true, dpop: true, description: "the DPoP proof is malformed"},
	reasonDPoPBadType:           {status: http.StatusUnauthorized, code: errInvalidDPoPProof, metric: "invalid_proof", challenge: true, dpop: true, description: "the DPoP proof's typ is not dpop+jwt"},
	reasonDPoPBadAlgorithm:      {status: http.StatusUnauthorized, code: errInvalidDPoPProof, metric: "invalid_proof", challenge: true, dpop: true, description: "the DPoP proof's algorithm is not accepted"},
	reasonDPoPBadKey:            {status: http.StatusUnauthorized, code: errInvalidDPoPProof, metric: "invalid_proof", challenge: true, dpop: true, description: "the DPoP proof's jwk is not a usable public key"},
	reasonDPoPBadSignature:      {status: http.StatusUnauthorized, code: errInvalidDPoPProof, metric: "invalid_proof", challenge: true, dpop: true, description: "the DPoP proof's signature is invalid"},
	reasonDPoPWrongMethod:       {status: http.StatusUnauthorized, code: errInvalidDPoPProof, metric: "invalid_proof", challenge: true, dpop: true, description: "the DPoP proof is for another method"},
	reasonDPoPWrongURI:          {status: http.StatusUnauthorized, code: errInvalidDPoPProof, metric: "invalid_proof", challenge: true, dpop: true, description: "the DPoP proof is for another URI"},
	reasonDPoPStale:             {status: http.StatusUnauthorized, code: errInvalidDPoPProof, metric: "invalid_proof", challenge: true, dpop: true, description: "the DPoP proof is too old or issued in the future"},
	reasonDPoPWrongToken:        {status: http.StatusUnauthorized, code: errInvalidDPoPProof, metric: "invalid_proof", challenge: true, dpop: true, description: "the DPoP proof is for another access token"},
	reasonDPoPWrongKey:          {status: http.StatusUnauthorized, code: errInvalidDPoPProof, metric: "sender_mismatch", challenge: true, dpop: true, description: "the DPoP proof is signed by another key than the token is bound to"},
	reasonDPoPReplayed:          {status: http.StatusUnauthorized, code: errInvalidDPoPProof, metric: "replayed_proof", challenge: true, dpop: true, description: "the DPoP proof has been used before"},
	reasonDPoPNonceRequired:     {status: http.StatusUnauthorized, code: errUseDPoPNonce, metric: "nonce_required", challenge: true, dpop: true, description: "the DPoP proof needs the current server nonce"},
	reasonDPoPReplayUnavailable: {status: http.StatusServiceUnavailable, metric: "unavailable", description: "DPoP replay store is not available"},
	reasonDPoPBoundAsBearer:     {status: http.StatusUnauthorized, code: errInvalidToken, metric: "sender_mismatch", challenge: true, description: "the token is DPoP-bound: send it with the DPoP scheme and a proof"},
	reasonDPoPTokenUnbound:      {status: http.StatusUnauthorized, code: errInvalidToken, metric: "sender_mismatch", challenge: true, description: "the token is not DPoP-bound"},
	reasonDPoPRequired:          {status: http.StatusUnauthorized, code: errInvalidToken, metric: "sender_mismatch", challenge: true, description: "a DPoP-bound token is required"},
	reasonDPoPOff:               {status: http.StatusUnauthorized, code: errInvalidToken, metric: "sender_mismatch", challenge: true, description: "DPoP-bound tokens are not accepted here"},
	reasonCertificateMissing:    {status: http.StatusUnauthorized, code: errInvalidToken, metric: "sender_mismatch", challenge: true, description: "the token is bound to a TLS client certificate, and none was presented"},
	reasonCertificateMismatch:   {status: http.StatusUnauthorized, code: errInvalidToken, metric: "sender_mismatch", challenge: true, description: "the token is bound to another TLS client certificate"},
}

func (r reason) info() *reasonInfo { return &reasons[r] }

func (r reason) String() string { return reasons[r].description }
