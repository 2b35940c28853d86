package integration_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// These tests check what an accepted request carries onward (claim
// headers, placeholders, the user ID, the token or its absence) and that a
// client can never forge any of it.

func TestClaimHeadersReachTheUpstream(t *testing.T) {
	requireCaddy(t)
	up := newUpstream(t)
	k := newKey(t, "HS256")
	c := startCaddy(t, caddyfileFor(jwtRoute("/*", "secret "+k.Secret()+`
claim_header sub X-User-Id
claim_header level X-Level
claim_header ratio X-Ratio
claim_header big X-Big
claim_header admin X-Admin
claim_header roles X-Roles
claim_header org X-Org
claim_header org.name X-Org-Name
claim_header https://example.com/tenant X-Tenant
claim_header missing X-Missing
claim_header evil X-Evil`, "reverse_proxy "+up.Addr())))

	// The payload is hand-written JSON so that numbers reach Caddy exactly
	// as an issuer wrote them.
	payload := `{"sub":"user-42","exp":` + validExp() + `,"level":3,"ratio":1.5,"big":12345678901234567890,` +
		`"admin":true,"roles":["a","b"],"org":{"name":"acme","id":7},` +
		`"https://example.com/tenant":"t1","evil":"x\r\nX-Injected: 1"}`
	tok := resign(t, k, segment(t, `{"alg":"HS256","typ":"JWT"}`)+"."+segment(t, payload))

	spoofed := bearer(tok)
	for _, h := range []string{"X-User-Id", "X-Level", "X-Roles", "X-Missing", "X-Evil", "X-Org-Name"} {
		spoofed.Add(h, "spoofed")
	}
	check(t, c, up, http.MethodGet, "/x", spoofed, accepted)
	got := up.Last(t).Header

	want := map[string]string{
		"X-User-Id":  "user-42",
		"X-Level":    "3",
		"X-Ratio":    "1.5",
		"X-Big":      "12345678901234567890",
		"X-Admin":    "true",
		"X-Roles":    "a,b",
		"X-Org-Name": "acme",
		"X-Tenant":   "t1",
	}
	for h, v := range want {
		if vs := got.Values(h); len(vs) != 1 || vs[0] != v {
			t.Errorf("%s = %q, want [%q]", h, vs, v)
		}
	}
	var org map[string]any
	if err := json.Unmarshal([]byte(got.Get("X-Org")), &org); err != nil || org["name"] != "acme" || org["id"] != 7.0 {
		t.Errorf("X-Org = %q, want the object as JSON", got.Get("X-Org"))
	}
	if strings.ContainsAny(got.Get("X-Org"), " \n") {
		t.Errorf("X-Org = %q, want compact JSON", got.Get("X-Org"))
	}
	// A claim that is absent removes the spoofed header and sets nothing;
	// one with control characters is not sent at all.
	for _, h := range []string{"X-Missing", "X-Evil", "X-Injected"} {
		if vs := got.Values(h); len(vs) != 0 {
			t.Errorf("%s = %q, want absent", h, vs)
		}
	}
	waitFor(t, "a log line about the unsafe claim", func() bool {
		return strings.Contains(c.Logs(), "control characters") && strings.Contains(c.Logs(), `"header":"X-Evil"`)
	})
}

