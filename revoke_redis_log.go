package caddyjwt

import (
	"context"
	"fmt"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// go-redis reports connection trouble through a package-level logger that
// prints plain text to stderr, outside Caddy's structured log (a stopped
// Redis gave one such line per lookup). The handler already logs store
// errors itself, so the client's own lines go to Caddy's log at debug level.
var routeRedisLogsOnce sync.Once

// routeRedisLogs points go-redis's logger at Caddy's, once per process.
func routeRedisLogs() {
	routeRedisLogsOnce.Do(func() {
		redis.SetLogger(redisClientLogger{caddy.Log().Named("redis")})
	})
}

// redisClientLogger is go-redis's logging interface over a zap logger.
type redisClientLogger struct{ logger *zap.Logger }

func (l redisClientLogger) Printf(_ context.Context, format string, v ...any) {
	if ce := l.logger.Check(zap.DebugLevel, "redis client"); ce != nil {
		ce.Write(zap.String("detail", fmt.Sprintf(format, v...)))
	}
}
