package integration_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// acceptBrowser is the Accept header Chromium sends on a navigation.
const acceptBrowser = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"

// cookieSiteCaddyfile protects /app/* (a handle_path, so the jwt handler
// sees the path without its prefix) with a cookie-borne token, a login
// redirect and csrf as given, in front of the upstream.
func cookieSiteCaddyfile(t *testing.T, k *testKey, up *upstream, extra string) string {
	t.Helper()
	return caddyfileFor(fmt.Sprintf(`
	handle /login/* {
		respond "login page"
	}
	handle_path /app/* {
		jwt {
			%s
			from cookie session
			from header Authorization
			redirect /login/
			%s
		}
		reverse_proxy %s
	}`, k.keyDirective(t), extra, up.Addr()))
}

func sessionCookie(token string) http.Header {
	return http.Header{"Cookie": {"session=" + token}}
}

func TestBrowserNavigationWithoutValidCookieIsSentToLogin(t *testing.T) {
	k := newKey(t, "ES256")
	up := newUpstream(t)
	c := startCaddy(t, cookieSiteCaddyfile(t, k, up, ""))
	expired := sign(t, k, validClaims("iat", time.Now().Add(-time.Hour).Unix(), "exp", time.Now().Add(-10*time.Minute).Unix()))
	otherKey := sign(t, newKey(t, "ES256"), validClaims())

	for _, tc := range []struct {
		name   string
		cookie string
	}{
		{"no cookie", ""},
		{"expired cookie", expired},
		{"cookie signed by another key", otherKey},
		{"garbage cookie", "not-a-token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Accept": {acceptBrowser}}
			if tc.cookie != "" {
				h.Set("Cookie", "session="+tc.cookie)
			}
			r := get(t, c.URL("/app/reports/2024?q=a%20b&sort=desc"), h)
			if r.StatusCode != http.StatusFound {
				t.Fatalf("status = %d, want 302; body %q", r.StatusCode, r.Body)
			}
			loc, err := url.Parse(r.Header.Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			// The user comes back to what they asked for, with the
			// prefix handle_path removed put back.
			if loc.Path != "/login/" || loc.Query().Get("next") != "/app/reports/2024?q=a%20b&sort=desc" {
				t.Errorf("Location = %q, want /login/ with next=/app/reports/2024?q=a%%20b&sort=desc", loc)
			}
			if r.Header.Get("WWW-Authenticate") != "" {
				t.Errorf("a redirect carried a challenge: %q", r.Header.Get("WWW-Authenticate"))
			}
		})
	}
	if n := up.Count(); n != 0 {
		t.Errorf("%d refused requests reached the upstream", n)
	}

	// And the redirect really leads somewhere: the login page is public.
	if r := get(t, c.URL("/login/?next=%2Fapp%2F"), http.Header{"Accept": {acceptBrowser}}); r.StatusCode != 200 || r.Body != "login page" {
		t.Errorf("login page: %d %q", r.StatusCode, r.Body)
	}
}

func TestBrowserNavigationWithValidCookieReachesTheSite(t *testing.T) {
	k := newKey(t, "ES256")
	up := newUpstream(t)
	c := startCaddy(t, cookieSiteCaddyfile(t, k, up, ""))

	h := sessionCookie(sign(t, k, validClaims()))
	h.Set("Accept", acceptBrowser)
	r := get(t, c.URL("/app/page"), h)
	if r.StatusCode != 200 || r.Body != "upstream ok" {
		t.Fatalf("status %d body %q, want 200 from the upstream", r.StatusCode, r.Body)
	}
	if got := up.Last(t).URI; got != "/page" {
		t.Errorf("upstream got %q, want /page", got)
	}
}

