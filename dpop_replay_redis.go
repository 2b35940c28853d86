package caddyjwt

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// redisReplayStore remembers proofs in Redis, so that a fleet of Caddy
// instances accepts each proof once between them:
//
//	SET <prefix>dpop:<sha-256 of thumbprint and jti> 1 PX <rest of the window> NX
//
// The key is a hash: a jti is chosen by the client and may be long or odd,
// and the hash keeps every key the same short size.
type redisReplayStore struct {
	client redis.UniversalClient
	prefix string
	// release lets go of the shared client (see acquireRedisClient).
	release func()
}

// openRedisReplayStore takes the shared client of location (one pool per
// location, kept across config reloads and shared with a revocation store
// on the same Redis), with the same URL forms and request-path timeouts.
// It does not connect: Provision also runs on `caddy validate`.
func openRedisReplayStore(location, prefix string, logger *zap.Logger) (*redisReplayStore, error) {
	if location == "" {
		return nil, fmt.Errorf("jwt: dpop replay redis needs a redis:// URL")
	}
	client, _, release, err := acquireRedisClient(&RedisConnection{Location: location}, logger)
	if err != nil {
		return nil, fmt.Errorf("jwt: dpop replay redis: %v", err)
	}
	return &redisReplayStore{client: client, prefix: prefix, release: release}, nil
}

// firstUse implements proofReplayStore.
func (s *redisReplayStore) firstUse(ctx context.Context, key string, expires time.Time) (bool, error) {
	sum := sha256.Sum256([]byte(key))
	ttl := time.Until(expires)
	if ttl < time.Millisecond {
		ttl = time.Millisecond
	}
	first, err := s.client.SetNX(ctx, s.prefix+"dpop:"+hex.EncodeToString(sum[:16]), 1, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("redis: %w", err)
	}
	return first, nil
}

func (s *redisReplayStore) close() { s.release() }

// Interface guard
var _ proofReplayStore = (*redisReplayStore)(nil)
