package caddyjwt

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
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
	// closeClient: the client is this store's own, not a shared pool's.
	closeClient bool
}

// newRedisReplayStore keeps proofs through client, which may be shared
// with other users.
func newRedisReplayStore(client redis.UniversalClient, prefix string) *redisReplayStore {
	return &redisReplayStore{client: client, prefix: prefix}
}

// openRedisReplayStore makes a client of its own for location, with the
// same URL forms and request-path timeouts as the revocation store. It
// does not connect: Provision also runs on `caddy validate`.
func openRedisReplayStore(location, prefix string) (*redisReplayStore, error) {
	if location == "" {
		return nil, fmt.Errorf("jwt: dpop replay redis needs a redis:// URL")
	}
	opts, err := parseRedisLocation(location)
	if err != nil {
		return nil, fmt.Errorf("jwt: dpop replay redis: %v", err)
	}
	routeRedisLogs()
	s := newRedisReplayStore(redis.NewClient(opts), prefix)
	s.closeClient = true
	return s, nil
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

func (s *redisReplayStore) close() {
	if s.closeClient {
		_ = s.client.Close()
	}
}

// Interface guard
var _ proofReplayStore = (*redisReplayStore)(nil)
