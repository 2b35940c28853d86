package integration_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The MCP tests run real parts from npm (testdata/mcp): the MCP
// TypeScript SDK's client and server, and panva's oidc-provider as the
// authorization server. scripts/install-test-deps.sh installs them.

// mcpDir is the npm folder of the MCP tests.
func mcpDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(repoRoot, "integration_test", "testdata", "mcp")
	missing := func(what string) {
		msg := what + "; run scripts/install-test-deps.sh"
		if inCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing("node is not installed")
	}
	for _, pkg := range []string{"@modelcontextprotocol/sdk", "oidc-provider", "express", "zod"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg)); err != nil {
			missing(pkg + " is not installed in " + dir)
		}
	}
	return dir
}

// startNodeServer runs `node <script> <args>` in dir, waits (with a
// deadline) until it prints "ready", and stops it by its PID when the test
// ends.
func startNodeServer(t *testing.T, dir, script string, args ...string) {
	t.Helper()
	cmd := exec.Command("node", append([]string{script}, args...)...)
	cmd.Dir = dir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting node %s: %v", script, err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("node %s stderr:\n%s", script, stderr.String())
		}
	})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		found := false
		for sc.Scan() {
			if !found && sc.Text() == "ready" {
				found = true
				ready <- true
			}
		}
		if !found {
			ready <- false
		}
		_ = cmd.Wait()
		close(exited)
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("node %s exited before it was ready:\n%s", script, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("node %s not ready after 60s:\n%s", script, stderr.String())
	}
}

// authorizationServer is oidc-provider running testdata/mcp/as.js.
type authorizationServer struct {
	issuer       string
	clientID     string
	clientSecret string
}

// startAuthorizationServer runs oidc-provider on port, letting its client
// ask for tokens for the given resources only.
func startAuthorizationServer(t *testing.T, dir string, port int, resources ...string) *authorizationServer {
	t.Helper()
	as := &authorizationServer{
		issuer:       "http://127.0.0.1:" + strconv.Itoa(port),
		clientID:     "mcp-client",
		clientSecret: randomText(t, 32),
	}
	startNodeServer(t, dir, "as.js", append([]string{strconv.Itoa(port), as.clientID, as.clientSecret}, resources...)...)
	return as
}

// token gets an access token with the client credentials grant, for the
// resource (RFC 8707) and scope.
func (as *authorizationServer) token(t *testing.T, resource, scope string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {resource}, "scope": {scope}}
	req, err := http.NewRequest(http.MethodPost, as.issuer+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(as.clientID, as.clientSecret)
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &tr) != nil || tr.AccessToken == "" {
		t.Fatalf("token request for %s: %d %s", resource, resp.StatusCode, body)
	}
	return tr.AccessToken
}

// tokenHeader decodes a token's JOSE header.
func tokenHeader(t *testing.T, token string) map[string]any {
	t.Helper()
	seg, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	var h map[string]any
	if err != nil || json.Unmarshal(raw, &h) != nil {
		t.Fatalf("token header %q is not base64url JSON", seg)
	}
	return h
}

// mcpExample is examples/mcp/Caddyfile on the test's ports: its site and
// its resource become the test site.
func mcpExample(t *testing.T) string {
	t.Helper()
	caddyfile := exampleOnTestPorts(t, "mcp", "http://localhost:8085")
	const resource = "resource http://localhost:8085/mcp "
	if !strings.Contains(caddyfile, resource) {
		t.Fatal("examples/mcp/Caddyfile does not protect http://localhost:8085/mcp any more; update this test")
	}
	return strings.Replace(caddyfile, resource, "resource {{site}}/mcp ", 1)
}

// mcpClientReport is what testdata/mcp/client.js prints.
type mcpClientReport struct {
	ProbeStatus         int               `json:"probeStatus"`
	ProbeChallenge      string            `json:"probeChallenge"`
	ResourceMetadataURL string            `json:"resourceMetadataUrl"`
	ResourceMetadata    map[string]any    `json:"resourceMetadata"`
	AuthorizationServer map[string]string `json:"authorizationServer"`
	ServerInfo          map[string]string `json:"serverInfo"`
	Sum                 string            `json:"sum"`
	WhoAmI              string            `json:"whoami"`
	TokenHeader         map[string]any    `json:"tokenHeader"`
}

