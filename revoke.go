package caddyjwt

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sync/singleflight"
)

// RevocationConfig says where revocations are looked up. A token is revoked
// when its `jti` is on the deny list, when its subject has a current token
// version higher than the token's version claim (or the token has none), or
// when its `iat` is before its subject's last logout (`not_before`).
type RevocationConfig struct {
	// The store: `file` (one machine), `redis` (a fleet) or `http` (ask the
	// auth service).
	Store string `json:"store,omitempty"`

	// The store's location: a file path, a `redis://`, `rediss://` or
	// `unix://` URL, or an http(s) URL in which placeholders such as
	// `{http.auth.jwt.sub}` are filled per request. `{env.*}`
	// placeholders are resolved when the config loads.
	Location string `json:"location,omitempty"`

	// The claim holding the token's version. Default: `ver`.
	VersionClaim string `json:"version_claim,omitempty"`

	// Redis and http stores: how long a lookup's answer is remembered, and
	// so the longest a revocation takes to reach every instance. Errors
	// are not remembered. The file store answers from memory and is not
	// cached. Default: 1s.
	Cache caddy.Duration `json:"cache,omitempty"`

	// What to do when the store cannot answer: `deny` (the default) answers
	// 503 with Retry-After; `allow` lets the request pass and logs it.
	OnError string `json:"on_error,omitempty"`

	// File store: how often the file is checked for changes. Default: 1s.
	ReloadInterval caddy.Duration `json:"reload_interval,omitempty"`

	// Redis store: the prefix of every key. Default: `jwt:`.
	Prefix string `json:"prefix,omitempty"`

	// HTTP store: the response header carrying the subject's current token
	// version. Default: `Token-Version`.
	VersionHeader string `json:"version_header,omitempty"`
}

// revocationChecker decides whether a verified token has been revoked.
type revocationChecker interface {
	// check returns reasonAllowed, reasonRevoked,
	// reasonRevocationUnavailable when the store cannot answer and
	// on_error is deny, or reasonBadClaims when the token's claims cannot
	// be looked up safely.
	check(r *http.Request, t *verifiedToken) reason
}

