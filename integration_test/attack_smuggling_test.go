package integration_test

// Tokens and claims smuggled past the reader or the upstream: a query pair
// after a semicolon, a cookie name with spaces, a header spelled with
// underscores, and the warning for query tokens left in place.

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestQueryTokenSmuggledAfterSemicolon: Go's query parser skips a pair
// with a semicolon, but upstreams such as Rack split on ";" too. A second
// token hidden that way must make the request ambiguous (400), or the
// upstream could read an unverified token beside the verified one.
func TestQueryTokenSmuggledAfterSemicolon(t *testing.T) {
	requireCaddy(t)
	up := newUpstream(t)
	key := newKey(t, "HS256")
	good := sign(t, key, validClaims())
	forged := sign(t, newKey(t, "HS256"), validClaims("sub", "admin"))
	c := startCaddy(t, caddyfileFor(jwtRoute("/*", key.keyDirective(t)+"\nfrom query access_token", "reverse_proxy "+up.Addr())))

	check(t, c, up, http.MethodGet, "/?access_token="+good, nil, accepted)
	check(t, c, up, http.MethodGet, "/?access_token="+good+"&x=1;access_token="+forged, nil, expectation{http.StatusBadRequest, challengeInvalidRequest})
	check(t, c, up, http.MethodGet, "/?access_token="+good+";access_token="+forged, nil, expectation{http.StatusBadRequest, challengeInvalidRequest})
	check(t, c, up, http.MethodGet, "/?access_token=%zz&access_token="+good, nil, expectation{http.StatusUnauthorized, invalidToken(descMalformed)})
	// The same token twice, or other parameters with semicolons, are fine.
	check(t, c, up, http.MethodGet, "/?access_token="+good+";access_token="+good, nil, accepted)
	check(t, c, up, http.MethodGet, "/?a=1;b=2&access_token="+good, nil, accepted)
}

// TestCookieTokenSmuggledWithSpaces: common cookie parsers (Node's
// `cookie`, used by Express) trim spaces around names and values and keep
// the first of two cookies, so `session =forged; session=good` carries two
// tokens to them. The jwt handler must read it the same way: ambiguous, 400.
// A space after "=" is kept by PHP, which would read " forged", and a
// quoted value keeps its quotes there: both are malformed, 401.
func TestCookieTokenSmuggledWithSpaces(t *testing.T) {
	requireCaddy(t)
	up := newUpstream(t)
	key := newKey(t, "HS256")
	good := sign(t, key, validClaims())
	forged := sign(t, newKey(t, "HS256"), validClaims("sub", "admin"))
	c := startCaddy(t, caddyfileFor(jwtRoute("/*", key.keyDirective(t)+"\nfrom cookie session", "reverse_proxy "+up.Addr())))

	cookie := func(v string) http.Header { return http.Header{"Cookie": {v}} }
	check(t, c, up, http.MethodGet, "/", cookie("session="+good), accepted)
	check(t, c, up, http.MethodGet, "/", cookie(`session="`+good+`"`), expectation{http.StatusUnauthorized, invalidToken(descMalformed)})
	check(t, c, up, http.MethodGet, "/", cookie("session ="+forged+"; session="+good), expectation{http.StatusBadRequest, challengeInvalidRequest})
	check(t, c, up, http.MethodGet, "/", cookie("session= "+forged+" ;session="+good), expectation{http.StatusUnauthorized, invalidToken(descMalformed)})
	check(t, c, up, http.MethodGet, "/", cookie("a=1; session ="+good+"; session="+good), accepted)
}

// rawGet sends a GET with one extra header line over a fresh connection,
// for requests net/http's client would refuse to send, and returns the
// status Caddy answered with. An error means Caddy closed the connection
// without an answer.
func rawGet(rawURL, headerLine string) (int, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0, err
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	go func() {
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\nConnection: close\r\n\r\n", u.RequestURI(), u.Host, headerLine)
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestQueryTokenWithoutStripTokenWarns: reading tokens from the query
// string is allowed, but Caddy says at load that they end up in logs, and
// that without strip_token the upstream gets the token in its URL.
func TestQueryTokenWithoutStripTokenWarns(t *testing.T) {
	requireCaddy(t)
	key := newKey(t, "HS256")
	const stripWarning = "from query without strip_token passes the token on to the upstream"
	res := validateCaddyfile(t, caddyfileFor(jwtRoute("/*", key.keyDirective(t)+"\nfrom query access_token", "respond ok")))
	if res.ExitCode != 0 {
		t.Fatalf("caddy validate failed:\n%s", res.Output())
	}
	for _, want := range []string{"tokens read from the query string end up in access logs", stripWarning} {
		if !strings.Contains(res.Output(), want) {
			t.Errorf("no warning %q in:\n%s", want, lastLines(res.Output(), 10))
		}
	}
	res = validateCaddyfile(t, caddyfileFor(jwtRoute("/*", key.keyDirective(t)+"\nfrom query access_token\nstrip_token", "respond ok")))
	if res.ExitCode != 0 {
		t.Fatalf("caddy validate failed:\n%s", res.Output())
	}
	if strings.Contains(res.Output(), stripWarning) {
		t.Errorf("warned about strip_token although it is on:\n%s", lastLines(res.Output(), 10))
	}
	if strings.Contains(res.Output(), key.Secret()) {
		t.Error("the secret appears in caddy validate's output")
	}
}

// TestClaimHeaderSpoofedWithUnderscores: CGI and FastCGI (Caddy's own
// php_fastcgi included) turn both X-User-Id and X-User_Id into
// HTTP_X_USER_ID, so a client's X-User_Id is as much a forged claim header
// as its X-User-Id. Caddy itself drops underscore headers (GHSA-f59h-q822-g45g)
// and the jwt handler removes the other spellings: none may reach the
// upstream, with or without a token.
func TestClaimHeaderSpoofedWithUnderscores(t *testing.T) {
	requireCaddy(t)
	up := newUpstream(t)
	key := newKey(t, "HS256")
	c := startCaddy(t, caddyfileFor(jwtRoute("/*", key.keyDirective(t)+"\nclaim_header sub X-User-Id\noptional", "reverse_proxy "+up.Addr())))

	spoofed := http.Header{"X-User_Id": {"admin"}, "x_user_id": {"admin"}, "X-USER-ID": {"admin"}}
	withToken := http.Header{"Authorization": {"Bearer " + sign(t, key, validClaims())}}
	for k, v := range spoofed {
		withToken[k] = v
	}
	for name, header := range map[string]http.Header{"anonymous": spoofed, "with a valid token": withToken} {
		t.Run(name, func(t *testing.T) {
			check(t, c, up, http.MethodGet, "/", header, accepted)
			for k, vs := range up.Last(t).Header {
				if strings.EqualFold(strings.ReplaceAll(k, "_", "-"), "X-User-Id") && (len(vs) != 1 || vs[0] != "user-42") {
					t.Errorf("upstream got %s: %q", k, vs)
				}
			}
		})
	}
}
