package integration_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// chromiumPath is where Debian's chromium package installs the browser
// (scripts/install-test-deps.sh installs it).
const chromiumPath = "/usr/bin/chromium"

// browserStepTimeout bounds each browser action: a hung page fails the test
// instead of stalling the run, while a page that a CPU-starved Chromium
// renders slowly still passes.
const browserStepTimeout = 60 * time.Second

// requireChromium skips the test when Chromium is not installed, except in
// CI, where a missing browser would silently drop the end-to-end test.
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		msg := fmt.Sprintf("chromium not found at %s (%v): install Debian's chromium package, or run scripts/install-test-deps.sh, to run the browser tests", chromiumPath, err)
		if inCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// newBrowser starts a headless Chromium with a fresh profile and returns
// the context of its first tab; everything stops when the test ends.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	requireChromium(t)
	profile, browserTemp := t.TempDir(), t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox, // root in containers and CI is refused otherwise
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1024, 640),
		// The crash reporter writes under $XDG_CONFIG_HOME, and Chromium
		// makes an org.chromium.Chromium.* directory under $TMPDIR that
		// it leaves behind when it is stopped: keep both in the test's
		// own directories.
		chromedp.Env("XDG_CONFIG_HOME="+filepath.Join(profile, "config"), "XDG_CACHE_HOME="+filepath.Join(profile, "cache"), "TMPDIR="+browserTemp),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)

	startTarget(t, ctx, "starting chromium")
	// Chromium makes its singleton socket's directory before it takes
	// connections: it is in the test's TMPDIR, so none is left in /tmp.
	if dirs, _ := filepath.Glob(filepath.Join(browserTemp, "org.chromium.Chromium.*")); len(dirs) == 0 {
		t.Errorf("chromium made no org.chromium.Chromium.* directory in its TMPDIR %s: it writes it elsewhere (in /tmp, where it stays)", browserTemp)
	}
	return ctx
}

// startTarget makes the first Run on a chromedp context, which starts the
// browser or opens the tab. That Run binds the tab's life to its context,
// so it cannot have a timeout of its own; a watchdog bounds it instead.
func startTarget(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(60 * time.Second):
		chromedp.Cancel(ctx)
		t.Fatalf("%s: not done within 60s", what)
	}
}

// step runs browser actions with a deadline.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, browserStepTimeout)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// pageState is what the user sees: the address bar and the page's text.
type pageState struct {
	URL  string `json:"url"`
	Text string `json:"text"`
}

// waitForPage polls, with a deadline, until the tab shows a page whose path
// is path and whose text contains text. Polling from Go rather than inside
// the page survives the navigation that is still settling (reading right after a navigation fails with "No node with given id").
func waitForPage(t *testing.T, ctx context.Context, path, text string) pageState {
	t.Helper()
	deadline := time.Now().Add(browserStepTimeout)
	var last pageState
	var lastErr error
	for {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := chromedp.Run(sctx, chromedp.Evaluate[pageState](
			`({url: location.href, text: document.body ? document.body.innerText : ""})`))
		cancel()
		if err == nil {
			last = st
			if u, perr := url.Parse(st.URL); perr == nil && u.Path == path && strings.Contains(st.Text, text) {
				return st
			}
		} else {
			lastErr = err
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page did not become %s with %q within %v; last seen %q with text %q (last error: %v)",
				path, text, browserStepTimeout, last.URL, last.Text, lastErr)
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not a wait for an event
	}
}

// setCookie stores a cookie in the browser as a careless login service's
// Set-Cookie would: HttpOnly and Secure, but SameSite=None, so that the
// browser attaches it to cross-site requests too. The CSRF check must hold
// without SameSite's help; and unlike a cookie without SameSite (which
// Chrome sends cross-site only in its first two minutes after it is set), this
// does not depend on how fast the test runs. Chromium treats http on
// loopback as secure, so Secure cookies work there.
func setCookie(t *testing.T, ctx context.Context, siteURL, name, value string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, browserStepTimeout)
	defer cancel()
	yes := true
	if _, err := chromedp.Call(sctx, network.SetCookie, network.SetCookieParams{
		Name: name, Value: value, URL: siteURL, Path: "/",
		HTTPOnly: &yes, Secure: &yes, SameSite: network.CookieSameSiteNone,
	}); err != nil {
		t.Fatalf("setting the %s cookie: %v", name, err)
	}
}