func (rc *RevocationConfig) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	if len(args) != 2 {
		return d.ArgErr()
	}
	rc.Store, rc.Location = args[0], args[1]
	switch rc.Store {
	case "file", "redis", "http":
	default:
		return d.Errf("revocation: unknown store %q (file, redis or http)", rc.Store)
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		sub := d.Val()
		var err error
		switch sub {
		case "version_claim":
			rc.VersionClaim, err = singleArg(d)
		case "cache":
			rc.Cache, err = durationArg(d)
		case "on_error":
			rc.OnError, err = singleArg(d)
			if err == nil && rc.OnError != "deny" && rc.OnError != "allow" {
				err = d.Errf("revocation on_error must be deny or allow, not %q", rc.OnError)
			}
		case "reload_interval":
			rc.ReloadInterval, err = durationArg(d)
		case "prefix":
			rc.Prefix, err = singleArg(d)
		case "version_header":
			rc.VersionHeader, err = singleArg(d)
		default:
			return d.Errf("revocation: unknown subdirective %q", sub)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func singleArg(d *caddyfile.Dispenser) (string, error) {
	if !d.NextArg() {
		return "", d.ArgErr()
	}
	v := d.Val()
	if d.NextArg() {
		return "", d.ArgErr()
	}
	return v, nil
}

// Defaults of the revocation block.
const (
	defaultVersionClaim    = "ver"
	defaultRevocationCache = time.Second
	defaultReloadInterval  = time.Second
	defaultRedisPrefix     = "jwt:"
	defaultVersionHeader   = "Token-Version"

	// revocationCacheEntries bounds the lookup cache. With keys of at most
	// maxRevocationCacheKey bytes it holds well under 16 MiB.
	revocationCacheEntries = 10000

	// revocationErrorLogEvery spaces out the log lines of a store that is
	// down, so that a busy site does not write one per request.
	revocationErrorLogEvery = time.Second
)

// revocationFacts is what a store knows about one token: enough to apply
// the three revocation rules, fetched in a single round trip.
type revocationFacts struct {
	// tokenDenied: the token's jti is on the deny list (the http store:
	// the auth service answered 410 Gone).
	tokenDenied bool
	// hasVersion and version: the subject's current token version.
	hasVersion bool
	version    int64
	// notBefore is the subject's last logout; zero when there is none.
	notBefore time.Time
}

// revocationQuery is what one lookup asks a store.
type revocationQuery struct {
	// key identifies the question, so that the answer can be cached: the
	// jti and subject, or the URL asked. Empty: there is nothing to ask.
	key     string
	jti     string
	subject string
	// unaskable: the token's claims would make the question another one
	// (a claim of ".." in an http store's path). The token is refused.
	unaskable bool
}

// revocationStore is where revocations are kept.
type revocationStore interface {
	// query says what must be asked about this token.
	query(r *http.Request, t *verifiedToken) revocationQuery
	// lookup asks it, in one round trip. An error means the store could
	// not answer; it must not carry secrets (passwords in URLs) or
	// tokens.
	lookup(ctx context.Context, q revocationQuery) (revocationFacts, error)
	// close stops background work and releases connections.
	close()
}

// revocationCheck applies the three revocation rules to the facts a store
// returns. It is the revocationChecker the handler calls.
type revocationCheck struct {
	store revocationStore
	// cache is nil for a store that already answers from memory (file).
	cache        *revocationCache
	inflight     singleflight.Group
	versionClaim claimPath
	allowOnError bool
	logger       *zap.Logger
	lastErrorLog atomic.Int64 // unix nanoseconds
}

// Counters of revocation_lookups_total, resolved once.
var (
	revocationCached  = revocationLookupsTotal.WithLabelValues("cached")
	revocationValid   = revocationLookupsTotal.WithLabelValues("valid")
	revocationRevoked = revocationLookupsTotal.WithLabelValues("revoked")
	revocationError   = revocationLookupsTotal.WithLabelValues("error")
)

// provision checks the config, fills in defaults and opens the store. The
// returned stop func (also when there is an error) releases what was opened.
func (rc *RevocationConfig) provision(ctx caddy.Context, logger *zap.Logger) (revocationChecker, func(), error) {
	if rc.VersionClaim == "" {
		rc.VersionClaim = defaultVersionClaim
	}
	if rc.Cache == 0 {
		rc.Cache = caddy.Duration(defaultRevocationCache)
	}
	if rc.ReloadInterval == 0 {
		rc.ReloadInterval = caddy.Duration(defaultReloadInterval)
	}
	if rc.Prefix == "" {
		rc.Prefix = defaultRedisPrefix
	}
	if rc.VersionHeader == "" {
		rc.VersionHeader = defaultVersionHeader
	}
	switch {
	case rc.OnError != "" && rc.OnError != "deny" && rc.OnError != "allow":
		return nil, nil, fmt.Errorf("jwt: revocation on_error must be deny or allow, not %q", rc.OnError)
	case rc.Cache < 0:
		return nil, nil, fmt.Errorf("jwt: revocation cache must not be negative")
	case time.Duration(rc.ReloadInterval) < 10*time.Millisecond:
		return nil, nil, fmt.Errorf("jwt: revocation reload_interval must be at least 10ms")
	case !validHeaderName(rc.VersionHeader):
		return nil, nil, fmt.Errorf("jwt: revocation version_header %q is not a valid header name", rc.VersionHeader)
	}

	logger = logger.With(zap.String("revocation_store", rc.Store))
	var (
		store revocationStore
		err   error
	)
	switch rc.Store {
	case "file":
		store, err = rc.openFileStore(logger)
	case "redis":
		store, err = rc.openRedisStore()
	case "http":
		store, err = rc.openHTTPStore()
	default:
		err = fmt.Errorf("jwt: revocation: unknown store %q (file, redis or http)", rc.Store)
	}
	if err != nil {
		return nil, nil, err
	}
	c := &revocationCheck{
		store:        store,
		versionClaim: compileClaimPath(rc.VersionClaim),
		allowOnError: rc.OnError == "allow",
		logger:       logger,
	}
	// The file store answers from memory in well under a microsecond, less
	// than a cache lookup costs; caching it would only delay revocations.
	if _, inMemory := store.(*fileStore); !inMemory {
		c.cache = newRevocationCache(time.Duration(rc.Cache), revocationCacheEntries)
	}
	return c, store.close, nil
}

// check implements revocationChecker.
func (c *revocationCheck) check(r *http.Request, t *verifiedToken) reason {
	q := c.store.query(r, t)
	if q.unaskable {
		return reasonBadClaims
	}
	if q.key == "" {
		// No jti and no subject: nothing can have been revoked.
		revocationValid.Inc()
		return reasonAllowed
	}
	facts, cached, err := c.facts(r.Context(), q)
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
func (c *revocationCheck) facts(ctx context.Context, q revocationQuery) (revocationFacts, bool, error) {
	if c.cache == nil {
		f, err := c.store.lookup(ctx, q)
		return f, false, err
	}
	if f, ok := c.cache.get(q.key); ok {
		return f, true, nil
	}
	ch := c.inflight.DoChan(q.key, func() (any, error) {
		// Not the request's context: the lookup is shared with other
		// requests, and the store's own timeouts bound it.
		f, err := c.store.lookup(context.WithoutCancel(ctx), q)
		if err == nil {
			c.cache.put(q.key, f)
		}
		return f, err
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return revocationFacts{}, false, res.Err
		}
		return res.Val.(revocationFacts), false, nil
	case <-ctx.Done():
		return revocationFacts{}, false, ctx.Err()
	}
}

// revoked applies the three rules of revocation: a denied jti, an outdated version, an iat before the last logout.
func (c *revocationCheck) revoked(t *verifiedToken, f revocationFacts) bool {
	if f.tokenDenied {
		return true
	}
	if f.hasVersion {
		v, ok := c.versionClaim.lookup(t.claims)
		if !ok {
			return true
		}
		tv, ok := tokenVersion(v)
		if !ok || tv < f.version {
			return true
		}
	}
	// Without iat, a token cannot be shown to postdate the logout.
	if !f.notBefore.IsZero() && (t.issuedAt.IsZero() || t.issuedAt.Before(f.notBefore)) {
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
		c.logStoreError(zapcore.WarnLevel, "revocation store unavailable; request let through (on_error allow)", err)
		return reasonAllowed
	}
	c.logStoreError(zapcore.WarnLevel, "revocation store unavailable; request refused (on_error deny)", err)
	return reasonRevocationUnavailable
}

// logStoreError logs at most once per revocationErrorLogEvery.
func (c *revocationCheck) logStoreError(level zapcore.Level, msg string, err error) {
	now := time.Now().UnixNano()
	last := c.lastErrorLog.Load()
	if now-last < int64(revocationErrorLogEvery) || !c.lastErrorLog.CompareAndSwap(last, now) {
		return
	}
	if ce := c.logger.Check(level, msg); ce != nil {
		ce.Write(zap.Error(err))
	}
}

// Interface guard
var _ revocationChecker = (*revocationCheck)(nil)
