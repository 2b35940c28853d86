package caddyjwt

import "go.uber.org/zap"

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
