package integration_test

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The upstreams of the differential test: real frameworks as apps behind
// an authenticating edge use them. Each reads the token from the
// Authorization header, the access_token cookie and the access_token
// query parameter with its own parsers, decodes it without verifying it
// (the edge did), and answers with a JSON report of what it read.

// differentialDir holds the Node, Python and PHP upstreams.
func differentialDir() string {
	return filepath.Join(repoRoot, "integration_test", "testdata", "differential")
}

// upstreamReport is what an upstream read from one request.
type upstreamReport struct {
	Authorization []readToken `json:"authorization"`
	Cookie        []readToken `json:"cookie"`
	Query         []readToken `json:"query"`
	// Headers holds the claim headers as the app reads them, nil when
	// absent; bytes beyond ASCII are sent as the code points of the same
	// number (Latin-1), as Node and Python decode header bytes.
	Headers map[string]*string `json:"headers"`
}

// readToken is one token an upstream found, with the sub and jti of its
// payload when the payload decodes.
type readToken struct {
	Raw string `json:"raw"`
	Sub string `json:"sub,omitempty"`
	JTI string `json:"jti,omitempty"`
}

// tokens is what the upstream read in each location, indexed by location.
func (r *upstreamReport) tokens() [3][]readToken {
	return [...][]readToken{inHeader: r.Authorization, inCookie: r.Cookie, inQuery: r.Query}
}

// isToken reports whether what the upstream read decodes as a token.
func (t readToken) isToken() bool { return t.JTI != "" || t.Sub != "" }

// header returns a claim header as the bytes the upstream received, and
// whether it was there.
func (r *upstreamReport) header(name string) (string, bool) {
	for k, v := range r.Headers {
		if strings.EqualFold(k, name) && v != nil {
			return fromLatin1(*v), true
		}
	}
	return "", false
}

// fromLatin1 turns code points below 256 back into the bytes they stand for.
func fromLatin1(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return s // not a Latin-1 reading: already text
		}
		b = append(b, byte(r))
	}
	return string(b)
}

// requireTool skips the test when what it needs was not found (found is
// false), or fails it under CI=true, where a skip would silently drop it.
func requireTool(t *testing.T, what string, found bool) {
	t.Helper()
	if found {
		return
	}
	msg := what + " is not installed; run scripts/install-test-deps.sh"
	if inCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// startNodeUpstream runs server.js (Express 4, cookie-parser).
func startNodeUpstream(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	requireTool(t, "node", err == nil)
	_, err = os.Stat(filepath.Join(differentialDir(), "node_modules", "express"))
	requireTool(t, "express (npm ci in integration_test/testdata/differential)", err == nil)
	return startPortPrintingUpstream(t, exec.Command(node, "server.js"))
}

// startFlaskUpstream runs app.py on Debian's python3-flask.
func startFlaskUpstream(t *testing.T) string {
	t.Helper()
	python := ""
	for _, candidate := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(candidate, "-c", "import flask").Run() == nil {
			python = candidate
			break
		}
	}
	requireTool(t, "python3 with flask (Debian's python3-flask)", python != "")
	return startPortPrintingUpstream(t, exec.Command(python, "app.py"))
}

// startPortPrintingUpstream starts an upstream that binds a free loopback
// port itself and prints it, and returns its address.
func startPortPrintingUpstream(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	cmd.Dir = differentialDir()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	stopByPID(t, cmd, logs)
	ports := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ports <- strings.TrimSpace(line)
		io.Copy(io.Discard, stdout)
	}()
	select {
	case port := <-ports:
		if _, err := strconv.Atoi(port); err != nil {
			t.Fatalf("%s printed %q instead of its port; stderr:\n%s", cmd.Args, port, logs)
		}
		return "127.0.0.1:" + port
	case <-time.After(60 * time.Second):
		t.Fatalf("%s printed no port within 60s; stderr:\n%s", cmd.Args, logs)
	}
	return ""
}

// startPHP runs `php-cgi -b` on a free port with a few children, for
// php_fastcgi, and returns its address once it accepts connections.
func startPHP(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("php-cgi")
	requireTool(t, "php-cgi", err == nil)
	for attempt := 1; ; attempt++ {
		addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
		cmd := exec.Command(bin, "-b", addr)
		cmd.Env = append(os.Environ(), "PHP_FCGI_CHILDREN=4", "PHP_FCGI_MAX_REQUESTS=1000000")
		logs := &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting php-cgi: %v", err)
		}
		exited := stopByPID(t, cmd, logs)
		if err := waitListening(addr, exited); err == nil {
			return addr
		} else if attempt == 3 {
			t.Fatalf("php-cgi on %s: %v\n%s", addr, err, logs)
		}
	}
}

