package caddyjwt

// The handler chain and requests the benchmarks serve, and the CPU clock
// they report.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// benchChain is a provisioned route: the jwt handler (or nothing, for the
// no-plugin baseline) followed by static_response.
type benchChain struct {
	handler caddyhttp.Handler
	jwt     *Handler
	cancel  context.CancelFunc
}

// newBenchChain provisions the route from JSON, as Caddy does from a config.
// handlerJSON is "" for the no-plugin baseline.
func newBenchChain(b testing.TB, handlerJSON string) *benchChain {
	handlers := []json.RawMessage{}
	if handlerJSON != "" {
		handlers = append(handlers, json.RawMessage(handlerJSON))
	}
	handlers = append(handlers, json.RawMessage(`{"handler":"static_response","status_code":200,"body":"ok"}`))
	routes := caddyhttp.RouteList{{HandlersRaw: handlers}}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	if err := routes.Provision(ctx); err != nil {
		cancel()
		b.Fatal(err)
	}
	c := &benchChain{handler: routes.Compile(caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })), cancel: cancel}
	if handlerJSON != "" {
		c.jwt = routes[0].Handlers[0].(*Handler)
		// Rejections are logged at info, as in production, but encoded to
		// nowhere: the benchmark measures building the log entry, not the
		// terminal.
		c.jwt.logger = zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(io.Discard), zapcore.InfoLevel))
		// Every rejection line is written: the cost of a refused request
		// before the per-reason sampling of a flood holds lines back.
		c.jwt.rejectionLog = nil
	}
	b.Cleanup(cancel)
	return c
}

// benchHandlerJSON is a typical handler config: keys, an audience, the user
// claim and two claim headers.
func benchHandlerJSON(fam benchFamily, cache int) string {
	return fmt.Sprintf(`{"handler":"jwt",%s,"algorithms":[%q],"audience":["api.example.com"],`+
		`"claim_header":[{"path":"sub","header":"X-User-Id"},{"path":"email","header":"X-User-Email"}],"cache":%d}`,
		fam.keyConfig, fam.method.Alg(), cache)
}

// discardWriter is a ResponseWriter that keeps nothing but its header map,
// which is cleared for reuse.
type discardWriter struct{ header http.Header }

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// benchRequest serves one request through the chain the way Caddy's server
// does: a fresh request with its own header map, a new replacer, and the
// context caddyhttp.PrepareRequest builds. The no-plugin baseline pays the
// same, so the difference between the two is the handler's own cost.
type benchRequest struct {
	base *http.Request
	w    discardWriter
}

func newBenchRequest(token string) *benchRequest {
	r := httptest.NewRequest(http.MethodGet, "http://api.example.com/orders/42", nil)
	r.Header.Set("Accept", "application/json")
	r.Header.Set("User-Agent", "bench/1.0")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return &benchRequest{base: r, w: discardWriter{header: make(http.Header)}}
}

func (br *benchRequest) serve(c *benchChain) error {
	return c.handler.ServeHTTP(&br.w, br.prepared())
}

func (br *benchRequest) prepared() *http.Request {
	r := new(http.Request)
	*r = *br.base
	r.Header = br.base.Header.Clone()
	clear(br.w.header)
	return caddyhttp.PrepareRequest(r, caddy.NewReplacer(), &br.w, nil)
}

func statusOf(err error) int {
	if err == nil {
		return http.StatusOK
	}
	if he, ok := err.(caddyhttp.HandlerError); ok {
		return he.StatusCode
	}
	return -1
}

func runBenchRequests(b *testing.B, c *benchChain, reqs []*benchRequest, wantStatus int) {
	b.Helper()
	for _, br := range reqs {
		if got := statusOf(br.serve(c)); got != wantStatus {
			b.Fatalf("status %d, want %d", got, wantStatus)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPUClock()
	for i := 0; b.Loop(); i++ {
		if err := reqs[i%len(reqs)].serve(c); statusOf(err) != wantStatus {
			b.Fatalf("status %d, want %d", statusOf(err), wantStatus)
		}
	}
	cpu.report(b)
}

// cpuClock measures the CPU time this process spends, GC included. On a
// machine shared with other work, wall-clock ns/op mostly measures how
// often the benchmark waited for a core; CPU time per op is what the code
// costs, and the ratios in the README are taken from it.
type cpuClock struct{ start time.Duration }

func startCPUClock() cpuClock { return cpuClock{start: processCPUTime()} }

func (c cpuClock) report(b *testing.B) {
	b.ReportMetric(float64(processCPUTime()-c.start)/float64(b.N), "cpu-ns/op")
}

func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
