package caddyjwt

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// Defaults of JWKSSource.
const (
	defaultJWKSRefresh    = time.Hour
	defaultUnknownKIDWait = 5 * time.Minute
	defaultJWKSTimeout    = 10 * time.Second

	// minJWKSInterval is the shortest refresh and unknown_kid_wait.
	minJWKSInterval = time.Second
)

// unknownKIDMaxWait bounds how long a request whose kid is not in the set
// waits for the refetch it (or another request) started. The refetch goes
// on in the background; the request answers 401 rather than hang on a slow
// identity provider.
const unknownKIDMaxWait = 2 * time.Second

// JWKSSource is a JSON Web Key Set read from a URL or a file.
//
// A URL is fetched in the background: Caddy starts (and `caddy validate`
// returns) without waiting for it, and requests that need its keys get 503
// with `Retry-After` until the first fetch succeeds. After that, a failed
// refresh keeps the last good set. Keys fetched from a URL verify only
// asymmetric algorithms (RS*, PS*, ES*, EdDSA): an `oct` key in a fetched
// set is ignored. Keys whose `use` is not `sig` are ignored too, as is any
// other member that cannot be used: the rest of the set still is. Fetches
// follow at most 5 redirects, never one from https to http. Logs and the
// metric label show the URL without user info and query values.
//
// A file is read once when the config loads and may also hold HMAC (`oct`)
// keys; a key in it that cannot be used is a configuration error.
type JWKSSource struct {
	// An `https://` (or `http://`) URL, or a file path.
	URL string `json:"url,omitempty"`

	// How often the key set is fetched again in the background. A longer
	// `Cache-Control: max-age` from the provider is honoured (up to 24h);
	// an `ETag` makes refreshes conditional. Ignored for files. Default: 1h.
	Refresh caddy.Duration `json:"refresh,omitempty"`

	// A token with a kid not in the key set triggers at most one refetch per
	// this window, however many such tokens arrive, so that a flood of
	// forged kids never becomes a flood on the identity provider. A key
	// added by the provider is usable within this window. Default: 5m.
	UnknownKIDWait caddy.Duration `json:"unknown_kid_wait,omitempty"`

	// The limit of one fetch. Default: 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
}

// isURL reports whether the source is fetched rather than read from a file.
func (src *JWKSSource) isURL() bool {
	u := strings.ToLower(src.URL)
	return strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://")
}

// remoteKeySetConfig is what identifies a fetched key set: two handlers (or
// the old and new config during a reload) with the same one share a single
// set, its fetches and its keys.
type remoteKeySetConfig struct {
	// url is the JWKS URL; empty when it is discovered from issuer.
	url string
	// issuer, when set, is whose discovery document names the JWKS URL.
	issuer         string
	refresh        time.Duration
	unknownKIDWait time.Duration
	timeout        time.Duration
	allowed        algorithmSet
}

// label names the set in metrics and logs: the configured URL, or the
// discovery document's URL, without credentials (redactURL).
func (c remoteKeySetConfig) label() string {
	if c.issuer != "" {
		return redactURL(discoveryURL(c.issuer))
	}
	return redactURL(c.url)
}

func (c remoteKeySetConfig) poolKey() string {
	return fmt.Sprintf("jwks|%s|%s|%d|%d|%d|%d", c.url, c.issuer, c.refresh, c.unknownKIDWait, c.timeout, c.allowed)
}

// remoteKeySets holds the running fetched key sets across config loads.
// Sharing them is what keeps a reload from dropping keys: the new config
// gets the set the old one loaded (no 503s while it is fetched again, and
// no loss of the last good set if the provider is down at that moment),
// and the set's goroutine stops when the last config using it is cleaned up.
var remoteKeySets = caddy.NewUsagePool()

// provisionRemoteKeys loads the JWKS files of one scope and subscribes it
// to the fetched key sets of its JWKS URLs and, with discover, of its
// issuer's discovery document. Nothing here waits for the network.
func (h *Handler) provisionRemoteKeys(ctx caddy.Context, issuer string, sets []*JWKSSource, discover bool, v *tokenVerifier) ([]keySource, error) {
	var sources []keySource
	for _, src := range sets {
		if src.URL == "" {
			return nil, fmt.Errorf("jwt: jwks: empty URL or path")
		}
		if !src.isURL() {
			keys, err := loadJWKSFile(src.URL, v.algorithms)
			if err != nil {
				return nil, err
			}
			for _, k := range keys {
				h.logger.Info("loaded verification key", zapKeySource(issuer, k))
			}
			sources = append(sources, &staticKeys{keys: keys})
			continue
		}
		cfg, err := src.remoteConfig(v.algorithms)
		if err != nil {
			return nil, err
		}
		set, err := h.subscribeRemoteKeys(cfg, v)
		if err != nil {
			return nil, err
		}
		sources = append(sources, set)
	}
	if discover {
		if err := checkDiscoverableIssuer(issuer); err != nil {
			return nil, err
		}
		cfg := remoteKeySetConfig{
			issuer:         issuer,
			refresh:        defaultJWKSRefresh,
			unknownKIDWait: defaultUnknownKIDWait,
			timeout:        defaultJWKSTimeout,
			allowed:        v.algorithms,
		}
		set, err := h.subscribeRemoteKeys(cfg, v)
		if err != nil {
			return nil, err
		}
		sources = append(sources, set)
	}
	return sources, nil
}

