// Package integration_test drives a real Caddy binary, built with the
// plugin through xcaddy once per run, over loopback HTTP, with a real
// upstream that records what reaches it.
//
// The harness in this file is shared by every integration test:
//
//   - TestMain resolves the Caddy binary: $CADDY_BIN, else one xcaddy build.
//   - startCaddy(t, caddyfile) runs `caddy run` with its own admin and HTTP
//     ports, written into the Caddyfile through the markers {{base}},
//     {{admin}}, {{site}} and {{http}}; caddyfileFor(body) builds the usual
//     one-site Caddyfile. The process offers URL, AdminURL, Logs, Reload
//     and is stopped when the test ends.
//   - adaptCaddyfile, validateCaddyfile, runCaddyCommand and
//     runCaddyExpectFailure (configs that must be refused) run Caddy
//     commands to completion.
//   - newUpstream(t): a recording upstream (Count, Requests, Last).
//   - newKey(t, alg) for every algorithm, with PEM writers for the public
//     key, certificate and private key; sign / signToken (extra JOSE header
//     fields), rawToken / segment / resign for hand-built hostile tokens.
//   - send / get / bearer: an HTTP client that never follows redirects.
package integration_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// caddyBin is the Caddy binary with the plugin, set by TestMain.
var caddyBin string

// caddySkipReason is set when the binary cannot be had outside CI; tests
// that need Caddy then skip with it.
var caddySkipReason string

// repoRoot is the module root, the parent of this package's directory.
var repoRoot string

// inCI reports whether missing tools must fail the run instead of skipping.
func inCI() bool { return os.Getenv("CI") == "true" }

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	root, err := filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration: finding the repository root:", err)
		return 1
	}
	repoRoot = root

	cleanup, err := resolveCaddy()
	if cleanup != nil {
		defer cleanup()
	}
	if err != nil {
		if inCI() || !errors.Is(err, errNoXcaddy) {
			fmt.Fprintln(os.Stderr, "integration:", err)
			return 1
		}
		caddySkipReason = err.Error()
		fmt.Fprintln(os.Stderr, "integration: tests that need Caddy will skip:", err)
	}
	return m.Run()
}

var errNoXcaddy = errors.New("xcaddy not found in PATH or $(go env GOPATH)/bin; install it with `go install github.com/caddyserver/xcaddy/cmd/xcaddy@v0.4.5` or set CADDY_BIN")

// resolveCaddy sets caddyBin: $CADDY_BIN if set, else a binary built once
// with xcaddy into a temporary directory that the returned func removes.
func resolveCaddy() (func(), error) {
	if bin := os.Getenv("CADDY_BIN"); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return nil, fmt.Errorf("CADDY_BIN: %v", err)
		}
		caddyBin = bin
		return nil, nil
	}
	xcaddy, err := findXcaddy()
	if err != nil {
		return nil, err
	}
	version, err := caddyVersion()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "caddy-jwt-integration-")
	if err != nil {
		return nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	out := filepath.Join(dir, "caddy")
	// The version-pinned replace is what makes xcaddy use the local tree
	// while the module is not published on the module proxy.
	cmd := exec.Command(xcaddy, "build", version, "--output", out,
		"--with", "github.com/jwtgate/caddy-jwt@v0.0.0="+repoRoot)
	cmd.Dir = dir
	fmt.Fprintf(os.Stderr, "integration: building Caddy %s with the plugin through xcaddy (set CADDY_BIN to skip this)\n", version)
	if output, err := cmd.CombinedOutput(); err != nil {
		return cleanup, fmt.Errorf("xcaddy build failed: %v\n%s", err, output)
	}
	caddyBin = out
	return cleanup, nil
}

func findXcaddy() (string, error) {
	if p, err := exec.LookPath("xcaddy"); err == nil {
		return p, nil
	}
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(gopath))) {
			p := filepath.Join(dir, "bin", "xcaddy")
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	return "", errNoXcaddy
}

// caddyVersion is the Caddy version go.mod pins, so that the binary under
// test is the Caddy the module is built against.
func caddyVersion() (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/caddyserver/caddy/v2")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("reading the Caddy version from go.mod: %v", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// requireCaddy skips the test when there is no Caddy binary (outside CI).
func requireCaddy(t testing.TB) {
	t.Helper()
	if caddyBin == "" {
		t.Skip("no Caddy binary: " + caddySkipReason)
	}
}

// portsHandedOut are the ports freePort has returned during this run.
// Caddy binds its listeners with SO_REUSEPORT, so two instances given the
// same port would both bind it and silently share its connections, and the
// kernel does hand a just-closed port out again within a few calls: each
// port is given to one test only.
var portsHandedOut sync.Map

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// has not been returned before in this run.
func freePort(t testing.TB) int {
	t.Helper()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if _, taken := portsHandedOut.LoadOrStore(port, true); !taken {
			return port
		}
	}
}

