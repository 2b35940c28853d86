package caddyjwt

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/jwtgate/caddy-jwt/internal/jws"
)

// The cache is split into shards, each with its own lock, so that requests
// on different cores rarely wait for each other; a hit takes only a read
// lock. Small caches get fewer shards so that each still holds enough
// entries for its eviction to be meaningful.
const (
	maxCacheShards     = 16
	minEntriesPerShard = 64
)

// cacheBytesPerEntry is the memory budget of the cache per configured
// entry: the default 10,000 entries may hold at most 40 MiB. A typical
// access token costs well under half of it (see BenchmarkCacheMemory); the
// budget exists so that large tokens (up to max_token_size, with claims
// that decode to many small values) cannot make the cache grow without
// bound: such entries evict others sooner.
const cacheBytesPerEntry = 4 << 10

// Counters of the lookups, resolved once so that counting is one atomic add.
var (
	cacheHits   = cacheLookupsTotal.WithLabelValues("hit")
	cacheMisses = cacheLookupsTotal.WithLabelValues("miss")
)

// tokenCache remembers tokens that passed verification, so that a token seen
// a moment ago costs a map lookup instead of a signature check.
//
// Only tokens whose signature and claims held are stored, so garbage sent by
// an attacker can never evict a real entry. Entries are found by a seeded
// 64-bit hash of the token and then compared with it in full (see
// cacheEntry.matches): two different tokens never share an entry. exp and
// nbf are checked again on every hit; revocation is checked on every
// request by the handler anyway. The whole cache is dropped when any key
// set changes, and a config reload makes a new handler with a new cache.
type tokenCache struct {
	seed   maphash.Seed
	shards []cacheShard
	mask   uint64

	// generation counts the times the cache was dropped. A verification
	// that started before a drop does not store its result: it may have
	// used a key that has just been removed.
	generation atomic.Uint64

	// The bounds hold for the cache as a whole: tokens do not spread
	// evenly over the shards, and a shard's own limits (twice its share)
	// only stop one shard from taking everything.
	maxEntries, maxBytes int64
	entries, bytes       atomic.Int64

	// forged remembers the last tokens whose signature failed
	// (cache_forged.go).
	forged forgedTokens
}

// cacheShard is one lock's worth of the cache. Eviction is CLOCK (second
// chance): a hit marks its entry, and the eviction hand spares a marked
// entry once, so tokens in use stay while one-off tokens go first, without
// a hit ever needing the write lock.
type cacheShard struct {
	mu      sync.RWMutex
	entries map[uint64]*cacheEntry // by tokenCache.hash
	slots   []*cacheEntry          // the clock; nil where an entry was evicted
	free    []int                  // indexes of nil slots
	hand    int
	bytes   int

	maxEntries int
	maxBytes   int

	// Keep shards on separate cache lines: their locks are written by
	// different cores.
	_ [64]byte
}

// cacheEntry is one verified token. Rather than a copy of the whole token,
// it keeps the header and signature segments: with the claims text, which
// the verified token holds anyway, they determine every byte of the token
// at about a third of its size.
type cacheEntry struct {
	token *verifiedToken
	// handOff is what the handler passes on from the token, worked out
	// once when it was verified.
	handOff    *handOff
	hash       uint64
	header     string
	signature  string
	slot       int
	cost       int
	referenced atomic.Bool
}

// matches reports whether raw is exactly the token of this entry: the same
// header and signature segments, and a claims segment that is the
// canonical base64url encoding of the stored claims. A token whose claims
// segment is encoded another way (non-zero unused bits) never matches, and
// the decoder refuses it as malformed anyway.
func (e *cacheEntry) matches(raw string) bool {
	headerEnd := len(e.header)
	payloadEnd := len(raw) - len(e.signature) - 1
	if payloadEnd <= headerEnd || raw[headerEnd] != '.' || raw[payloadEnd] != '.' {
		return false
	}
	return raw[:headerEnd] == e.header && raw[payloadEnd+1:] == e.signature &&
		jws.IsEncodingOf(raw[headerEnd+1:payloadEnd], e.token.claimsJSON)
}

// newTokenCache makes a cache of the given number of entries: 0 means the
// default, a negative number no cache at all (nil).
func newTokenCache(entries int) *tokenCache {
	if entries < 0 {
		return nil
	}
	if entries == 0 {
		entries = defaultCacheEntries
	}
	shards := 1
	for shards < maxCacheShards && entries/(shards*2) >= minEntriesPerShard {
		shards *= 2
	}
	perShard := 2 * ((entries + shards - 1) / shards)
	c := &tokenCache{
		seed:       maphash.MakeSeed(),
		shards:     make([]cacheShard, shards),
		mask:       uint64(shards - 1),
		maxEntries: int64(entries),
		maxBytes:   int64(entries) * cacheBytesPerEntry,
	}
	for i := range c.shards {
		c.shards[i] = cacheShard{
			entries:    make(map[uint64]*cacheEntry),
			maxEntries: perShard,
			maxBytes:   perShard * cacheBytesPerEntry,
		}
	}
	return c
}

// hash is the token's key: its low bits pick the shard, its high bits the
// forged-token slot. It is seeded per cache, so nobody outside can aim
// tokens at one shard or slot. A request works it out once and passes it
// to each lookup.
func (c *tokenCache) hash(raw string) uint64 { return maphash.String(c.seed, raw) }

