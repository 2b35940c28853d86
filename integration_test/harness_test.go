// Package integration_test drives a real Caddy binary, built with the
// plugin through xcaddy once per run, over loopback HTTP, with a real
// upstream that records what reaches it.
//
// The harness in this file and in harness_caddy_test.go (Caddy processes
// and commands), harness_http_test.go (the recording upstream and the
// client) and harness_tokens_test.go (keys and tokens) is shared by every
// integration test:
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
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
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

// freePort returns a TCP port on 127.0.0.1 that has not been returned
// before in this run, reserved for the test until it ends (see
// reservePort): the server it is meant for can bind it whenever it starts,
// and a port left closed on purpose stays closed, though other tests'
// servers pick ports of their own all the while.
func freePort(t testing.TB) int {
	t.Helper()
	for {
		port, release, err := reservePort()
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		if _, taken := portsHandedOut.LoadOrStore(port, true); taken {
			release()
			continue
		}
		t.Cleanup(release)
		return port
	}
}