// TestSpoofedClaimHeadersAreRemovedOnEveryRequest: anonymous requests and
// rejected ones (which handle_errors here proxies to the upstream, as an
// error page service would get them) never carry the client's copy.
func TestSpoofedClaimHeadersAreRemovedOnEveryRequest(t *testing.T) {
	requireCaddy(t)
	up := newUpstream(t)
	k := newKey(t, "HS256")
	proxy := "reverse_proxy " + up.Addr()
	c := startCaddy(t, caddyfileFor(
		jwtRoute("/optional/*", "secret "+k.Secret()+"\nclaim_header sub X-User-Id\nclaim_header role X-Role\noptional", proxy)+
			jwtRoute("/strict/*", "secret "+k.Secret()+"\nclaim_header sub X-User-Id\nclaim_header role X-Role", proxy)+
			"\thandle_errors {\n\t\treverse_proxy "+up.Addr()+"\n\t}\n"))

	spoof := func(h http.Header) http.Header {
		if h == nil {
			h = http.Header{}
		}
		h.Add("X-User-Id", "admin")
		h.Add("x-user-id", "admin2")
		h.Add("X-Role", "superuser")
		// CGI, FastCGI (php_fastcgi) and WSGI upstreams read X_User_Id,
		// X.User.Id and X-User-Id as the same HTTP_X_USER_ID variable.
		// Caddy itself drops such spellings (GHSA-f59h-q822-g45g); this
		// keeps the guarantee checked end to end.
		h["X_User_Id"] = []string{"admin3"}
		h["X.User.Id"] = []string{"admin4"}
		h["x_ROLE"] = []string{"superuser2"}
		return h
	}
	cases := []struct {
		name   string
		path   string
		header http.Header
		status int
		user   string // X-User-Id the upstream must see, "" for none
	}{
		{"accepted", "/strict/", bearer(sign(t, k, validClaims())), http.StatusOK, "user-42"},
		{"anonymous", "/optional/", nil, http.StatusOK, ""},
		{"rejected: no token", "/strict/", nil, http.StatusUnauthorized, ""},
		{"rejected: bad token", "/strict/", bearer(sign(t, newKey(t, "HS256"), validClaims())), http.StatusUnauthorized, ""},
		{"rejected: bad token in optional mode", "/optional/", bearer("garbage"), http.StatusUnauthorized, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := up.Count()
			// For rejected requests, the handle_errors proxy answers with
			// the upstream's status, so only the passing ones are checked.
			resp := send(t, http.MethodGet, c.URL(tc.path), spoof(tc.header), nil)
			if tc.status == http.StatusOK && resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200", resp.StatusCode)
			}
			if up.Count() != before+1 {
				t.Fatalf("upstream reached %d times, want once", up.Count()-before)
			}
			got := up.Last(t).Header
			if vs := got.Values("X-User-Id"); tc.user == "" && len(vs) != 0 || tc.user != "" && (len(vs) != 1 || vs[0] != tc.user) {
				t.Errorf("X-User-Id = %q, want %q", vs, tc.user)
			}
			if vs := got.Values("X-Role"); len(vs) != 0 {
				t.Errorf("X-Role = %q, want absent", vs)
			}
			for name, vs := range got {
				if n := strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(name)); (n == "x-user-id" || n == "x-role") && name != "X-User-Id" {
					t.Errorf("upstream got the spoofed %s: %q", name, vs)
				}
			}
		})
	}
}

// validExp is an exp five minutes from now, as JSON text.
func validExp() string {
	return strconv.FormatInt(time.Now().Add(5*time.Minute).Unix(), 10)
}

func TestPlaceholders(t *testing.T) {
	requireCaddy(t)
	up := newUpstream(t)
	k := newKey(t, "HS256")
	key := "secret " + k.Secret()
	respond := `respond "user={http.auth.user.id} role={http.auth.jwt.role} org={http.auth.jwt.org.name} roles={http.auth.jwt.roles} level={http.auth.jwt.level} tenant={http.auth.jwt.https://example.com/tenant} none={http.auth.jwt.missing}"`
	c := startCaddy(t, caddyfileFor(
		jwtRoute("/respond/*", key, respond)+
			jwtRoute("/email/*", key+"\nuser_claim email", `respond "user={http.auth.user.id}"`)+
			jwtRoute("/nested-user/*", key+"\nuser_claim profile.login", `respond "user={http.auth.user.id}"`)+
			jwtRoute("/proxy/*", key, "reverse_proxy "+up.Addr()+" {\n\t\t\theader_up X-Email {http.auth.jwt.email}\n\t\t\theader_up X-Sub {http.auth.user.id}\n\t\t\theader_up X-Phone {http.auth.jwt.phone}\n\t\t}")+
			jwtRoute("/optional/*", key+"\noptional", `respond "sub={http.auth.jwt.sub} user={http.auth.user.id}"`)+
			"\trespond 404\n",
		"log {\n\t\toutput stderr\n\t\tformat json\n\t}"))

	tok := sign(t, k, validClaims(
		"role", "admin", "org", map[string]any{"name": "acme"}, "roles", []string{"a", "b"},
		"level", 3, "https://example.com/tenant", "t1", "email", "ada@example.com",
		"profile", map[string]any{"login": "ada"}))

	cases := []struct{ path, want string }{
		{"/respond/", "user=user-42 role=admin org=acme roles=a,b level=3 tenant=t1 none="},
		{"/email/", "user=ada@example.com"},
		{"/nested-user/", "user=ada"},
	}
	for _, tc := range cases {
		resp := get(t, c.URL(tc.path), bearer(tok))
		if resp.StatusCode != http.StatusOK || resp.Body != tc.want {
			t.Errorf("GET %s = %d %q, want 200 %q", tc.path, resp.StatusCode, resp.Body, tc.want)
		}
	}

	check(t, c, up, http.MethodGet, "/proxy/", bearer(tok), accepted)
	if got := up.Last(t).Header; got.Get("X-Email") != "ada@example.com" || got.Get("X-Sub") != "user-42" {
		t.Errorf("upstream got X-Email %q, X-Sub %q", got.Get("X-Email"), got.Get("X-Sub"))
	}
	// An absent claim is empty, never the placeholder's own text.
	if got := up.Last(t).Header.Get("X-Phone"); got != "" {
		t.Errorf("upstream got X-Phone %q for an absent claim, want empty", got)
	}
	if resp := get(t, c.URL("/optional/"), nil); resp.StatusCode != http.StatusOK || resp.Body != "sub= user=" {
		t.Errorf("anonymous request: %d %q, want 200 %q", resp.StatusCode, resp.Body, "sub= user=")
	}
}

