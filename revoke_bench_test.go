package caddyjwt

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// BenchmarkRevocationCheck measures one revocation check per store, as
// the handler runs it after a token verified: with the answer cached (hit)
// and with every check going to the store (miss: a cache time of 1ns). The
// redis store runs against a real redis-server on loopback, the http store
// against a real HTTP server on loopback.
//
//	go test -run '^$' -bench BenchmarkRevocationCheck -benchmem .
func BenchmarkRevocationCheck(b *testing.B) {
	tok := revokeTestToken(map[string]any{
		"sub": "bench-user", "jti": "bench-jti",
		"ver": json.Number("3"), "iat": json.Number("1800000000"),
	})

	b.Run("file", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "revoked.json")
		err := updateRevocationFile(path, time.Now(), func(f *revocationFile) {
			for i := range 10000 {
				f.RevokedJTI["other-"+strconv.Itoa(i)] = time.Now().Add(time.Hour).Unix()
			}
			v := int64(3)
			f.Subjects["bench-user"] = subjectRevocation{Version: &v}
		})
		if err != nil {
			b.Fatal(err)
		}
		benchCheck(b, RevocationConfig{}, &FileStore{Location: path}, tok)
	})

	for _, mode := range []struct {
		name  string
		cache caddy.Duration
	}{{"hit", caddy.Duration(time.Hour)}, {"miss", 1}} {
		b.Run("redis/"+mode.name, func(b *testing.B) {
			url := startTestRedis(b)
			redisClient(b, url).HSet(context.Background(), "jwt:sub:bench-user", "version", 3)
			benchCheck(b, RevocationConfig{Cache: mode.cache}, &RedisStore{RedisConnection: RedisConnection{Location: url}}, tok)
		})
		b.Run("http/"+mode.name, func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Token-Version", "3")
			}))
			b.Cleanup(srv.Close)
			benchCheck(b, RevocationConfig{Cache: mode.cache}, &HTTPStore{Location: srv.URL + "/v/{http.auth.jwt.sub}"}, tok)
		})
	}
}

func benchCheck(b *testing.B, rc RevocationConfig, store caddy.Module, tok *verifiedToken) {
	checker, stop, err := provisionRevocation(b, rc, store)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(stop)
	r := revokeTestRequest()
	if got := checker.check(r, tok); got != reasonAllowed {
		b.Fatalf("check = %v, want allowed", got)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if checker.check(r, tok) != reasonAllowed {
			b.Fatal("not allowed")
		}
	}
}

// BenchmarkRedisRevocation measures whole requests through the handler
// chain (the typical ES256 token, verified-token cache on) with a redis
// revocation store against a real redis-server on loopback, next to the
// same handler without revocation: cached (answers kept an hour),
// uncached (every request a Redis round trip), and push (a subscribed
// store, answers kept an hour). bench/redis.sh prints them as ratios to
// no revocation.
//
//	go test -run '^$' -bench BenchmarkRedisRevocation -benchmem .
func BenchmarkRedisRevocation(b *testing.B) {
	var fam benchFamily
	for _, f := range benchFamilies(b) {
		if f.name == "ES256" {
			fam = f
		}
	}
	url := startTestRedis(b)
	tok := signBench(b, fam, typicalClaims(0))
	handler := benchHandlerJSON(fam, 0)
	withRevocation := func(store string, cache time.Duration) string {
		return strings.TrimSuffix(handler, "}") + fmt.Sprintf(`,"revocation":{"store":%s,"cache":%d}}`, store, cache)
	}
	for _, tc := range []struct{ name, json string }{
		{"none", handler},
		{"cached", withRevocation(fmt.Sprintf(`{"module":"redis","location":%q}`, url), time.Hour)},
		{"uncached", withRevocation(fmt.Sprintf(`{"module":"redis","location":%q}`, url), 1)},
		{"push", withRevocation(fmt.Sprintf(`{"module":"redis","location":%q,"push":{}}`, url), time.Hour)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			chain := newBenchChain(b, tc.json)
			runBenchRequests(b, chain, []*benchRequest{newBenchRequest(tok)}, http.StatusOK)
		})
	}
}
