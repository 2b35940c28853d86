package caddyjwt

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(new(RedisStore))
}

// RedisStore keeps revocations in Redis, shared by a fleet of Caddy
// instances, under keys an auth service can write with plain commands:
//
//	SET  <prefix>jti:<jti> 1 EXAT <exp>            deny one token until it expires
//	HSET <prefix>sub:<sub> version <n>             tokens with a lower version are revoked
//	HSET <prefix>sub:<sub> not_before <unix time>  tokens issued earlier are revoked
type RedisStore struct {
	// Where Redis is, its credentials and TLS: `location` (a standalone,
	// Sentinel or Cluster URL), `username`, `password`,
	// `sentinel_username`, `sentinel_password`, `tls`.
	RedisConnection

	// The prefix of every key. Default: `jwt:`.
	Prefix string `json:"prefix,omitempty"`

	// Push invalidation: every instance subscribes to a channel on which
	// each revocation is published, and drops the affected cache entries
	// as soon as it hears of one, so that `cache` can be long. Default:
	// off.
	Push *RedisPush `json:"push,omitempty"`

	client    redis.UniversalClient
	clientKey string
	logger    *zap.Logger
	releases  []func()
}

// defaultRedisPrefix starts every key the redis store reads.
const defaultRedisPrefix = "jwt:"

// CaddyModule returns the Caddy module information.
func (*RedisStore) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.jwt.revocation.redis",
		New: func() caddy.Module { return new(RedisStore) },
	}
}

// Provision takes the shared client of the location (see
// acquireRedisClient). It does not connect: Provision also runs on `caddy
// validate`, and the first lookup dials (with push, the subscription of
// the lookup cache dials in the background).
func (s *RedisStore) Provision(ctx caddy.Context) error {
	if s.Prefix == "" {
		s.Prefix = defaultRedisPrefix
	}
	if s.Push != nil {
		s.Push.setDefaults(s.Prefix)
	}
	if err := s.Validate(); err != nil {
		return err
	}
	s.logger = ctx.Logger()
	client, key, release, err := acquireRedisClient(&s.RedisConnection, s.logger)
	if err != nil {
		return fmt.Errorf("jwt: revocation redis: %v", err)
	}
	s.client, s.clientKey = client, key
	s.releases = append(s.releases, release)
	return nil
}

// Validate checks the push settings.
func (s *RedisStore) Validate() error {
	if s.Push != nil {
		return s.Push.validate()
	}
	return nil
}

// Cleanup releases the shared client and cache; the last config to let go
// of them closes them.
func (s *RedisStore) Cleanup() error {
	runInReverse(s.releases)
	s.releases = nil
	return nil
}

// CacheKey implements RevocationStore: the jti and the subject. A token
// with neither asks nothing.
func (s *RedisStore) CacheKey(q RevocationQuery) (string, bool) {
	if q.TokenID == "" && q.Subject == "" {
		return "", false
	}
	// The length prefix keeps ("ab", "c") and ("a", "bc") apart.
	return strconv.Itoa(len(q.TokenID)) + ":" + q.TokenID + q.Subject, true
}

// Lookup implements RevocationStore: EXISTS on the jti key and HMGET on the
// subject's hash, pipelined into one round trip.
func (s *RedisStore) Lookup(ctx context.Context, q RevocationQuery) (RevocationFacts, error) {
	var (
		f      RevocationFacts
		denied *redis.IntCmd
		fields *redis.SliceCmd
	)
	if q.TokenID == "" && q.Subject == "" {
		return f, nil
	}
	pipe := s.client.Pipeline()
	if q.TokenID != "" {
		denied = pipe.Exists(ctx, s.Prefix+"jti:"+q.TokenID)
	}
	if q.Subject != "" {
		fields = pipe.HMGet(ctx, s.Prefix+"sub:"+q.Subject, "version", "not_before")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return f, fmt.Errorf("redis: %w", err)
	}
	if denied != nil {
		f.TokenDenied = denied.Val() > 0
	}
	if fields != nil {
		vals := fields.Val()
		var err error
		if f.Version, f.HasVersion, err = redisInt(vals[0]); err != nil {
			return f, fmt.Errorf("redis: field version of a %ssub: hash: %v", s.Prefix, err)
		}
		notBefore, ok, err := redisInt(vals[1])
		if err != nil {
			return f, fmt.Errorf("redis: field not_before of a %ssub: hash: %v", s.Prefix, err)
		}
		if ok {
			f.NotBefore = time.Unix(notBefore, 0)
		}
	}
	return f, nil
}

// redisInt reads one HMGET value: nil when the field is absent, else a
// decimal integer.
func redisInt(v any) (int64, bool, error) {
	if v == nil {
		return 0, false, nil
	}
	s, ok := v.(string)
	if !ok {
		return 0, false, fmt.Errorf("unexpected reply type %T", v)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false, errors.New("not an integer")
	}
	return n, true, nil
}

// Interface guards
var (
	_ RevocationStore    = (*RedisStore)(nil)
	_ caddy.Provisioner  = (*RedisStore)(nil)
	_ caddy.Validator    = (*RedisStore)(nil)
	_ caddy.CleanerUpper = (*RedisStore)(nil)
	_ sharedCacheStore   = (*RedisStore)(nil)
)
