package caddyjwt

import (
	"strings"
	"sync/atomic"
)

// forgedTokenSlots is how many tokens with a bad signature the cache
// remembers: each slot holds a copy of the token and of what the log
// shows of it, at most max_token_size + 1 KiB (2.1 MiB in all by default).
const forgedTokenSlots = 128

// forgedTokens remembers the last tokens whose signature did not verify,
// so that a client repeating one (a retry loop, a flood, a service
// deployed with the wrong key) is refused for the cost of a hash and a
// comparison rather than a signature check each time. A token is found by
// the same seeded hash as the cache's entries and compared in full, so a
// different token, however close, is checked as usual. Slots are
// overwritten, never grown: a stream of distinct forged tokens only
// replaces one another. Like every entry, they are dropped with the cache
// when a key set changes: the same bytes may verify under the new keys.
type forgedTokens struct {
	slots [forgedTokenSlots]atomic.Pointer[forgedToken]
}

type forgedToken struct {
	raw        string
	generation uint64
	// logged holds only what the rejection log shows (kid, iss, sub,
	// jti), none of it trusted, copied so that the slot does not keep
	// the token's claims text alive.
	logged verifiedToken
}

func (c *tokenCache) forgedSlot(h uint64) *atomic.Pointer[forgedToken] {
	return &c.forged.slots[(h>>32)%forgedTokenSlots]
}

// forgedToken returns what was read from raw (of hash h) when its
// signature last failed, nil if raw is not remembered as forged.
func (c *tokenCache) forgedToken(raw string, h uint64) *verifiedToken {
	f := c.forgedSlot(h).Load()
	if f == nil || f.generation != c.generation.Load() || f.raw != raw {
		return nil
	}
	return &f.logged
}

// putForged remembers raw, whose signature did not verify with the keys
// of the cache's generation before the verification started.
func (c *tokenCache) putForged(raw string, h uint64, t *verifiedToken, generation uint64) {
	if t == nil || c.generation.Load() != generation {
		return
	}
	// A copy: raw may be a slice of a larger header. The four values go
	// into one string; one the log would leave out is not kept.
	shown := func(s string) string {
		if !loggable(s) {
			return ""
		}
		return s
	}
	kid, iss, sub, jti := shown(t.keyID), shown(t.issuer), shown(t.subject), shown(t.tokenID)
	kept := kid + iss + sub + jti
	a, b, c2 := len(kid), len(kid)+len(iss), len(kid)+len(iss)+len(sub)
	f := &forgedToken{raw: strings.Clone(raw), generation: generation, logged: verifiedToken{
		keyID: kept[:a], issuer: kept[a:b], subject: kept[b:c2], tokenID: kept[c2:],
	}}
	c.forgedSlot(h).Store(f)
}

// clearForged drops every remembered forged token.
func (c *tokenCache) clearForged() {
	for i := range c.forged.slots {
		c.forged.slots[i].Store(nil)
	}
}
