package caddyjwt

import (
	"fmt"
	"regexp"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// provisionVerifier builds the verifier from the key sources, issuers and
// claim rules of the config. onKeysChanged is handed to every remote key
// source, before any of them starts.
func (h *Handler) provisionVerifier(ctx caddy.Context, onKeysChanged func()) (*tokenVerifier, error) {
	rules := verifierRules{
		maxTokenSize: h.MaxTokenSize,
		leeway:       defaultLeeway,
		maxLifetime:  time.Duration(h.MaxLifetime),
		algorithms:   allAlgorithms,
		tokenTypes:   h.TokenType,
	}
	if h.Leeway != nil {
		rules.leeway = time.Duration(*h.Leeway)
	}
	if len(h.Algorithms) > 0 {
		var err error
		if rules.algorithms, err = parseAlgorithmList(h.Algorithms); err != nil {
			return nil, err
		}
	}
	v, err := newTokenVerifier(rules, onKeysChanged)
	if err != nil {
		return nil, err
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
		sources, algs, err := h.provisionKeySources(ctx, "", &h.KeySources, false, v)
		if err != nil {
			return nil, err
		}
		if _, err := v.addScope("", h.Audience, sources); err != nil {
			return nil, err
		}
		offered |= algs
	}
	algs, err := h.provisionIssuerScopes(ctx, v)
	if err != nil {
		return nil, err
	}
	offered |= algs

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

// provisionIssuerScopes adds a scope for each issuer block: its own keys,
// or the top-level ones, and its own audience, or the top-level one. It
// returns the algorithms the issuers' static keys can verify.
func (h *Handler) provisionIssuerScopes(ctx caddy.Context, v *tokenVerifier) (algorithmSet, error) {
	var offered algorithmSet
	for _, is := range h.Issuers {
		if is.Issuer == "" {
			return 0, fmt.Errorf("jwt: issuer: empty issuer")
		}
		audience := h.Audience
		if len(is.Audience) > 0 {
			audience = is.Audience
		}
		var sources []keySource
		if is.hasOwnKeys() {
			var algs algorithmSet
			var err error
			if sources, algs, err = h.provisionKeySources(ctx, is.Issuer, &is.KeySources, is.Discover, v); err != nil {
				return 0, err
			}
			offered |= algs
		} else {
			if v.defaultScope == nil {
				return 0, fmt.Errorf("jwt: issuer %q has no keys of its own and there are no top-level keys", is.Issuer)
			}
			sources = v.defaultScope.sources
		}
		if _, err := v.addScope(is.Issuer, audience, sources); err != nil {
			return 0, err
		}
	}
	return offered, nil
}

// provisionKeySources loads the key sources of one scope and returns the
// algorithms its static keys can verify.
func (h *Handler) provisionKeySources(ctx caddy.Context, issuer string, ks *KeySources, discover bool, v *tokenVerifier) ([]keySource, algorithmSet, error) {
	var sources []keySource
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
		sources = append(sources, static)
	}
	remote, err := h.provisionRemoteKeys(ctx, issuer, ks.JWKS, discover, v)
	if err != nil {
		return nil, 0, err
	}
	return append(sources, remote...), offered, nil
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
