package caddyjwt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"
)

// RevocationConfig says where revocations are looked up. A token is revoked
// when its `jti` is on the deny list, when its subject has a current token
// version higher than the token's version claim (or the token has none), or
// when its `iat` is before its subject's last logout (`not_before`).
type RevocationConfig struct {
	// The store, a module in the `http.handlers.jwt.revocation` namespace
	// named by its `module` key: `file` (one machine), `redis` (a fleet) or
	// `http` (ask the auth service), or a third party's. Required.
	StoreRaw json.RawMessage `json:"store,omitempty" caddy:"namespace=http.handlers.jwt.revocation inline_key=module"`

	// The claim holding the token's version. Default: `ver`.
	VersionClaim string `json:"version_claim,omitempty"`

	// How long a lookup's answer is remembered, and so the longest a
	// revocation takes to reach every instance, for stores whose answers
	// may be cached (redis, http; the file store answers from memory and
	// is not cached). Errors are not remembered. Default: 1s.
	Cache caddy.Duration `json:"cache,omitempty"`

	// What to do when the store cannot answer: `deny` (the default) answers
	// 503 with Retry-After; `allow` lets the request pass and logs it.
	OnError string `json:"on_error,omitempty"`
}

// RevocationStore is a revocation store module: the guest modules of
// namespace `http.handlers.jwt.revocation` implement it. Lookup is called on
// the request path, after the token's signature and registered claims have
// been verified, so it must be quick and safe for concurrent use.
type RevocationStore interface {
	// CacheKey returns the key under which the answer to q may be cached
	// for the revocation block's `cache` time: equal keys must mean equal
	// questions. ok is false when answers are not to be cached, because
	// the store answers from memory or because q asks nothing.
	CacheKey(q RevocationQuery) (key string, ok bool)

	// Lookup answers q, in one round trip where the store is remote. An
	// error means the store could not answer; its text is logged, so it
	// must not carry secrets (passwords in URLs) or tokens. An error that
	// is ErrRevocationQueryRefused refuses the token instead.
	Lookup(ctx context.Context, q RevocationQuery) (RevocationFacts, error)
}

// ErrRevocationQueryRefused is the error of a Lookup whose question the
// token's own claims would change into another one (a claim of ".." in the
// path an http store asks). The token is refused (401) whatever on_error
// says, since letting it through unchecked would be the attacker's choice.
var ErrRevocationQueryRefused = errors.New("the token's claims would change the revocation question")

// RevocationQuery is what the handler asks a store about one verified
// token.
type RevocationQuery struct {
	// TokenID is the token's `jti`; empty when it has none.
	TokenID string
	// Subject is the token's `sub`; empty when it has none.
	Subject string
	// Claims are all the token's claims, as decoded JSON (numbers are
	// json.Number). Read only.
	Claims map[string]any
	// Request is the request being served, for stores that fill
	// placeholders from it. Read only.
	Request *http.Request
}

// RevocationFacts is what a store knows about one token: enough to apply
// the three revocation rules.
type RevocationFacts struct {
	// TokenDenied: the token's jti is on the deny list (the http store:
	// the auth service answered 410 Gone).
	TokenDenied bool
	// HasVersion and Version: the subject's current token version.
	HasVersion bool
	Version    int64
	// NotBefore is the subject's last logout; zero when there is none.
	NotBefore time.Time
}

// sharedCacheStore is a store that keeps the lookup cache itself, with its
// connection, so that the cache outlives a config reload and the store can
// drop entries when it hears of a revocation (the redis store with push).
type sharedCacheStore interface {
	lookupCache(ttl time.Duration) (*revocationCache, error)
}

// Defaults of the revocation block.
const (
	defaultVersionClaim    = "ver"
	defaultRevocationCache = time.Second

	// revocationCacheEntries bounds the lookup cache. With keys of at most
	// maxRevocationCacheKey bytes it holds well under 16 MiB.
	revocationCacheEntries = 10000
)

// revocationCheck applies the three revocation rules to the facts a store
// returns; the handler calls its check.
type revocationCheck struct {
	store RevocationStore
	// cache holds the store's answers that may be cached (CacheKey).
	cache        *revocationCache
	inflight     singleflight.Group
	versionClaim claimPath
	allowOnError bool
	logger       *zap.Logger
	errorLog     storeErrorLog
}

// Counters of revocation_lookups_total, resolved once.
var (
	revocationCached  = revocationLookupsTotal.WithLabelValues("cached")
	revocationValid   = revocationLookupsTotal.WithLabelValues("valid")
	revocationRevoked = revocationLookupsTotal.WithLabelValues("revoked")
	revocationError   = revocationLookupsTotal.WithLabelValues("error")
)

