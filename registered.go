package caddyjwt

import (
	"encoding/json"
	"math"
	"slices"
	"time"
)

// Registered claims (RFC 7519 §4.1) that the verifier judges. Each date is
// read once, from the decoded claims, and judged against the one clock the
// request passes in: the same function judges a token that is verified and
// a token found in the cache.

// maxNumericDate bounds exp, nbf and iat: 2^53 seconds (some 285 million
// years) is the largest integer a float64 holds exactly. Beyond it, and
// certainly beyond int64 (1e19), a date's conversion to seconds depends on
// the CPU; on amd64 "nbf":1e19 would be the far past.
const maxNumericDate = 1 << 53

// checkClaims applies the registered-claim rules to a token whose signature
// held, at the time now. When several rules fail, the reason most useful
// to a client wins: a claim of the wrong type first, then expired, not yet
// valid and issued in the future, then a missing exp, then the audience;
// an expired token is "expired" even if its audience is also wrong.
func (v *tokenVerifier) checkClaims(scope *keyScope, t *verifiedToken, now time.Time) reason {
	var hasExpiry, ok bool
	if t.expiresAt, hasExpiry, ok = readNumericDate(t.claims, "exp"); !ok {
		return reasonBadClaims
	}
	if t.notBefore, _, ok = readNumericDate(t.claims, "nbf"); !ok {
		return reasonBadClaims
	}
	if t.issuedAt, _, ok = readNumericDate(t.claims, "iat"); !ok {
		return reasonBadClaims
	}
	audienceMet, ok := audienceMeets(t.claims, scope.audience)
	if !ok {
		return reasonBadClaims
	}
	if rsn := v.validAt(t, hasExpiry, now); rsn != reasonAllowed {
		return rsn
	}
	if !hasExpiry {
		// RFC 7519 leaves exp optional; an edge that accepts eternal
		// tokens could never contain a leak.
		return reasonNoExpiry
	}
	if !audienceMet {
		return reasonBadAudience
	}
	if v.maxLifetime > 0 {
		// Without iat the lifetime cannot be known, so it cannot be
		// shown to be within the limit. Signers leave iat out on request
		// (jsonwebtoken's noTimestamp), so say which claim is missing.
		if t.issuedAt.IsZero() {
			return reasonNoIssuedAt
		}
		if t.expiresAt.Sub(t.issuedAt) > v.maxLifetime {
			return reasonLifetimeTooLong
		}
	}
	return reasonAllowed
}

// stillValid judges a token verified earlier (found in the cache) at the
// time now, with the same leeway: the answer a full verification would
// give now.
func (v *tokenVerifier) stillValid(t *verifiedToken, now time.Time) reason {
	return v.validAt(t, true, now)
}

// validAt applies exp (RFC 7519 §4.1.4), nbf (§4.1.5) and iat, refused in
// the future, each with the leeway. A token without exp is judged by the
// others only.
func (v *tokenVerifier) validAt(t *verifiedToken, hasExpiry bool, now time.Time) reason {
	if hasExpiry && !now.Before(t.expiresAt.Add(v.leeway)) {
		return reasonExpired
	}
	if !t.notBefore.IsZero() && now.Before(t.notBefore.Add(-v.leeway)) {
		return reasonNotYetValid
	}
	if !t.issuedAt.IsZero() && now.Before(t.issuedAt.Add(-v.leeway)) {
		return reasonIssuedInFuture
	}
	return reasonAllowed
}

// readNumericDate reads a NumericDate claim: seconds since the epoch, whole or
// not, truncated to the second. present is false when the claim is absent;
// ok is false when it is there but not a number within ±maxNumericDate
// seconds (null, a string, 1e19).
func readNumericDate(claims map[string]any, name string) (at time.Time, present, ok bool) {
	v, present := claims[name]
	if !present {
		return time.Time{}, false, true
	}
	n, isNumber := v.(json.Number)
	if !isNumber {
		return time.Time{}, true, false
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.Abs(f) > maxNumericDate {
		return time.Time{}, true, false
	}
	whole, frac := math.Modf(f)
	return time.Unix(int64(whole), int64(frac*1e9)).Truncate(time.Second), true, true
}

// audienceMeets reports whether the token's aud (RFC 7519 §4.1.3: a string
// or an array of strings) names one of want; with want empty, aud is not
// judged at all. ok is false for an array holding anything but strings.
// An aud of another type, or empty, names no audience.
func audienceMeets(claims map[string]any, want []string) (met, ok bool) {
	if len(want) == 0 {
		return true, true
	}
	switch aud := claims["aud"].(type) {
	case string:
		return aud != "" && slices.Contains(want, aud), true
	case []any:
		for _, item := range aud {
			if _, isString := item.(string); !isString {
				return false, false
			}
		}
		if len(aud) == 1 && aud[0] == "" {
			return false, true
		}
		for _, item := range aud {
			if slices.Contains(want, item.(string)) {
				return true, true
			}
		}
		return false, true
	}
	return false, true
}
