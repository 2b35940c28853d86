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
}

func newChallengeBuilder(realm string) challengeBuilder {
	if realm == "" {
		return challengeBuilder{}
	}
	return challengeBuilder{prefix: `Bearer realm="` + quotedStringSafe(realm) + `"`}
}

func (c challengeBuilder) build(r *http.Request, info *reasonInfo) string {
	var b strings.Builder
	if c.prefix != "" {
		b.WriteString(c.prefix)
	} else {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		b.WriteString(`Bearer realm="`)
		b.WriteString(quotedStringSafe(host))
		b.WriteByte('"')
	}
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
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			b.WriteByte(c)
		}
	}
	return b.String()
}
