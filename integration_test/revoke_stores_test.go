package integration_test

// The real revocation stores the revocation tests run against: a redis-
// server and an HTTP auth service on loopback.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ---------------------------------------------------------------------------
// A real redis-server

// redisServer is a redis-server process on a loopback port, private to one
// test and stopped (by its own PID) when the test ends.
type redisServer struct {
	t    testing.TB
	bin  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

// startRedis starts a redis-server without persistence on a free port. It
// skips the test when redis-server is not installed, except under CI.
func startRedis(t testing.TB) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if inCI() {
			t.Fatalf("redis-server is not installed (CI=true): %v", err)
		}
		t.Skip("redis-server is not installed; scripts/install-test-deps.sh installs it")
	}
	s := &redisServer{t: t, bin: bin, port: freePort(t)}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *redisServer) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no")
	s.done = make(chan struct{})
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("starting redis-server: %v", err)
	}
	done := s.done
	cmd := s.cmd
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	client := s.client()
	defer client.Close()
	deadline := time.Now().Add(30 * time.Second)
	for client.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			s.t.Fatal("redis-server did not answer PING within 30s")
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

// stop kills the server and waits until it has exited and its port is
// closed.
func (s *redisServer) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	<-s.done
}

// URL is the redis:// URL of the server.
func (s *redisServer) URL() string { return "redis://127.0.0.1:" + strconv.Itoa(s.port) }

// client is a go-redis client, as an auth service would use one.
func (s *redisServer) client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(s.port), DisableIdentity: true})
}

// do runs one command and fails the test on error.
func (s *redisServer) do(args ...any) any {
	s.t.Helper()
	c := s.client()
	defer c.Close()
	v, err := c.Do(context.Background(), args...).Result()
	if err != nil {
		s.t.Fatalf("redis %v: %v", args, err)
	}
	return v
}

// ---------------------------------------------------------------------------
// A real HTTP auth service

// authService answers the http store's lookups from state the test sets:
// GET /tokens/<sub>/<jti> → 410 for a denied jti, 200 with Token-Version
// and Token-Not-Before for a known subject, 404 otherwise.
type authService struct {
	srv *httptest.Server

	mu        sync.Mutex
	denied    map[string]bool
	version   map[string]int64
	notBefore map[string]int64
	asked     []string
}

func newAuthService(t *testing.T) *authService {
	a := &authService{denied: map[string]bool{}, version: map[string]int64{}, notBefore: map[string]int64{}}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *authService) serve(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/tokens/"), "/")
	if len(parts) != 2 {
		http.NotFound(w, r)
		return
	}
	sub, jti := parts[0], parts[1]
	a.mu.Lock()
	defer a.mu.Unlock()
	a.asked = append(a.asked, r.URL.RawPath)
	switch {
	case a.denied[jti]:
		w.WriteHeader(http.StatusGone)
	case a.version[sub] != 0 || a.notBefore[sub] != 0:
		if v, ok := a.version[sub]; ok {
			w.Header().Set("Token-Version", strconv.FormatInt(v, 10))
		}
		if nb, ok := a.notBefore[sub]; ok {
			w.Header().Set("Token-Not-Before", strconv.FormatInt(nb, 10))
		}
	default:
		http.NotFound(w, r)
	}
}

func (a *authService) location() string {
	return a.srv.URL + "/tokens/{http.auth.jwt.sub}/{http.auth.jwt.jti}"
}
