package caddyjwt

import (
	"net/http"
	"strings"
)

// bearerWithoutError is the Bearer challenge's info when the error belongs
// to the DPoP challenge: the realm alone.
var bearerWithoutError = &reasonInfo{}

// setChallenges writes the WWW-Authenticate challenges of a refusal. A
// DPoP challenge naming the accepted algorithms goes next to the Bearer
// one (RFC 9449 §7.1), or alone in mode required, when the dpop block is
// configured, and else whenever the refusal concerns DPoP (a proof, a
// token sent with the DPoP scheme, a DPoP-bound token sent as Bearer): a
// site that never configured DPoP keeps its one Bearer challenge. The
// error goes to the scheme it concerns: the DPoP challenge for a proof
// error, a token sent with the DPoP scheme or any error in mode required,
// else the Bearer challenge.
func (h *Handler) setChallenges(header http.Header, r *http.Request, info *reasonInfo) {
	d := h.dpop
	// Without DPoP the request's headers are not read again.
	asDPoP := d != nil && d.mode != dpopOff && (info.dpop || presentsDPoP(r))
	if d == nil || d.mode == dpopOff || !(d.advertise || asDPoP || info == reasonDPoPBoundAsBearer.info()) {
		// The canonical key, so that Set need not canonicalise it per refusal.
		header["Www-Authenticate"] = []string{h.challenge.build(r, info)}
		return
	}
	bearerInfo, dpopInfo := info, bearerWithoutError
	if asDPoP || d.mode == dpopRequired {
		bearerInfo, dpopInfo = bearerWithoutError, info
	}
	values := make([]string, 0, 2)
	if d.mode != dpopRequired {
		values = append(values, h.challenge.build(r, bearerInfo))
	}
	header["Www-Authenticate"] = append(values, d.buildChallenge(dpopInfo))
}

// presentsDPoP reports whether the request carries a token with the DPoP
// scheme. It is read again here, only for refusals, rather than carried
// through every step of the request path.
func presentsDPoP(r *http.Request) bool {
	for _, v := range r.Header["Authorization"] {
		if _, ours := dpopTokenSource.tokenFromHeader(v); ours {
			return true
		}
	}
	return false
}

// buildChallenge is `DPoP algs="…"` with the error, if any, and its fixed
// description.
func (d *dpopChecker) buildChallenge(info *reasonInfo) string {
	if info.code == "" {
		return d.challenge
	}
	var b strings.Builder
	b.WriteString(d.challenge)
	b.WriteString(`, error="`)
	b.WriteString(info.code)
	b.WriteString(`", error_description="`)
	b.WriteString(info.description)
	b.WriteByte('"')
	return b.String()
}
