package caddyjwt

import (
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func zapString(key, value string) zap.Field { return zap.String(key, value) }

func zapAlgorithms(algs algorithmSet) zap.Field { return zap.Strings("algorithms", algs.names()) }

// zapKeySource describes a key for the provisioning log: where it came from
// and what it verifies, never its material.
func zapKeySource(issuer string, k *verificationKey) zap.Field {
	return zap.Dict("key",
		zap.String("source", k.source),
		zap.String("kid", k.id),
		zap.String("issuer", issuer),
		zap.Strings("algorithms", k.algorithms.names()),
	)
}

// storeErrorLogEvery spaces out the warnings of a store that is down
// (revocation, DPoP replay), so that a busy site does not write one per
// request.
const storeErrorLogEvery = time.Second

// storeErrorLog writes a store's failures at most once per
// storeErrorLogEvery; the lines in between are dropped.
type storeErrorLog struct {
	last atomic.Int64 // unix nanoseconds
}

func (l *storeErrorLog) write(logger *zap.Logger, msg string, err error) {
	now := time.Now().UnixNano()
	last := l.last.Load()
	if now-last < int64(storeErrorLogEvery) || !l.last.CompareAndSwap(last, now) {
		return
	}
	if ce := logger.Check(zapcore.WarnLevel, msg); ce != nil {
		ce.Write(zap.Error(err))
	}
}
