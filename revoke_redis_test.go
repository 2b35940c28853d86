package caddyjwt

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
)

// startTestRedis runs a real redis-server without persistence on a free
// loopback port for the test, killed by its own PID at the end, and
// returns its URL. Without redis-server the test skips, except under CI.
// The port is free when picked but may be taken before redis-server binds
// it (tests of other packages open ports meanwhile): a server that exits
// is started again on another port.
func startTestRedis(tb testing.TB) string {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("redis-server is not installed (CI=true): %v", err)
		}
		tb.Skip("redis-server is not installed; scripts/install-test-deps.sh installs it")
	}
	for attempt := 1; ; attempt++ {
		url, ok := startRedisOnFreePort(tb, bin)
		if ok {
			return url
		}
		if attempt == 5 {
			tb.Fatal("redis-server exited at start on 5 free ports in a row")
		}
	}
}

// startRedisOnFreePort starts redis-server on a port that was free a
// moment ago and waits for it to answer PING. It reports false if the
// server exited instead, as it does when the port was taken meanwhile.
func startRedisOnFreePort(tb testing.TB, bin string) (string, bool) {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	url := "redis://127.0.0.1:" + strconv.Itoa(port)
	client := redisClient(tb, url)
	deadline := time.Now().Add(10 * time.Second)
	for client.Ping(context.Background()).Err() != nil {
		select {
		case <-exited:
			return "", false
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatal("redis-server did not answer PING within 10s")
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	// The server that answers may be another test's, started on the same
	// port first: then ours exits, if it has not already.
	info, err := client.Info(context.Background(), "server").Result()
	if err != nil {
		tb.Fatal(err)
	}
	if !strings.Contains(info, "process_id:"+strconv.Itoa(cmd.Process.Pid)+"\r\n") {
		_ = cmd.Process.Kill()
		return "", false
	}
	return url, true
}

func redisClient(tb testing.TB, url string) redis.UniversalClient {
	tb.Helper()
	opts, err := (&RedisConnection{Location: url}).options()
	if err != nil {
		tb.Fatal(err)
	}
	c := opts.newClient()
	tb.Cleanup(func() { c.Close() })
	return c
}

func openTestRedisStore(tb testing.TB, url, prefix string) *RedisStore {
	tb.Helper()
	return provisionStore(tb, &RedisStore{RedisConnection: RedisConnection{Location: url}, Prefix: prefix})
}

func TestRedisStoreReadsTheKeyLayout(t *testing.T) {
	url := startTestRedis(t)
	ctx := context.Background()
	rdb := redisClient(t, url)
	rdb.Do(ctx, "SET", "jwt:jti:j1", "1", "EXAT", time.Now().Add(time.Hour).Unix())
	rdb.Do(ctx, "HSET", "jwt:sub:alice", "version", "4", "not_before", "1700000000")
	rdb.Do(ctx, "HSET", "jwt:sub:bob", "not_before", "1700000000")
	rdb.Do(ctx, "HSET", "jwt:sub:mallory", "version", "four")
	s := openTestRedisStore(t, url, "jwt:")

	tests := []struct {
		name    string
		q       RevocationQuery
		want    RevocationFacts
		wantErr bool
	}{
		{"denied jti", RevocationQuery{TokenID: "j1", Subject: "nobody"}, RevocationFacts{TokenDenied: true}, false},
		{"version and logout", RevocationQuery{TokenID: "j2", Subject: "alice"}, RevocationFacts{HasVersion: true, Version: 4, NotBefore: time.Unix(1700000000, 0)}, false},
		{"logout only", RevocationQuery{Subject: "bob"}, RevocationFacts{NotBefore: time.Unix(1700000000, 0)}, false},
		{"nothing known", RevocationQuery{TokenID: "j3", Subject: "carol"}, RevocationFacts{}, false},
		{"a garbled version is an error, not a pass", RevocationQuery{Subject: "mallory"}, RevocationFacts{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Lookup(ctx, tt.q)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRedisStoreQueryKeysDoNotCollide(t *testing.T) {
	s := &RedisStore{}
	a, _ := s.CacheKey(RevocationQuery{TokenID: "ab", Subject: "c"})
	b, _ := s.CacheKey(RevocationQuery{TokenID: "a", Subject: "bc"})
	if a == b {
		t.Errorf("(ab, c) and (a, bc) share the cache key %q", a)
	}
	if key, ok := s.CacheKey(RevocationQuery{}); ok {
		t.Errorf("a token without jti and sub is cached under %q, want nothing asked", key)
	}
}

func TestRevokeCommandWritesWhatTheStoresRead(t *testing.T) {
	url := startTestRedis(t)
	now := time.Now()
	exp := now.Add(time.Hour)
	path := t.TempDir() + "/revoked.json"
	for _, store := range []string{"file", "redis"} {
		location := path
		if store == "redis" {
			location = url
		}
		for _, o := range []revokeOptions{
			{jti: "j1", exp: strconv.FormatInt(exp.Unix(), 10)},
			{subject: "alice", logout: true},
			{subject: "alice", version: 7, setVersion: true},
		} {
			o.store, o.location, o.prefix = store, location, "jwt:"
			var out bytes.Buffer
			if err := o.run(context.Background(), &out, now); err != nil {
				t.Fatalf("%s: %v", store, err)
			}
		}
		var s RevocationStore
		if store == "file" {
			s = provisionStore(t, &FileStore{Location: path, ReloadInterval: caddy.Duration(time.Hour)})
		} else {
			s = openTestRedisStore(t, url, "jwt:")
		}
		f, err := s.Lookup(context.Background(), RevocationQuery{TokenID: "j1", Subject: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		want := RevocationFacts{TokenDenied: true, HasVersion: true, Version: 7, NotBefore: time.Unix(now.Unix(), 0)}
		if f != want {
			t.Errorf("%s store after caddy jwt revoke: got %+v, want %+v", store, f, want)
		}
	}
	ttl, err := redisClient(t, url).TTL(context.Background(), "jwt:jti:j1").Result()
	if err != nil || ttl <= 0 || ttl > time.Hour {
		t.Errorf("TTL of the denied jti = %v (%v), want up to the token's exp", ttl, err)
	}
}

func TestRevokeCommandRefusesAnExpiredToken(t *testing.T) {
	path := t.TempDir() + "/revoked.json"
	o := revokeOptions{store: "file", location: path, jti: "old", exp: "1700000000"}
	var out bytes.Buffer
	err := o.run(context.Background(), &out, time.Now())
	if err == nil || !strings.Contains(err.Error(), "--exp 1700000000 is in the past") {
		t.Fatalf("revoke with an exp in the past: err = %v, want a refusal naming --exp", err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("an already expired token was written to the file")
	}
}