// remoteConfig checks a JWKS URL entry and fills in its defaults.
func (src *JWKSSource) remoteConfig(allowed algorithmSet) (remoteKeySetConfig, error) {
	u, err := url.Parse(src.URL)
	if err != nil || u.Host == "" {
		return remoteKeySetConfig{}, fmt.Errorf("jwt: jwks %q: not a valid URL", redactURL(src.URL))
	}
	cfg := remoteKeySetConfig{
		url:            src.URL,
		refresh:        durationOr(src.Refresh, defaultJWKSRefresh),
		unknownKIDWait: durationOr(src.UnknownKIDWait, defaultUnknownKIDWait),
		timeout:        durationOr(src.Timeout, defaultJWKSTimeout),
		allowed:        allowed,
	}
	if src.Refresh < 0 || src.UnknownKIDWait < 0 || src.Timeout < 0 {
		return remoteKeySetConfig{}, fmt.Errorf("jwt: jwks %s: refresh, unknown_kid_wait and timeout must not be negative", redactURL(src.URL))
	}
	// Shorter windows would let a misconfiguration (or a flood of forged
	// kids) hammer the identity provider.
	if cfg.refresh < minJWKSInterval || cfg.unknownKIDWait < minJWKSInterval {
		return remoteKeySetConfig{}, fmt.Errorf("jwt: jwks %s: refresh and unknown_kid_wait must be at least %s", redactURL(src.URL), minJWKSInterval)
	}
	return cfg, nil
}

func durationOr(d caddy.Duration, def time.Duration) time.Duration {
	if d > 0 {
		return time.Duration(d)
	}
	return def
}

// subscribeRemoteKeys gets (or starts) the shared key set for cfg and
// tells v whenever its keys change. The subscription ends in Cleanup.
func (h *Handler) subscribeRemoteKeys(cfg remoteKeySetConfig, v *tokenVerifier) (*remoteKeySet, error) {
	key := cfg.poolKey()
	val, _, err := remoteKeySets.LoadOrNew(key, func() (caddy.Destructor, error) {
		return startRemoteKeySet(cfg, h.logger), nil
	})
	if err != nil {
		return nil, err
	}
	set := val.(*remoteKeySet)
	// Log through the newest config's logger: the oldest one's writers may
	// be closed once its config is unloaded.
	set.logger.Store(h.logger)
	id := set.subscribe(v.keysChanged)
	h.cleanups = append(h.cleanups, func() {
		set.unsubscribe(id)
		_, _ = remoteKeySets.Delete(key)
	})
	return set, nil
}

// remoteKeySet is a JWK Set fetched from a URL and kept fresh in the
// background. Requests read its keys through an atomic snapshot, so the
// request path takes no lock and allocates nothing; only the fetch
// goroutine writes.
type remoteKeySet struct {
	cfg    remoteKeySetConfig
	logger atomic.Pointer[zap.Logger]

	// current is nil until the first successful fetch.
	current atomic.Pointer[keySnapshot]
	// lastSuccess is when a fetch last confirmed the set (200 or 304), in
	// Unix nanoseconds; 0 before the first.
	lastSuccess atomic.Int64

	// nextUnknownKIDFetch is the earliest time (Unix nanoseconds) an
	// unknown kid may trigger another refetch.
	nextUnknownKIDFetch atomic.Int64
	// refetchPending is set when an unknown kid triggered a refetch that
	// has not completed yet; requests with unknown kids wait for it.
	refetchPending atomic.Bool
	// round is closed and replaced when a fetch completes.
	round atomic.Pointer[fetchRound]
	// wake asks the fetch goroutine to fetch now.
	wake chan struct{}

	fetcher *jwksFetcher
	// skippedLogged identifies the unused keys last logged (fetch
	// goroutine only).
	skippedLogged string

	mu          sync.Mutex
	subscribers map[uint64]func()
	nextID      uint64

	cancel  context.CancelFunc
	stopped chan struct{}
}

