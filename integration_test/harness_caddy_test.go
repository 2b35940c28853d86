package integration_test

// The harness's Caddy processes: a caddy run per test with its own ports,
// reloads through the admin API, and Caddy commands run to completion.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ---------------------------------------------------------------------------
// Caddy processes

// lockedBuffer collects a process's output while tests read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// caddyPorts are the ports reserved for one Caddy instance. In a Caddyfile
// given to startCaddy, Reload or adaptCaddyfile, these markers are replaced:
//
//	{{admin}}  the admin address, 127.0.0.1:<port>
//	{{http}}   the HTTP port number
//	{{site}}   http://127.0.0.1:<http port>, a site address
//	{{base}}   the global options every test Caddy needs (admin address,
//	           loopback-only binding, no autosave); put it inside the
//	           global options block: `{ {{base}} }`
//
// caddyfileFor wraps a site body into a complete Caddyfile using them.
type caddyPorts struct {
	Admin int
	HTTP  int
}

func newCaddyPorts(t testing.TB) caddyPorts {
	return caddyPorts{Admin: freePort(t), HTTP: freePort(t)}
}

func (p caddyPorts) expand(caddyfile string) string {
	admin := "127.0.0.1:" + strconv.Itoa(p.Admin)
	base := "admin " + admin + "\n\tpersist_config off\n\tdefault_bind 127.0.0.1\n\tgrace_period 1s"
	return strings.NewReplacer(
		"{{base}}", base,
		"{{admin}}", admin,
		"{{site}}", "http://127.0.0.1:"+strconv.Itoa(p.HTTP),
		"{{http}}", strconv.Itoa(p.HTTP),
	).Replace(caddyfile)
}

// caddyfileFor is the usual test Caddyfile: the base global options, extra
// global options if any, and one site on the HTTP port whose body is given.
func caddyfileFor(body string, globalOptions ...string) string {
	return "{\n\t{{base}}\n\t" + strings.Join(globalOptions, "\n\t") + "\n}\n\n{{site}} {\n" + body + "\n}\n"
}

// caddyProcess is a running `caddy run`.
type caddyProcess struct {
	t     testing.TB
	ports caddyPorts
	dir   string
	cmd   *exec.Cmd
	logs  *lockedBuffer
	done  chan struct{} // closed when the process has exited
	err   error         // the exit status, once done is closed
}

// caddyOption adjusts how a Caddy process is started.
type caddyOption func(*exec.Cmd)

// withEnv adds KEY=VALUE pairs to the Caddy process's environment.
func withEnv(kv ...string) caddyOption {
	return func(c *exec.Cmd) { c.Env = append(c.Env, kv...) }
}

// caddyEnv is a clean environment for a Caddy process: its config and data
// directories under dir, so that tests never share or leave state.
func caddyEnv(dir string) []string {
	env := []string{
		"HOME=" + dir,
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"XDG_DATA_HOME=" + filepath.Join(dir, "data"),
	}
	for _, kv := range os.Environ() {
		switch {
		case strings.HasPrefix(kv, "HOME="), strings.HasPrefix(kv, "XDG_"),
			strings.HasPrefix(kv, "CADDY_"):
			continue
		}
		env = append(env, kv)
	}
	return env
}

// startCaddy writes the Caddyfile (markers expanded, see caddyPorts), runs
// `caddy run` on it, waits until the admin API answers and the HTTP port
// accepts connections, and stops the process when the test ends. The
// process's log is printed if the test failed.
func startCaddy(t testing.TB, caddyfile string, opts ...caddyOption) *caddyProcess {
	t.Helper()
	// A port found free may be taken by another process before Caddy
	// binds it (several test runs share this machine): try fresh ports.
	for attempt := 1; ; attempt++ {
		c, err := tryStartCaddy(t, newCaddyPorts(t), caddyfile, opts...)
		if err == nil {
			return c
		}
		if !strings.Contains(c.Logs(), "address already in use") || attempt == 3 {
			t.Fatalf("caddy did not become ready: %v\nlog:\n%s", err, c.Logs())
		}
	}
}

// tryStartCaddy starts Caddy and waits until it is ready; on error the
// returned process has exited or been stopped, its log still readable.
func tryStartCaddy(t testing.TB, ports caddyPorts, caddyfile string, opts ...caddyOption) (*caddyProcess, error) {
	t.Helper()
	requireCaddy(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(ports.expand(caddyfile)), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &caddyProcess{t: t, ports: ports, dir: dir, logs: &lockedBuffer{}, done: make(chan struct{})}
	c.cmd = exec.Command(caddyBin, "run", "--config", path, "--adapter", "caddyfile")
	c.cmd.Dir = dir
	c.cmd.Env = caddyEnv(dir)
	// Should the admin block be left out of the Caddyfile, the admin API
	// still listens on this instance's own port, never on the shared 2019.
	c.cmd.Env = append(c.cmd.Env, "CADDY_ADMIN=127.0.0.1:"+strconv.Itoa(ports.Admin))
	for _, o := range opts {
		o(c.cmd)
	}
	c.cmd.Stdout = c.logs
	c.cmd.Stderr = c.logs
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("starting caddy: %v", err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	// Whatever a test did, no token may ever appear in Caddy's own log,
	// and nothing may have panicked or raced: checked after the process
	// stopped, on every instance of the suite. The log is printed last, so
	// that a failure of these checks keeps it too.
	t.Cleanup(func() {
		c.stop()
		logs := c.Logs()
		if shapes := tokenShapes(logs); len(shapes) > 0 {
			t.Errorf("caddy's log holds %d token-shaped strings (first starts %.12s…)", len(shapes), shapes[0])
		}
		for _, crash := range []string{"WARNING: DATA RACE", "http: panic serving", "\npanic: "} {
			if strings.Contains(logs, crash) {
				t.Errorf("caddy's log shows %q", strings.TrimSpace(crash))
			}
		}
		if t.Failed() {
			t.Logf("caddy log:\n%s", logs)
		}
	})

	if err := c.waitReady(strings.Contains(caddyfile, "{{site}}") || strings.Contains(caddyfile, "{{http}}")); err != nil {
		c.stop()
		return c, err
	}
	return c, nil
}

// waitReady polls, with a deadline, until the admin API answers and, when
// the config uses the HTTP port, that port accepts connections.
func (c *caddyProcess) waitReady(checkHTTP bool) error {
	deadline := time.Now().Add(30 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-c.done:
			return fmt.Errorf("caddy exited: %v", c.err)
		default:
		}
		ready := false
		if resp, err := client.Get(c.AdminURL() + "/config/"); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			ready = resp.StatusCode == http.StatusOK
			// The admin port might belong to another test's Caddy that
			// took it first: ours is the one listening on our HTTP port.
			if checkHTTP && !strings.Contains(string(body), ":"+strconv.Itoa(c.ports.HTTP)+`"`) {
				ready = false
			}
		}
		if ready && checkHTTP {
			conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(c.ports.HTTP), time.Second)
			ready = err == nil
			if conn != nil {
				conn.Close()
			}
		}
		if ready {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("not ready after 30s")
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not a wait for an event
	}
}