// TestMCPClientFindsTheAuthorizationServerAndCallsAToolThroughCaddy: the
// MCP TypeScript SDK, as an MCP client does, reads resource_metadata from
// Caddy's 401, fetches the metadata Caddy serves, finds oidc-provider as
// the authorization server with its own discovery functions, gets an
// RFC 9068 access token (alg Ed25519) for the resource with the client
// credentials grant, and completes initialize and two tool calls with an
// MCP server built with the same SDK behind reverse_proxy, all through
// examples/mcp/Caddyfile as it is. Without a
// token, with a token for another resource, or without the scope, Caddy
// refuses as RFC 6750, RFC 8707 and RFC 9728 say.
func TestMCPClientFindsTheAuthorizationServerAndCallsAToolThroughCaddy(t *testing.T) {
	t.Parallel()
	requireCaddy(t)
	dir := mcpDir(t)
	asPort, mcpPort := freePort(t), freePort(t)
	startNodeServer(t, dir, "server.js", strconv.Itoa(mcpPort))
	issuer := "http://127.0.0.1:" + strconv.Itoa(asPort)
	c := startCaddy(t, mcpExample(t), withEnv("MCP_ISSUER="+issuer, "MCP_UPSTREAM=127.0.0.1:"+strconv.Itoa(mcpPort)))
	resource, other := c.URL("/mcp"), c.URL("/other")
	as := startAuthorizationServer(t, dir, asPort, resource, other)
	metadataURL := c.URL("/.well-known/oauth-protected-resource/mcp")
	withMetadata := `, resource_metadata="` + metadataURL + `"`

	// Caddy found the provider's keys in the background; until then the
	// answer is 503. A GET reaches the MCP server, which refuses it (405).
	// The provider started after Caddy, whose fetches back off from 1s up
	// to a minute: the next one comes at most a minute after it is up.
	good := as.token(t, resource, "mcp:tools")
	if h := tokenHeader(t, good); h["alg"] != "Ed25519" || h["typ"] != "at+jwt" {
		t.Fatalf("oidc-provider's token header is %v, want alg Ed25519, typ at+jwt", h)
	}
	pollStatus(t, "the provider's keys to load", c.URL("/mcp"), bearer(good), http.StatusMethodNotAllowed, 90*time.Second)

	got := runMCPClient(t, dir, resource, as)
	checkMCPClientReport(t, got, as, issuer, resource, metadataURL)

	ping := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	mcpPost := func(token string) response {
		h := http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json, text/event-stream"}}
		if token != "" {
			h.Set("Authorization", "Bearer "+token)
		}
		return send(t, http.MethodPost, resource, h, strings.NewReader(ping))
	}
	for _, tc := range []struct {
		name      string
		token     string
		status    int
		challenge string
	}{
		{"no token", "", http.StatusUnauthorized, challengeMissing + withMetadata},
		{"a token for another resource", as.token(t, other, "mcp:tools"), http.StatusUnauthorized, invalidToken(descBadAudience) + withMetadata},
		{"a token without the scope", as.token(t, resource, "other:read"), http.StatusForbidden, challengeInsufficientScope + `, scope="mcp:tools"` + withMetadata},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := mcpPost(tc.token)
			if resp.StatusCode != tc.status || resp.Header.Get("WWW-Authenticate") != tc.challenge {
				t.Errorf("%d %q\nwant %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), tc.status, tc.challenge)
			}
		})
	}
}

// runMCPClient runs the MCP SDK's client against resource, with the client
// credentials of as, and returns what it reports.
func runMCPClient(t *testing.T, dir, resource string, as *authorizationServer) mcpClientReport {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "client.js", resource, as.clientID, as.clientSecret, as.issuer)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node client.js: %v\n%s", err, stderr.String())
	}
	var got mcpClientReport
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("client.js printed %q: %v", out, err)
	}
	return got
}

// checkMCPClientReport checks what the SDK's client saw: the challenge
// naming the metadata, the metadata naming the issuer, the authorization
// server found from it, and the tool called with the verified client's
// identity.
func checkMCPClientReport(t *testing.T, got mcpClientReport, as *authorizationServer, issuer, resource, metadataURL string) {
	withMetadata := `, resource_metadata="` + metadataURL + `"`
	if got.ProbeStatus != http.StatusUnauthorized || got.ProbeChallenge != challengeMissing+withMetadata {
		t.Errorf("unauthenticated request: %d %q, want 401 %q", got.ProbeStatus, got.ProbeChallenge, challengeMissing+withMetadata)
	}
	if got.ResourceMetadataURL != metadataURL {
		t.Errorf("the SDK read resource_metadata %q, want %q", got.ResourceMetadataURL, metadataURL)
	}
	if got.ResourceMetadata["resource"] != resource {
		t.Errorf("metadata resource = %v, want %s", got.ResourceMetadata["resource"], resource)
	}
	if servers, _ := got.ResourceMetadata["authorization_servers"].([]any); len(servers) != 1 || servers[0] != issuer {
		t.Errorf("metadata authorization_servers = %v, want [%s] (the configured issuer)", got.ResourceMetadata["authorization_servers"], issuer)
	}
	if got.AuthorizationServer["issuer"] != issuer || got.AuthorizationServer["token_endpoint"] != issuer+"/token" {
		t.Errorf("the SDK found authorization server %v, want issuer %s", got.AuthorizationServer, issuer)
	}
	if got.ServerInfo["name"] != "caddy-jwt-test-server" {
		t.Errorf("initialize: server info %v", got.ServerInfo)
	}
	if got.Sum != "42" {
		t.Errorf("tool add(2, 40) = %q, want 42", got.Sum)
	}
	if got.WhoAmI != as.clientID {
		t.Errorf("the MCP server saw X-Client-Id %q, want %q from the verified token", got.WhoAmI, as.clientID)
	}
	if got.TokenHeader["alg"] != "Ed25519" {
		t.Errorf("the SDK's token was signed %v, want Ed25519", got.TokenHeader["alg"])
	}
}
