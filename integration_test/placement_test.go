package integration_test

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// placementRequest is one request of a placement case and what it gets.
type placementRequest struct {
	path       string
	withToken  bool
	status     int
	body       string // the response body contains it
	toUpstream bool   // the request reaches the upstream
}

// placementCase is one placement of the jwt handler in a site block, with
// the requests that show what it protects.
type placementCase struct {
	name     string
	body     string // the site block's body; UP is the upstream, SITE a directory of two pages
	requests []placementRequest
	warns    bool // the never-reached warning is logged at load
}

// TestWhereJWTIsPlacedDecidesWhatItProtects runs each placement of the
// README's placement guide through the real Caddy, the right ones and the
// wrong ones, and checks what a user would see: which paths answer without
// a token, which need one, and what reaches the upstream. A jwt handler
// that nothing reaches is also warned about when the config loads.
func TestWhereJWTIsPlacedDecidesWhatItProtects(t *testing.T) {
	t.Parallel()
	requireCaddy(t)
	const jwtBlock = "jwt {\n\t\tsecret {env.PLACEMENT_SECRET}\n\t}"
	for _, tc := range []placementCase{
		{
			name: "shortest form: public site, protected /api",
			body: "root * SITE\n\tjwt /api* {\n\t\tsecret {env.PLACEMENT_SECRET}\n\t}\n\treverse_proxy /api* UP\n\tfile_server",
			requests: []placementRequest{
				{path: "/", status: 200, body: "public site"},
				{path: "/docs.html", status: 200, body: "public docs"},
				{path: "/api", status: 401},
				{path: "/api/orders", status: 401},
				{path: "/api/orders", withToken: true, status: 200, body: "upstream ok", toUpstream: true},
			},
		},
		{
			name: "site level: applies before every handle, the public page included",
			body: JWTAtSiteLevel,
			requests: []placementRequest{
				{path: "/public/page", status: 401},
				{path: "/public/page", withToken: true, status: 200, body: "public"},
				{path: "/orders", status: 401},
			},
		},
		{
			name: "site level with a matcher of the paths left public",
			body: "@private not path / /public/*\n\tjwt @private {\n\t\tsecret {env.PLACEMENT_SECRET}\n\t}\n\treverse_proxy UP",
			requests: []placementRequest{
				{path: "/", status: 200, body: "upstream ok", toUpstream: true},
				{path: "/public/page", status: 200, body: "upstream ok", toUpstream: true},
				{path: "/orders", status: 401},
				{path: "/publicity", status: 401},
				{path: "/orders", withToken: true, status: 200, body: "upstream ok", toUpstream: true},
			},
		},
		{
			name: "inside handle",
			body: "handle /api/* {\n\t\t" + indent(jwtBlock) + "\n\t\treverse_proxy UP\n\t}\n\thandle {\n\t\trespond \"public\"\n\t}",
			requests: []placementRequest{
				{path: "/", status: 200, body: "public"},
				{path: "/api/orders", status: 401},
				{path: "/api/orders", withToken: true, status: 200, body: "upstream ok", toUpstream: true},
			},
		},
		{
			name: "inside handle, written after reverse_proxy: handle orders it first",
			body: "handle /api/* {\n\t\treverse_proxy UP\n\t\t" + indent(jwtBlock) + "\n\t}",
			requests: []placementRequest{
				{path: "/api/orders", status: 401},
				{path: "/api/orders", withToken: true, status: 200, toUpstream: true},
			},
		},
		{
			name: "inside route, first",
			body: "route /api/* {\n\t\t" + indent(jwtBlock) + "\n\t\treverse_proxy UP\n\t}",
			requests: []placementRequest{
				{path: "/api/orders", status: 401},
				{path: "/api/orders", withToken: true, status: 200, toUpstream: true},
			},
		},
		{
			name: "inside route, after reverse_proxy: never reached",
			body: "route /api/* {\n\t\treverse_proxy UP\n\t\t" + indent(jwtBlock) + "\n\t}",
			requests: []placementRequest{
				{path: "/api/orders", status: 200, body: "upstream ok", toUpstream: true},
			},
			warns: true,
		},
		{
			name: "handle_errors for the rejections' status codes renders them",
			body: "handle /api/* {\n\t\t" + indent(jwtBlock) + "\n\t\treverse_proxy UP\n\t}\n\thandle_errors 401 403 {\n\t\trespond \"please sign in ({err.status_code})\" {err.status_code}\n\t}",
			requests: []placementRequest{
				{path: "/api/orders", status: 401, body: "please sign in (401)"},
				{path: "/api/orders", withToken: true, status: 200, toUpstream: true},
			},
		},
		{
			name: "handle_errors for every error that proxies: rejected requests reach the upstream",
			body: "handle /api/* {\n\t\t" + indent(jwtBlock) + "\n\t\treverse_proxy UP\n\t}\n\thandle_errors {\n\t\treverse_proxy UP\n\t}",
			requests: []placementRequest{
				{path: "/api/orders", status: 200, body: "upstream ok", toUpstream: true},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkPlacement(t, tc)
		})
	}
}

