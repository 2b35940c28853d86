package caddyjwt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// How fetches are scheduled.
const (
	// Until a set loads, and after a failed refresh, fetches are retried
	// from firstRetryDelay, doubling up to maxRetryDelay (or the refresh
	// interval if shorter): an outage at start-up ends for us within a
	// minute of the provider's recovery, without hammering it meanwhile.
	firstRetryDelay = time.Second
	maxRetryDelay   = time.Minute

	// maxAgeCeiling caps how long a provider's Cache-Control max-age can
	// postpone a refresh: a key it removes stops working within a day.
	maxAgeCeiling = 24 * time.Hour

	// ageReportInterval is how often the key set age gauge is updated.
	ageReportInterval = 10 * time.Second

	// maxJWKSBytes limits a JWKS or discovery response. Real sets are a
	// few kilobytes; this stops a broken or hostile endpoint from making
	// us read without end.
	maxJWKSBytes = 1 << 20
)

var (
	errJWKSTooLarge    = errors.New("the response is larger than 1 MiB")
	errJWKSNoUsableKey = errors.New("the set has no key usable for signatures with the accepted algorithms")
)

// run fetches the set now and then on schedule until ctx ends: every
// refresh interval (or the provider's longer max-age) after a success,
// with backoff after a failure, and at once when an unknown kid asks.
func (s *remoteKeySet) run(ctx context.Context) {
	defer close(s.stopped)
	gauge := jwksAgeSeconds.WithLabelValues(s.cfg.label())
	ticker := time.NewTicker(ageReportInterval)
	defer ticker.Stop()
	failures := 0
	for {
		delay := s.refreshOnce(ctx, &failures)
		s.reportAge(gauge)
		if ctx.Err() != nil {
			return
		}
		timer := time.NewTimer(delay)
	wait:
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-ticker.C:
				s.reportAge(gauge)
			case <-s.wake:
				timer.Stop()
				break wait
			case <-timer.C:
				break wait
			}
		}
	}
}

// refreshOnce fetches the set once, installs what it got, and returns how
// long to wait before the next regular fetch.
func (s *remoteKeySet) refreshOnce(ctx context.Context, failures *int) time.Duration {
	defer s.completeRound()
	res, err := s.fetcher.fetch(ctx, s.current.Load() != nil)
	if ctx.Err() != nil {
		return 0
	}
	logger := s.logger.Load()
	label := s.cfg.label()
	if err == nil && !res.notModified {
		s.logSkippedKeys(logger, res.skipped)
		if len(res.keys) == 0 {
			err = errJWKSNoUsableKey
		} else {
			first := s.current.Load() == nil
			if s.install(res.keys) {
				msg := "jwks keys changed"
				if first {
					msg = "jwks loaded"
				}
				logger.Info(msg, zap.String("jwks", label), zap.Strings("kids", keyIDs(res.keys)))
			}
		}
	}
	if err != nil {
		jwksRefreshesTotal.WithLabelValues("error").Inc()
		*failures++
		delay := retryDelay(*failures, s.cfg.refresh)
		fields := []zap.Field{zap.String("jwks", label), zap.Error(err), zap.Duration("retry_in", delay)}
		if s.current.Load() == nil {
			logger.Error("jwks not loaded: requests that need its keys get 503", fields...)
		} else {
			logger.Warn("jwks refresh failed: keeping the last good key set", fields...)
		}
		return delay
	}
	*failures = 0
	s.lastSuccess.Store(time.Now().UnixNano())
	if res.notModified {
		jwksRefreshesTotal.WithLabelValues("not_modified").Inc()
	} else {
		jwksRefreshesTotal.WithLabelValues("updated").Inc()
	}
	delay := s.cfg.refresh
	if res.maxAge > delay {
		delay = min(res.maxAge, maxAgeCeiling)
	}
	return jitter(delay)
}

// logSkippedKeys logs each member of the set that is not used, with its
// kid and why (never its material), once per change of the list: a
// provider that keeps publishing an encryption key is not worth a line per
// refresh.
func (s *remoteKeySet) logSkippedKeys(logger *zap.Logger, skipped []skippedKey) {
	var b strings.Builder
	for _, k := range skipped {
		b.WriteString(k.kid)
		b.WriteByte(0)
		b.WriteString(k.why.Error())
		b.WriteByte(0)
	}
	if b.String() == s.skippedLogged {
		return
	}
	s.skippedLogged = b.String()
	for _, k := range skipped {
		logger.Info("jwks key not used",
			zap.String("jwks", s.cfg.label()),
			zap.String("kid", capLogValue(k.kid)),
			zap.String("why", capLogValue(k.why.Error())))
	}
}