// TestChromium runs the browser flows in one headless Chromium, each in a
// fresh browser context (its own cookies), against the real Caddy binary.
func TestChromium(t *testing.T) {
	browser := newBrowser(t)
	for _, tc := range []struct {
		name string
		run  func(*testing.T, context.Context)
	}{
		{"login redirect, cookie and CSRF", chromiumLoginRedirectCookieAndCSRF},
		{"static-site example demo login", chromiumStaticSiteExampleDemoLogin},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
			t.Cleanup(cancel)
			startTarget(t, ctx, "opening a tab")
			tc.run(t, ctx)
		})
	}
}

// A site whose members area needs a token in an HttpOnly cookie, a public
// login page, an upstream API behind the members area, and an attacker's
// page on another site that posts a form to that API.
func chromiumLoginRedirectCookieAndCSRF(t *testing.T, ctx context.Context) {
	k := newKey(t, "ES256")
	up := newUpstream(t)
	c := startMembersSite(t, k, up)
	site := c.URL("/")

	// 1. No cookie: the navigation ends on the login page, which learns
	// where the user wanted to go.
	step(t, ctx, "opening the members area without a cookie", chromedp.Navigate(c.URL("/members/report?year=2024&q=a%20b")))
	st := waitForPage(t, ctx, "/login/", "Please log in")
	if next := queryParam(t, st.URL, "next"); next != "/members/report?year=2024&q=a%20b" {
		t.Errorf("login page got next=%q, want /members/report?year=2024&q=a%%20b", next)
	}

	// 2. A valid cookie: the protected page renders, with the verified user.
	setCookie(t, ctx, site, "session", sign(t, k, validClaims("sub", "alice")))
	step(t, ctx, "opening the members area with a valid cookie", chromedp.Navigate(c.URL("/members/")))
	st = waitForPage(t, ctx, "/members/", "Members area")
	if !strings.Contains(st.Text, "Signed in as alice") {
		t.Errorf("the members page does not name the verified user: %q", st.Text)
	}
	saveScreenshot(t, ctx, "members-area.png")

	// 3. A same-origin fetch POST from the page carries the cookie and
	// passes the CSRF check.
	checkSameOriginPost(t, ctx, up)

	// 4. A page on another site submits a form to the API; the browser
	// attaches the cookie, and the request is refused before the upstream.
	checkCrossSiteFormRefused(t, ctx, c, up)

	// 5. An expired cookie: back to the login page.
	setCookie(t, ctx, site, "session", sign(t, k, validClaims(
		"iat", time.Now().Add(-time.Hour).Unix(), "exp", time.Now().Add(-5*time.Minute).Unix())))
	step(t, ctx, "opening the members area with an expired cookie", chromedp.Navigate(c.URL("/members/")))
	st = waitForPage(t, ctx, "/login/", "Please log in")
	if next := queryParam(t, st.URL, "next"); next != "/members/" {
		t.Errorf("login page got next=%q, want /members/", next)
	}
}

// startMembersSite starts the site of chromiumLoginRedirectCookieAndCSRF:
// a public login page, and a members area behind a jwt cookie with an API
// proxied to up.
func startMembersSite(t *testing.T, k *testKey, up *upstream) *caddyProcess {
	return startCaddy(t, caddyfileFor(fmt.Sprintf(`
	handle /login/* {
		header Content-Type "text/html; charset=utf-8"
		respond "<!doctype html><title>Log in</title><h1>Please log in</h1>" 200
	}
	handle {
		jwt {
			%s
			from cookie session
			redirect /login/
		}
		handle /members/api/* {
			reverse_proxy %s
		}
		handle {
			header Content-Type "text/html; charset=utf-8"
			respond `+"`"+`<!doctype html><title>Members</title>
<body style="font-family: sans-serif; margin: 2em">
<h1>Members area</h1>
<p>Signed in as <b>{http.auth.user.id}</b> through an HttpOnly cookie verified by caddy-jwt.</p>
</body>`+"`"+` 200
		}
	}
	handle_errors {
		respond "refused {err.status_code}" {err.status_code}
	}`, k.keyDirective(t), up.Addr())))
}

