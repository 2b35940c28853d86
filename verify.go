package caddyjwt

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jwtgate/caddy-jwt/internal/jws"
)

// tokenVerifier checks a compact JWS: its shape, header, signature and
// registered claims. It is built once, by newTokenVerifier, and shared by
// all requests; nothing in it is written after its scopes are added.
type tokenVerifier struct {
	verifierRules

	// defaultScope verifies tokens of issuers without keys of their own,
	// and all tokens when no issuer is configured. Nil when there are no
	// top-level keys.
	defaultScope *keyScope
	// issuers maps each configured `iss` to its scope. Empty: any (or no)
	// issuer is accepted.
	issuers map[string]*keyScope

	// onKeysChanged is called by remote key sources whenever their key set
	// changes (rotation, removal), so that nothing verified with a key that
	// is gone is still trusted. Set before any key source starts.
	onKeysChanged func()
}

// verifierRules are the rules a token is held to beyond its keys. The
// handler takes them from its config, `caddy jwt inspect` from its flags;
// both build their verifier from them with newTokenVerifier.
type verifierRules struct {
	// maxTokenSize bounds the compact token in bytes.
	maxTokenSize int
	// algorithms is the allowlist of the header's alg.
	algorithms algorithmSet
	// tokenTypes, if any, are the accepted typ values, normalised.
	tokenTypes []string
	// leeway is the clock skew allowed for exp, nbf and iat.
	leeway time.Duration
	// maxLifetime, if not zero, bounds exp - iat.
	maxLifetime time.Duration
}

// newTokenVerifier makes a verifier with no keys yet: add them with
// addScope. onKeysChanged, if not nil, is called whenever a remote key
// source's keys change.
func newTokenVerifier(rules verifierRules, onKeysChanged func()) (*tokenVerifier, error) {
	if rules.leeway < 0 {
		return nil, fmt.Errorf("jwt: leeway must not be negative")
	}
	if rules.maxTokenSize <= 0 {
		return nil, fmt.Errorf("jwt: max_token_size must be a positive number of bytes, not %d", rules.maxTokenSize)
	}
	types := make([]string, 0, len(rules.tokenTypes))
	for _, t := range rules.tokenTypes {
		types = append(types, normalizeTokenType(t))
	}
	rules.tokenTypes = types
	return &tokenVerifier{verifierRules: rules, issuers: make(map[string]*keyScope), onKeysChanged: onKeysChanged}, nil
}

// addScope makes issuer's tokens verified by sources and held to audience;
// the empty issuer is the default scope, for tokens of issuers without
// keys of their own (and all tokens when no issuer is configured).
func (v *tokenVerifier) addScope(issuer string, audience []string, sources []keySource) (*keyScope, error) {
	scope := &keyScope{name: issuer, sources: sources, audience: audience}
	if issuer == "" {
		v.defaultScope = scope
		return scope, nil
	}
	if _, dup := v.issuers[issuer]; dup {
		return nil, fmt.Errorf("jwt: issuer %q is configured twice", issuer)
	}
	v.issuers[issuer] = scope
	return scope, nil
}

// keysChanged tells the verifier that some key source's keys changed.
func (v *tokenVerifier) keysChanged() {
	if v.onKeysChanged != nil {
		v.onKeysChanged()
	}
}

// keyScope is a set of keys with the claim rules that go with them.
type keyScope struct {
	name    string
	sources []keySource
	// audience, if not empty, must meet the token's aud (any of them).
	audience []string
}

// tokenHeader is the part of the JOSE header we read. Members we do not
// know are ignored, except "crit" (RFC 7515 §4.1.11): since this verifier
// understands no extensions, any token that marks one critical is refused.
// "jku", "x5u", "jwk" and "x5c" are never used to find a key: a key named by
// the token itself proves nothing.
type tokenHeader struct {
	alg, kid, typ string
}

// fits reports whether raw is within max_token_size: anything larger is
// refused before it is parsed, hashed or looked up.
func (v *tokenVerifier) fits(raw string) bool { return len(raw) <= v.maxTokenSize }

