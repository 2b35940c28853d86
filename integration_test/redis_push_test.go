package integration_test

// Push invalidation: revocations published on Redis reach every subscribed
// instance at once, whatever their cache time; a lost subscription drops
// the cache; a reload keeps the connections and the cache.

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// waitForLog polls until the instance's log has a line containing every
// part.
func waitForLog(t *testing.T, c *caddyProcess, parts ...string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("a log line with %q", parts), func() bool {
		for _, line := range strings.Split(c.Logs(), "\n") {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				return true
			}
		}
		return false
	})
}

// TestPushedRevocationsReachBothInstancesAtOnce: two instances cache
// answers for ten minutes; each of 100 revocations is refused by both soon
// after it was made: 20 made with `caddy jwt revoke` (measured from the
// command's return), 80 as an auth service makes them, SET then PUBLISH of
// the key (measured from the PUBLISH's return). Fewer command runs keep
// the test short under a race-detecting Caddy, whose start-up takes a
// second. The distribution is reported, not asserted (the machine is
// shared); what is asserted is that each revocation is refused within a
// minute, which only the push can do while the answers are cached for ten.
func TestPushedRevocationsReachBothInstancesAtOnce(t *testing.T) {
	t.Parallel()
	requireCaddy(t)
	r := startRedis(t)
	key := newKey(t, "HS256")
	up := newUpstream(t)
	site := revocationSite(key, t, "redis", r.URL(), "cache 10m\n\t\t\tpush", up)
	instances := []*caddyProcess{startCaddy(t, site), startCaddy(t, site)}
	for _, c := range instances {
		waitForLog(t, c, "revocation push subscribed")
	}
	exp := time.Now().Add(time.Hour)
	service := r.client()
	defer service.Close()

	const n, byCommand = 100, 20
	var all, viaCommand []time.Duration
	for i := range n {
		jti := "push-" + strconv.Itoa(i)
		tok := sign(t, key, validClaims("sub", "push-user", "jti", jti))
		for _, c := range instances {
			check(t, c, up, http.MethodGet, "/", bearer(tok), accepted)
		}
		if i < byCommand {
			revokeCLI(t, "--store", "redis", "--location", r.URL(), "--jti", jti, "--exp", strconv.FormatInt(exp.Unix(), 10))
		} else {
			ctx := context.Background()
			if err := service.SetArgs(ctx, "jwt:jti:"+jti, "1", redis.SetArgs{ExpireAt: exp}).Err(); err != nil {
				t.Fatal(err)
			}
			if err := service.Publish(ctx, "jwt:revoked", "jwt:jti:"+jti).Err(); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		for _, c := range instances {
			for get(t, c.URL("/"), bearer(tok)).StatusCode != http.StatusUnauthorized {
				if time.Since(start) > time.Minute {
					t.Fatalf("revocation %d not refused within a minute (the cache time is ten: push did not arrive)", i)
				}
			}
		}
		all = append(all, time.Since(start))
		if i < byCommand {
			viaCommand = append(viaCommand, time.Since(start))
		}
	}
	report := func(what string, took []time.Duration) {
		slices.Sort(took)
		k := len(took)
		p50, p99, maxTook := took[(k+1)/2-1], took[(k*99+99)/100-1], took[k-1]
		t.Logf("push propagation, %s (%d): p50 %v, p99 %v, max %v", what, k,
			p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond), maxTook.Round(10*time.Microsecond))
	}
	report("from `caddy jwt revoke` returning to both instances refusing", viaCommand)
	report("all revocations, to both instances refusing", all)
}