// keySnapshot is one fetched version of the set, converted once.
type keySnapshot struct {
	keys []*verificationKey
}

// hasKeyID reports whether some key in the set is named kid, whatever its
// algorithm: a token naming a known key with the wrong alg is not a reason
// to refetch.
func (s *keySnapshot) hasKeyID(kid string) bool {
	for _, k := range s.keys {
		if k.id == kid {
			return true
		}
	}
	return false
}

type fetchRound struct{ done chan struct{} }

func startRemoteKeySet(cfg remoteKeySetConfig, logger *zap.Logger) *remoteKeySet {
	// The set outlives the config that created it (see remoteKeySets), so
	// its goroutine runs on a context of its own, ended by Destruct when
	// the last config using it is cleaned up.
	ctx, cancel := context.WithCancel(context.Background())
	s := &remoteKeySet{
		cfg:         cfg,
		wake:        make(chan struct{}, 1),
		subscribers: make(map[uint64]func()),
		cancel:      cancel,
		stopped:     make(chan struct{}),
	}
	s.logger.Store(logger)
	s.round.Store(&fetchRound{done: make(chan struct{})})
	s.fetcher = newJWKSFetcher(cfg)
	acquireAgeGauge(cfg.label())
	go s.run(ctx)
	return s
}

// appendKeys implements keySource. A kid the set does not know triggers a
// refetch (at most one per unknown_kid_wait across all requests), and the
// request waits briefly for it: that is how a key the provider just added
// becomes usable.
func (s *remoteKeySet) appendKeys(ctx context.Context, dst []*verificationKey, kid string, alg algorithm) ([]*verificationKey, error) {
	snap := s.current.Load()
	if snap == nil {
		return dst, errKeysUnavailable
	}
	if kid == "" || snap.hasKeyID(kid) {
		return appendMatchingKeys(dst, snap.keys, kid, alg), nil
	}

	round := s.round.Load()
	s.requestUnknownKIDFetch()
	n := len(dst)
	// Keys without a kid may verify a token whose kid names no key.
	dst = appendMatchingKeys(dst, snap.keys, kid, alg)
	if len(dst) > n || !s.refetchPending.Load() {
		return dst, nil
	}
	if !awaitFetch(ctx, round, min(unknownKIDMaxWait, s.cfg.timeout)) {
		return dst, nil
	}
	return appendMatchingKeys(dst, s.current.Load().keys, kid, alg), nil
}

// requestUnknownKIDFetch wakes the fetch goroutine unless an unknown kid
// already did within the window. Only the request that wins the
// compare-and-swap triggers; all others in the window do nothing.
func (s *remoteKeySet) requestUnknownKIDFetch() {
	now := time.Now().UnixNano()
	next := s.nextUnknownKIDFetch.Load()
	if now < next || !s.nextUnknownKIDFetch.CompareAndSwap(next, now+int64(s.cfg.unknownKIDWait)) {
		return
	}
	s.refetchPending.Store(true)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// awaitFetch waits until round's fetch completes, the request is done, or
// limit passes, and reports whether the fetch completed.
func awaitFetch(ctx context.Context, round *fetchRound, limit time.Duration) bool {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-round.done:
		return true
	case <-ctx.Done():
	case <-timer.C:
	}
	return false
}

// install makes keys the current set and tells the subscribers if they
// differ from the previous set.
func (s *remoteKeySet) install(keys []*verificationKey) (changed bool) {
	old := s.current.Load()
	if old != nil && sameKeys(old.keys, keys) {
		return false
	}
	s.current.Store(&keySnapshot{keys: keys})
	s.mu.Lock()
	notify := make([]func(), 0, len(s.subscribers))
	for _, f := range s.subscribers {
		notify = append(notify, f)
	}
	s.mu.Unlock()
	for _, f := range notify {
		f()
	}
	return true
}

func (s *remoteKeySet) subscribe(f func()) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	s.subscribers[s.nextID] = f
	return s.nextID
}

func (s *remoteKeySet) unsubscribe(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.subscribers, id)
}

// Destruct stops the fetch goroutine and waits for it. The pool calls it
// when the last config using the set is cleaned up.
func (s *remoteKeySet) Destruct() error {
	s.cancel()
	<-s.stopped
	s.fetcher.close()
	releaseAgeGauge(s.cfg.label())
	return nil
}

// Interface guards
var (
	_ keySource        = (*remoteKeySet)(nil)
	_ caddy.Destructor = (*remoteKeySet)(nil)
)