// verify checks a raw token at the time now. Cheap checks come first (size,
// shape, alphabet, header, algorithm) so that garbage costs little; the
// signature is checked before any claim is trusted, and before the claims
// are decoded into values, so that a forged token costs none: before it,
// the claims JSON is only checked and iss, sub and jti read (the issuer
// picks the keys; the three name the token in the rejection log).
func (v *tokenVerifier) verify(ctx context.Context, raw string, now time.Time) (*verifiedToken, reason) {
	if !v.fits(raw) {
		return nil, reasonTooLarge
	}
	headerEnd, payloadEnd, ok := jws.Split(raw)
	if !ok {
		return nil, reasonMalformed
	}
	header, ok := decodeHeader(raw[:headerEnd])
	if !ok {
		return nil, reasonMalformed
	}
	alg := parseAlgorithm(header.alg)
	if !v.algorithms.has(alg) {
		return nil, reasonBadAlgorithm
	}
	if len(v.tokenTypes) > 0 && !v.acceptsType(header.typ) {
		return nil, reasonBadType
	}
	claimsJSON, ok := jws.DecodeSegment(raw[headerEnd+1 : payloadEnd])
	if !ok {
		return nil, reasonMalformed
	}
	// From here on a failure returns the token too, so that the rejection
	// can be logged with its kid, iss, sub and jti; none of it is trusted.
	token := &verifiedToken{
		claimsJSON: claimsJSON, algorithm: alg, keyID: header.kid,
		headerEnd: headerEnd, payloadEnd: payloadEnd,
	}
	// The claims are checked whole and the registered ones read, but
	// nothing is decoded: the rest only when something asks for it.
	var index [maxIndexedClaims]indexedClaim
	registered, indexed, rsn := token.readRegisteredClaims(&index)
	if rsn != reasonAllowed {
		return token, rsn
	}
	scope := v.defaultScope
	if len(v.issuers) > 0 {
		if scope, ok = v.issuers[token.issuer]; !ok {
			return token, reasonBadIssuer
		}
	}
	if rsn := scope.checkSignature(ctx, raw[:payloadEnd], raw[payloadEnd+1:], header.kid, alg); rsn != reasonAllowed {
		return token, rsn
	}

	if indexed >= 0 {
		token.index = append(make([]indexedClaim, 0, indexed), index[:indexed]...)
	}
	if rsn := v.checkClaims(scope, token, &registered, now); rsn != reasonAllowed {
		return token, rsn
	}
	if token.binding, ok = readTokenBinding(registered.cnf, raw); !ok {
		return token, reasonBadClaims
	}
	return token, reasonAllowed
}

// decodeHeader reads the JOSE header segment. A token that marks any
// extension critical is refused (RFC 7515 §4.1.11): this verifier
// understands none. Member names are case-sensitive (RFC 7515 §4), so
// "ALG" is not "alg".
func decodeHeader(seg string) (tokenHeader, bool) {
	var h tokenHeader
	s, ok := jws.DecodeSegment(seg)
	if !ok {
		return h, false
	}
	var alg, kid, typ, crit rawClaim
	_, ok = jws.VisitObject(s, func(name string, kind jws.Kind, text string) {
		switch name {
		case "alg":
			alg = rawClaim{kind, text}
		case "kid":
			kid = rawClaim{kind, text}
		case "typ":
			typ = rawClaim{kind, text}
		case "crit":
			crit = rawClaim{kind, text}
		}
	})
	var algOK, kidOK, typOK bool
	h.alg, algOK = alg.stringOrAbsent()
	h.kid, kidOK = kid.stringOrAbsent()
	h.typ, typOK = typ.stringOrAbsent()
	return h, ok && crit.kind == 0 && algOK && kidOK && typOK
}

// checkSignature verifies the signature over signingInput with the scope's
// keys that match kid and alg, trying at most maxKeysPerToken of them.
func (s *keyScope) checkSignature(ctx context.Context, signingInput, signature, kid string, alg algorithm) reason {
	var candidates [maxKeysPerToken]*verificationKey
	keys := candidates[:0]
	unavailable := false
	for _, src := range s.sources {
		var err error
		keys, err = src.appendKeys(ctx, keys, kid, alg)
		if errors.Is(err, errKeysUnavailable) {
			unavailable = true
		}
	}
	if len(keys) == 0 {
		if unavailable {
			return reasonKeysUnavailable
		}
		return reasonUnknownKey
	}
	if len(keys) > maxKeysPerToken {
		keys = keys[:maxKeysPerToken]
	}
	sig, ok := decodeSignature(signature)
	if !ok {
		return reasonMalformed
	}
	for _, k := range keys {
		if k.verifies(alg, signingInput, sig) {
			return reasonAllowed
		}
	}
	return reasonBadSignature
}

// decodeSignature decodes a signature segment with the same strict decoder
// as the other segments: encoding/base64 would skip line breaks inside it.
func decodeSignature(segment string) ([]byte, bool) {
	sig := make([]byte, base64.RawURLEncoding.DecodedLen(len(segment)))
	return sig, jws.DecodeBase64URL(sig, segment)
}

// normalizeTokenType lowercases a typ and drops the optional
// "application/" prefix (RFC 7515 §4.1.9).
func normalizeTokenType(typ string) string {
	typ = strings.ToLower(strings.TrimSpace(typ))
	return strings.TrimPrefix(typ, "application/")
}

func (v *tokenVerifier) acceptsType(typ string) bool {
	typ = normalizeTokenType(typ)
	for _, want := range v.tokenTypes {
		if typ == want {
			return true
		}
	}
	return false
}
