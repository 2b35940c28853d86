package integration_test

import (
	"net/http"
	"strings"
	"testing"
)

// These tests check that what the upstream reads is what jwt verified:
// each token location is read as the most permissive common framework
// reads it, and what is ambiguous is refused; claim values reach the
// upstream unchanged or not at all; a client cannot make reverse_proxy
// drop the claim headers.

// TestTokensOtherParsersReadAreNeverSkipped sends, through the real Caddy,
// requests whose token (or second token) sits where Go's parsers would not
// see it but Express, Werkzeug or PHP would: each is refused with its
// documented status and reaches no upstream, also with optional, where
// skipping it would pass the request on as anonymous.
func TestTokensOtherParsersReadAreNeverSkipped(t *testing.T) {
	t.Parallel()
	requireCaddy(t)
	up := newUpstream(t)
	key := newKey(t, "HS256")
	config := key.keyDirective(t) + `
from header Authorization Bearer
from cookie session
from query access_token
claim_header sub X-User-Id
strip_token`
	proxy := "reverse_proxy " + up.Addr()
	c := startCaddy(t, caddyfileFor(jwtRoute("/optional/*", config+"\noptional", proxy)+jwtRoute("/*", config, proxy)))

	good := sign(t, key, validClaims())
	forged := sign(t, newKey(t, "HS256"), validClaims("sub", "admin"))
	// 3,100 pairs, past net/http's 3,000, within Caddy's default 16 KiB of headers.
	filler := strings.Repeat("f=0;", 3100)

	cases := oneViewCases(good, forged, filler)
	for route, prefix := range map[string]string{"": "", "/optional": "optional, "} {
		for _, tc := range cases {
			t.Run(prefix+tc.name, func(t *testing.T) {
				check(t, c, up, http.MethodGet, route+tc.target, tc.header, tc.want)
			})
		}
	}

	t.Run("a valid cookie past 3,100 pairs passes, and strip_token removes it", func(t *testing.T) {
		check(t, c, up, http.MethodGet, "/", cookieLines(filler+"session="+good+"; keep=1"), accepted)
		got := up.Last(t)
		if got.Header.Get("X-User-Id") != "user-42" {
			t.Errorf("X-User-Id = %q, want user-42", got.Header.Get("X-User-Id"))
		}
		lines := strings.Join(got.Header.Values("Cookie"), "; ")
		if strings.Contains(lines, "session=") || !strings.Contains(lines, "keep=1") || strings.Count(lines, "f=0") != 3100 {
			t.Errorf("upstream Cookie: token not stripped or other cookies lost (%d bytes)", len(lines))
		}
	})
	t.Run("look-alike names no framework folds stay someone else's", func(t *testing.T) {
		check(t, c, up, http.MethodGet, "/?access_token_hint=x&xaccess_token=y", cookieLines("Session=x; session_id=y; session="+good), accepted)
	})
	t.Run("BearerX is another scheme", func(t *testing.T) {
		check(t, c, up, http.MethodGet, "/", authorizationLines("BearerX "+forged, "Bearer "+good), accepted)
		check(t, c, up, http.MethodGet, "/optional/", authorizationLines("BearerX "+forged), accepted)
		if got := up.Last(t).Header.Get("X-User-Id"); got != "" {
			t.Errorf("anonymous request carried X-User-Id %q", got)
		}
	})
}

// oneViewCase is a request whose token another parser would read
// differently, and what the client must see.
type oneViewCase struct {
	name   string
	target string // path and query after /optional or /
	header http.Header
	want   expectation
}

