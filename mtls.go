package caddyjwt

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// checkCertificateBinding enforces RFC 8705 §3: a token whose `cnf` names
// a certificate thumbprint (`x5t#S256`) passes only with a client
// certificate of that SHA-256 thumbprint.
func (h *Handler) checkCertificateBinding(r *http.Request, b *tokenBinding) reason {
	sum, ok := h.clientCertificateHash(r)
	if !ok {
		return reasonCertificateMissing
	}
	if subtle.ConstantTimeCompare(sum[:], b.certificateHash[:]) != 1 {
		return reasonCertificateMismatch
	}
	return reasonAllowed
}

// clientCertificateHash is the SHA-256 of the client's DER certificate:
// the one this Caddy's TLS handshake verified (its `client_auth`), else,
// with client_certificate_header, the one a trusted proxy that terminated
// TLS forwarded in that header. The header is read only on requests from
// the server's `trusted_proxies`: from anyone else it is the client's own
// claim and is ignored.
func (h *Handler) clientCertificateHash(r *http.Request) ([sha256.Size]byte, bool) {
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return sha256.Sum256(r.TLS.PeerCertificates[0].Raw), true
	}
	if h.ClientCertificateHeader == "" {
		return [sha256.Size]byte{}, false
	}
	if trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool); !trusted {
		return [sha256.Size]byte{}, false
	}
	values := r.Header[h.clientCertificateHeader]
	if len(values) != 1 {
		return [sha256.Size]byte{}, false
	}
	der, ok := forwardedCertificate(values[0])
	if !ok {
		return [sha256.Size]byte{}, false
	}
	return sha256.Sum256(der), true
}

// forwardedCertificate decodes a forwarded client certificate: PEM,
// URL-escaped or not (nginx's $ssl_client_escaped_cert, AWS ALB's
// X-Amzn-Mtls-Clientcert), or base64 DER (HAProxy's ssl_c_der,base64).
// The proxy verified it; only its bytes are needed, for the thumbprint.
func forwardedCertificate(v string) ([]byte, bool) {
	v = strings.TrimSpace(v)
	if strings.Contains(v, "%") {
		unescaped, err := url.PathUnescape(v)
		if err != nil {
			return nil, false
		}
		v = unescaped
	}
	if strings.HasPrefix(v, "-----BEGIN") {
		block, _ := pem.Decode([]byte(v))
		if block == nil || block.Type != "CERTIFICATE" {
			return nil, false
		}
		return block.Bytes, true
	}
	der, err := base64.StdEncoding.DecodeString(v)
	return der, err == nil && len(der) > 0
}
