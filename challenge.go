package caddyjwt

import (
	"net"
	"net/http"
	"strings"
)

// challengeBuilder writes RFC 6750 §3 WWW-Authenticate challenges. With a
// configured realm the whole prefix is built once; otherwise the realm is
// the request's host, sanitised, since it comes from the client.
type challengeBuilder struct {
	prefix string // `Bearer realm="…"`, empty when the realm is per request
	// params are the challenge parameters beyond the error: step-up
	// requirements and the resource metadata URL (challenge_params.go).
	params challengeParams
	// after holds, for each reason's info (and the DPoP case's Bearer
	// challenge without an error), everything that follows the realm,
	// worked out by finish; with a configured realm, the whole challenge.
	after map[*reasonInfo]string
}

func newChallengeBuilder(realm string) challengeBuilder {
	if realm == "" {
		return challengeBuilder{}
	}
	return challengeBuilder{prefix: `Bearer realm="` + quotedStringSafe(realm) + `"`}
}

// finish works out each challenge's text once its params are set: a
// refusal then builds nothing, or only the realm when it is the host.
func (c *challengeBuilder) finish() {
	c.after = make(map[*reasonInfo]string, reasonCount+1)
	for r := range reasonCount {
		if info := r.info(); info.challenge {
			c.after[info] = c.prefix + c.suffix(info)
		}
	}
	c.after[bearerWithoutError] = c.prefix + c.suffix(bearerWithoutError)
}

func (c challengeBuilder) build(r *http.Request, info *reasonInfo) string {
	after, ok := c.after[info]
	if !ok {
		after = c.prefix + c.suffix(info)
	}
	if c.prefix != "" {
		return after
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return `Bearer realm="` + quotedStringSafe(host) + `"` + after
}

// suffix is the challenge after its realm: the error, its description and
// the parameters.
func (c challengeBuilder) suffix(info *reasonInfo) string {
	var b strings.Builder
	if info.code != "" {
		b.WriteString(`, error="`)
		b.WriteString(info.code)
		b.WriteByte('"')
		if info.code == errInvalidToken {
			b.WriteString(`, error_description="`)
			b.WriteString(info.description)
			b.WriteByte('"')
		}
	}
	c.params.appendTo(&b, info)
	return b.String()
}

// quotedStringSafe keeps only the characters RFC 6750 §3 allows inside
// realm and error_description (%x20-21 / %x23-5B / %x5D-7E): no quotes, no
// backslashes, no control or non-ASCII bytes that could break the header.
func quotedStringSafe(s string) string {
	if isQuotedStringSafe(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isQuotedStringSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
