package caddyjwt

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// redisClients holds one client, and so one connection pool, per Redis
// connection config, shared by every part of the handler that talks to
// that deployment and kept across config reloads: a reload provisions the
// new config (taking the pooled client) before it cleans up the old one
// (releasing it), so an unchanged connection is never closed and reopened.
var redisClients = caddy.NewUsagePool()

// sharedRedisClient is a pooled client.
type sharedRedisClient struct {
	client   redis.UniversalClient
	topology string
}

// Destruct closes the client when its last user released it.
func (c *sharedRedisClient) Destruct() error { return c.client.Close() }

// acquireRedisClient returns the shared client for conn, its pool key,
// and the func that releases this caller's hold on it (call it once, from
// Cleanup). Resolving placeholders and reading TLS files happen here, so
// the key follows what was resolved: a changed password or certificate
// path gives a new client; a certificate rewritten in place under the same
// path needs a restart of the client's users, as a changed location does.
func acquireRedisClient(conn *RedisConnection, logger *zap.Logger) (redis.UniversalClient, string, func(), error) {
	opts, err := conn.options()
	if err != nil {
		return nil, "", nil, err
	}
	key := conn.poolKey(opts)
	val, loaded, err := redisClients.LoadOrNew(key, func() (caddy.Destructor, error) {
		return &sharedRedisClient{client: opts.newClient(), topology: opts.topology()}, nil
	})
	if err != nil {
		return nil, "", nil, err
	}
	shared := val.(*sharedRedisClient)
	if !loaded {
		logger.Info("redis client created", zap.String("topology", shared.topology))
	}
	if conn.TLS != nil && conn.TLS.InsecureSkipVerify {
		logger.Error("redis TLS certificate verification is OFF (tls_insecure_skip_verify): anyone on the network path can read and forge revocation answers")
	}
	var released atomic.Bool
	release := func() {
		if released.CompareAndSwap(false, true) {
			_, _ = redisClients.Delete(key)
		}
	}
	return shared.client, key, release, nil
}

// poolKey identifies a connection by what it resolved to, hashed so that
// the key itself holds no password.
func (conn *RedisConnection) poolKey(opts *redisOptions) string {
	s := opts.settings()
	parts := []string{opts.topology(), *s.username, *s.password}
	if s.sentinelUsername != nil {
		parts = append(parts, *s.sentinelUsername, *s.sentinelPassword)
	}
	resolvedLocation, _ := resolvePlaceholders(conn.Location) // options() has refused it if it fails
	parts = append(parts, resolvedLocation)
	tlsJSON, _ := json.Marshal(conn.TLS)
	parts = append(parts, string(tlsJSON))
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