// saveScreenshot saves what the tab shows to a file of the test's temporary
// directory, and logs where.
func saveScreenshot(t *testing.T, ctx context.Context, name string) {
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	shotPath := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(shotPath, shot, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the protected page: %s", shotPath)
}

// checkSameOriginPost sends a fetch POST from the members page: it carries
// the cookie, passes the CSRF check and reaches the upstream.
func checkSameOriginPost(t *testing.T, ctx context.Context, up *upstream) {
	sctx, cancel := context.WithTimeout(ctx, browserStepTimeout)
	got, err := chromedp.Run(sctx, chromedp.Evaluate[string](
		`fetch("/members/api/notes", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({note: "hello"})})
			.then(async r => r.status + " " + await r.text())`,
		chromedp.EvalAwaitPromise))
	cancel()
	if err != nil {
		t.Fatalf("same-origin fetch: %v", err)
	}
	if got != "200 upstream ok" {
		t.Fatalf("same-origin fetch POST got %q, want 200 from the upstream", got)
	}
	if r := up.Last(t); r.Method != http.MethodPost || r.URI != "/members/api/notes" || string(r.Body) != `{"note":"hello"}` ||
		r.Header.Get("Sec-Fetch-Site") != "same-origin" {
		t.Errorf("upstream got %s %s %q with Sec-Fetch-Site %q", r.Method, r.URI, r.Body, r.Header.Get("Sec-Fetch-Site"))
	}
}

// checkCrossSiteFormRefused opens a page on another site that submits a
// form to the members API: the browser attaches the cookie, and the request
// is refused with 403 before the upstream, the reason logged.
func checkCrossSiteFormRefused(t *testing.T, ctx context.Context, c *caddyProcess, up *upstream) {
	site := c.URL("/")
	attacker := newAttackerSite(t, c.URL("/members/api/transfer"))
	reached := up.Count()
	step(t, ctx, "opening the attacker's page", chromedp.Navigate(attacker))
	waitForPage(t, ctx, "/", "Win a prize")
	sctx, cancel := context.WithTimeout(ctx, browserStepTimeout)
	_, err := chromedp.Run(sctx, chromedp.WaitEvent(page.FrameNavigated,
		func(ev page.EventFrameNavigated) bool {
			return ev.Frame.ParentID == "" && strings.HasPrefix(ev.Frame.URL, site)
		},
		chromedp.Evaluate[chromedp.Void](`document.getElementById("prize").submit()`)))
	cancel()
	if err != nil {
		t.Fatalf("submitting the attacker's form: %v", err)
	}
	// 403, not 401: the cookie was sent and the CSRF check refused it.
	waitForPage(t, ctx, "/members/api/transfer", "refused 403")
	if n := up.Count() - reached; n != 0 {
		t.Errorf("the cross-site form POST reached the upstream %d times", n)
	}
	// The refusal is logged with its reason.
	waitForLog(t, c, "cross-origin request refused")
}

// newAttackerSite serves a page with a form that posts to target, on
// "localhost" so that it is another site than 127.0.0.1 (ports alone do not
// make another site), and returns its URL.
func newAttackerSite(t *testing.T, target string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><title>Prize</title><h1>Win a prize</h1>
<form id="prize" method="POST" action="`+target+`">
<input type="hidden" name="to" value="mallory"><input type="hidden" name="amount" value="1000">
<button>Claim</button></form>`)
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if u.Hostname() != "127.0.0.1" {
		t.Fatalf("test server on %s, want 127.0.0.1", u.Host)
	}
	return "http://localhost:" + u.Port() + "/"
}

func queryParam(t *testing.T, rawURL, name string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("%q: %v", rawURL, err)
	}
	return u.Query().Get(name)
}

// The static-site example's documented demo path, in a browser: a
// protected page sends the user to the login page, the pasted token becomes
// the cookie, and the user is back on the page they asked for.
func chromiumStaticSiteExampleDemoLogin(t *testing.T, ctx context.Context) {
	k := newKey(t, "EdDSA")
	site := startStaticSiteExample(t, k)

	step(t, ctx, "opening a protected page of the example", chromedp.Navigate(site+"/docs/"))
	st := waitForPage(t, ctx, "/login/", "DEMO ONLY")
	if next := queryParam(t, st.URL, "next"); next != "/docs/" {
		t.Fatalf("login page got next=%q, want /docs/", next)
	}

	step(t, ctx, "pasting the token",
		chromedp.SetValue(chromedp.ID("token"), sign(t, k, validClaims("sub", "alice"))))
	sctx, cancel := context.WithTimeout(ctx, browserStepTimeout)
	_, err := chromedp.Run(sctx, chromedp.WaitEvent(page.FrameNavigated,
		func(ev page.EventFrameNavigated) bool {
			return ev.Frame.ParentID == "" && strings.HasSuffix(ev.Frame.URL, "/docs/")
		},
		chromedp.Click(chromedp.CSS("#demo-login button"))))
	cancel()
	if err != nil {
		t.Fatalf("logging in: %v", err)
	}
	waitForPage(t, ctx, "/docs/", "Members' documents")
}