func TestAPIClientsGetChallengeNotRedirect(t *testing.T) {
	k := newKey(t, "ES256")
	up := newUpstream(t)
	c := startCaddy(t, cookieSiteCaddyfile(t, k, up, ""))

	for _, tc := range []struct {
		name   string
		method string
		accept string
	}{
		{"json client", http.MethodGet, "application/json"},
		{"no Accept", http.MethodGet, ""},
		{"curl", http.MethodGet, "*/*"},
		{"form POST from a browser", http.MethodPost, acceptBrowser},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.accept != "" {
				h.Set("Accept", tc.accept)
			}
			r := send(t, tc.method, c.URL("/app/data"), h, nil)
			if r.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401 (Location %q)", r.StatusCode, r.Header.Get("Location"))
			}
			if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer realm=") {
				t.Errorf("WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

// A request for "//evil.example/x" is a path to Caddy, but handed back as
// next it would be a host to the login page's redirect. Go's client cannot
// send such request lines, so these go over a raw connection, to a site
// where everything but the login page is protected.
func TestRedirectIsNeverAnOpenRedirect(t *testing.T) {
	k := newKey(t, "ES256")
	c := startCaddy(t, caddyfileFor(fmt.Sprintf(`
	@protected not path /login/*
	jwt @protected {
		%s
		from cookie session
		redirect /login/
	}
	respond "content"`, k.keyDirective(t))))

	for _, target := range []string{
		"//evil.example/x",
		"///evil.example/x",
		"/\\evil.example/x",
		"/%5Cevil.example/x",
		"/%2F%2Fevil.example/x",
		"/app//evil.example/x",
	} {
		t.Run(target, func(t *testing.T) {
			status, location := rawNavigation(t, c.URL(""), target)
			if status != http.StatusFound {
				t.Fatalf("status = %d, want 302", status)
			}
			loc, err := url.Parse(location)
			if err != nil {
				t.Fatal(err)
			}
			if loc.Host != "" || loc.Path != "/login/" {
				t.Fatalf("Location %q leaves the login page", location)
			}
			next := loc.Query().Get("next")
			if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
				t.Fatalf("next = %q is not a path on this site", next)
			}
			// What a login page that redirects to next as given makes of it.
			back, err := url.Parse("https://site.example/login/")
			if err != nil {
				t.Fatal(err)
			}
			if back, err = back.Parse(next); err != nil || back.Host != "site.example" {
				t.Fatalf("next = %q would leave the site", next)
			}
			t.Logf("next = %q", next)
		})
	}
}

// rawNavigation sends a browser-like GET with the request-target exactly as
// given and returns the status and Location.
func rawNavigation(t *testing.T, base, target string) (int, string) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: %s\r\nConnection: close\r\n\r\n", target, u.Host, acceptBrowser)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer to GET %s: %v", target, err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

func TestCrossOriginPostWithCookieIsRefusedBeforeTheUpstream(t *testing.T) {
	k := newKey(t, "ES256")
	token := sign(t, k, validClaims())
	type site struct {
		up    *upstream
		caddy *caddyProcess
	}
	sites := map[string]site{}

	for _, tc := range []struct {
		name    string
		extra   string            // more jwt subdirectives
		header  map[string]string // browser headers
		cookie  bool              // token in the session cookie, else in Authorization
		want    int
		reached bool
	}{
		{name: "cross-site form POST with cookie", header: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, cookie: true, want: 403},
		{name: "same-site (another port) POST with cookie", header: map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:1"}, cookie: true, want: 403},
		{name: "older browser: Origin only, foreign", header: map[string]string{"Origin": "https://evil.example"}, cookie: true, want: 403},
		{name: "same-origin POST with cookie", header: map[string]string{"Sec-Fetch-Site": "same-origin"}, cookie: true, want: 200, reached: true},
		{name: "non-browser POST with cookie", cookie: true, want: 200, reached: true},
		{name: "cross-site POST with bearer header", header: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, want: 200, reached: true},
		{name: "csrf off", extra: "csrf off", header: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, cookie: true, want: 200, reached: true},
		{name: "trusted origin", extra: "trusted_origin https://app.example", header: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://app.example"}, cookie: true, want: 200, reached: true},
		{name: "another origin than the trusted one", extra: "trusted_origin https://app.example", header: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, cookie: true, want: 403},
	} {
		// One Caddy per distinct config, started on the parent test so it
		// outlives the subtests.
		s, ok := sites[tc.extra]
		if !ok {
			s.up = newUpstream(t)
			s.caddy = startCaddy(t, cookieSiteCaddyfile(t, k, s.up, tc.extra))
			sites[tc.extra] = s
		}
		t.Run(tc.name, func(t *testing.T) {
			c, before := s.caddy, s.up.Count()
			h := http.Header{"Accept": {acceptBrowser}, "Content-Type": {"application/x-www-form-urlencoded"}}
			for name, v := range tc.header {
				h.Set(name, v)
			}
			if tc.cookie {
				h.Set("Cookie", "session="+token)
			} else {
				h.Set("Authorization", "Bearer "+token)
			}
			r := send(t, http.MethodPost, c.URL("/app/transfer"), h, strings.NewReader("to=mallory&amount=1000"))
			if r.StatusCode != tc.want {
				t.Fatalf("status = %d, want %d", r.StatusCode, tc.want)
			}
			if r.StatusCode == http.StatusForbidden && r.Header.Get("WWW-Authenticate") != "" {
				t.Errorf("csrf refusal carried a challenge: %q", r.Header.Get("WWW-Authenticate"))
			}
			if reached := s.up.Count() > before; reached != tc.reached {
				t.Errorf("upstream reached = %v, want %v", reached, tc.reached)
			}
		})
	}
}

func TestUnsafeBrowserConfigsAreRefused(t *testing.T) {
	for _, tc := range []struct {
		name, directive, says string
	}{
		{"javascript redirect", "redirect javascript:alert(1)", "redirect"},
		{"relative redirect", "redirect login", "redirect"},
		{"trusted origin with a path", "trusted_origin https://app.example/x", "trusted_origin"},
		{"trusted origin with csrf off", "csrf off\n\t\ttrusted_origin https://app.example", "trusted_origin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newKey(t, "HS256")
			res := runCaddyExpectFailure(t, caddyfileFor(fmt.Sprintf("jwt {\n\t\t%s\n\t\tfrom cookie session\n\t\t%s\n\t}\n\trespond ok", k.keyDirective(t), tc.directive)))
			if !strings.Contains(res.Output(), tc.says) {
				t.Errorf("the error does not name %s:\n%s", tc.says, res.Output())
			}
		})
	}
}

// The example in examples/static-site, its Caddyfile and pages unchanged,
// served by the real binary: what its README promises is what happens.
func TestStaticSiteExampleProtectsPagesAndServesLogin(t *testing.T) {
	k := newKey(t, "EdDSA")
	site := startStaticSiteExample(t, k)

	browser := http.Header{"Accept": {acceptBrowser}}
	r := get(t, site+"/docs/", browser)
	if r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/login/?next=%2Fdocs%2F" {
		t.Fatalf("navigation without cookie: %d Location %q, want 302 to /login/?next=%%2Fdocs%%2F", r.StatusCode, r.Header.Get("Location"))
	}
	if r := get(t, site+"/docs/", nil); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("API client without cookie: %d, want 401", r.StatusCode)
	}
	if r := get(t, site+"/login/?next=%2Fdocs%2F", browser); r.StatusCode != 200 || !strings.Contains(r.Body, "DEMO ONLY") {
		t.Errorf("login page: %d, want 200 with the demo warning", r.StatusCode)
	}

	token := sign(t, k, validClaims("sub", "alice"))
	withCookie := sessionCookie(token)
	withCookie.Set("Accept", acceptBrowser)
	if r := get(t, site+"/docs/", withCookie); r.StatusCode != 200 || !strings.Contains(r.Body, "Members' documents") {
		t.Errorf("navigation with cookie: %d, want 200 with the page", r.StatusCode)
	}

	crossSite := sessionCookie(token)
	crossSite.Set("Sec-Fetch-Site", "cross-site")
	crossSite.Set("Origin", "https://evil.example")
	if r := send(t, http.MethodPost, site+"/logout", crossSite, nil); r.StatusCode != http.StatusForbidden || r.Header.Get("Set-Cookie") != "" {
		t.Errorf("cross-site logout: %d Set-Cookie %q, want 403 and the cookie kept", r.StatusCode, r.Header.Get("Set-Cookie"))
	}
	sameOrigin := sessionCookie(token)
	sameOrigin.Set("Sec-Fetch-Site", "same-origin")
	r = send(t, http.MethodPost, site+"/logout", sameOrigin, nil)
	if r.StatusCode != http.StatusSeeOther || !strings.Contains(r.Header.Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("logout: %d Set-Cookie %q, want 303 clearing the cookie", r.StatusCode, r.Header.Get("Set-Cookie"))
	}
}