// completeRound wakes the requests waiting for this fetch.
func (s *remoteKeySet) completeRound() {
	s.refetchPending.Store(false)
	old := s.round.Swap(&fetchRound{done: make(chan struct{})})
	close(old.done)
}

func (s *remoteKeySet) reportAge(gauge prometheus.Gauge) {
	last := s.lastSuccess.Load()
	if last == 0 {
		gauge.Set(-1)
		return
	}
	gauge.Set(time.Since(time.Unix(0, last)).Seconds())
}

// retryDelay is the backoff after the n-th failure in a row.
func retryDelay(n int, refresh time.Duration) time.Duration {
	limit := min(maxRetryDelay, refresh)
	d := firstRetryDelay
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return jitter(min(d, limit))
}

// jitter spreads d by ±10%, so that a fleet of Caddy instances started
// together does not fetch in lockstep.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()-0.5)*0.2*float64(d))
}

func keyIDs(keys []*verificationKey) []string {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.id
	}
	return ids
}

// jwksFetcher performs the fetches of one key set: conditional requests
// (ETag), the provider's max-age, a body limit, a redirect policy, and
// discovery of the URL. jwkset reads each JWK of the response. Only the
// set's fetch goroutine uses it.
type jwksFetcher struct {
	cfg       remoteKeySetConfig
	transport *http.Transport
	// jwksURL is the URL fetched: the configured one, or the discovered
	// one ("" until discovery succeeds).
	jwksURL string
	// etag is the ETag of the set in use, sent as If-None-Match.
	etag string
}

// fetchResult is the outcome of one successful fetch.
type fetchResult struct {
	notModified bool
	// keys are the usable keys of the set, skipped the members that are
	// not used.
	keys    []*verificationKey
	skipped []skippedKey
	maxAge  time.Duration
}

func newJWKSFetcher(cfg remoteKeySetConfig) *jwksFetcher {
	// A transport of its own, so that Destruct can close its idle
	// connections: a reload must not leave keep-alive goroutines behind.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	return &jwksFetcher{cfg: cfg, transport: transport, jwksURL: cfg.url}
}

func (f *jwksFetcher) close() { f.transport.CloseIdleConnections() }

// client is the HTTP client of one fetch through rt.
func (f *jwksFetcher) client(rt *jwksTransport) *http.Client {
	return &http.Client{Transport: rt, CheckRedirect: checkFetchRedirect}
}

// fetch gets the set once. haveKeys says whether a set is in use, so that
// the request may be conditional.
func (f *jwksFetcher) fetch(ctx context.Context, haveKeys bool) (fetchResult, error) {
	if f.jwksURL == "" {
		u, err := discoverJWKSURL(ctx, f.client(&jwksTransport{base: f.transport}), f.cfg.issuer, f.cfg.timeout)
		if err != nil {
			return fetchResult{}, err
		}
		f.jwksURL = u
	}
	rt := &jwksTransport{base: f.transport}
	if haveKeys {
		rt.ifNoneMatch = f.etag
	}
	body, err := f.get(ctx, rt)
	if err == nil && rt.ifNoneMatch != "" && rt.status == http.StatusNotModified {
		// It confirms the set in use.
		return fetchResult{notModified: true, maxAge: rt.maxAge}, nil
	}
	if err != nil {
		if f.cfg.issuer != "" {
			// The provider may have moved its keys: ask again next time.
			f.jwksURL = ""
		}
		return fetchResult{}, fetchFailure(err, rt.status, f.cfg.timeout)
	}
	keys, skipped, err := parseFetchedJWKS(body, f.cfg.allowed, "jwks "+f.cfg.label())
	if err != nil {
		return fetchResult{}, fmt.Errorf("the response is not a usable JWK Set: %v", err)
	}
	if len(keys) > 0 {
		// Only a set that will be installed may be confirmed by a 304.
		f.etag = rt.etag
	}
	return fetchResult{keys: keys, skipped: skipped, maxAge: rt.maxAge}, nil
}

