package caddyjwt

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// RedisPush configures push invalidation. A revocation is announced with
//
//	PUBLISH <channel> <the key written>
//
// e.g. `PUBLISH jwt:revoked jwt:jti:3f1c` after `SET jwt:jti:3f1c 1 EXAT …`,
// or `PUBLISH jwt:revoked jwt:sub:alice` after `HSET jwt:sub:alice …`.
// Every subscribed instance then drops its cached answers about that jti
// or subject. A message that is not such a key drops the whole cache.
//
// Classic (not sharded) pub/sub: on a Cluster, PUBLISH reaches every node
// whichever node it is sent to, and a subscriber on any node hears it;
// revocations are rare, so the broadcast costs nothing that matters, and
// an auth service needs no cluster-aware client to publish. Sentinel
// replicates PUBLISH from the master, and the client re-subscribes on the
// new master after a failover.
type RedisPush struct {
	// The channel. Default: the key prefix followed by `revoked`, e.g.
	// `jwt:revoked`.
	Channel string `json:"channel,omitempty"`

	// How long answers are cached while the subscription is down (not yet
	// made, or lost): the polling window that bounds how late a
	// revocation published meanwhile, and so missed, takes effect. When
	// the subscription drops, and again when it is back, the whole cache
	// is dropped. At most the block's `cache`. Default: 1s, or the
	// block's `cache` if that is shorter.
	FallbackCache caddy.Duration `json:"fallback_cache,omitempty"`
}

// Defaults and limits of push invalidation.
const (
	defaultPushFallbackCache = time.Second
	// pushHealthEvery is how often an idle subscription is pinged; one
	// silent for three times this long counts as lost.
	pushHealthEvery = time.Second
	// pushRetryEvery spaces out resubscription attempts.
	pushRetryEvery = 200 * time.Millisecond
)

func (p *RedisPush) setDefaults(prefix string) {
	if p.Channel == "" {
		p.Channel = defaultPushChannel(prefix)
	}
}

// defaultPushChannel is where revocations under prefix are announced when
// no channel is named: the handler listens there, `caddy jwt revoke`
// publishes there.
func defaultPushChannel(prefix string) string { return prefix + "revoked" }

func (p *RedisPush) validate() error {
	if p.FallbackCache < 0 {
		return errors.New("jwt: revocation fallback_cache must not be negative")
	}
	return nil
}

// revocationSubscriber keeps a lookup cache in step with the revocations
// published on a channel.
type revocationSubscriber struct {
	client   redis.UniversalClient
	channel  string
	prefix   string
	cache    *revocationCache
	ttl      time.Duration
	fallback time.Duration
	logger   *atomic.Pointer[zap.Logger]

	// live: subscribed, so every revocation is heard of.
	live   atomic.Bool
	cancel context.CancelFunc
	done   chan struct{}
}

// start subscribes in the background; the cache stays on the fallback
// window until the subscription is confirmed.
func (s *revocationSubscriber) start() {
	s.cache.clear(s.fallback)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go s.run(ctx)
}

func (s *revocationSubscriber) stop() {
	s.cancel()
	<-s.done
}

// run receives until ctx is done. go-redis reconnects and re-subscribes
// by itself after an error; what is done here is to notice: every error
// or long silence drops the cache and shortens it to the fallback window,
// and the confirmation of the re-subscription drops it once more, since
// revocations published in between were missed.
func (s *revocationSubscriber) run(ctx context.Context) {
	defer close(s.done)
	ps := s.client.Subscribe(ctx, s.channel)
	// Closing interrupts a receive that is waiting on the connection, so
	// that stop does not wait for its timeout.
	closed := make(chan struct{})
	defer func() { <-closed }()
	go func() {
		<-ctx.Done()
		_ = ps.Close()
		close(closed)
	}()
	lastHeard := time.Now()
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, pushHealthEvery)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			var timeout interface{ Timeout() bool }
			if errors.As(err, &timeout) && timeout.Timeout() {
				// Idle: ping, and count a connection that no longer
				// answers as lost (its pong, if it comes, restores it).
				if time.Since(lastHeard) >= 3*pushHealthEvery {
					s.lost(err)
				}
				_ = ps.Ping(ctx)
				continue
			}
			s.lost(err)
			select {
			case <-ctx.Done():
			case <-time.After(pushRetryEvery):
			}
			continue
		}
		lastHeard = time.Now()
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				s.subscribed()
			}
		case *redis.Message:
			s.invalidate(m.Payload)
		case *redis.Pong:
			if !s.live.Load() {
				// Silence was taken for a loss, but the connection
				// and its subscription held.
				s.subscribed()
			}
		}
	}
}

