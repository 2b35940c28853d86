package integration_test

// Redis deployments for the fleet tests: plain, TLS, Sentinel and Cluster
// nodes from Debian's redis-server and redis-sentinel, each on a free
// loopback port, stopped by its own PID when the test ends.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisTool finds a Redis program, failing the test under CI when it is
// missing and skipping it elsewhere.
func redisTool(t testing.TB, name string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		if inCI() {
			t.Fatalf("%s is not installed (CI=true): %v", name, err)
		}
		t.Skipf("%s is not installed; scripts/install-test-deps.sh installs it", name)
	}
	return bin
}

// redisNode is one redis-server or redis-sentinel process.
type redisNode struct {
	port int
	cmd  *exec.Cmd
	done chan struct{}
	logs *lockedBuffer
}

// startRedisNode runs bin with the config lines (redis.conf syntax, one
// directive a line) written to a file in a fresh directory, which is also
// its working directory, and waits until ping succeeds.
func startRedisNode(t testing.TB, bin string, port int, conf []string, ping func() error) *redisNode {
	t.Helper()
	dir := t.TempDir()
	conf = append([]string{
		"port " + strconv.Itoa(port), "bind 127.0.0.1", "dir " + dir,
		`save ""`, "appendonly no",
	}, conf...)
	path := filepath.Join(dir, "redis.conf")
	if err := os.WriteFile(path, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := &redisNode{port: port, done: make(chan struct{}), logs: &lockedBuffer{}}
	n.cmd = exec.Command(bin, path)
	n.cmd.Dir = dir
	n.cmd.Stdout, n.cmd.Stderr = n.logs, n.logs
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	go func() {
		_ = n.cmd.Wait()
		close(n.done)
	}()
	t.Cleanup(n.kill)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s on port %d:\n%s", filepath.Base(bin), port, n.logs.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := ping()
		if err == nil {
			return n
		}
		select {
		case <-n.done:
			t.Fatalf("%s on port %d exited: %s", filepath.Base(bin), port, n.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s on port %d did not answer within 30s: %v", filepath.Base(bin), port, err)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

// kill stops the process with SIGKILL, as a crash would, and waits.
func (n *redisNode) kill() {
	select {
	case <-n.done:
		return
	default:
	}
	_ = n.cmd.Process.Kill()
	<-n.done
}

func (n *redisNode) addr() string { return "127.0.0.1:" + strconv.Itoa(n.port) }

// pingAddr pings a plain Redis or sentinel on port.
func pingAddr(port int) func() error {
	return func() error {
		c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), DisableIdentity: true, MaxRetries: -1})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return c.Ping(ctx).Err()
	}
}

// redisDo runs one command on the node at addr, failing the test on error.
func redisDo(t testing.TB, addr string, args ...any) any {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	defer c.Close()
	v, err := c.Do(context.Background(), args...).Result()
	if err != nil {
		t.Fatalf("redis %s %v: %v", addr, args, err)
	}
	return v
}

// ---------------------------------------------------------------------------
// Sentinel

// sentinelDeployment is one master, one replica and three sentinels
// watching them under the name "fleet".
type sentinelDeployment struct {
	master, replica *redisNode
	sentinels       []*redisNode
}

const sentinelMasterName = "fleet"

func startSentinelDeployment(t testing.TB) *sentinelDeployment {
	t.Helper()
	server := redisTool(t, "redis-server")
	sentinel := redisTool(t, "redis-sentinel")
	d := &sentinelDeployment{}
	mp := freePort(t)
	d.master = startRedisNode(t, server, mp, nil, pingAddr(mp))
	rp := freePort(t)
	d.replica = startRedisNode(t, server, rp, []string{"replicaof 127.0.0.1 " + strconv.Itoa(mp)}, pingAddr(rp))
	for range 3 {
		sp := freePort(t)
		d.sentinels = append(d.sentinels, startRedisNode(t, sentinel, sp, []string{
			fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2", sentinelMasterName, mp),
			"sentinel down-after-milliseconds " + sentinelMasterName + " 1000",
			"sentinel failover-timeout " + sentinelMasterName + " 5000",
			"sentinel parallel-syncs " + sentinelMasterName + " 1",
		}, pingAddr(sp)))
	}
	// Ready when every sentinel knows the replica and the other sentinels:
	// a sentinel that asked the master (INFO, every 10s) before the replica
	// had connected learns of it only at its next INFO.
	waitForT(t, 60*time.Second, "the sentinels to see the replica and each other", func() bool {
		for _, s := range d.sentinels {
			c := redis.NewSentinelClient(&redis.Options{Addr: s.addr(), DisableIdentity: true})
			m, err := c.Master(context.Background(), sentinelMasterName).Result()
			c.Close()
			if err != nil || m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" {
				return false
			}
		}
		return true
	})
	return d
}

// location is the redis+sentinel:// URL of the deployment.
func (d *sentinelDeployment) location() string {
	loc := "redis+sentinel://" + d.sentinels[0].addr() + "?master_name=" + sentinelMasterName
	for _, s := range d.sentinels[1:] {
		loc += "&addr=" + s.addr()
	}
	return loc
}

// ---------------------------------------------------------------------------
// Cluster

// startCluster runs three masters and joins them with redis-cli --cluster
// create; it returns the nodes once every slot is served.
func startCluster(t testing.TB) []*redisNode {
	t.Helper()
	server := redisTool(t, "redis-server")
	cli := redisTool(t, "redis-cli")
	var nodes []*redisNode
	args := []string{"--cluster", "create"}
	for range 3 {
		p := freePort(t)
		nodes = append(nodes, startRedisNode(t, server, p, []string{
			"cluster-enabled yes", "cluster-config-file nodes.conf", "cluster-node-timeout 2000",
		}, pingAddr(p)))
		args = append(args, nodes[len(nodes)-1].addr())
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	waitForT(t, 60*time.Second, "cluster_state:ok on every node", func() bool {
		for _, n := range nodes {
			info, ok := redisDo(t, n.addr(), "CLUSTER", "INFO").(string)
			if !ok || !strings.Contains(info, "cluster_state:ok") {
				return false
			}
		}
		return true
	})
	return nodes
}

// clusterLocation is the redis+cluster:// URL with every node as a seed.
func clusterLocation(nodes []*redisNode) string {
	loc := "redis+cluster://" + nodes[0].addr()
	for i, n := range nodes[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		loc += sep + "addr=" + n.addr()
	}
	return loc
}

// waitForT polls cond until it holds, failing the test after timeout.
func waitForT(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}