// provision checks the config, fills in defaults and loads the store
// module. The store's Cleanup runs with the handler's context, also when
// provisioning fails half way.
func (rc *RevocationConfig) provision(ctx caddy.Context, logger *zap.Logger) (*revocationCheck, error) {
	if rc.VersionClaim == "" {
		rc.VersionClaim = defaultVersionClaim
	}
	if rc.Cache == 0 {
		rc.Cache = caddy.Duration(defaultRevocationCache)
	}
	if err := rc.validate(); err != nil {
		return nil, err
	}
	mod, err := ctx.LoadModule(rc, "StoreRaw")
	if err != nil {
		return nil, fmt.Errorf("jwt: revocation: %w", err)
	}
	store, ok := mod.(RevocationStore)
	if !ok {
		return nil, fmt.Errorf("jwt: revocation: module %T is not a revocation store", mod)
	}
	c := &revocationCheck{
		store:        store,
		versionClaim: compileClaimPath(rc.VersionClaim),
		allowOnError: rc.OnError == "allow",
		logger:       logger.With(zap.String("revocation_store", storeName(mod))),
	}
	if shared, ok := store.(sharedCacheStore); ok {
		c.cache, err = shared.lookupCache(time.Duration(rc.Cache))
		if err != nil {
			return nil, err
		}
	} else {
		c.cache = newRevocationCache(time.Duration(rc.Cache), revocationCacheEntries)
	}
	return c, nil
}

// validate checks the block's own settings; each store checks its own.
func (rc *RevocationConfig) validate() error {
	switch {
	case rc.StoreRaw == nil:
		return errors.New("jwt: revocation: no store")
	case rc.OnError != "" && rc.OnError != "deny" && rc.OnError != "allow":
		return fmt.Errorf("jwt: revocation on_error must be deny or allow, not %q", rc.OnError)
	case rc.Cache < 0:
		return fmt.Errorf("jwt: revocation cache must not be negative")
	}
	return nil
}

// storeName is the store's module name for the log, e.g. redis.
func storeName(mod any) string {
	if m, ok := mod.(caddy.Module); ok {
		return m.CaddyModule().ID.Name()
	}
	return fmt.Sprintf("%T", mod)
}

// check returns reasonAllowed, reasonRevoked,
// reasonRevocationUnavailable when the store cannot answer and on_error is
// deny, or reasonBadClaims when the token's claims cannot be looked up
// safely (ErrRevocationQueryRefused).
func (c *revocationCheck) check(r *http.Request, t *verifiedToken) reason {
	q := RevocationQuery{TokenID: t.tokenID, Subject: t.subject, Claims: t.decodedClaims(), Request: r}
	facts, cached, err := c.facts(r.Context(), q)
	if errors.Is(err, ErrRevocationQueryRefused) {
		return reasonBadClaims
	}
	if err != nil {
		revocationError.Inc()
		return c.unavailable(err)
	}
	if c.revoked(t, facts) {
		revocationRevoked.Inc()
		return reasonRevoked
	}
	if cached {
		revocationCached.Inc()
	} else {
		revocationValid.Inc()
	}
	return reasonAllowed
}

// facts answers q from the cache or the store. Concurrent misses for the
// same key share one store lookup, so a popular token does not send a burst
// of identical queries when its cache entry expires.
func (c *revocationCheck) facts(ctx context.Context, q RevocationQuery) (RevocationFacts, bool, error) {
	key, cacheable := c.store.CacheKey(q)
	if !cacheable {
		f, err := c.store.Lookup(ctx, q)
		return f, false, err
	}
	if f, ok := c.cache.get(key); ok {
		return f, true, nil
	}
	ch := c.inflight.DoChan(key, func() (any, error) {
		// The epoch is read before asking: an invalidation that arrives
		// while the lookup is under way keeps its possibly stale answer
		// out of the cache.
		epoch := c.cache.epoch()
		// Not the request's context: the lookup is shared with other
		// requests, and the store's own timeouts bound it.
		f, err := c.store.Lookup(context.WithoutCancel(ctx), q)
		if err == nil {
			c.cache.put(key, q, f, epoch)
		}
		return f, err
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return RevocationFacts{}, false, res.Err
		}
		return res.Val.(RevocationFacts), false, nil
	case <-ctx.Done():
		return RevocationFacts{}, false, ctx.Err()
	}
}

// revoked applies the three revocation rules: a denied jti, an outdated
// version, an iat before the last logout.
func (c *revocationCheck) revoked(t *verifiedToken, f RevocationFacts) bool {
	if f.TokenDenied {
		return true
	}
	if f.HasVersion {
		v, ok := t.claim(c.versionClaim.name)
		if !ok {
			return true
		}
		tv, ok := tokenVersion(v)
		if !ok || tv < f.Version {
			return true
		}
	}
	// Without iat, a token cannot be shown to postdate the logout.
	if !f.NotBefore.IsZero() && (t.issuedAt.IsZero() || t.issuedAt.Before(f.NotBefore)) {
		return true
	}
	return false
}

// tokenVersion reads a version claim: a JSON integer, or a string of
// decimal digits as some issuers write it. Anything else is no version.
func tokenVersion(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case float64:
		if n != math.Trunc(n) || math.Abs(n) > 1<<53 {
			return 0, false
		}
		return int64(n), true
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		return i, err == nil
	}
	return 0, false
}

// unavailable decides a request whose revocation status is unknown.
func (c *revocationCheck) unavailable(err error) reason {
	if c.allowOnError {
		c.errorLog.write(c.logger, "revocation store unavailable; request let through (on_error allow)", err)
		return reasonAllowed
	}
	c.errorLog.write(c.logger, "revocation store unavailable; request refused (on_error deny)", err)
	return reasonRevocationUnavailable
}
