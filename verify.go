package caddyjwt

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/golang-jwt/jwt/v5"
)

// tokenVerifier checks a compact JWS: its shape, header, signature and
// registered claims. It is built once in Provision and shared by all
// requests; nothing in it is written after that.
type tokenVerifier struct {
	maxSize     int
	algorithms  algorithmSet
	tokenTypes  []string
	leeway      time.Duration
	maxLifetime time.Duration

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

	// cache holds tokens that passed, nil when `cache off`. It is dropped
	// through onKeysChanged.
	cache *tokenCache
}

// keysChanged tells the verifier that some key source's keys changed.
func (v *tokenVerifier) keysChanged() {
	if v.onKeysChanged != nil {
		v.onKeysChanged()
	}
}

// keyScope is a set of keys with the claim rules that go with them.
type keyScope struct {
	name      string
	sources   []keySource
	validator *jwt.Validator
}

// tokenHeader is the part of the JOSE header we read. Members we do not
// know are ignored, except "crit" (RFC 7515 §4.1.11): since this verifier
// understands no extensions, any token that marks one critical is refused.
// "jku", "x5u", "jwk" and "x5c" are never used to find a key: a key named by
// the token itself proves nothing.
type tokenHeader struct {
	alg, kid, typ string
}

// verifiedToken is a token whose signature and registered claims held.
// Once verify returns it, it may be cached and read by many requests at
// once: nothing writes to it (or its claims) after that.
type verifiedToken struct {
	claims    map[string]any
	algorithm algorithm
	keyID     string
	issuer    string
	subject   string
	tokenID   string
	issuedAt  time.Time // zero when the token has no iat
	expiresAt time.Time
	notBefore time.Time // zero when the token has no nbf

	// claimsJSON is the decoded claims segment; the claims' strings are
	// slices of it, so keeping it costs nothing more. claimsSize estimates
	// the heap of the decoded claims beyond it, for the cache's bound.
	claimsJSON string
	claimsSize int

	// handOff is what the handler passes on from a token that passed; set
	// once, before the token is cached (see cache.go).
	handOff *handOff

	// binding is what the token's cnf claim binds it to (binding.go); set
	// with handOff.
	binding tokenBinding
}

// provisionVerifier builds the verifier from the key sources, issuers and
// claim rules of the config.
func (h *Handler) provisionVerifier(ctx caddy.Context) (*tokenVerifier, error) {
	v := &tokenVerifier{
		maxSize:     h.MaxTokenSize,
		leeway:      defaultLeeway,
		maxLifetime: time.Duration(h.MaxLifetime),
		algorithms:  allAlgorithms,
		issuers:     make(map[string]*keyScope),
	}
	// The cache is made before any key source starts: remote sources
	// report key changes through onKeysChanged, which drops it.
	if v.cache = newTokenCache(h.Cache); v.cache != nil {
		v.onKeysChanged = v.cache.clear
	}
	if h.Leeway != nil {
		v.leeway = time.Duration(*h.Leeway)
	}
	if v.leeway < 0 {
		return nil, fmt.Errorf("jwt: leeway must not be negative")
	}
	if len(h.Algorithms) > 0 {
		var err error
		if v.algorithms, err = parseAlgorithmList(h.Algorithms); err != nil {
			return nil, err
		}
	}
	for _, t := range h.TokenType {
		v.tokenTypes = append(v.tokenTypes, normalizeTokenType(t))
	}

	anyKeys := !h.KeySources.empty()
	for _, is := range h.Issuers {
		anyKeys = anyKeys || is.hasOwnKeys()
	}
	if !anyKeys {
		return nil, fmt.Errorf("jwt: no keys configured: give at least one secret, public_key, jwks or issuer with discover")
	}
	// Keys from a URL never verify HMAC, so with remote keys the check
	// below that every listed algorithm has a key cannot run; an HS*
	// algorithm without a secret or a JWKS file is still a list that can
	// never verify.
	if hs := v.algorithms & hmacAlgorithms; len(h.Algorithms) > 0 && hs != 0 && !h.hasHMACSource() && h.hasRemoteKeys() {
		return nil, fmt.Errorf("jwt: algorithms lists %s, but no configured key can verify it: HMAC needs a secret or a JWKS file (keys from a jwks URL or discover never verify HMAC)", hs)
	}

	var offered algorithmSet
	if !h.KeySources.empty() {
		scope, algs, err := h.provisionScope(ctx, "", &h.KeySources, false, v, h.Audience)
		if err != nil {
			return nil, err
		}
		v.defaultScope = scope
		offered |= algs
	}
	for _, is := range h.Issuers {
		if is.Issuer == "" {
			return nil, fmt.Errorf("jwt: issuer: empty issuer")
		}
		if _, dup := v.issuers[is.Issuer]; dup {
			return nil, fmt.Errorf("jwt: issuer %q is configured twice", is.Issuer)
		}
		audience := h.Audience
		if len(is.Audience) > 0 {
			audience = is.Audience
		}
		if !is.hasOwnKeys() {
			if v.defaultScope == nil {
				return nil, fmt.Errorf("jwt: issuer %q has no keys of its own and there are no top-level keys", is.Issuer)
			}
			v.issuers[is.Issuer] = &keyScope{
				name:      is.Issuer,
				sources:   v.defaultScope.sources,
				validator: newClaimsValidator(v.leeway, audience),
			}
			continue
		}
		scope, algs, err := h.provisionScope(ctx, is.Issuer, &is.KeySources, is.Discover, v, audience)
		if err != nil {
			return nil, err
		}
		v.issuers[is.Issuer] = scope
		offered |= algs
	}

	// An allowlist naming algorithms no configured key can verify is a
	// mistake that would otherwise show up only as 401s in production.
	if len(h.Algorithms) > 0 {
		if missing := v.algorithms &^ offered; missing != 0 && !h.hasRemoteKeys() {
			return nil, fmt.Errorf("jwt: algorithms lists %s, but no configured key can verify it", missing)
		}
	} else if !h.hasRemoteKeys() {
		v.algorithms = offered
	}
	h.logger.Info("jwt verifier ready", zapAlgorithms(v.algorithms))
	return v, nil
}

