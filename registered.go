package caddyjwt

import (
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/jwtgate/caddy-jwt/internal/jws"
)

// Registered claims (RFC 7519 §4.1) that the verifier judges. They are read
// once, straight from the claims JSON before the signature is checked
// (nothing is decoded for a forged token), and each date is judged against
// the one clock the request passes in: the same function judges a token
// that is verified and a token found in the cache.

// maxNumericDate bounds exp, nbf and iat: 2^53 seconds (some 285 million
// years) is the largest integer a float64 holds exactly. Beyond it, and
// certainly beyond int64 (1e19), a date's conversion to seconds depends on
// the CPU; on amd64 "nbf":1e19 would be the far past.
const maxNumericDate = 1 << 53

// rawClaim is a claim as the JSON visitor reports it: its kind (0 when the
// claim is absent) and its text (a string's value, or the JSON of any
// other value).
type rawClaim struct {
	kind jws.Kind
	text string
}

// stringOrAbsent is a member that must be a string when present: ok is
// false only when it is there with another type.
func (c rawClaim) stringOrAbsent() (s string, ok bool) {
	if c.kind != 0 && c.kind != jws.String {
		return "", false
	}
	return c.text, true
}

// registeredClaims are the registered claims the verifier reads, as the
// token states them.
type registeredClaims struct {
	iss, sub, jti, exp, nbf, iat, aud, cnf, authTime rawClaim
}

// readRegisteredClaims checks the claims JSON as the claims parser will,
// notes its heap estimate, and reads the registered claims from it without
// decoding anything; every top-level claim goes into index too, and
// indexed says how many (-1: more than the index holds). iss, sub and jti
// go into the token: RFC 7519 §4.1 makes them strings, and a token with
// another type there is refused (bad claims) rather than guessed at.
// Claims that are not an object the parser accepts are malformed.
func (t *verifiedToken) readRegisteredClaims(index *[maxIndexedClaims]indexedClaim) (r registeredClaims, indexed int, rsn reason) {
	size, ok := jws.VisitObject(t.claimsJSON, func(name string, kind jws.Kind, text string) {
		if indexed >= 0 && indexed < len(index) {
			index[indexed] = indexedClaim{name, rawClaim{kind, text}}
			indexed++
		} else {
			indexed = -1
		}
		switch name {
		case "iss":
			r.iss = rawClaim{kind, text}
		case "sub":
			r.sub = rawClaim{kind, text}
		case "jti":
			r.jti = rawClaim{kind, text}
		case "exp":
			r.exp = rawClaim{kind, text}
		case "nbf":
			r.nbf = rawClaim{kind, text}
		case "iat":
			r.iat = rawClaim{kind, text}
		case "aud":
			r.aud = rawClaim{kind, text}
		case "cnf":
			r.cnf = rawClaim{kind, text}
		case "auth_time":
			r.authTime = rawClaim{kind, text}
		}
	})
	if !ok {
		return r, 0, reasonMalformed
	}
	var issOK, subOK, jtiOK bool
	t.issuer, issOK = r.iss.stringOrAbsent()
	t.subject, subOK = r.sub.stringOrAbsent()
	t.tokenID, jtiOK = r.jti.stringOrAbsent()
	if !issOK || !subOK || !jtiOK {
		return r, 0, reasonBadClaims
	}
	t.claimsSize = size
	return r, indexed, reasonAllowed
}

// checkClaims applies the registered-claim rules to a token whose signature
// held, at the time now. When several rules fail, the reason most useful
// to a client wins: a claim of the wrong type first, then expired, not yet
// valid and issued in the future, then a missing exp, then the audience;
// an expired token is "expired" even if its audience is also wrong.
func (v *tokenVerifier) checkClaims(scope *keyScope, t *verifiedToken, r *registeredClaims, now time.Time) reason {
	var hasExpiry, ok bool
	if t.expiresAt, hasExpiry, ok = readNumericDate(r.exp); !ok {
		return reasonBadClaims
	}
	if t.notBefore, _, ok = readNumericDate(r.nbf); !ok {
		return reasonBadClaims
	}
	if t.issuedAt, _, ok = readNumericDate(r.iat); !ok {
		return reasonBadClaims
	}
	// auth_time matters only to max_age, which judges it on every request
	// (stepup.go); read once here, it makes no token invalid.
	var authTimePresent, authTimeOK bool
	t.authTime, authTimePresent, authTimeOK = readNumericDate(r.authTime)
	t.hasAuthTime = authTimePresent && authTimeOK
	audienceMet, ok := audienceMeets(r.aud, scope.audience)
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
func readNumericDate(c rawClaim) (at time.Time, present, ok bool) {
	if c.kind == 0 {
		return time.Time{}, false, true
	}
	if c.kind != jws.Number {
		return time.Time{}, true, false
	}
	at, ok = parseNumericDate(c.text)
	return at.Truncate(time.Second), true, ok
}

// parseNumericDate reads the JSON number text of a NumericDate (RFC 7519 §2),
// fractions kept; ok is false beyond ±maxNumericDate seconds.
func parseNumericDate(number string) (time.Time, bool) {
	f, err := strconv.ParseFloat(number, 64)
	if err != nil || math.IsNaN(f) || math.Abs(f) > maxNumericDate {
		return time.Time{}, false
	}
	whole, frac := math.Modf(f)
	return time.Unix(int64(whole), int64(frac*1e9)), true
}

// audienceMeets reports whether the token's aud (RFC 7519 §4.1.3: a string
// or an array of strings) names one of want; with want empty, aud is not
// judged at all. ok is false for an array holding anything but strings.
// An aud of another type, or empty, names no audience.
func audienceMeets(aud rawClaim, want []string) (met, ok bool) {
	if len(want) == 0 {
		return true, true
	}
	switch aud.kind {
	case jws.String:
		return aud.text != "" && slices.Contains(want, aud.text), true
	case jws.Array:
		allStrings, count, onlyEmpty := true, 0, false
		jws.VisitArray(aud.text, func(_ string, kind jws.Kind, text string) {
			count++
			if kind != jws.String {
				allStrings = false
				return
			}
			onlyEmpty = count == 1 && text == ""
			met = met || slices.Contains(want, text)
		})
		switch {
		case !allStrings:
			return false, false
		case count == 1 && onlyEmpty:
			return false, true
		}
		return met, true
	}
	return false, true
}
