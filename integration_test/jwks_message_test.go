package integration_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// TestJWKSFetchFailureIsLoggedInOneSentence: a key set that cannot be
// fetched is logged with one sentence that says why (the server is down,
// answered an error status, or sent something that is not a JWK Set),
// not with the JWKS library's wrapping of it twice over ("failed to
// perform first HTTP request for JWK Set: failed to perform HTTP request
// for JWK Set refresh: Get …"), and without repeating the URL that the
// line's jwks field already gives.
func TestJWKSFetchFailureIsLoggedInOneSentence(t *testing.T) {
	t.Parallel()
	requireCaddy(t)
	downPort := freePort(t)
	down := "http://127.0.0.1:" + strconv.Itoa(downPort) + "/jwks.json"
	missing := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(missing.Close)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "<html>login</html>")
	}))
	t.Cleanup(page.Close)

	want := map[string]string{
		down:                       "cannot reach the server: dial tcp 127.0.0.1:" + strconv.Itoa(downPort) + ": connect: connection refused",
		missing.URL + "/jwks.json": "the server answered 404 Not Found, not 200 with a JWK Set",
		page.URL + "/jwks.json":    "the response is not a usable JWK Set: invalid character '<' looking for beginning of value",
	}
	var body strings.Builder
	i := 0
	for u := range want {
		i++
		fmt.Fprintf(&body, "\thandle /%d/* {\n\t\tjwt {\n\t\t\tjwks %s\n\t\t}\n\t\trespond ok\n\t}\n", i, u)
	}
	c := startCaddy(t, caddyfileFor(body.String()))

	entries := waitForLogEntries(t, c, "jwks not loaded: requests that need its keys get 503", len(want))
	got := map[string]string{}
	for _, e := range entries {
		if _, seen := got[e.str("jwks")]; !seen {
			got[e.str("jwks")] = e.str("error")
		}
	}
	for u, msg := range want {
		if got[u] != msg {
			t.Errorf("jwks %s not loaded: error %q, want %q", u, got[u], msg)
		}
	}
}