// oneViewCases are the cookies, Authorization headers and query strings
// in which another parser would find a token this one skipped: each is
// refused as malformed or ambiguous, or verified.
func oneViewCases(good, forged, filler string) []oneViewCase {
	malformed := expectation{http.StatusUnauthorized, invalidToken(descMalformed)}
	ambiguous := expectation{http.StatusBadRequest, challengeInvalidRequest}
	return []oneViewCase{
		{"cookie: a backslash in the first pair", "/", cookieLines(`session=` + forged + `\; session=` + good), malformed},
		{"cookie: a stray quote in the first pair", "/", cookieLines(`session="` + forged + `; session=` + good), malformed},
		{"cookie: a non-ASCII byte in the first pair", "/", cookieLines("session=" + forged + "\xe9; session=" + good), malformed},
		{"cookie: a quoted value", "/", cookieLines(`session="` + good + `"`), malformed},
		{"cookie: a percent-encoded value", "/", cookieLines("session=%" + strings.ToUpper(hexByte(forged[0])) + forged[1:] + "; session=" + good), malformed},
		{"cookie: a space after =", "/", cookieLines("session= " + forged + "; session=" + good), malformed},
		{"cookie: a lone unparseable pair", "/", cookieLines(`session=` + forged + `\`), malformed},
		{"cookie: a percent-encoded name", "/", cookieLines("%73ession=" + forged + "; session=" + good), malformed},
		{"cookie: an array name", "/", cookieLines("session[]=" + forged + "; session=" + good), malformed},
		{"cookie: a name after U+00A0", "/", cookieLines("\u00a0session=" + forged + "; session=" + good), malformed},
		{"cookie: a name after a comma", "/", cookieLines("theme=dark,session=" + forged + "; session=" + good), malformed},
		{"cookie: a second token past 3,100 pairs", "/", cookieLines(filler + "session=" + good + "; session=" + forged), ambiguous},
		{"cookie: a second token in a second Cookie line", "/", cookieLines("session="+good, "session="+forged), ambiguous},
		{"cookie: a forged token past 3,100 pairs is verified", "/", cookieLines(filler + "session=" + forged), expectation{http.StatusUnauthorized, invalidToken(descBadSignature)}},

		{"header: U+00A0 after the scheme, a valid token beside", "/", authorizationLines("Bearer\u00a0"+forged, "Bearer "+good), malformed},
		{"header: U+3000 after the scheme", "/", authorizationLines("Bearer\u3000" + forged), malformed},
		{"header: a comma after the scheme", "/", authorizationLines("Bearer,"+forged, "Bearer "+good), malformed},
		{"header: = after the scheme", "/", authorizationLines("Bearer=" + forged), malformed},
		{"header: two tokens after the scheme", "/", authorizationLines("Bearer " + good + " " + forged), malformed},
		{"header: U+00A0 before the scheme", "/", authorizationLines("\u00a0Bearer "+forged, "Bearer "+good), malformed},

		{"query: PHP's dot for underscore", "/?access.token=" + forged + "&access_token=" + good, nil, malformed},
		{"query: PHP's space for underscore", "/?access+token=" + forged + "&access_token=" + good, nil, malformed},
		{"query: PHP's bracket for underscore", "/?access[token=" + forged + "&access_token=" + good, nil, malformed},
		{"query: an array name", "/?access_token[]=" + forged + "&access_token=" + good, nil, malformed},
		{"query: an array name with a key", "/?access_token[x]=" + forged, nil, malformed},
		{"query: another case", "/?ACCESS_TOKEN=" + forged + "&access_token=" + good, nil, malformed},
		{"query: an encoded NUL after the name", "/?access_token%00x=" + forged + "&access_token=" + good, nil, malformed},
		{"query: a leading space", "/?+access_token=" + forged, nil, malformed},
	}
}

// cookieLines is a header of the given Cookie lines.
func cookieLines(v ...string) http.Header { return http.Header{"Cookie": v} }

// authorizationLines is a header of the given Authorization lines.
func authorizationLines(v ...string) http.Header { return http.Header{"Authorization": v} }

func hexByte(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&15]})
}

// TestClaimValuesAHopWouldChangeAreNotSent: Go's header writer and HTTP
// parsers trim white space at the edges of a value, so a claim "admin "
// would reach the upstream as "admin". Such a value reaches no claim
// header and no placeholder, and the log names the claim but not its
// value. Arrays keep their element boundaries.
func TestClaimValuesAHopWouldChangeAreNotSent(t *testing.T) {
	t.Parallel()
	requireCaddy(t)
	up := newUpstream(t)
	key := newKey(t, "HS256")
	c := startCaddy(t, caddyfileFor(jwtRoute("/*", key.keyDirective(t)+`
claim_header sub X-User-Id
claim_header roles X-Roles`, "reverse_proxy "+up.Addr()+` {
			header_up X-User {http.auth.user.id}
			header_up X-Sub {http.auth.jwt.sub}
		}`)))

	for _, sub := range []string{"admin-chosen ", " admin-chosen", "admin-chosen\t", "\tadmin-chosen", "admin-chosen\u00a0", "\u3000admin-chosen", "\ufeffadmin-chosen"} {
		t.Run("sub "+strings.NewReplacer("\t", `\t`, "\u00a0", `\u00a0`, "\u3000", `\u3000`, "\ufeff", `\ufeff`).Replace(sub), func(t *testing.T) {
			check(t, c, up, http.MethodGet, "/", bearer(sign(t, key, validClaims("sub", sub))), accepted)
			got := up.Last(t).Header
			if vs := got.Values("X-User-Id"); len(vs) != 0 {
				t.Errorf("X-User-Id = %q, want absent", vs)
			}
			for _, h := range []string{"X-User", "X-Sub"} {
				if v := got.Get(h); v != "" {
					t.Errorf("%s = %q, want empty", h, v)
				}
			}
		})
	}
	waitFor(t, "a log line about the unsafe claim", func() bool {
		return strings.Contains(c.Logs(), "claim not passed on") && strings.Contains(c.Logs(), `"header":"X-User-Id"`)
	})
	if strings.Contains(c.Logs(), "admin-chosen") {
		t.Error("the log shows the unsafe claim's value")
	}

	for _, tc := range []struct {
		roles []string
		want  string
	}{
		{[]string{"dev", "admin"}, `dev,admin`},
		{[]string{"dev,admin"}, `"dev,admin"`},
		{[]string{"dev", " admin "}, `dev," admin "`},
		{[]string{`say "hi"`}, `"say \"hi\""`},
	} {
		check(t, c, up, http.MethodGet, "/", bearer(sign(t, key, validClaims("roles", tc.roles))), accepted)
		if got := up.Last(t).Header.Values("X-Roles"); len(got) != 1 || got[0] != tc.want {
			t.Errorf("roles %q: X-Roles = %q, want [%q]", tc.roles, got, tc.want)
		}
	}
}

// TestConnectionCannotDropClaimHeaders: a header named in Connection is
// hop-by-hop, and reverse_proxy deletes it. The jwt handler takes the claim
// headers' names out of the client's Connection header, so the upstream
// still gets them; the other names keep working.
func TestConnectionCannotDropClaimHeaders(t *testing.T) {
	t.Parallel()
	requireCaddy(t)
	up := newUpstream(t)
	key := newKey(t, "HS256")
	c := startCaddy(t, caddyfileFor(jwtRoute("/*", key.keyDirective(t)+"\nclaim_header sub X-User-Id\nclaim_header email X-User-Email",
		"reverse_proxy "+up.Addr()+" {\n\t\t\theader_up X-Sub {http.auth.user.id}\n\t\t}")))
	tok := sign(t, key, validClaims("email", "ada@example.com"))

	for name, connection := range map[string][]string{
		"the claim header alone":       {"X-User-Id, X-Canary"},
		"a header_up header":           {"X-Sub, X-Canary"},
		"lower case":                   {"x-user-id,x-canary"},
		"upper case":                   {"X-USER-ID, X-CANARY"},
		"in a list with white space":   {"keep-alive ,\tX-User-Id , X-Canary"},
		"several Connection headers":   {"keep-alive", "x-user-id", "X-Canary, X-User-Email"},
		"both claim headers, one line": {"X-User-Email,X-User-Id,X-Canary"},
	} {
		t.Run(name, func(t *testing.T) {
			header := bearer(tok)
			header["Connection"] = connection
			header.Set("X-Canary", "hop-by-hop")
			check(t, c, up, http.MethodGet, "/", header, accepted)
			got := up.Last(t).Header
			if got.Get("X-User-Id") != "user-42" || got.Get("X-User-Email") != "ada@example.com" || got.Get("X-Sub") != "user-42" {
				t.Errorf("upstream got X-User-Id %q, X-User-Email %q, X-Sub %q", got.Get("X-User-Id"), got.Get("X-User-Email"), got.Get("X-Sub"))
			}
			// X-Canary shows that reverse_proxy still honours the rest of
			// the client's Connection header: the test is not vacuous.
			if v := got.Get("X-Canary"); v != "" {
				t.Errorf("X-Canary = %q: the Connection header did not reach reverse_proxy", v)
			}
		})
	}
}

// TestCORSPreflightPlaceholdersAreEmpty: a preflight passes without a
// token, as an anonymous request; its placeholders are empty, never their
// own text, which an upstream would take for a user name.
func TestCORSPreflightPlaceholdersAreEmpty(t *testing.T) {
	t.Parallel()
	requireCaddy(t)
	up := newUpstream(t)
	key := newKey(t, "HS256")
	c := startCaddy(t, caddyfileFor(jwtRoute("/*", key.keyDirective(t)+"\nclaim_header sub X-User-Id", "reverse_proxy "+up.Addr()+` {
			header_up X-User {http.auth.user.id}
			header_up X-Email {http.auth.jwt.email}
		}`)))

	preflight := http.Header{"Origin": {"https://app.example"}, "Access-Control-Request-Method": {"DELETE"}}
	check(t, c, up, http.MethodOptions, "/items/1", preflight, accepted)
	got := up.Last(t).Header
	for _, h := range []string{"X-User", "X-Email", "X-User-Id"} {
		if v := got.Get(h); v != "" {
			t.Errorf("preflight: upstream got %s %q, want empty", h, v)
		}
	}
}
