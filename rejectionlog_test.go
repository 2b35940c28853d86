package caddyjwt

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// fakeClock is a clock the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func rejectionTestHandler(clock *fakeClock) (*Handler, *observer.ObservedLogs) {
	core, logs := observer.New(zap.InfoLevel)
	return &Handler{logger: zap.New(core), rejectionLog: newRejectionSampler(clock.now)}, logs
}

func TestRejectionLogCapsThePathAndMethodAndMarksTheCut(t *testing.T) {
	h, logs := rejectionTestHandler(&fakeClock{time.Unix(1_800_000_000, 0)})
	r := httptest.NewRequest(strings.Repeat("M", 1000), "/"+strings.Repeat("a", 15*1024), nil)
	h.logRejection(r, reasonMissing, nil)
	line := logs.AllUntimed()[0].ContextMap()
	for _, field := range []string{"uri", "method"} {
		v := line[field].(string)
		if len(v) > maxLoggedValueBytes+64 || !strings.Contains(v, "truncated from") {
			t.Errorf("%s: %d bytes %q, want it capped and marked", field, len(v), v[:min(len(v), 80)])
		}
	}
	h.logRejection(httptest.NewRequest("GET", "/short", nil), reasonMissing, nil)
	if line := logs.AllUntimed()[1].ContextMap(); line["uri"] != "/short" || line["method"] != "GET" {
		t.Errorf("short values changed: %v", line)
	}
}

func TestCapLogValueCutsAtACharacterBoundary(t *testing.T) {
	s := strings.Repeat("é", 300) // 2 bytes each: byte 256 starts a character
	s = "x" + s                   // now byte 256 is in the middle of one
	got := capLogValue(s)
	if !strings.HasPrefix(got, "x"+strings.Repeat("é", 127)+"…") {
		t.Fatalf("cut at the wrong place: %q", got[:20])
	}
	if strings.ToValidUTF8(got, "?") != got {
		t.Fatal("the cut split a character")
	}
}

func TestRejectionLinesAreSampledPerReasonAndTheSuppressedAreCounted(t *testing.T) {
	clock := &fakeClock{time.Unix(1_800_000_000, 0)}
	h, logs := rejectionTestHandler(clock)
	r := httptest.NewRequest("GET", "/api", nil)
	count := func(msg string) int { return logs.FilterMessage(msg).Len() }

	for range rejectionLogBurst + 50 {
		h.logRejection(r, reasonMalformed, nil)
	}
	// Another reason has a burst of its own.
	h.logRejection(r, reasonExpired, nil)
	if got := count("request rejected"); got != rejectionLogBurst+1 {
		t.Fatalf("%d lines in one second, want %d of the flooded reason and 1 of the other", got, rejectionLogBurst+1)
	}

	// Still the same second: still suppressed.
	clock.t = clock.t.Add(999 * time.Millisecond)
	h.logRejection(r, reasonMalformed, nil)
	if count("request rejections not logged") != 0 || count("request rejected") != rejectionLogBurst+1 {
		t.Fatal("a line was written within the full second")
	}

	// The next second: the count comes first, then the line.
	clock.t = clock.t.Add(time.Millisecond)
	h.logRejection(r, reasonMalformed, nil)
	summaries := logs.FilterMessage("request rejections not logged").AllUntimed()
	if len(summaries) != 1 {
		t.Fatalf("%d summary lines, want 1", len(summaries))
	}
	if got := summaries[0].ContextMap()["suppressed"]; got != int64(51) {
		t.Fatalf("suppressed = %v, want 51", got)
	}
	if got := summaries[0].ContextMap()["result"]; got != "malformed" {
		t.Fatalf("result = %v", got)
	}
	if count("request rejected") != rejectionLogBurst+2 {
		t.Fatal("the line after the summary was not written")
	}

	// Nothing suppressed since: no second summary.
	clock.t = clock.t.Add(time.Second)
	h.logRejection(r, reasonMalformed, nil)
	if count("request rejections not logged") != 1 {
		t.Fatal("a summary with nothing to report")
	}
}
