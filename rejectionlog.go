package caddyjwt

import (
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// maxLoggedValueBytes caps a value taken from a request or a provider's
// response when it goes into a log line, so that a client cannot make
// Caddy write kilobytes per request.
const maxLoggedValueBytes = 256

// loggable reports whether a value read from a token is shown in the
// rejection log at all: a longer one is left out rather than cut, since
// a cut identifier identifies nothing.
func loggable(s string) bool { return s != "" && len(s) <= maxLoggedValueBytes }

// capLogValue returns s, or its first maxLoggedValueBytes bytes (cut at a
// character boundary) marked as truncated with the length it had.
func capLogValue(s string) string {
	if len(s) <= maxLoggedValueBytes {
		return s
	}
	cut := maxLoggedValueBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(truncated from " + strconv.Itoa(len(s)) + " bytes)"
}

// rejectionLogBurst is how many "request rejected" lines one reason may
// write per second. A flood of refused requests (a scanner, a client
// retrying a bad token in a loop) would otherwise write a line per
// request; beyond the burst the lines are counted, and the count is
// logged as one "request rejections not logged" line when the next line
// of that reason is written. The requests counter still counts every
// rejection.
const rejectionLogBurst = 100

// rejectionSampler decides which rejection lines are written: at most
// rejectionLogBurst per reason per second of its clock.
type rejectionSampler struct {
	now func() time.Time

	mu      sync.Mutex
	windows [reasonCount]rejectionWindow
}

type rejectionWindow struct {
	// second is the Unix second the window counts.
	second int64
	// logged and suppressed count its lines written and not written.
	logged, suppressed int
	// unreported counts suppressed lines of earlier windows not yet
	// reported, and since is when the first of them was suppressed.
	unreported int
	since      time.Time
}

func newRejectionSampler(now func() time.Time) *rejectionSampler {
	return &rejectionSampler{now: now}
}

// admit reports whether a line for rsn may be written now and, if so, how
// many lines of rsn were suppressed since when, to be reported first.
func (s *rejectionSampler) admit(rsn reason) (ok bool, suppressed int, since time.Time) {
	now := s.now()
	second := now.Unix()
	s.mu.Lock()
	defer s.mu.Unlock()
	w := &s.windows[rsn]
	if w.second != second {
		w.unreported += w.suppressed
		w.second, w.logged, w.suppressed = second, 0, 0
	}
	if w.logged >= rejectionLogBurst {
		if w.unreported == 0 && w.suppressed == 0 {
			w.since = now
		}
		w.suppressed++
		return false, 0, time.Time{}
	}
	w.logged++
	suppressed, since = w.unreported, w.since
	w.unreported = 0
	return true, suppressed, since
}
