package caddyjwt

import (
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func TestPushedKeysDropTheirCacheEntries(t *testing.T) {
	cache := newRevocationCache(time.Hour, 100)
	s := &revocationSubscriber{prefix: "jwt:", cache: cache, ttl: time.Hour}
	fill := func() {
		cache.clear(time.Hour)
		for _, q := range []RevocationQuery{{TokenID: "j1", Subject: "alice"}, {TokenID: "j2", Subject: "bob"}, {Subject: "carol"}} {
			key, _ := (&RedisStore{}).CacheKey(q)
			cache.put(key, q, RevocationFacts{}, cache.epoch())
		}
	}
	for _, tt := range []struct {
		payload string
		left    int
	}{
		{"jwt:jti:j1", 2},
		{"jwt:sub:bob", 2},
		{"jwt:sub:carol", 2},
		{"jwt:jti:unknown", 3},
		{"other:jti:j1", 0}, // not our prefix: everything goes
		{"garbage", 0},
	} {
		fill()
		s.invalidate(tt.payload)
		if n := cache.len(); n != tt.left {
			t.Errorf("after %q: %d entries left, want %d", tt.payload, n, tt.left)
		}
	}
}

func TestAnAnswerFromBeforeAnInvalidationIsNotCached(t *testing.T) {
	cache := newRevocationCache(time.Hour, 100)
	q := RevocationQuery{TokenID: "j1"}
	epoch := cache.epoch()
	// The revocation is heard of while the lookup is under way.
	cache.forget("j1", "")
	cache.put("k", q, RevocationFacts{}, epoch)
	if _, ok := cache.get("k"); ok {
		t.Error("a lookup that raced a revocation was cached")
	}
}

func TestAnUnchangedRedisStoreSharesItsClientAndCacheAcrossConfigs(t *testing.T) {
	store := func(prefix string) *RedisStore {
		return &RedisStore{RedisConnection: RedisConnection{Location: "redis://127.0.0.1:1/0"}, Prefix: prefix}
	}
	rc := RevocationConfig{Cache: caddy.Duration(time.Minute)}
	oldConfig, stopOld, err := provisionRevocation(t, rc, store("jwt:"))
	if err != nil {
		t.Fatal(err)
	}
	newConfig, stopNew, err := provisionRevocation(t, rc, store("jwt:"))
	if err != nil {
		t.Fatal(err)
	}
	other, stopOther, err := provisionRevocation(t, rc, store("other:"))
	if err != nil {
		t.Fatal(err)
	}
	defer stopOther()
	if oldConfig.cache != newConfig.cache {
		t.Error("a second config with the same store got a new cache")
	}
	if other.cache == newConfig.cache {
		t.Error("a store with another prefix shares the cache")
	}
	if oldConfig.store.(*RedisStore).client != other.store.(*RedisStore).client {
		t.Error("stores on the same location have different clients")
	}
	// The old config goes; the new one keeps a working client.
	stopOld()
	if err := newConfig.store.(*RedisStore).client.Ping(t.Context()).Err(); err != nil && strings.Contains(err.Error(), "closed") {
		t.Errorf("unloading the old config closed the shared client: %v", err)
	}
	stopNew()
}

func TestPushFallbackMustNotOutlastTheCache(t *testing.T) {
	s := &RedisStore{RedisConnection: RedisConnection{Location: "redis://127.0.0.1:1/0"},
		Push: &RedisPush{FallbackCache: caddy.Duration(time.Minute)}}
	if _, _, err := provisionRevocation(t, RevocationConfig{Cache: caddy.Duration(time.Second)}, s); err == nil {
		t.Error("a fallback_cache longer than cache was accepted")
	}
}