// provisionScope loads the key sources of one scope and returns the
// algorithms its static keys can verify.
func (h *Handler) provisionScope(ctx caddy.Context, issuer string, ks *KeySources, discover bool, v *tokenVerifier, audience []string) (*keyScope, algorithmSet, error) {
	scope := &keyScope{name: issuer, validator: newClaimsValidator(v.leeway, audience)}
	static := &staticKeys{}
	if ks.Secret != nil {
		key, err := loadSecret(ks.Secret, v.algorithms)
		if err != nil {
			return nil, 0, err
		}
		h.noteSecretSource(key, ks.Secret.Value)
		static.keys = append(static.keys, key)
	}
	for _, pk := range ks.PublicKeys {
		key, err := loadPublicKeyFile(pk, v.algorithms)
		if err != nil {
			return nil, 0, err
		}
		static.keys = append(static.keys, key)
	}
	var offered algorithmSet
	for _, k := range static.keys {
		offered |= k.algorithms
		h.logger.Info("loaded verification key", zapKeySource(issuer, k))
	}
	if len(static.keys) > 0 {
		scope.sources = append(scope.sources, static)
	}
	remote, err := h.provisionRemoteKeys(ctx, issuer, ks.JWKS, discover, v)
	if err != nil {
		return nil, 0, err
	}
	scope.sources = append(scope.sources, remote...)
	return scope, offered, nil
}

// hasHMACSource reports whether some configured source can hold HMAC keys:
// a secret or a JWKS file, at the top level or for any issuer.
func (h *Handler) hasHMACSource() bool {
	for _, ks := range h.allKeySources() {
		if ks.Secret != nil {
			return true
		}
		for _, src := range ks.JWKS {
			if !src.isURL() {
				return true
			}
		}
	}
	return false
}

// allKeySources are the top-level key sources and those of every issuer.
func (h *Handler) allKeySources() []*KeySources {
	out := []*KeySources{&h.KeySources}
	for _, is := range h.Issuers {
		out = append(out, &is.KeySources)
	}
	return out
}

// runtimePlaceholder matches a secret given wholly as a placeholder the
// handler resolves at load, such as {env.JWT_SECRET} or {file./run/jwt}.
var runtimePlaceholder = regexp.MustCompile(`^\{(env|file)\.[^{}]+\}$`)

// noteSecretSource names where a secret came from in its provisioning log
// line (the placeholder, never the value), and warns when the secret is
// written in the config itself: Caddy shows its config in its debug log
// and on the admin API's /config/, secrets included.
func (h *Handler) noteSecretSource(key *verificationKey, configured string) {
	if runtimePlaceholder.MatchString(configured) {
		key.source = "secret " + configured
		return
	}
	h.logger.Warn("secret is written in the config, where Caddy's debug log and admin API show it; use {env.*} or {file.*} instead")
}

