package caddyjwt

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
)

// checkCertificateBinding enforces RFC 8705 §3: a token whose `cnf` names
// a certificate thumbprint (`x5t#S256`) passes only over a TLS connection
// whose client certificate has that SHA-256 thumbprint. The certificate is
// the one this Caddy's TLS handshake verified (its `client_auth`); a
// certificate forwarded in a header by a proxy in front is never read, so
// behind a TLS-terminating proxy such tokens are always refused.
func checkCertificateBinding(r *http.Request, b *tokenBinding) reason {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return reasonCertificateMissing
	}
	sum := sha256.Sum256(r.TLS.PeerCertificates[0].Raw)
	if subtle.ConstantTimeCompare(sum[:], b.certificateHash[:]) != 1 {
		return reasonCertificateMismatch
	}
	return reasonAllowed
}