// TestAccessLogShowsTheUser: {http.auth.user.id} is what Caddy's access
// log prints as user_id.
func TestAccessLogShowsTheUser(t *testing.T) {
	requireCaddy(t)
	k := newKey(t, "HS256")
	c := startCaddy(t, "{\n\t{{base}}\n}\n{{site}} {\n\tlog\n"+
		jwtRoute("/*", "secret "+k.Secret()+"\nuser_claim email", "respond ok")+"}\n")
	resp := get(t, c.URL("/x"), bearer(sign(t, k, validClaims("email", "ada@example.com"))))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	waitFor(t, "the access log line", func() bool { return strings.Contains(c.Logs(), `"user_id":"ada@example.com"`) })
}

func TestOptionalMode(t *testing.T) {
	requireCaddy(t)
	up := newUpstream(t)
	k := newKey(t, "HS256")
	c := startCaddy(t, caddyfileFor(jwtRoute("/*", "secret "+k.Secret()+"\noptional\nclaim_header sub X-User-Id",
		"reverse_proxy "+up.Addr()+" {\n\t\t\theader_up X-Placeholder-User {http.auth.user.id}\n\t\t}")))

	check(t, c, up, http.MethodGet, "/", nil, accepted)
	if got := up.Last(t).Header.Get("X-User-Id"); got != "" {
		t.Errorf("anonymous request carried X-User-Id %q", got)
	}
	// An anonymous request has no user: the placeholder is empty, never
	// its own text, which an upstream would take for a user name.
	if got := up.Last(t).Header.Get("X-Placeholder-User"); got != "" {
		t.Errorf("anonymous request: {http.auth.user.id} = %q, want empty", got)
	}
	check(t, c, up, http.MethodGet, "/", bearer(sign(t, k, validClaims("sub", nil))), accepted)
	if got := up.Last(t).Header.Get("X-Placeholder-User"); got != "" {
		t.Errorf("token without sub: {http.auth.user.id} = %q, want empty", got)
	}
	check(t, c, up, http.MethodGet, "/", bearer(sign(t, k, validClaims())), accepted)
	if got := up.Last(t).Header; got.Get("X-User-Id") != "user-42" || got.Get("X-Placeholder-User") != "user-42" {
		t.Errorf("X-User-Id = %q, {http.auth.user.id} = %q, want user-42", got.Get("X-User-Id"), got.Get("X-Placeholder-User"))
	}
	check(t, c, up, http.MethodGet, "/", bearer(sign(t, newKey(t, "HS256"), validClaims())),
		expectation{http.StatusUnauthorized, invalidToken(descBadSignature)})
	check(t, c, up, http.MethodGet, "/", bearer(sign(t, k, validClaims("exp", 1))),
		expectation{http.StatusUnauthorized, invalidToken(descExpired)})
	check(t, c, up, http.MethodGet, "/", http.Header{"Authorization": {"Bearer"}},
		expectation{http.StatusUnauthorized, invalidToken(descMalformed)})
}

