package integration_test

// The redis store on highly available Redis: a Cluster of three masters
// and a Sentinel deployment that fails over under load.

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestRedisClusterRevocationsWhateverTheSlot: revocations by jti, version
// and logout, written with `caddy jwt revoke` against a three-master
// Cluster (a jti and a subject in one run: keys in different slots), are
// honoured whichever node their keys land on.
func TestRedisClusterRevocationsWhateverTheSlot(t *testing.T) {
	t.Parallel()
	requireCaddy(t)
	nodes := startCluster(t)
	loc := clusterLocation(nodes)
	key := newKey(t, "HS256")
	up := newUpstream(t)
	c := startCaddy(t, revocationSite(key, t, "redis", loc, "cache 50ms", up))
	exp := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	past := time.Now().Add(-time.Minute).Unix()

	const n = 6
	var denied, oldVersion, loggedOut, current []string
	for i := range n {
		denied = append(denied, sign(t, key, validClaims("sub", fmt.Sprintf("cl-user-%d", i), "jti", fmt.Sprintf("cl-jti-%d", i))))
		oldVersion = append(oldVersion, sign(t, key, validClaims("sub", fmt.Sprintf("cl-ver-%d", i), "ver", 1)))
		current = append(current, sign(t, key, validClaims("sub", fmt.Sprintf("cl-ver-%d", i), "ver", 2)))
		loggedOut = append(loggedOut, sign(t, key, validClaims("sub", fmt.Sprintf("cl-out-%d", i), "iat", past)))
	}
	for i := range n {
		for _, tok := range []string{denied[i], oldVersion[i], loggedOut[i]} {
			check(t, c, up, http.MethodGet, "/", bearer(tok), accepted)
		}
		// A jti and a logout in one run: two keys, usually in two slots.
		revokeCLI(t, "--store", "redis", "--location", loc, "--jti", fmt.Sprintf("cl-jti-%d", i), "--exp", exp,
			"--sub", fmt.Sprintf("cl-out-%d", i), "--logout")
		revokeCLI(t, "--store", "redis", "--location", loc, "--sub", fmt.Sprintf("cl-ver-%d", i), "--version", "2")
	}
	for i := range n {
		for _, tok := range []string{denied[i], oldVersion[i], loggedOut[i]} {
			waitForTokenStatus(t, c, tok, http.StatusUnauthorized)
			assertRevoked(t, c, up, tok)
		}
		check(t, c, up, http.MethodGet, "/", bearer(current[i]), accepted)
	}
	// The keys are spread over the masters: the test did cross slots.
	holding := 0
	for _, node := range nodes {
		if redisDo(t, node.addr(), "DBSIZE").(int64) > 0 {
			holding++
		}
	}
	if holding < 2 {
		t.Errorf("the revocation keys landed on %d of 3 masters; the test meant to span slots", holding)
	}
}

// failoverTally counts what the clients saw during a failover.
type failoverTally struct {
	goodOK, good503, revoked401, revoked503 atomic.Int64
	wronglyAccepted, unexpected             atomic.Int64
}

// TestRedisSentinelFailoverUnderLoad: two Caddy instances share a
// Sentinel-watched master under a bounded load of fresh tokens (every one
// a real lookup) and one revoked token; the master is killed. During the
// failover lookups fail closed (503 under on_error deny), the revoked
// token is never accepted, and lookups succeed again once the replica is
// promoted.
func TestRedisSentinelFailoverUnderLoad(t *testing.T) {
	t.Parallel()
	requireCaddy(t)
	d := startSentinelDeployment(t)
	loc := d.location()
	key := newKey(t, "HS256")
	up := newUpstream(t)
	site := revocationSite(key, t, "redis", loc, "cache 1s\n\t\t\ton_error deny", up)
	instances := []*caddyProcess{startCaddy(t, site), startCaddy(t, site)}

	revokeCLI(t, "--store", "redis", "--location", loc, "--jti", "ha-revoked",
		"--exp", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
	waitForT(t, 10*time.Second, "the replica to hold the revocation", func() bool {
		return redisDo(t, d.replica.addr(), "EXISTS", "jwt:jti:ha-revoked").(int64) == 1
	})
	revoked := sign(t, key, validClaims("sub", "ha-user", "jti", "ha-revoked"))
	var seq atomic.Int64
	fresh := func() string {
		return sign(t, key, validClaims("sub", "ha-user", "jti", "ha-"+strconv.FormatInt(seq.Add(1), 10)))
	}
	for _, c := range instances {
		assertRevoked(t, c, up, revoked)
		check(t, c, up, http.MethodGet, "/", bearer(fresh()), accepted)
	}

	// The load: two clients per instance, a request every 10ms each, for
	// at most 45s.
	var tally failoverTally
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	status := func(c *caddyProcess, tok string) int {
		req, _ := http.NewRequest(http.MethodGet, c.URL("/"), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range append(instances, instances...) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			deadline := time.After(45 * time.Second)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-deadline:
					return
				case <-tick.C:
				}
				if i%2 == 0 {
					switch status(c, fresh()) {
					case http.StatusOK:
						tally.goodOK.Add(1)
					case http.StatusServiceUnavailable:
						tally.good503.Add(1)
					default:
						tally.unexpected.Add(1)
					}
					continue
				}
				switch status(c, revoked) {
				case http.StatusUnauthorized:
					tally.revoked401.Add(1)
				case http.StatusServiceUnavailable:
					tally.revoked503.Add(1)
				case http.StatusOK:
					tally.wronglyAccepted.Add(1)
				default:
					tally.unexpected.Add(1)
				}
			}
		}()
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()
	waitForT(t, 10*time.Second, "load to flow", func() bool { return tally.goodOK.Load() > 20 })

	d.master.kill()
	killed := time.Now()
	// Lookups succeed again when fresh tokens pass on both instances.
	waitForT(t, 40*time.Second, "lookups to succeed again on both instances", func() bool {
		for _, c := range instances {
			if status(c, fresh()) != http.StatusOK {
				return false
			}
		}
		return true
	})
	recovered := time.Since(killed)
	sc := redis.NewSentinelClient(&redis.Options{Addr: d.sentinels[0].addr(), DisableIdentity: true})
	defer sc.Close()
	master, _ := sc.GetMasterAddrByName(context.Background(), sentinelMasterName).Result()
	// A little more load on the new master, then the tally.
	okAtRecovery := tally.goodOK.Load()
	waitForT(t, 10*time.Second, "load on the new master", func() bool { return tally.goodOK.Load() > okAtRecovery+20 })
	close(stop)
	wg.Wait()
	stop = make(chan struct{})

	t.Logf("sentinel failover: lookups succeed again %v after the master was killed (new master %v); "+
		"fresh tokens: %d accepted, %d answered 503; revoked token: %d refused, %d answered 503, %d wrongly accepted",
		recovered.Round(time.Millisecond), master, tally.goodOK.Load(), tally.good503.Load(),
		tally.revoked401.Load(), tally.revoked503.Load(), tally.wronglyAccepted.Load())
	if n := tally.wronglyAccepted.Load(); n != 0 {
		t.Errorf("the token revoked before the failover was accepted %d times", n)
	}
	if n := tally.unexpected.Load(); n != 0 {
		t.Errorf("%d answers were neither the expected status nor 503", n)
	}
	if len(master) != 2 || master[1] != strconv.Itoa(d.replica.port) {
		t.Errorf("the sentinels name %v as master, want the promoted replica on port %d", master, d.replica.port)
	}
	for _, c := range instances {
		assertRevoked(t, c, up, revoked)
	}
}
