package caddyjwt

import (
	"context"
	"errors"
	"math/rand/v2"
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
