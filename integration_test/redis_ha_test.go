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

// failoverLoad is a bounded load on instances: two clients per instance,
// a request every 10ms each for at most 3m (stop ends it long before),
// alternating a fresh token
// (every one a real lookup) and a revoked one, counting what they see.
type failoverLoad struct {
	instances []*caddyProcess
	fresh     func() string
	revoked   string
	client    *http.Client
	stopped   chan struct{}
	wg        sync.WaitGroup

	goodOK, good503, revoked401, revoked503 atomic.Int64
	wronglyAccepted, unexpected             atomic.Int64
	// noAnswer: the request failed or took longer than the client's
	// timeout, reported but not a failure on a busy machine.
	noAnswer atomic.Int64
}

func (l *failoverLoad) status(c *caddyProcess, tok string) int {
	req, _ := http.NewRequest(http.MethodGet, c.URL("/"), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := l.client.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (l *failoverLoad) start() {
	l.client = &http.Client{Timeout: 15 * time.Second}
	l.stopped = make(chan struct{})
	for _, c := range append(l.instances, l.instances...) {
		l.wg.Add(1)
		go l.run(c)
	}
}

func (l *failoverLoad) run(c *caddyProcess) {
	defer l.wg.Done()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(3 * time.Minute)
	for i := 0; ; i++ {
		select {
		case <-l.stopped:
			return
		case <-deadline:
			return
		case <-tick.C:
		}
		if i%2 == 0 {
			switch l.status(c, l.fresh()) {
			case http.StatusOK:
				l.goodOK.Add(1)
			case http.StatusServiceUnavailable:
				l.good503.Add(1)
			case 0:
				l.noAnswer.Add(1)
			default:
				l.unexpected.Add(1)
			}
			continue
		}
		switch l.status(c, l.revoked) {
		case http.StatusUnauthorized:
			l.revoked401.Add(1)
		case http.StatusServiceUnavailable:
			l.revoked503.Add(1)
		case http.StatusOK:
			l.wronglyAccepted.Add(1)
		case 0:
			l.noAnswer.Add(1)
		default:
			l.unexpected.Add(1)
		}
	}
}

// stop ends the load and waits for it; it may be called more than once.
func (l *failoverLoad) stop() {
	select {
	case <-l.stopped:
	default:
		close(l.stopped)
	}
	l.wg.Wait()
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
	waitForT(t, 30*time.Second, "the replica to hold the revocation", func() bool {
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

	load := &failoverLoad{instances: instances, fresh: fresh, revoked: revoked}
	load.start()
	defer load.stop()
	waitForT(t, 30*time.Second, "load to flow", func() bool { return load.goodOK.Load() > 20 })

	d.master.kill()
	killed := time.Now()
	// Lookups succeed again when fresh tokens pass on both instances. A
	// split vote among the sentinels retries after twice the failover
	// timeout (10s), more than once on a busy machine.
	waitForT(t, 90*time.Second, "lookups to succeed again on both instances", func() bool {
		for _, c := range instances {
			if load.status(c, fresh()) != http.StatusOK {
				return false
			}
		}
		return true
	})
	recovered := time.Since(killed)
	// A little more load on the new master, then the load.
	okAtRecovery := load.goodOK.Load()
	waitForT(t, 30*time.Second, "load on the new master", func() bool { return load.goodOK.Load() > okAtRecovery+20 })
	load.stop()
	// The sentinel that promoted the replica tells the others in its next
	// hello message (every 2s): Caddy may have learnt of the new master
	// before sentinels[0] did.
	sc := redis.NewSentinelClient(&redis.Options{Addr: d.sentinels[0].addr(), DisableIdentity: true})
	defer sc.Close()
	var master []string
	waitForT(t, 30*time.Second, "sentinels[0] to name the promoted replica", func() bool {
		master, _ = sc.GetMasterAddrByName(context.Background(), sentinelMasterName).Result()
		return len(master) == 2 && master[1] == strconv.Itoa(d.replica.port)
	})

	t.Logf("sentinel failover: lookups succeed again %v after the master was killed (new master %v); "+
		"fresh tokens: %d accepted, %d answered 503; revoked token: %d refused, %d answered 503, %d wrongly accepted; %d without an answer",
		recovered.Round(time.Millisecond), master, load.goodOK.Load(), load.good503.Load(),
		load.revoked401.Load(), load.revoked503.Load(), load.wronglyAccepted.Load(), load.noAnswer.Load())
	if n := load.wronglyAccepted.Load(); n != 0 {
		t.Errorf("the token revoked before the failover was accepted %d times", n)
	}
	if n := load.unexpected.Load(); n != 0 {
		t.Errorf("%d answers were neither the expected status nor 503", n)
	}
	for _, c := range instances {
		assertRevoked(t, c, up, revoked)
	}
}
