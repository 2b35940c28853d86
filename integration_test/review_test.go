package integration_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// A Redis that is down answers 503, and everything Caddy prints stays its
// structured JSON log: go-redis's own messages used to be printed as plain
// text on stderr, one per lookup, next to the handler's warning.
func TestRedisOutagePrintsOnlyCaddysJSONLog(t *testing.T) {
	k := newKey(t, "HS256")
	down := freePort(t) // nothing listens there
	c := startCaddy(t, caddyfileFor(fmt.Sprintf(`
	jwt {
		secret %s
		revocation redis redis://127.0.0.1:%d/0
	}
	respond "passed"`, k.Secret(), down)))

	token := sign(t, k, validClaims())
	for range 3 {
		if r := get(t, c.URL("/"), bearer(token)); r.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("with Redis down: %d %q, want 503", r.StatusCode, r.Body)
		}
	}
	for line := range strings.Lines(c.Logs()) {
		if !strings.HasSuffix(line, "\n") {
			break // a line still coming through the pipe
		}
		if line = strings.TrimSpace(line); line != "" && !json.Valid([]byte(line)) {
			t.Errorf("not a JSON log line: %q", line)
		}
	}
}