// ---------------------------------------------------------------------------
// Recording upstream

// recordedRequest is what one request looked like when it reached the
// upstream.
type recordedRequest struct {
	Method string
	URI    string // the request-target as received, path and query
	Host   string
	Header http.Header
	Body   []byte
}

// Cookie returns the named cookie's value as the upstream received it.
func (r recordedRequest) Cookie(name string) (string, bool) {
	req := &http.Request{Header: r.Header}
	c, err := req.Cookie(name)
	if err != nil {
		return "", false
	}
	return c.Value, true
}

// upstream is a real HTTP server on loopback that answers 200 "upstream ok"
// and records every request that reaches it.
type upstream struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []recordedRequest
}

// newUpstream starts a recording upstream, stopped when the test ends.
func newUpstream(t testing.TB) *upstream {
	t.Helper()
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	u.mu.Lock()
	u.got = append(u.got, recordedRequest{
		Method: r.Method,
		URI:    r.RequestURI,
		Host:   r.Host,
		Header: r.Header.Clone(),
		Body:   body,
	})
	u.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "upstream ok")
}

// Addr is the upstream's host:port, for `reverse_proxy`.
func (u *upstream) Addr() string { return u.srv.Listener.Addr().String() }

// Count is how many requests reached the upstream.
func (u *upstream) Count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.got)
}

// Requests returns a copy of every request that reached the upstream.
func (u *upstream) Requests() []recordedRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]recordedRequest(nil), u.got...)
}

// Last returns the latest request that reached the upstream, failing the
// test if none did.
func (u *upstream) Last(t testing.TB) recordedRequest {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.got) == 0 {
		t.Fatal("no request reached the upstream")
	}
	return u.got[len(u.got)-1]
}

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

// ---------------------------------------------------------------------------
// HTTP client

// response is an answer with its body read.
type response struct {
	*http.Response
	Body string
}

var testClient = &http.Client{
	Timeout: 15 * time.Second,
	// Redirects are part of what is tested: never follow them.
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// send makes a request and reads the whole response. header values are
// added in order; use "Cookie" for cookies.
func send(t testing.TB, method, url string, header http.Header, body io.Reader) response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return response{Response: resp, Body: string(b)}
}

// get is send with GET and no body.
func get(t testing.TB, url string, header http.Header) response {
	t.Helper()
	return send(t, http.MethodGet, url, header, nil)
}

// bearer is an Authorization header carrying token.
func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

// ---------------------------------------------------------------------------
// Keys

// testKey is a signing key of one algorithm family with its public half.
type testKey struct {
	Alg    string
	method jwt.SigningMethod
	// Signing is what golang-jwt signs with: []byte for HMAC, else a
	// crypto.Signer (private key).
	Signing any
	// Public is the verification key: []byte for HMAC, else the public key.
	Public any
}

// hmacSizes are the minimum secret lengths (RFC 7518 §3.2).
var hmacSizes = map[string]int{"HS256": 32, "HS384": 48, "HS512": 64}

// newKey makes a fresh key for alg (HS*, RS*, PS*, ES256/384/512, EdDSA).
// HMAC secrets are printable (so they fit in a Caddyfile) and exactly as
// long as the hash. RSA keys are 2048 bits.
func newKey(t testing.TB, alg string) *testKey {
	t.Helper()
	k := &testKey{Alg: alg, method: jwt.GetSigningMethod(alg)}
	if k.method == nil {
		t.Fatalf("unknown algorithm %q", alg)
	}
	switch {
	case strings.HasPrefix(alg, "HS"):
		secret := []byte(randomText(t, hmacSizes[alg]))
		k.Signing, k.Public = secret, secret
	case strings.HasPrefix(alg, "RS"), strings.HasPrefix(alg, "PS"):
		priv := newRSAKey(t, 2048)
		k.Signing, k.Public = priv, &priv.PublicKey
	case strings.HasPrefix(alg, "ES"):
		curve := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
		priv, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k.Signing, k.Public = priv, &priv.PublicKey
	case alg == "EdDSA":
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k.Signing, k.Public = priv, pub
	default:
		t.Fatalf("no key family for %q", alg)
	}
	return k
}

// newHMACKey is an HMAC key with a secret of exactly size bytes.
func newHMACKey(t testing.TB, alg string, size int) *testKey {
	t.Helper()
	secret := []byte(randomText(t, size))
	return &testKey{Alg: alg, method: jwt.GetSigningMethod(alg), Signing: secret, Public: secret}
}