// checkPlacement runs one placement through a Caddy of its own and checks
// each of its requests and the never-reached warning.
func checkPlacement(t *testing.T, tc placementCase) {
	key := newKey(t, "HS256")
	up := newUpstream(t)
	site := t.TempDir()
	writeFileIn(t, site, "index.html", "public site")
	writeFileIn(t, site, "docs.html", "public docs")
	body := strings.ReplaceAll(tc.body, "UP", up.Addr())
	body = strings.ReplaceAll(body, "SITE", site)
	c := startCaddy(t, caddyfileFor("\t"+body), withEnv("PLACEMENT_SECRET="+key.Secret()))
	token := sign(t, key, validClaims())
	for _, r := range tc.requests {
		var header http.Header
		if r.withToken {
			header = bearer(token)
		}
		before := up.Count()
		resp := get(t, c.URL(r.path), header)
		reached := up.Count() > before
		if resp.StatusCode != r.status || !strings.Contains(resp.Body, r.body) || reached != r.toUpstream {
			t.Errorf("GET %s (token: %v) = %d %q, reached the upstream: %v; want %d %q, upstream: %v",
				r.path, r.withToken, resp.StatusCode, resp.Body, reached, r.status, r.body, r.toUpstream)
		}
		if r.status == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("GET %s: 401 without WWW-Authenticate", r.path)
		}
	}
	warnings := jwtLogEntries(c.Logs(), neverReachedWarning)
	if tc.warns && len(warnings) != 1 {
		t.Errorf("%d never-reached warnings at load, want 1", len(warnings))
	}
	if !tc.warns && len(warnings) != 0 {
		t.Errorf("a reachable jwt was warned about: %v", warnings)
	}
}

const JWTAtSiteLevel = "jwt {\n\t\tsecret {env.PLACEMENT_SECRET}\n\t}\n\thandle /public/* {\n\t\trespond \"public\"\n\t}\n\thandle {\n\t\treverse_proxy UP\n\t}"

const neverReachedWarning = "jwt is never reached: an earlier reverse_proxy in the same route block answers every request, so requests pass without a token check; put jwt first, or use handle instead of route, which orders directives itself"

func writeFileIn(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// indent shifts a block written for the site level one level deeper.
func indent(block string) string { return strings.ReplaceAll(block, "\n", "\n\t") }

// readmeSection is the section of README.md under the heading (a whole
// line, "## " included), up to the next section.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README.md has no %q section", heading)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	return section
}

// TestReadmePlacementGuideBlocksAreValidCaddyfile: every block of the
// README's placement guide adapts, and the wrong `route` placement it
// shows gets, when loaded, the warning the guide quotes.
func TestReadmePlacementGuideBlocksAreValidCaddyfile(t *testing.T) {
	t.Parallel()
	requireCaddy(t)
	section := readmeSection(t, "## Where `jwt` goes")
	if quoted := strings.Join(strings.Fields(neverReachedWarning[:strings.Index(neverReachedWarning, ";")]), " "); !strings.Contains(strings.Join(strings.Fields(section), " "), quoted) {
		t.Errorf("the guide does not quote the warning as it is logged: %q", quoted)
	}
	blocks := regexp.MustCompile("(?s)```caddyfile\n(.*?)```").FindAllStringSubmatch(section, -1)
	if len(blocks) < 7 {
		t.Fatalf("found %d caddyfile blocks in the guide, want at least 7", len(blocks))
	}
	warned := false
	for i, b := range blocks {
		caddyfile := b[1]
		if !strings.HasPrefix(caddyfile, "example.com {") {
			caddyfile = "example.com {\n\t" + indent(strings.TrimSpace(caddyfile)) + "\n}\n"
		}
		caddyfile = "{\n\t{{base}}\n\tauto_https off\n}\n" + caddyfile
		if res := adaptCaddyfile(t, caddyfile); res.ExitCode != 0 {
			t.Errorf("block %d does not adapt: exit %d\n%s\n%s", i+1, res.ExitCode, b[1], lastLines(res.Output(), 3))
		}
		if strings.HasPrefix(b[1], "route ") {
			res := validateCaddyfile(t, caddyfile, withEnv("JWT_SECRET="+newKey(t, "HS256").Secret()))
			warned = warned || strings.Contains(res.Output(), neverReachedWarning)
		}
	}
	if !warned {
		t.Error("loading the guide's route block did not log the never-reached warning")
	}
}
