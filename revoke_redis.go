package caddyjwt

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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

// redisStore keeps revocations in Redis, shared by a fleet of Caddy
// instances, under keys an auth service can write with plain commands:
//
//	SET  <prefix>jti:<jti> 1 EXAT <exp>            deny one token until it expires
//	HSET <prefix>sub:<sub> version <n>             tokens with a lower version are revoked
//	HSET <prefix>sub:<sub> not_before <unix time>  tokens issued earlier are revoked
type redisStore struct {
	client *redis.Client
	prefix string
}

// openRedisStore makes the client. It does not connect: Provision also runs
// on `caddy validate`, and the first lookup dials.
func (rc *RevocationConfig) openRedisStore() (*redisStore, error) {
	opts, err := parseRedisLocation(rc.Location)
	if err != nil {
		return nil, fmt.Errorf("jwt: revocation redis: %v", err)
	}
	routeRedisLogs()
	return &redisStore{client: redis.NewClient(opts), prefix: rc.Prefix}, nil
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

func (s *redisStore) close() { _ = s.client.Close() }

// query implements revocationStore.
func (s *redisStore) query(_ *http.Request, t *verifiedToken) revocationQuery {
	q := revocationQuery{jti: t.tokenID, subject: t.subject}
	if q.jti != "" || q.subject != "" {
		// The length prefix keeps ("ab", "c") and ("a", "bc") apart.
		q.key = strconv.Itoa(len(q.jti)) + ":" + q.jti + q.subject
	}
	return q
}

// lookup implements revocationStore: EXISTS on the jti key and HMGET on the
// subject's hash, pipelined into one round trip.
func (s *redisStore) lookup(ctx context.Context, q revocationQuery) (revocationFacts, error) {
	var (
		f      revocationFacts
		denied *redis.IntCmd
		fields *redis.SliceCmd
	)
	pipe := s.client.Pipeline()
	if q.jti != "" {
		denied = pipe.Exists(ctx, s.prefix+"jti:"+q.jti)
	}
	if q.subject != "" {
		fields = pipe.HMGet(ctx, s.prefix+"sub:"+q.subject, "version", "not_before")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return f, fmt.Errorf("redis: %w", err)
	}
	if denied != nil {
		f.tokenDenied = denied.Val() > 0
	}
	if fields != nil {
		vals := fields.Val()
		var err error
		if f.version, f.hasVersion, err = redisInt(vals[0]); err != nil {
			return f, fmt.Errorf("redis: field version of a %ssub: hash: %v", s.prefix, err)
		}
		notBefore, ok, err := redisInt(vals[1])
		if err != nil {
			return f, fmt.Errorf("redis: field not_before of a %ssub: hash: %v", s.prefix, err)
		}
		if ok {
			f.notBefore = time.Unix(notBefore, 0)
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

// Interface guard
var _ revocationStore = (*redisStore)(nil)