func TestStripToken(t *testing.T) {
	requireCaddy(t)
	up := newUpstream(t)
	k := newKey(t, "HS256")
	key := "secret " + k.Secret()
	proxy := "reverse_proxy " + up.Addr()
	c := startCaddy(t, caddyfileFor(
		jwtRoute("/header/*", key+"\nstrip_token", proxy)+
			jwtRoute("/custom/*", key+"\nfrom header X-Token\nstrip_token", proxy)+
			jwtRoute("/cookie/*", key+"\nfrom cookie session\nstrip_token", proxy)+
			jwtRoute("/query/*", key+"\nfrom query access_token\nstrip_token", proxy)+
			jwtRoute("/kept/*", key+"\nfrom header Authorization Bearer\nfrom cookie session\nfrom query access_token", proxy)+
			"\trespond 404\n"))
	tok := sign(t, k, validClaims())

	t.Run("header", func(t *testing.T) {
		check(t, c, up, http.MethodGet, "/header/", bearer(tok), accepted)
		if got := up.Last(t).Header.Values("Authorization"); len(got) != 0 {
			t.Errorf("upstream got Authorization %q", got)
		}
	})
	t.Run("custom header", func(t *testing.T) {
		check(t, c, up, http.MethodGet, "/custom/", http.Header{"X-Token": {tok}, "X-Other": {"kept"}}, accepted)
		got := up.Last(t).Header
		if len(got.Values("X-Token")) != 0 || got.Get("X-Other") != "kept" {
			t.Errorf("upstream got X-Token %q, X-Other %q", got.Values("X-Token"), got.Get("X-Other"))
		}
	})
	t.Run("cookie", func(t *testing.T) {
		// The other cookies reach the upstream as sent, including values
		// net/http would not parse.
		check(t, c, up, http.MethodGet, "/cookie/", http.Header{"Cookie": {`theme=dark; session=` + tok + `; prefs={"lang":"en"}`}}, accepted)
		if got, want := up.Last(t).Header.Values("Cookie"), []string{`theme=dark; prefs={"lang":"en"}`}; !slices.Equal(got, want) {
			t.Errorf("upstream got Cookie %q, want %q", got, want)
		}
	})
	t.Run("query", func(t *testing.T) {
		// The other parameters reach the upstream exactly as sent: same
		// order, same escaping.
		check(t, c, up, http.MethodGet, "/query/items?z=1&access_token="+url.QueryEscape(tok)+"&q=a%20b&page=2", nil, accepted)
		if got, want := up.Last(t).URI, "/query/items?z=1&q=a%20b&page=2"; got != want {
			t.Errorf("upstream got %q, want %q", got, want)
		}
	})
	t.Run("without strip_token the token is passed on", func(t *testing.T) {
		check(t, c, up, http.MethodGet, "/kept/?access_token="+url.QueryEscape(tok), http.Header{"Authorization": {"Bearer " + tok}, "Cookie": {"session=" + tok}}, accepted)
		last := up.Last(t)
		if v, _ := last.Cookie("session"); v != tok || last.Header.Get("Authorization") != "Bearer "+tok || !strings.Contains(last.URI, url.QueryEscape(tok)) {
			t.Error("the token did not reach the upstream in all three places")
		}
	})
}

func TestCORSPreflightPassesWithoutToken(t *testing.T) {
	requireCaddy(t)
	up := newUpstream(t)
	k := newKey(t, "HS256")
	c := startCaddy(t, caddyfileFor(jwtRoute("/*", "secret "+k.Secret()+"\nclaim_header sub X-User-Id", "reverse_proxy "+up.Addr())))

	preflight := http.Header{
		"Origin":                        {"https://app.example"},
		"Access-Control-Request-Method": {"DELETE"},
		"X-User-Id":                     {"spoofed"},
	}
	check(t, c, up, http.MethodOptions, "/items/1", preflight, accepted)
	last := up.Last(t)
	if last.Method != http.MethodOptions || last.Header.Get("X-User-Id") != "" {
		t.Errorf("upstream got %s with X-User-Id %q", last.Method, last.Header.Get("X-User-Id"))
	}
	// An OPTIONS request that is not a preflight is authenticated as usual.
	check(t, c, up, http.MethodOptions, "/items/1", http.Header{"Origin": {"https://app.example"}},
		expectation{http.StatusUnauthorized, challengeMissing})
	check(t, c, up, http.MethodOptions, "/items/1", http.Header{"Access-Control-Request-Method": {"DELETE"}},
		expectation{http.StatusUnauthorized, challengeMissing})
}
