package caddyjwt

import (
	"testing"
	"time"
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
