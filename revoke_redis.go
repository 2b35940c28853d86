package caddyjwt

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Timeouts of the redis store, unless the URL sets its own (`dial_timeout`,
// `read_timeout`, `write_timeout`, `pool_timeout` query parameters). A
// request waits on the lookup, so they are short: a store that cannot answer
// within them is treated as down (see on_error).
const (
	redisDialTimeout = time.Second
	redisIOTimeout   = 500 * time.Millisecond
	redisPoolTimeout = time.Second
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
	// The server: a `redis://`, `rediss://` (TLS) or `unix://` URL.
	// `{env.*}` and `{file.*}` placeholders are resolved when the config
	// loads. Credentials in it are never logged. Required.
	Location string `json:"location,omitempty"`

	// The prefix of every key. Default: `jwt:`.
	Prefix string `json:"prefix,omitempty"`

	client *redis.Client
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

// Provision makes the client. It does not connect: Provision also runs on
// `caddy validate`, and the first lookup dials.
func (s *RedisStore) Provision(caddy.Context) error {
	if s.Prefix == "" {
		s.Prefix = defaultRedisPrefix
	}
	opts, err := parseRedisLocation(s.Location)
	if err != nil {
		return fmt.Errorf("jwt: revocation redis: %v", err)
	}
	routeRedisLogs()
	s.client = redis.NewClient(opts)
	return nil
}

// Cleanup closes the client's connections.
func (s *RedisStore) Cleanup() error {
	if s.client != nil {
		_ = s.client.Close()
	}
	return nil
}

// parseRedisLocation reads a redis://, rediss:// or unix:// URL, after
// resolving {env.*} placeholders, and sets timeouts fit for a request path.
// Errors never include the URL: it may carry a password.
func parseRedisLocation(location string) (*redis.Options, error) {
	loc, err := caddy.NewReplacer().ReplaceOrErr(location, true, true)
	if err != nil {
		return nil, err
	}
	opts, err := redis.ParseURL(loc)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("the location is not a valid redis URL: %v", err)
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = redisDialTimeout
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = redisIOTimeout
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = redisIOTimeout
	}
	if opts.PoolTimeout == 0 {
		opts.PoolTimeout = redisPoolTimeout
	}
	// One dial attempt per connection (the client's default is five, 100ms
	// apart, which a waiting request would sit through while Redis is down).
	if opts.DialerRetries == 0 {
		opts.DialerRetries = 1
	}
	// One retry: after a Redis restart the first command on a pooled
	// connection fails, and a fresh connection then answers. More retries
	// would only make requests wait on a store that is down.
	opts.MaxRetries = 1
	// Commands the client would otherwise send on every new connection
	// (CLIENT SETINFO, CLIENT MAINT_NOTIFICATIONS) that older servers
	// refuse and that we have no use for.
	opts.DisableIdentity = true
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return opts, nil
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
	_ caddy.CleanerUpper = (*RedisStore)(nil)
)