// newRSAKey generates an RSA key of the given size.
func newRSAKey(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

// withAlg is the same key material used for another algorithm of its
// family (RS256 → PS384, HS512 secret → HS256, …).
func (k *testKey) withAlg(alg string) *testKey {
	c := *k
	c.Alg, c.method = alg, jwt.GetSigningMethod(alg)
	return &c
}

// randomText returns n random characters from the base64url alphabet.
func randomText(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

// Secret is the HMAC secret as text, for `secret` in a Caddyfile.
func (k *testKey) Secret() string {
	b, ok := k.Public.([]byte)
	if !ok {
		panic("Secret on a non-HMAC key")
	}
	return string(b)
}

// PublicPEM is the public key as PKIX PEM ("PUBLIC KEY").
func (k *testKey) PublicPEM(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.Public)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// PrivatePEM is the private key as PKCS#8 PEM ("PRIVATE KEY").
func (k *testKey) PrivatePEM(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k.Signing)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// CertificatePEM is a self-signed X.509 certificate for the public key.
func (k *testKey) CertificatePEM(t testing.TB) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "caddy-jwt test signer"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public, k.Signing.(crypto.Signer))
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// writeFile writes data into a fresh temporary directory and returns the
// file's path.
func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// writePublicKeyPEM writes the key's public half as a PEM file and returns
// its path, for `public_key`.
func (k *testKey) writePublicKeyPEM(t testing.TB) string {
	t.Helper()
	return writeFile(t, "public.pem", k.PublicPEM(t))
}

// writePrivateKeyPEM writes the private key as a PEM file.
func (k *testKey) writePrivateKeyPEM(t testing.TB) string {
	t.Helper()
	return writeFile(t, "private.pem", k.PrivatePEM(t))
}

// writeCertificatePEM writes a self-signed certificate for the key.
func (k *testKey) writeCertificatePEM(t testing.TB) string {
	t.Helper()
	return writeFile(t, "cert.pem", k.CertificatePEM(t))
}

// keyDirective is the Caddyfile line that makes Caddy verify this key's
// tokens: `secret …` for HMAC, `public_key <file>` otherwise.
func (k *testKey) keyDirective(t testing.TB) string {
	t.Helper()
	if b, ok := k.Public.([]byte); ok {
		return "secret " + string(b)
	}
	return "public_key " + k.writePublicKeyPEM(t)
}

// ---------------------------------------------------------------------------
// Tokens

// claims is a token payload.
type claims = jwt.MapClaims

// validClaims are claims that pass every default check: a subject, issued
// now, expiring in five minutes. Extra pairs (key, value, key, value, …)
// are added or replace defaults; a nil value deletes the claim.
func validClaims(kv ...any) claims {
	now := time.Now()
	c := claims{
		"sub": "user-42",
		"iat": now.Unix(),
		"exp": now.Add(5 * time.Minute).Unix(),
	}
	for i := 0; i+1 < len(kv); i += 2 {
		key := kv[i].(string)
		if kv[i+1] == nil {
			delete(c, key)
			continue
		}
		c[key] = kv[i+1]
	}
	return c
}

// signToken signs the claims with the key. header sets extra JOSE header
// fields (kid, typ, crit, …) or overrides alg: a nil value deletes one.
func signToken(t testing.TB, k *testKey, c claims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(k.method, c)
	for name, v := range header {
		if v == nil {
			delete(tok.Header, name)
			continue
		}
		tok.Header[name] = v
	}
	s, err := tok.SignedString(k.Signing)
	if err != nil {
		t.Fatalf("signing a %s token: %v", k.Alg, err)
	}
	return s
}

// sign is signToken with no extra header fields.
func sign(t testing.TB, k *testKey, c claims) string {
	t.Helper()
	return signToken(t, k, c, nil)
}

// segment is the base64url encoding of v's JSON (or of v itself when it is
// a string or []byte), for hand-built tokens.
func segment(t testing.TB, v any) string {
	t.Helper()
	switch val := v.(type) {
	case string:
		return base64.RawURLEncoding.EncodeToString([]byte(val))
	case []byte:
		return base64.RawURLEncoding.EncodeToString(val)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// rawToken builds header.payload.signature from arbitrary values, without
// any signing: for alg=none, forged and malformed tokens. sig is encoded as
// segment does.
func rawToken(t testing.TB, header, payload, sig any) string {
	t.Helper()
	return segment(t, header) + "." + segment(t, payload) + "." + segment(t, sig)
}

// resign replaces a token's signature with one made by k over the same
// signing input, e.g. to sign a token whose header claims another alg.
func resign(t testing.TB, k *testKey, signingInput string) string {
	t.Helper()
	sig, err := k.method.Sign(signingInput, k.Signing)
	if err != nil {
		t.Fatal(err)
	}
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(sig)
}