// hasRemoteKeys reports whether any keys come from JWKS or discovery, whose
// algorithms are only known once they are fetched.
func (h *Handler) hasRemoteKeys() bool {
	if len(h.JWKS) > 0 {
		return true
	}
	for _, is := range h.Issuers {
		if len(is.JWKS) > 0 || is.Discover {
			return true
		}
	}
	return false
}

// newClaimsValidator checks the registered time claims and the audience
// with golang-jwt: exp is required (RFC 7519 leaves it optional; an edge
// that accepts eternal tokens cannot contain a leak), iat in the future is
// refused.
func newClaimsValidator(leeway time.Duration, audience []string) *jwt.Validator {
	opts := []jwt.ParserOption{jwt.WithLeeway(leeway), jwt.WithExpirationRequired(), jwt.WithIssuedAt()}
	if len(audience) > 0 {
		opts = append(opts, jwt.WithAudience(audience...))
	}
	return jwt.NewValidator(opts...)
}

// verify checks a raw token. Cheap checks come first (size, shape,
// alphabet, header, algorithm) so that garbage costs little; the signature
// is checked before any claim is trusted.
func (v *tokenVerifier) verify(ctx context.Context, raw string) (*verifiedToken, reason) {
	if len(raw) > v.maxSize {
		return nil, reasonTooLarge
	}
	headerEnd, payloadEnd, ok := splitCompact(raw)
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

	claimsJSON, claims, claimsSize, ok := decodeClaimsSegment(raw[headerEnd+1 : payloadEnd])
	if !ok {
		return nil, reasonMalformed
	}
	token := &verifiedToken{claims: claims, claimsJSON: claimsJSON, claimsSize: claimsSize, algorithm: alg, keyID: header.kid}
	if !token.readRegisteredStrings() {
		return token, reasonBadClaims
	}

	// From here on a failure returns the token too, so that the rejection
	// can be logged with its kid, iss, sub and jti; none of it is trusted.
	scope, rsn := v.scopeFor(token.issuer)
	if rsn != reasonAllowed {
		return token, rsn
	}
	if rsn := scope.checkSignature(ctx, raw[:payloadEnd], raw[payloadEnd+1:], header.kid, alg); rsn != reasonAllowed {
		return token, rsn
	}
	if rsn := v.checkClaims(scope, token); rsn != reasonAllowed {
		return token, rsn
	}
	return token, reasonAllowed
}

// splitCompact finds the two dots of a compact JWS (RFC 7515 §7.1) and
// checks that there is no third one: a JWE (five segments) is refused here.
// The alphabet of each segment is checked as it is decoded, header first,
// so that garbage is refused after reading a few bytes of it and a valid
// token's bytes are read once; every segment is decoded, strictly, before
// any signature math.
func splitCompact(raw string) (headerEnd, payloadEnd int, ok bool) {
	headerEnd = strings.IndexByte(raw, '.')
	if headerEnd <= 0 {
		return 0, 0, false
	}
	rest := strings.IndexByte(raw[headerEnd+1:], '.')
	if rest <= 0 {
		return 0, 0, false
	}
	payloadEnd = headerEnd + 1 + rest
	if payloadEnd == len(raw)-1 || strings.IndexByte(raw[payloadEnd+1:], '.') >= 0 {
		return 0, 0, false
	}
	return headerEnd, payloadEnd, true
}

// decodeHeader reads the JOSE header segment. A token that marks any
// extension critical is refused (RFC 7515 §4.1.11): this verifier
// understands none. Member names are case-sensitive (RFC 7515 §4), so
// "ALG" is not "alg".
func decodeHeader(seg string) (tokenHeader, bool) {
	var h tokenHeader
	s, ok := decodeSegmentString(seg)
	if !ok {
		return h, false
	}
	members, ok := parseJSONObject(s)
	if !ok {
		return h, false
	}
	if _, critical := members["crit"]; critical {
		return h, false
	}
	var algOK, kidOK, typOK bool
	h.alg, algOK = stringClaim(members, "alg")
	h.kid, kidOK = stringClaim(members, "kid")
	h.typ, typOK = stringClaim(members, "typ")
	return h, algOK && kidOK && typOK
}

// decodeClaimsSegment reads the claims segment and returns its JSON text
// and the estimated heap of the claims too. Numbers keep their JSON text
// (json.Number) so that they reach headers and placeholders exactly as the
// issuer wrote them.
func decodeClaimsSegment(seg string) (string, map[string]any, int, bool) {
	s, ok := decodeSegmentString(seg)
	if !ok {
		return "", nil, 0, false
	}
	claims, size, ok := parseJSONObjectSize(s)
	return s, claims, size, ok
}

