package caddyjwt

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// DPoPReplayConfig says where used DPoP proofs are remembered, so that
// each proof (its `jti`, for its key) is accepted once within its window.
type DPoPReplayConfig struct {
	// `memory` (the default): in this instance's memory, which protects
	// one instance; or `redis`: in a Redis server a fleet shares, so that
	// a proof accepted by one instance is refused by every other.
	Store string `json:"store,omitempty"`

	// Redis: the server's `redis://`, `rediss://` or `unix://` URL, as
	// for the revocation store (`{env.*}` placeholders resolved at load).
	Location string `json:"location,omitempty"`

	// Memory: the most proofs remembered at once. When that many are
	// within their window, further proofs are refused with 503 until the
	// oldest expire, rather than forgetting one that could be replayed.
	// Default: 500000 (about 20 MB when full).
	Entries int `json:"entries,omitempty"`

	// Redis: the prefix of every key (`<prefix>dpop:<hash>`). Default: `jwt:`.
	Prefix string `json:"prefix,omitempty"`

	// Redis: what to do when Redis cannot answer: `deny` (the default)
	// answers 503 with Retry-After; `allow` accepts the proof unchecked
	// for replay and logs it.
	OnError string `json:"on_error,omitempty"`
}

// defaultReplayEntries bounds the memory store by default: at the default
// window of 80s it sustains some 6,000 proofs a second.
const defaultReplayEntries = 500000

// proofReplayStore remembers proofs. A store answers for a key built from
// the proof's key thumbprint and jti; it never sees the token.
type proofReplayStore interface {
	// firstUse records key until expires and reports whether it was not
	// recorded already. An error means the store could not answer; it
	// must not carry secrets (passwords in URLs).
	firstUse(ctx context.Context, key string, expires time.Time) (bool, error)
	// close releases what the store holds.
	close()
}

// errReplayStoreFull is the memory store's answer when every slot holds a
// proof still within its window.
var errReplayStoreFull = errors.New("the DPoP replay cache is full of proofs still within their window")

// proofReplay applies a store's answer: replays are refused, errors
// decided by on_error.
type proofReplay struct {
	store        proofReplayStore
	allowOnError bool
	logger       *zap.Logger
	errorLog     storeErrorLog
}

// provisionProofReplay opens the configured store.
func provisionProofReplay(_ caddy.Context, cfg *DPoPReplayConfig, logger *zap.Logger) (*proofReplay, func(), error) {
	if cfg == nil {
		cfg = &DPoPReplayConfig{}
	}
	switch cfg.OnError {
	case "", "deny", "allow":
	default:
		return nil, nil, fmt.Errorf("jwt: dpop replay on_error must be deny or allow, not %q", cfg.OnError)
	}
	if cfg.Entries < 0 {
		return nil, nil, fmt.Errorf("jwt: dpop replay entries must be positive")
	}
	p := &proofReplay{allowOnError: cfg.OnError == "allow", logger: logger.With(zap.String("dpop_replay_store", cfg.Store))}
	switch cfg.Store {
	case "", "memory":
		if cfg.Location != "" || cfg.Prefix != "" || cfg.OnError != "" {
			return nil, nil, fmt.Errorf("jwt: dpop replay memory takes only entries")
		}
		entries := cfg.Entries
		if entries == 0 {
			entries = defaultReplayEntries
		}
		p.store = newMemoryReplayStore(entries)
	case "redis":
		if cfg.Entries != 0 {
			return nil, nil, fmt.Errorf("jwt: dpop replay redis does not take entries")
		}
		prefix := cfg.Prefix
		if prefix == "" {
			prefix = defaultRedisPrefix
		}
		store, err := openRedisReplayStore(cfg.Location, prefix, logger)
		if err != nil {
			return nil, nil, err
		}
		p.store = store
	default:
		return nil, nil, fmt.Errorf("jwt: dpop replay: unknown store %q (memory or redis)", cfg.Store)
	}
	return p, p.store.close, nil
}

// check records a valid proof and refuses it if it was seen before.
func (p *proofReplay) check(ctx context.Context, thumbprint, jti string, expires time.Time) reason {
	// The thumbprint is part of the key, so that one client's jti can
	// never collide with, or be spent in advance for, another's proof.
	first, err := p.store.firstUse(ctx, thumbprint+" "+jti, expires)
	switch {
	case errors.Is(err, errReplayStoreFull):
		p.errorLog.write(p.logger, "DPoP proof refused: the replay cache is full (raise dpop replay entries or lower max_age)", err)
		return reasonDPoPReplayUnavailable
	case err != nil && p.allowOnError:
		p.errorLog.write(p.logger, "DPoP replay store unavailable; proof accepted unchecked (on_error allow)", err)
		return reasonAllowed
	case err != nil:
		p.errorLog.write(p.logger, "DPoP replay store unavailable; request refused (on_error deny)", err)
		return reasonDPoPReplayUnavailable
	case !first:
		return reasonDPoPReplayed
	}
	return reasonAllowed
}
