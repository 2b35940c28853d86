package caddyjwt

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Step-up authentication: a token that is valid but not good enough for
// this resource gets a challenge that tells the client what would be.
// A missing scope is 403 insufficient_scope naming the scope (RFC 6750
// §3.1); an authentication that is too weak (`require_claim acr …`) or too
// old (`max_age`) is 401 insufficient_user_authentication naming
// acr_values and max_age (RFC 9470 §3), so that the client sends the user
// back to the authorization server with exactly those parameters.

// failureOf says what a failed requirement on this claim answers: scope
// and scp name scopes, acr the authentication context class (RFC 9470 §3);
// any other claim is a plain 403.
func failureOf(p claimPath) reason {
	switch {
	case p.scope:
		return reasonScopeNotGranted
	case p.name == "acr":
		return reasonAuthenticationLevel
	}
	return reasonForbidden
}

// stepUpParams are the challenge parameters of step-up failures, built
// once from the configuration.
type stepUpParams struct {
	// scope is what `scope="…"` says on insufficient_scope: every scope
	// value that require_claim names, space-separated, "" for none.
	scope string
	// acrValues and maxAge are what insufficient_user_authentication
	// says, "" when not configured. Both are sent whichever failed, so
	// that one new authentication satisfies both.
	acrValues string
	maxAge    string
}

// compileStepUp collects the challenge parameters from the requirements
// and max_age. Values are joined by spaces as RFC 6749 §3.3 and RFC 9470
// §3 want, duplicates dropped; characters a quoted-string cannot hold are
// left out, as in the realm.
func compileStepUp(reqs []claimRequirement, maxAge time.Duration) stepUpParams {
	var scopes, acrs []string
	for i := range reqs {
		switch reqs[i].failure {
		case reasonScopeNotGranted:
			scopes = appendNew(scopes, reqs[i].values)
		case reasonAuthenticationLevel:
			acrs = appendNew(acrs, reqs[i].values)
		}
	}
	p := stepUpParams{
		scope:     quotedStringSafe(strings.Join(scopes, " ")),
		acrValues: quotedStringSafe(strings.Join(acrs, " ")),
	}
	if maxAge > 0 {
		p.maxAge = strconv.FormatInt(int64(maxAge/time.Second), 10)
	}
	return p
}

func appendNew(list, values []string) []string {
	for _, v := range values {
		dup := false
		for _, have := range list {
			dup = dup || have == v
		}
		if !dup && v != "" {
			list = append(list, v)
		}
	}
	return list
}

// validateMaxAge refuses a max_age the challenge could not state: RFC 9470
// counts it in whole seconds.
func validateMaxAge(d time.Duration) error {
	if d < 0 || d > 0 && d < time.Second {
		return fmt.Errorf("jwt: max_age must be at least 1s, not %s", d)
	}
	return nil
}

// checkAuthenticationAge applies max_age: the user must have
// authenticated (the token's auth_time, RFC 9068 §2.2.1 and OpenID
// Connect Core §2) at most maxAge ago, with the usual leeway for clocks.
// Checked on every request, also for cached tokens: an authentication
// grows old while its token is still valid.
func checkAuthenticationAge(token *verifiedToken, maxAge, leeway time.Duration, now time.Time) reason {
	if !token.hasAuthTime {
		return reasonNoAuthTime
	}
	if now.Sub(token.authTime) > maxAge+leeway {
		return reasonAuthenticationTooOld
	}
	return reasonAllowed
}

// appendTo adds the step-up parameters that go with the reason's error
// code to a challenge.
func (p *stepUpParams) appendTo(b *strings.Builder, info *reasonInfo) {
	switch info.code {
	case errInsufficientScope:
		if info == reasonScopeNotGranted.info() {
			appendParam(b, "scope", p.scope)
		}
	case errInsufficientUserAuthentication:
		appendParam(b, "error_description", info.description)
		appendParam(b, "acr_values", p.acrValues)
		appendParam(b, "max_age", p.maxAge)
	}
}

// appendParam writes `, name="value"`, nothing for an empty value. The
// value must already be safe in a quoted-string.
func appendParam(b *strings.Builder, name, value string) {
	if value == "" {
		return
	}
	b.WriteString(", ")
	b.WriteString(name)
	b.WriteString(`="`)
	b.WriteString(value)
	b.WriteByte('"')
}