func (c *tokenCache) shard(h uint64) *cacheShard { return &c.shards[h&c.mask] }

// get looks raw, of hash h, up: the entry of exactly this token, or nil.
// Whether the token is still within its dates is for the verifier to say.
func (c *tokenCache) get(raw string, h uint64) *cacheEntry {
	s := c.shard(h)
	s.mu.RLock()
	e := s.entries[h]
	s.mu.RUnlock()
	if e == nil || !e.matches(raw) {
		cacheMisses.Inc()
		return nil
	}
	cacheHits.Inc()
	return e
}

// markUsed gives an entry that was found, and is still good, its second
// chance against eviction. Writing the flag only when it is clear keeps the
// cache line shared between cores on the common path.
func (e *cacheEntry) markUsed() {
	if !e.referenced.Load() {
		e.referenced.Store(true)
	}
}

// put stores a token (raw, of hash h) that passed verification, with what
// the handler hands on from it. generation is the cache's generation from
// before the verification started.
func (c *tokenCache) put(raw string, h uint64, t *verifiedToken, ho *handOff, generation uint64) {
	s := c.shard(h)
	// A copy, because the token may be a slice of a larger string (a
	// Cookie header with other cookies in it), which would stay alive:
	// both segments in one new string.
	kept := raw[:t.headerEnd] + raw[t.payloadEnd+1:]
	e := &cacheEntry{token: t, handOff: ho, hash: h, header: kept[:t.headerEnd], signature: kept[t.headerEnd:]}
	e.cost = entryCost(e)
	if int64(e.cost) > c.maxBytes {
		return
	}
	cost := e.cost

	s.mu.Lock()
	defer s.mu.Unlock()
	if c.generation.Load() != generation {
		return
	}
	if _, ok := s.entries[h]; ok {
		// Another request verified the same token meanwhile (or, once in
		// 2^64, another token has the same hash: that one goes uncached).
		return
	}
	// Room is made in this shard only, so no two locks are ever held. If
	// the cache is full while this shard is empty, the entry goes in
	// anyway: the whole cache then exceeds its bounds by at most one entry
	// per shard, for as long as it takes the other shards to evict.
	for len(s.entries) > 0 && (len(s.entries) >= s.maxEntries || s.bytes+cost > s.maxBytes ||
		c.entries.Load() >= c.maxEntries || c.bytes.Load()+int64(cost) > c.maxBytes) {
		c.evict(s)
	}
	if n := len(s.free); n > 0 {
		e.slot = s.free[n-1]
		s.free = s.free[:n-1]
		s.slots[e.slot] = e
	} else {
		e.slot = len(s.slots)
		s.slots = append(s.slots, e)
	}
	s.entries[h] = e
	s.bytes += cost
	c.entries.Add(1)
	c.bytes.Add(int64(cost))
}

// evict removes the first entry under the shard's hand that has not been
// hit since the hand last passed it. The shard must hold at least one entry
// and be locked.
func (c *tokenCache) evict(s *cacheShard) {
	// Hits mark entries without the lock, so in theory they could keep
	// re-marking everything ahead of the hand; after two full turns the
	// entry under the hand goes regardless.
	for steps := 0; ; steps++ {
		if s.hand >= len(s.slots) {
			s.hand = 0
		}
		e := s.slots[s.hand]
		s.hand++
		if e == nil {
			continue
		}
		if e.referenced.Load() && steps < 2*len(s.slots) {
			e.referenced.Store(false)
			continue
		}
		delete(s.entries, e.hash)
		s.slots[e.slot] = nil
		s.free = append(s.free, e.slot)
		s.bytes -= e.cost
		c.entries.Add(-1)
		c.bytes.Add(-int64(e.cost))
		return
	}
}

// clear drops every entry. Key sources call it (through the verifier's
// onKeysChanged) whenever their keys change, so that no token verified
// with a key that is gone is still trusted.
func (c *tokenCache) clear() {
	// The generation moves first: a verification still running with the
	// old keys then finds it changed when it comes to store its result.
	c.generation.Add(1)
	c.clearForged()
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		c.entries.Add(-int64(len(s.entries)))
		c.bytes.Add(-int64(s.bytes))
		s.entries = make(map[uint64]*cacheEntry)
		clear(s.slots)
		s.slots = s.slots[:0]
		s.free = s.free[:0]
		s.hand, s.bytes = 0, 0
		s.mu.Unlock()
	}
}

// len is the number of entries held.
func (c *tokenCache) len() int { return int(c.entries.Load()) }

// cacheEntryOverhead estimates the heap of an entry beyond its strings and
// claims: the entry, its map slot and clock slot, the verifiedToken and its
// hand-on values.
const cacheEntryOverhead = 512

// entryCost estimates the heap an entry keeps alive: its segments, the
// claims (counted as decoded, whether or not anything has asked for them
// yet), their index and what is handed on from them.
func entryCost(e *cacheEntry) int {
	t := e.token
	return cacheEntryOverhead + len(e.header) + len(e.signature) + len(t.claimsJSON) + t.claimsSize + t.indexedSize() + e.handOff.heapCost()
}
