package caddyjwt

import (
	"sync"
	"sync/atomic"
	"time"
)

// maxRevocationCacheKey is the longest key the cache keeps. Keys come from
// token claims, which a client chooses: longer ones are looked up every
// time rather than let them grow the cache's memory.
const maxRevocationCacheKey = 1024

// revocationCache remembers store answers for a short time, bounded in
// entries and, through the key length limit, in memory. Only answers are
// cached, never errors, so that a store that comes back is used at once.
//
// A store that hears of revocations as they happen (redis with push) drops
// the affected entries with forget, and switches the cache between its
// long ttl (while it is sure to hear of every revocation) and a short one
// (while it may miss some) with clear.
type revocationCache struct {
	maxEntries int
	ttl        atomic.Int64 // nanoseconds

	// generation counts invalidations. A lookup reads it before asking
	// the store and its answer is kept only if no invalidation came in
	// between: the answer may predate the revocation it would hide.
	generation atomic.Uint64

	mu      sync.RWMutex
	entries map[string]cachedFacts
}

type cachedFacts struct {
	facts   RevocationFacts
	tokenID string
	subject string
	expires time.Time
}

func newRevocationCache(ttl time.Duration, maxEntries int) *revocationCache {
	c := &revocationCache{
		maxEntries: maxEntries,
		entries:    make(map[string]cachedFacts),
	}
	c.ttl.Store(int64(ttl))
	return c
}

// get returns the answer for key if it is still fresh.
func (c *revocationCache) get(key string) (RevocationFacts, bool) {
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || !time.Now().Before(e.expires) {
		return RevocationFacts{}, false
	}
	return e.facts, true
}

// epoch is the value put needs: read it before asking the store.
func (c *revocationCache) epoch() uint64 { return c.generation.Load() }

// put remembers the answer for key, asked about q, for the cache's ttl,
// unless an invalidation came in since epoch was read.
func (c *revocationCache) put(key string, q RevocationQuery, f RevocationFacts, epoch uint64) {
	ttl := time.Duration(c.ttl.Load())
	if len(key) > maxRevocationCacheKey || ttl <= 0 {
		return
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.generation.Load() != epoch {
		return
	}
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.maxEntries {
		c.makeRoom(now)
	}
	c.entries[key] = cachedFacts{facts: f, tokenID: q.TokenID, subject: q.Subject, expires: now.Add(ttl)}
}

// forget drops every answer about the token id or the subject (either may
// be empty), at the cost of one pass over the cache: revocations are rare
// next to lookups.
func (c *revocationCache) forget(tokenID, subject string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.generation.Add(1)
	for k, e := range c.entries {
		if (tokenID != "" && e.tokenID == tokenID) || (subject != "" && e.subject == subject) {
			delete(c.entries, k)
		}
	}
}

// clear drops every answer and from now on keeps new ones for ttl.
func (c *revocationCache) clear(ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.generation.Add(1)
	c.ttl.Store(int64(ttl))
	clear(c.entries)
}

// len is the number of entries, fresh or not.
func (c *revocationCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// makeRoom drops expired entries and, if the cache is still full (more
// distinct lookups within one ttl than it holds), a quarter of the rest.
// Map iteration order is random, so that quarter is a random sample.
func (c *revocationCache) makeRoom(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
	if excess := len(c.entries) - c.maxEntries*3/4; excess > 0 {
		for k := range c.entries {
			delete(c.entries, k)
			if excess--; excess == 0 {
				break
			}
		}
	}
}
