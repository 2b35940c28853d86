package caddyjwt

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// replayShards splits the memory store's lock: proofs are checked on
// every DPoP request, by every core.
const replayShards = 16

// memoryReplayStore remembers proofs in this process. Each proof is kept
// as a 64-bit seeded hash of its key (two different proofs share one with
// a chance of about one in 10^13 per proof when the store is full, which
// would refuse the second as a replay) and its expiry, about 48 bytes in
// all. Entries leave in the order they came, once expired; when a shard is
// full of unexpired proofs, new ones are refused rather than an old one
// forgotten, so the bound never lets a replay through.
type memoryReplayStore struct {
	seed   maphash.Seed
	shards [replayShards]replayShard
}

type replayShard struct {
	mu   sync.Mutex
	seen map[uint64]struct{}
	// queue holds the entries in arrival order from head on; expiries
	// are nearly in order (all proofs share one window), so the front is
	// the next to expire.
	queue      []replayEntry
	head       int
	maxEntries int
	_          [64]byte // keep shards' locks on separate cache lines
}

type replayEntry struct {
	hash    uint64
	expires int64 // unix nanoseconds
}

func newMemoryReplayStore(entries int) *memoryReplayStore {
	s := &memoryReplayStore{seed: maphash.MakeSeed()}
	per := (entries + replayShards - 1) / replayShards
	for i := range s.shards {
		s.shards[i].seen = make(map[uint64]struct{})
		s.shards[i].maxEntries = per
	}
	return s
}

// firstUse implements proofReplayStore.
func (s *memoryReplayStore) firstUse(_ context.Context, key string, expires time.Time) (bool, error) {
	h := maphash.String(s.seed, key)
	sh := &s.shards[h%replayShards]
	now := time.Now().UnixNano()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.expire(now)
	if _, seen := sh.seen[h]; seen {
		return false, nil
	}
	if len(sh.seen) >= sh.maxEntries {
		return false, errReplayStoreFull
	}
	sh.seen[h] = struct{}{}
	sh.queue = append(sh.queue, replayEntry{hash: h, expires: expires.UnixNano()})
	return true, nil
}

// expire drops the entries at the front whose window has passed. The
// shard must be locked.
func (sh *replayShard) expire(now int64) {
	for sh.head < len(sh.queue) && sh.queue[sh.head].expires < now {
		delete(sh.seen, sh.queue[sh.head].hash)
		sh.head++
	}
	// Move the live entries down once the dead prefix is the larger part,
	// so that the queue's array does not grow without bound.
	if sh.head > 1024 && sh.head*2 > len(sh.queue) {
		n := copy(sh.queue, sh.queue[sh.head:])
		sh.queue = sh.queue[:n]
		sh.head = 0
	}
	if len(sh.seen) == 0 && cap(sh.queue) > 4096 {
		// A burst is over: give its memory back.
		sh.queue, sh.head = nil, 0
		sh.seen = make(map[uint64]struct{})
	}
}

// len is the number of proofs remembered.
func (s *memoryReplayStore) len() int {
	n := 0
	for i := range s.shards {
		s.shards[i].mu.Lock()
		n += len(s.shards[i].seen)
		s.shards[i].mu.Unlock()
	}
	return n
}

func (s *memoryReplayStore) close() {}

// Interface guard
var _ proofReplayStore = (*memoryReplayStore)(nil)
