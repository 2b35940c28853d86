package integration_test

// What the soak test measures of the Caddy process: goroutines and heap
// through the admin API's pprof endpoints, RSS from /proc, and waits for
// them to settle.

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// adminGoroutines reads the goroutine count from the admin API's pprof
// endpoint ("goroutine profile: total N").
func adminGoroutines(t *testing.T, c *caddyProcess) int {
	t.Helper()
	line := adminProfileValue(t, c.AdminURL()+"/debug/pprof/goroutine?debug=1", "goroutine profile: total ")
	n, err := strconv.Atoi(line)
	if err != nil {
		t.Fatalf("goroutine count %q: %v", line, err)
	}
	return n
}

// adminHeapInuse forces a GC through the admin API's heap profile (gc=1)
// and returns the bytes of heap in use after it.
func adminHeapInuse(t *testing.T, c *caddyProcess) int64 {
	t.Helper()
	line := adminProfileValue(t, c.AdminURL()+"/debug/pprof/heap?gc=1&debug=1", "# HeapInuse = ")
	n, err := strconv.ParseInt(line, 10, 64)
	if err != nil {
		t.Fatalf("HeapInuse %q: %v", line, err)
	}
	return n
}

// adminGet returns the body of an admin API GET.
func adminGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := testClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// adminProfileValue fetches an admin API profile and returns the rest of
// the first line that starts with prefix.
func adminProfileValue(t *testing.T, url, prefix string) string {
	t.Helper()
	resp, err := testClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			return strings.TrimSpace(rest)
		}
	}
	t.Fatalf("GET %s: no line starting with %q (status %s)", url, prefix, resp.Status)
	return ""
}

// processRSS is the Caddy process's resident set size in bytes, from
// /proc/<pid>/status.
func processRSS(t *testing.T, c *caddyProcess) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("reading the process status: %v", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/<pid>/status")
	return 0
}

// waitSettled polls read until two readings a moment apart agree (at most
// 10 s), and returns the value: the baseline after warm-up work has ended.
func waitSettled(t *testing.T, read func() int) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	last := read()
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond) // polling interval
		now := read()
		if now == last {
			return now
		}
		last = now
	}
	return last
}

// waitAtMost polls read until it is at most limit (retired servers finish
// their grace period), for at most 30 s, and returns the last reading.
func waitAtMost(t *testing.T, limit int, read func() int) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := read()
		if n <= limit || time.Now().After(deadline) {
			return n
		}
		time.Sleep(200 * time.Millisecond) // polling interval
	}
}