// stopByPID stops the process when the test ends (SIGTERM, then SIGKILL)
// and prints its output if the test failed. The channel is closed when
// the process has exited.
func stopByPID(t *testing.T, cmd *exec.Cmd, logs *lockedBuffer) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() && logs.String() != "" {
			t.Logf("%s output:\n%s", filepath.Base(cmd.Path), logs)
		}
	})
	return done
}

// waitListening polls, with a deadline, until addr accepts connections.
func waitListening(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			return fmt.Errorf("exited before listening")
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not listening after 30s")
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not a wait for an event
	}
}

// newGoUpstream is net/http as a Go app behind the edge reads a request:
// every Authorization value (strings.CutPrefix and strings.Fields, which
// splits on Unicode spaces), r.CookiesNamed and r.URL.Query().
func newGoUpstream(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rep upstreamReport
		for _, v := range r.Header.Values("Authorization") {
			found := map[string]bool{}
			if tok, ok := strings.CutPrefix(v, "Bearer "); ok && tok != "" {
				found[tok] = true
			}
			if f := strings.Fields(v); len(f) >= 2 && strings.EqualFold(f[0], "bearer") {
				found[f[1]] = true
			}
			for tok := range found {
				rep.Authorization = append(rep.Authorization, decodeUnverified(tok))
			}
		}
		for _, c := range r.CookiesNamed(differentialName) {
			rep.Cookie = append(rep.Cookie, decodeUnverified(c.Value))
		}
		for _, v := range r.URL.Query()[differentialName] {
			rep.Query = append(rep.Query, decodeUnverified(v))
		}
		rep.Headers = map[string]*string{}
		for _, h := range differentialClaimHeaders {
			if vs, ok := r.Header[h]; ok {
				v := toLatin1(strings.Join(vs, ", "))
				rep.Headers[h] = &v
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(rep)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// decodeUnverified reads a token's payload without verifying it.
func decodeUnverified(raw string) readToken {
	out := readToken{Raw: toLatin1(raw)}
	parts := strings.Split(raw, ".")
	if len(parts) < 2 {
		return out
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return out
	}
	var payload map[string]any
	if json.Unmarshal(b, &payload) == nil {
		out.Sub, _ = payload["sub"].(string)
		out.JTI, _ = payload["jti"].(string)
	}
	return out
}

// toLatin1 spells each byte as the code point of the same number.
func toLatin1(s string) string {
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return string(r)
}

// ---------------------------------------------------------------------------
// A client that sends the bytes it is given

// rawClient sends hand-built HTTP/1.1 requests over a kept-alive loopback
// connection: net/http's client would refuse or rewrite the hostile bytes
// (control characters, raw spaces, several Host-less forms) that the
// variants carry.
type rawClient struct {
	addr string
	conn net.Conn
	br   *bufio.Reader
}

// rawRequest is one request as bytes: request line parts and header lines
// in order.
type rawRequest struct {
	method string
	target string
	lines  []headerLine
}

type headerLine struct{ name, value string }

// rawResponse is a response with its body read.
type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

// errUnreachable is a request that could not be sent at all: Caddy is
// not listening. Any other error is Caddy refusing the request's bytes by
// closing the connection (a reset can overtake its 400).
var errUnreachable = errors.New("caddy is not reachable")

func (c *rawClient) do(req rawRequest) (rawResponse, error) {
	var b strings.Builder
	b.WriteString(req.method + " " + req.target + " HTTP/1.1\r\nHost: " + c.addr + "\r\n")
	for _, l := range req.lines {
		b.WriteString(l.name + ": " + l.value + "\r\n")
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	for attempt := 0; ; attempt++ {
		resp, err := c.roundTrip(b.String())
		if err == nil || attempt == 1 {
			return resp, err
		}
		c.close() // a kept-alive connection the server closed: once more on a fresh one
	}
}

func (c *rawClient) roundTrip(request string) (rawResponse, error) {
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
		if err != nil {
			return rawResponse{}, fmt.Errorf("%w: %v", errUnreachable, err)
		}
		c.conn, c.br = conn, bufio.NewReader(conn)
	}
	_ = c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c.conn, request); err != nil {
		return rawResponse{}, err
	}
	resp, err := http.ReadResponse(c.br, &http.Request{Method: http.MethodGet})
	if err != nil {
		return rawResponse{}, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return rawResponse{}, err
	}
	if resp.Close {
		c.close()
	}
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

func (c *rawClient) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn, c.br = nil, nil
	}
}