// TestLostSubscriptionDropsTheCache: a revocation written without being
// published (as one published while the subscription is down would be
// missed) is not seen while the ten-minute cache holds; once the
// subscription is cut (CLIENT KILL TYPE pubsub) the instance drops its
// cache and the revocation takes effect at once, long before the cached
// answer would have expired.
func TestLostSubscriptionDropsTheCache(t *testing.T) {
	t.Parallel()
	requireCaddy(t)
	r := startRedis(t)
	key := newKey(t, "HS256")
	up := newUpstream(t)
	c := startCaddy(t, revocationSite(key, t, "redis", r.URL(), "cache 10m\n\t\t\tpush\n\t\t\tfallback_cache 500ms", up))
	waitForLog(t, c, "revocation push subscribed")

	tok := sign(t, key, validClaims("sub", "cut-user", "ver", 1))
	check(t, c, up, http.MethodGet, "/", bearer(tok), accepted)
	// Missed: written, never published.
	r.do("HSET", "jwt:sub:cut-user", "version", 5)
	for range 5 {
		check(t, c, up, http.MethodGet, "/", bearer(tok), accepted)
	}

	if killed := r.do("CLIENT", "KILL", "TYPE", "pubsub").(int64); killed != 1 {
		t.Fatalf("CLIENT KILL TYPE pubsub killed %d connections, want the instance's one", killed)
	}
	cut := time.Now()
	// waitFor gives up after 30s: only the dropped cache, not its ten
	// minutes running out, can make the revocation bite in time.
	waitFor(t, "the missed revocation to take effect", func() bool {
		return get(t, c.URL("/"), bearer(tok)).StatusCode == http.StatusUnauthorized
	})
	t.Logf("after the subscription was cut, the missed revocation took effect in %v", time.Since(cut).Round(time.Millisecond))
	waitForLog(t, c, "revocation push subscription lost")
	// It resubscribes, and pushed revocations work again.
	waitFor(t, "a new subscription", func() bool {
		return strings.Count(c.Logs(), "revocation push subscribed") >= 2
	})
	tok2 := sign(t, key, validClaims("sub", "cut-user-2", "jti", "cut-2"))
	check(t, c, up, http.MethodGet, "/", bearer(tok2), accepted)
	revokeCLI(t, "--store", "redis", "--location", r.URL(), "--jti", "cut-2", "--exp", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
	waitForTokenStatus(t, c, tok2, http.StatusUnauthorized)
}

var clientListID = regexp.MustCompile(`(?m)^id=(\d+) `)

// redisClientIDs lists the ids of every connection but the asker's own.
func redisClientIDs(t *testing.T, conn *redis.Conn) []string {
	t.Helper()
	ctx := context.Background()
	own, err := conn.ClientID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	list, err := conn.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range clientListID.FindAllStringSubmatch(list, -1) {
		if m[1] != strconv.FormatInt(own, 10) {
			ids = append(ids, m[1])
		}
	}
	sort.Strings(ids)
	return ids
}

// redisLookupCalls is how many HMGETs (one per lookup of a subject) Redis
// has served.
func redisLookupCalls(t *testing.T, conn *redis.Conn) int {
	t.Helper()
	info, err := conn.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`cmdstat_hmget:calls=(\d+)`).FindStringSubmatch(info)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestReloadUnderLoadKeepsConnectionsAndCache: config reloads that leave
// the store unchanged, under load, open no new Redis connection (the
// client and its subscription are shared across configs) and send no
// lookup (the cache is kept).
func TestReloadUnderLoadKeepsConnectionsAndCache(t *testing.T) {
	t.Parallel()
	requireCaddy(t)
	r := startRedis(t)
	key := newKey(t, "HS256")
	up := newUpstream(t)
	// Ten minutes: no cached answer expires while the reloads run, however
	// slowly, so any lookup is one the reloads caused.
	site := revocationSite(key, t, "redis", r.URL(), "cache 10m\n\t\t\tpush", up)
	c := startCaddy(t, site)
	waitForLog(t, c, "revocation push subscribed")

	var tokens []string
	for i := range 20 {
		tokens = append(tokens, sign(t, key, validClaims("sub", "reload-"+strconv.Itoa(i))))
	}
	for _, tok := range tokens {
		check(t, c, up, http.MethodGet, "/", bearer(tok), accepted)
	}
	probe := redis.NewClient(&redis.Options{Addr: strings.TrimPrefix(r.URL(), "redis://"), DisableIdentity: true})
	defer probe.Close()
	conn := probe.Conn()
	defer conn.Close()
	idsBefore := redisClientIDs(t, conn)
	lookupsBefore := redisLookupCalls(t, conn)

	// Load: four clients cycling through the tokens until the reloads are
	// done (at most 30s).
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var failed sync.Map
	client := &http.Client{Timeout: 5 * time.Second}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := time.Now().Add(30 * time.Second)
			for i := w; time.Now().Before(deadline); i++ {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodGet, c.URL("/"), nil)
				req.Header.Set("Authorization", "Bearer "+tokens[i%len(tokens)])
				resp, err := client.Do(req)
				if err != nil {
					continue // a connection closed by the reload
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Store(resp.StatusCode, true)
				}
			}
		}()
	}
	for i := range 3 {
		changed := strings.Replace(site, "reverse_proxy", fmt.Sprintf("header X-Config-Generation %d\n\treverse_proxy", i), 1)
		if err := c.Reload(changed); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	for _, tok := range tokens {
		check(t, c, up, http.MethodGet, "/", bearer(tok), accepted)
	}
	failed.Range(func(k, _ any) bool {
		t.Errorf("a request under reload got %v", k)
		return true
	})

	if idsAfter := redisClientIDs(t, conn); !slices.Equal(idsAfter, idsBefore) {
		t.Errorf("Redis connections before the reloads %v, after %v: want the same ones", idsBefore, idsAfter)
	}
	if n := redisLookupCalls(t, conn) - lookupsBefore; n != 0 {
		// A subscription silent for 3s counts as lost and drops the cache:
		// on a machine so starved that Caddy missed its own pings, that,
		// not the reloads, explains the lookups. The connection was kept
		// (checked above), so nothing was re-subscribed.
		if strings.Contains(c.Logs(), "revocation push subscription lost") {
			t.Logf("%d lookups after the subscription was taken for lost while Caddy was starved; the reloads are not what dropped the cache", n)
			return
		}
		t.Errorf("the reloads caused %d lookups; the cache should have been kept", n)
	}
}