// startStaticSiteExample runs examples/static-site's Caddyfile on the
// test's ports (exampleOnTestPorts) from a copy of the example's directory,
// with k's public key where the Caddyfile expects it, and returns the
// site's base URL.
func startStaticSiteExample(t *testing.T, k *testKey) string {
	t.Helper()
	requireCaddy(t)
	dir := filepath.Join(t.TempDir(), "static-site")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(repoRoot, "examples", "static-site"))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "public.pem"), k.PublicPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	c := startCaddy(t, exampleOnTestPorts(t, "static-site", "http://localhost:8082"), inDir(dir))
	return strings.TrimSuffix(c.URL(""), "/")
}

// The README's "Protecting a website" promises the exact Caddyfile of the
// example that the tests above run.
func TestReadmeShowsTheStaticSiteExampleCaddyfile(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join(repoRoot, "examples", "static-site", "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	// The site block: from its address line to the end of the file.
	start := strings.Index(string(example), "http://localhost:8082 {")
	if start < 0 {
		t.Fatal("examples/static-site/Caddyfile has no http://localhost:8082 site block")
	}
	block := string(example[start:])
	if !strings.Contains(string(readme), "```caddyfile\n"+block+"```") {
		t.Errorf("README.md does not show examples/static-site/Caddyfile's site block as it is:\n%s", block)
	}
}