// readRegisteredStrings copies iss, sub and jti, which RFC 7519 §4.1 makes
// strings; a token with another type there is refused rather than guessed at.
func (t *verifiedToken) readRegisteredStrings() bool {
	var ok bool
	if t.issuer, ok = stringClaim(t.claims, "iss"); !ok {
		return false
	}
	if t.subject, ok = stringClaim(t.claims, "sub"); !ok {
		return false
	}
	t.tokenID, ok = stringClaim(t.claims, "jti")
	return ok
}

// stringClaim returns a claim that must be a string if present; ok is false
// only when it is present with another type.
func stringClaim(claims map[string]any, name string) (s string, ok bool) {
	v, present := claims[name]
	if !present {
		return "", true
	}
	s, ok = v.(string)
	return s, ok
}

// scopeFor picks the keys that may verify a token from this issuer: with
// issuer blocks, only that issuer's own keys (a token claiming issuer A is
// never checked with issuer B's keys).
func (v *tokenVerifier) scopeFor(issuer string) (*keyScope, reason) {
	if len(v.issuers) == 0 {
		return v.defaultScope, reasonAllowed
	}
	scope, ok := v.issuers[issuer]
	if !ok {
		return nil, reasonBadIssuer
	}
	return scope, reasonAllowed
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
	// Decoded with the same strict decoder as the other segments:
	// encoding/base64 would skip line breaks inside it.
	sig := make([]byte, base64.RawURLEncoding.DecodedLen(len(signature)))
	if !decodeBase64URL(sig, signature) {
		return reasonMalformed
	}
	method := signingMethods[alg]
	for _, k := range keys {
		if method.Verify(signingInput, sig, k.material) == nil {
			return reasonAllowed
		}
	}
	return reasonBadSignature
}

// checkClaims applies the registered-claim rules to a token whose signature
// held.
func (v *tokenVerifier) checkClaims(scope *keyScope, t *verifiedToken) reason {
	if !numericDatesInRange(t.claims) {
		return reasonBadClaims
	}
	mc := jwt.MapClaims(t.claims)
	if err := scope.validator.Validate(mc); err != nil {
		return claimsReason(mc, err)
	}
	exp, _ := mc.GetExpirationTime()
	t.expiresAt = exp.Time
	if iat, _ := mc.GetIssuedAt(); iat != nil {
		t.issuedAt = iat.Time
	}
	if nbf, _ := mc.GetNotBefore(); nbf != nil {
		t.notBefore = nbf.Time
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

// maxNumericDate bounds exp, nbf and iat: 2^53 seconds (some 285 million
// years) is the largest integer a float64 holds exactly.
const maxNumericDate = 1 << 53

// numericDatesInRange reports whether exp, nbf and iat, when they are
// numbers, are finite and within ±maxNumericDate seconds. golang-jwt
// converts a NumericDate to int64 seconds without a range check; beyond
// int64 (1e19) the result depends on the CPU, and on amd64 it is the far
// past, so "nbf":1e19 would be valid now. (1e400, beyond float64, does not
// get here: the claims parser refuses it.)
// Values of other types are left to the validator, which refuses them.
func numericDatesInRange(claims map[string]any) bool {
	for _, name := range [...]string{"exp", "nbf", "iat"} {
		n, ok := claims[name].(json.Number)
		if !ok {
			continue
		}
		f, err := n.Float64()
		if err != nil || math.IsNaN(f) || math.Abs(f) > maxNumericDate {
			return false
		}
	}
	return true
}

// claimsReason maps golang-jwt's validation errors to reasons. The most
// useful one to a client comes first: an expired token is "expired" even if
// its audience is also wrong.
func claimsReason(claims jwt.MapClaims, err error) reason {
	switch {
	case errors.Is(err, jwt.ErrInvalidType):
		return reasonBadClaims
	case errors.Is(err, jwt.ErrTokenExpired):
		return reasonExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return reasonNotYetValid
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return reasonIssuedInFuture
	}
	if exp, _ := claims.GetExpirationTime(); exp == nil {
		return reasonNoExpiry
	}
	// What is left is a missing or wrong aud, the only other claim the
	// validator is told to require.
	if errors.Is(err, jwt.ErrTokenInvalidAudience) || errors.Is(err, jwt.ErrTokenRequiredClaimMissing) {
		return reasonBadAudience
	}
	return reasonBadClaims
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