// stop ends the process: SIGINT for a graceful stop, SIGKILL if it does not
// exit within a few seconds.
func (c *caddyProcess) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// Logs is everything the process wrote to stdout and stderr so far.
func (c *caddyProcess) Logs() string { return c.logs.String() }

// AdminURL is the base URL of this instance's admin API.
func (c *caddyProcess) AdminURL() string {
	return "http://127.0.0.1:" + strconv.Itoa(c.ports.Admin)
}

// URL is the address of path on the test site ({{site}}).
func (c *caddyProcess) URL(path string) string {
	return "http://127.0.0.1:" + strconv.Itoa(c.ports.HTTP) + path
}

// Ports are the admin and HTTP ports of this instance.
func (c *caddyProcess) Ports() caddyPorts { return c.ports }

// Dir is a temporary directory private to this instance.
func (c *caddyProcess) Dir() string { return c.dir }

// Reload loads a new Caddyfile (markers expanded with this instance's
// ports) through the admin API, POST /load. When it returns nil the new
// config is serving.
func (c *caddyProcess) Reload(caddyfile string) error {
	req, err := http.NewRequest(http.MethodPost, c.AdminURL()+"/load", strings.NewReader(c.ports.expand(caddyfile)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("POST /load: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /load: %s: %s", resp.Status, body)
	}
	// The old config's servers close their idle connections; a kept-alive
	// one would fail the next request with a reset.
	testClient.CloseIdleConnections()
	return nil
}

// Exited reports whether the process has exited, and its status if so.
func (c *caddyProcess) Exited() (bool, error) {
	select {
	case <-c.done:
		return true, c.err
	default:
		return false, nil
	}
}

// commandResult is the outcome of a Caddy command that runs to completion.
type commandResult struct {
	ExitCode int
	Stdout   string
	Stderr   string
}

// Output is stdout and stderr together.
func (r commandResult) Output() string { return r.Stdout + r.Stderr }

// runCaddyCommand runs the Caddy binary with args to completion (at most a
// minute) in a clean environment and returns its exit code and output.
func runCaddyCommand(t testing.TB, args []string, opts ...caddyOption) commandResult {
	t.Helper()
	requireCaddy(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, caddyBin, args...)
	cmd.Dir = dir
	cmd.Env = caddyEnv(dir)
	for _, o := range opts {
		o(cmd)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := commandResult{Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.ExitCode = exit.ExitCode()
	default:
		t.Fatalf("running caddy %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("caddy %s did not finish within a minute", strings.Join(args, " "))
	}
	return res
}

// writeCaddyfile writes a Caddyfile (markers expanded with fresh ports)
// into a temporary directory and returns its path.
func writeCaddyfile(t testing.TB, caddyfile string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "Caddyfile")
	if err := os.WriteFile(path, []byte(newCaddyPorts(t).expand(caddyfile)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// adaptCaddyfile runs `caddy adapt` on the Caddyfile; on success Stdout is
// the JSON config.
func adaptCaddyfile(t testing.TB, caddyfile string, opts ...caddyOption) commandResult {
	t.Helper()
	return runCaddyCommand(t, []string{"adapt", "--config", writeCaddyfile(t, caddyfile), "--adapter", "caddyfile"}, opts...)
}

// validateCaddyfile runs `caddy validate`, which also provisions every
// module: keys are loaded and secrets checked, as at startup.
func validateCaddyfile(t testing.TB, caddyfile string, opts ...caddyOption) commandResult {
	t.Helper()
	return runCaddyCommand(t, []string{"validate", "--config", writeCaddyfile(t, caddyfile), "--adapter", "caddyfile"}, opts...)
}

// runCaddyExpectFailure runs `caddy run` on a config that must be refused
// and returns the output; the test fails if Caddy starts serving instead of
// exiting with a non-zero status.
func runCaddyExpectFailure(t testing.TB, caddyfile string, opts ...caddyOption) commandResult {
	t.Helper()
	res := runCaddyCommand(t, []string{"run", "--config", writeCaddyfile(t, caddyfile), "--adapter", "caddyfile"}, opts...)
	if res.ExitCode == 0 {
		t.Fatalf("caddy run accepted a config it must refuse; output:\n%s", res.Output())
	}
	return res
}