func (s *revocationSubscriber) subscribed() {
	s.cache.clear(s.ttl)
	if !s.live.Swap(true) {
		s.logger.Load().Info("revocation push subscribed; lookups cached for the full cache time",
			zap.String("channel", s.channel), zap.Duration("cache", s.ttl))
	}
}

func (s *revocationSubscriber) lost(err error) {
	s.cache.clear(s.fallback)
	if s.live.Swap(false) {
		s.logger.Load().Warn("revocation push subscription lost; cache dropped, lookups cached for the fallback window until it is back",
			zap.String("channel", s.channel), zap.Duration("fallback_cache", s.fallback), zap.Error(err))
	}
}

// invalidate drops what the message is about.
func (s *revocationSubscriber) invalidate(payload string) {
	rest, ok := strings.CutPrefix(payload, s.prefix)
	switch {
	case ok && strings.HasPrefix(rest, "jti:"):
		s.cache.forget(rest[len("jti:"):], "")
	case ok && strings.HasPrefix(rest, "sub:"):
		s.cache.forget("", rest[len("sub:"):])
	default:
		s.cache.clear(s.ttl)
	}
}

// lookupCaches holds one lookup cache per redis store config (client,
// prefix, cache times, push channel), kept across config reloads with its
// subscription, so that a reload of an unchanged store starts with a warm
// cache and sends no burst of lookups.
var lookupCaches = caddy.NewUsagePool()

// sharedLookupCache is a pooled cache and, with push, its subscriber.
type sharedLookupCache struct {
	cache      *revocationCache
	subscriber *revocationSubscriber
	logger     atomic.Pointer[zap.Logger]
	release    func() // of the client
}

// Destruct stops the subscription and releases the client.
func (c *sharedLookupCache) Destruct() error {
	if c.subscriber != nil {
		c.subscriber.stop()
	}
	c.release()
	return nil
}

// lookupCache implements sharedCacheStore.
func (s *RedisStore) lookupCache(ttl time.Duration) (*revocationCache, error) {
	key := s.clientKey + "\x00" + s.Prefix + "\x00" + strconv.FormatInt(int64(ttl), 10)
	if s.Push != nil {
		if s.Push.FallbackCache == 0 {
			s.Push.FallbackCache = caddy.Duration(min(defaultPushFallbackCache, ttl))
		}
		if time.Duration(s.Push.FallbackCache) > ttl {
			return nil, fmt.Errorf("jwt: revocation fallback_cache %s is longer than cache %s", time.Duration(s.Push.FallbackCache), ttl)
		}
		key += "\x00push\x00" + s.Push.Channel + "\x00" + strconv.FormatInt(int64(s.Push.FallbackCache), 10)
	}
	val, _, err := lookupCaches.LoadOrNew(key, func() (caddy.Destructor, error) {
		// The cache holds the client too: it may outlive this store.
		// Nop logger: the store's own acquire has logged what there is.
		client, _, release, err := acquireRedisClient(&s.RedisConnection, zap.NewNop())
		if err != nil {
			return nil, err
		}
		shared := &sharedLookupCache{cache: newRevocationCache(ttl, revocationCacheEntries), release: release}
		shared.logger.Store(s.logger)
		if s.Push != nil {
			shared.subscriber = &revocationSubscriber{
				client: client, channel: s.Push.Channel, prefix: s.Prefix,
				cache: shared.cache, ttl: ttl, fallback: time.Duration(s.Push.FallbackCache),
				logger: &shared.logger,
			}
			shared.subscriber.start()
		}
		return shared, nil
	})
	if err != nil {
		return nil, err
	}
	shared := val.(*sharedLookupCache)
	// Log through the newest config's logger: the oldest one's writers may
	// be closed once its config is unloaded.
	shared.logger.Store(s.logger)
	s.releases = append(s.releases, func() { _, _ = lookupCaches.Delete(key) })
	return shared.cache, nil
}