// get requests the JWKS URL and reads the body of a 200. A 304 to a
// conditional request returns no body and no error. Errors are as the
// client gives them; fetchFailure words them for the log.
func (f *jwksFetcher) get(ctx context.Context, rt *jwksTransport) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.jwksURL, nil)
	if err != nil {
		return nil, errors.New("the JWKS URL does not make a valid request")
	}
	resp, err := f.client(rt).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && rt.ifNoneMatch != "":
		return nil, nil
	case resp.StatusCode != http.StatusOK:
		return nil, errUnexpectedStatus
	}
	return io.ReadAll(resp.Body)
}

// errUnexpectedStatus is a JWKS response other than 200 (or 304 to a
// conditional request); the transport recorded which.
var errUnexpectedStatus = errors.New("unexpected status")

// fetchFailure says in one sentence why a fetch failed, without the URL,
// which may carry a credential and is the log line's jwks field anyway;
// status is the response's, 0 if none came.
func fetchFailure(err error, status int, timeout time.Duration) error {
	var urlErr *url.Error
	switch {
	case errors.Is(err, errJWKSTooLarge):
		return errJWKSTooLarge
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &urlErr) && urlErr.Timeout():
		return fmt.Errorf("no answer within the timeout of %s", timeout)
	case errors.Is(err, errRedirectDowngrade):
		return errRedirectDowngrade
	case errors.As(err, &urlErr):
		return fmt.Errorf("cannot reach the server: %v", urlErr.Err)
	case errors.Is(err, errUnexpectedStatus):
		return fmt.Errorf("the server answered %d %s, not 200 with a JWK Set", status, http.StatusText(status))
	}
	return fmt.Errorf("reading the response: %v", withoutURL(err))
}

// jwksTransport sends the conditional request, records what the response
// says about caching, and limits the body.
type jwksTransport struct {
	base        http.RoundTripper
	ifNoneMatch string

	// Recorded from the last response (the final one after redirects).
	status int
	etag   string
	maxAge time.Duration
}

func (t *jwksTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	if t.ifNoneMatch != "" {
		req.Header.Set("If-None-Match", t.ifNoneMatch)
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	t.status = resp.StatusCode
	t.etag = resp.Header.Get("ETag")
	t.maxAge = cacheMaxAge(resp.Header)
	resp.Body = &limitedBody{ReadCloser: resp.Body, limit: maxJWKSBytes}
	return resp, nil
}

// cacheMaxAge reads how long a response may be reused (RFC 9111 §5.2.2.1),
// less its Age (§5.1). no-store and no-cache mean not at all.
func cacheMaxAge(h http.Header) time.Duration {
	var maxAge time.Duration
	for _, directive := range strings.Split(h.Get("Cache-Control"), ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(directive), "=")
		switch strings.ToLower(name) {
		case "no-store", "no-cache":
			return 0
		case "max-age":
			if secs, err := strconv.ParseInt(strings.Trim(value, `"`), 10, 64); err == nil && secs > 0 {
				maxAge = time.Duration(min(secs, int64(maxAgeCeiling/time.Second))) * time.Second
			}
		}
	}
	if age, err := strconv.ParseInt(h.Get("Age"), 10, 64); err == nil && age > 0 {
		maxAge -= time.Duration(min(age, int64(maxAgeCeiling/time.Second))) * time.Second
	}
	return max(maxAge, 0)
}

// limitedBody fails a read once more than limit bytes have come.
type limitedBody struct {
	io.ReadCloser
	limit, read int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.read += int64(n)
	if over := b.read - b.limit; over > 0 {
		// Hand on only what is within the limit, so that a value ending
		// just past it cannot decode.
		return n - int(min(over, int64(n))), errJWKSTooLarge
	}
	return n, err
}

// ageGauges counts the live key sets per gauge label, so that a URL's
// series disappears when no config uses it any more but survives while the
// old and the new config of a reload both do.
var ageGauges = struct {
	sync.Mutex
	refs map[string]int
}{refs: make(map[string]int)}

func acquireAgeGauge(label string) {
	ageGauges.Lock()
	defer ageGauges.Unlock()
	if ageGauges.refs[label]++; ageGauges.refs[label] == 1 {
		jwksAgeSeconds.WithLabelValues(label).Set(-1)
	}
}

func releaseAgeGauge(label string) {
	ageGauges.Lock()
	defer ageGauges.Unlock()
	if ageGauges.refs[label]--; ageGauges.refs[label] <= 0 {
		delete(ageGauges.refs, label)
		jwksAgeSeconds.DeleteLabelValues(label)
	}
}
