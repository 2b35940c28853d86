package caddyjwt

import (
	"sync"
	"time"
)

// maxRevocationCacheKey is the longest key the cache keeps. Keys come from
// token claims, which a client chooses: longer ones are looked up every
// time rather than let them grow the cache's memory.
const maxRevocationCacheKey = 1024

// revocationCache remembers store answers for a short time, bounded in
// entries and, through the key length limit, in memory. Only answers are
// cached, never errors, so that a store that comes back is used at once.
type revocationCache struct {
	ttl        time.Duration
	maxEntries int

	mu      sync.RWMutex
	entries map[string]cachedFacts
}

type cachedFacts struct {
	facts   revocationFacts
	expires time.Time
}

func newRevocationCache(ttl time.Duration, maxEntries int) *revocationCache {
	return &revocationCache{
		ttl:        ttl,
		maxEntries: maxEntries,
		entries:    make(map[string]cachedFacts),
	}
}

// get returns the answer for key if it is still fresh.
func (c *revocationCache) get(key string) (revocationFacts, bool) {
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || !time.Now().Before(e.expires) {
		return revocationFacts{}, false
	}
	return e.facts, true
}

// put remembers the answer for key for the cache's ttl.
func (c *revocationCache) put(key string, f revocationFacts) {
	if len(key) > maxRevocationCacheKey || c.ttl <= 0 {
		return
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.maxEntries {
		c.makeRoom(now)
	}
	c.entries[key] = cachedFacts{facts: f, expires: now.Add(c.ttl)}
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
