package integration_test

// What a client sees when it is refused: the README's responses table,
// handle_errors seeing the status, and the rejection logged without the
// token.

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestResponses walks the README's responses table: for each situation the
// status and the exact RFC 6750 challenge.
func TestResponses(t *testing.T) {
	requireCaddy(t)
	up := newUpstream(t)
	hs := newKey(t, "HS256")
	rs := newKey(t, "RS256")
	rsPEM := rs.writePublicKeyPEM(t)
	kidKey := newKey(t, "ES256")
	proxy := "reverse_proxy " + up.Addr()

	strict := fmt.Sprintf(`secret %s
public_key %s
issuer https://issuer.example
audience api
token_type JWT at+jwt
max_lifetime 1h
leeway 1m
max_token_size 2048`, hs.Secret(), rsPEM)

	c := startCaddy(t, caddyfileFor(
		jwtRoute("/strict/*", strict, proxy)+
			jwtRoute("/hs256-only/*", "secret "+newHMACKey(t, "HS512", 64).Secret()+"\nalgorithms HS256", proxy)+
			jwtRoute("/kid/*", "public_key "+kidKey.writePublicKeyPEM(t)+" key-1", proxy)+
			jwtRoute("/rsa-only/*", "public_key "+rsPEM, proxy)+
			jwtRoute("/realm/*", "secret "+hs.Secret()+"\nrealm \"example api\"", proxy)+
			jwtRoute("/role/*", "secret "+hs.Secret()+"\nrequire_claim role admin", proxy)+
			jwtRoute("/nested/*", "secret "+hs.Secret()+"\nrequire_claim realm_access.roles editor", proxy)+
			jwtRoute("/url-claim/*", "secret "+hs.Secret()+"\nrequire_claim https://example.com/roles admin", proxy)+
			jwtRoute("/scope/*", "secret "+hs.Secret()+"\nrequire_claim scope write", proxy)+
			jwtRoute("/scp/*", "secret "+hs.Secret()+"\nrequire_claim scp write", proxy)+
			jwtRoute("/present/*", "secret "+hs.Secret()+"\nrequire_claim email", proxy)+
			jwtRoute("/number/*", "secret "+hs.Secret()+"\nrequire_claim level 3", proxy)+
			jwtRoute("/all/*", "secret "+hs.Secret()+"\nrequire_claim role admin\nrequire_claim scope write", proxy)+
			"\trespond 404\n"))

	now := time.Now()
	good := func(kv ...any) claims {
		base := []any{"iss", "https://issuer.example", "aud", "api"}
		return validClaims(append(base, kv...)...)
	}
	goodHS := sign(t, hs, good())
	parts := strings.Split(goodHS, ".")
	tampered := parts[0] + "." + segment(t, good("sub", "admin")) + "." + parts[2]
	// The classic algorithm confusion: an HS256 token whose "secret" is
	// the RSA public key the server has.
	confused := resign(t, &testKey{Alg: "HS256", method: hs.method, Signing: rs.PublicPEM(t)},
		segment(t, map[string]any{"alg": "HS256", "typ": "JWT"})+"."+segment(t, good()))
	noneHeader := map[string]any{"alg": "none", "typ": "JWT"}
	nullEmail := validClaims()
	nullEmail["email"] = nil

	type row struct {
		name  string
		path  string
		token string // sent as Bearer; "" sends no Authorization header
		want  expectation
	}
	unauthorized := func(desc string) expectation {
		return expectation{http.StatusUnauthorized, invalidToken(desc)}
	}
	forbidden := expectation{http.StatusForbidden, challengeInsufficientScope}
	// A missing scope names the scope the resource needs (RFC 6750 §3).
	scopeWrite := expectation{http.StatusForbidden, challengeInsufficientScope + `, scope="write"`}
	rows := []row{
		{"valid token", "/strict/", goodHS, accepted},
		{"valid RS256 token beside an HMAC secret", "/strict/", sign(t, rs, good()), accepted},
		{"audience array containing ours", "/strict/", sign(t, hs, good("aud", []string{"other", "api"})), accepted},
		{"typ at+jwt, listed", "/strict/", signToken(t, hs, good(), map[string]any{"typ": "at+jwt"}), accepted},
		{"typ application/at+jwt", "/strict/", signToken(t, hs, good(), map[string]any{"typ": "application/at+jwt"}), accepted},
		// Expired half a leeway before now: it passes however long the
		// rows before it take to sign and send, up to another half.
		{"expired within leeway", "/strict/", sign(t, hs, good("exp", now.Add(-30*time.Second).Unix())), accepted},

		{"no token", "/strict/", "", expectation{http.StatusUnauthorized, challengeMissing}},
		{"no token, configured realm", "/realm/", "", expectation{http.StatusUnauthorized, `Bearer realm="example api"`}},

		{"malformed: not a JWT", "/strict/", "not-a-token", unauthorized(descMalformed)},
		{"malformed: two segments", "/strict/", parts[0] + "." + parts[1], unauthorized(descMalformed)},
		{"malformed: four segments", "/strict/", goodHS + ".x", unauthorized(descMalformed)},
		{"malformed: JWE-shaped, five segments", "/strict/", "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d", unauthorized(descMalformed)},
		{"malformed: padded base64", "/strict/", parts[0] + "=." + parts[1] + "." + parts[2], unauthorized(descMalformed)},
		{"malformed: header not JSON", "/strict/", segment(t, "{not json") + "." + parts[1] + "." + parts[2], unauthorized(descMalformed)},
		{"malformed: payload not an object", "/strict/", resign(t, hs, parts[0]+"."+segment(t, []any{"a"})), unauthorized(descMalformed)},
		{"malformed: payload with trailing data", "/strict/", resign(t, hs, parts[0]+"."+segment(t, `{"sub":"a"} {}`)), unauthorized(descMalformed)},
		{"malformed: signature not base64url", "/strict/", parts[0] + "." + parts[1] + ".!!!", unauthorized(descMalformed)},
		{"malformed: crit header", "/strict/", signToken(t, hs, good(), map[string]any{"crit": []string{"exp"}}), unauthorized(descMalformed)},
		{"too large", "/strict/", sign(t, hs, good("pad", strings.Repeat("x", 2048))), unauthorized(descTooLarge)},

		{"bad signature: another secret", "/strict/", sign(t, newKey(t, "HS256"), good()), unauthorized(descBadSignature)},
		{"bad signature: tampered payload", "/strict/", tampered, unauthorized(descBadSignature)},
		{"bad signature: another RSA key", "/strict/", sign(t, newKey(t, "RS256"), good()), unauthorized(descBadSignature)},
		{"bad signature: signature of another token", "/strict/", parts[0] + "." + parts[1] + "." + strings.Split(sign(t, hs, good("sub", "x")), ".")[2], unauthorized(descBadSignature)},

		{"unknown key: kid names no configured key", "/kid/", signToken(t, kidKey, validClaims(), map[string]any{"kid": "key-2"}), unauthorized(descUnknownKey)},
		{"kid of the configured key", "/kid/", signToken(t, kidKey, validClaims(), map[string]any{"kid": "key-1"}), accepted},

		{"wrong alg: none with empty signature", "/strict/", segment(t, noneHeader) + "." + parts[1] + ".", unauthorized(descMalformed)},
		{"wrong alg: none with a signature", "/strict/", rawToken(t, noneHeader, good(), "sig"), unauthorized(descBadAlgorithm)},
		{"wrong alg: None", "/strict/", rawToken(t, map[string]any{"alg": "None"}, good(), "sig"), unauthorized(descBadAlgorithm)},
		{"wrong alg: lower-case hs256", "/strict/", resign(t, hs, segment(t, map[string]any{"alg": "hs256", "typ": "JWT"})+"."+parts[1]), unauthorized(descBadAlgorithm)},
		{"wrong alg: missing alg", "/strict/", resign(t, hs, segment(t, map[string]any{"typ": "JWT"})+"."+parts[1]), unauthorized(descBadAlgorithm)},
		{"wrong alg: HS256 signed with the RSA public key", "/rsa-only/", confused, unauthorized(descBadAlgorithm)},
		{"wrong alg: ES256 where no EC key is configured", "/strict/", sign(t, newKey(t, "ES256"), good()), unauthorized(descBadAlgorithm)},
		{"wrong alg: HS512 where only HS256 is allowed", "/hs256-only/", sign(t, newHMACKey(t, "HS512", 64), validClaims()), unauthorized(descBadAlgorithm)},

		{"wrong iss", "/strict/", sign(t, hs, good("iss", "https://evil.example")), unauthorized(descBadIssuer)},
		{"missing iss", "/strict/", sign(t, hs, good("iss", nil)), unauthorized(descBadIssuer)},
		{"iss not a string", "/strict/", sign(t, hs, good("iss", 7)), unauthorized(descInvalidClaims)},
		{"wrong aud", "/strict/", sign(t, hs, good("aud", "other")), unauthorized(descBadAudience)},
		{"missing aud", "/strict/", sign(t, hs, good("aud", nil)), unauthorized(descBadAudience)},
		{"wrong typ", "/strict/", signToken(t, hs, good(), map[string]any{"typ": "dpop+jwt"}), unauthorized(descBadType)},
		{"missing typ", "/strict/", signToken(t, hs, good(), map[string]any{"typ": nil}), unauthorized(descBadType)},

		{"expired", "/strict/", sign(t, hs, good("exp", now.Add(-time.Hour).Unix())), unauthorized(descExpired)},
		{"no exp", "/strict/", sign(t, hs, good("exp", nil)), unauthorized(descNoExpiry)},
		{"exp not a number", "/strict/", sign(t, hs, good("exp", "tomorrow")), unauthorized(descInvalidClaims)},
		{"not yet valid", "/strict/", sign(t, hs, good("nbf", now.Add(10*time.Minute).Unix())), unauthorized(descNotYetValid)},
		{"iat in the future", "/strict/", sign(t, hs, good("iat", now.Add(10*time.Minute).Unix(), "exp", now.Add(20*time.Minute).Unix())), unauthorized(descIssuedFuture)},
		{"lifetime beyond max_lifetime", "/strict/", sign(t, hs, good("exp", now.Add(2*time.Hour).Unix())), unauthorized(descLifetime)},
		{"no iat under max_lifetime", "/strict/", sign(t, hs, good("iat", nil)), unauthorized(descNoIssuedAt)},

		{"require_claim met", "/role/", sign(t, hs, validClaims("role", "admin")), accepted},
		{"require_claim other value", "/role/", sign(t, hs, validClaims("role", "user")), forbidden},
		{"require_claim missing", "/role/", sign(t, hs, validClaims()), forbidden},
		{"require_claim in an array", "/role/", sign(t, hs, validClaims("role", []string{"user", "admin"})), accepted},
		{"require_claim not in an array", "/role/", sign(t, hs, validClaims("role", []string{"user", "guest"})), forbidden},
		{"require_claim is not a substring match", "/role/", sign(t, hs, validClaims("role", "administrator")), forbidden},
		{"require_claim on an object", "/role/", sign(t, hs, validClaims("role", map[string]any{"admin": true})), forbidden},
		{"require_claim dot path", "/nested/", sign(t, hs, validClaims("realm_access", map[string]any{"roles": []string{"viewer", "editor"}})), accepted},
		{"require_claim dot path, value missing", "/nested/", sign(t, hs, validClaims("realm_access", map[string]any{"roles": []string{"viewer"}})), forbidden},
		{"require_claim dot path through a non-object", "/nested/", sign(t, hs, validClaims("realm_access", "editor")), forbidden},
		{"require_claim URL-named claim", "/url-claim/", sign(t, hs, validClaims("https://example.com/roles", []string{"admin"})), accepted},
		{"require_claim URL-named claim, other value", "/url-claim/", sign(t, hs, validClaims("https://example.com/roles", []string{"user"})), forbidden},
		{"scope set contains the value", "/scope/", sign(t, hs, validClaims("scope", "read write")), accepted},
		{"scope set lacks the value", "/scope/", sign(t, hs, validClaims("scope", "read")), scopeWrite},
		{"scope set is not a substring match", "/scope/", sign(t, hs, validClaims("scope", "read write:all")), scopeWrite},
		{"scp array", "/scp/", sign(t, hs, validClaims("scp", []string{"read", "write"})), accepted},
		{"scp space-separated", "/scp/", sign(t, hs, validClaims("scp", "write read")), accepted},
		{"presence only", "/present/", sign(t, hs, validClaims("email", "a@example.com")), accepted},
		{"presence only, absent", "/present/", sign(t, hs, validClaims()), forbidden},
		{"presence only, null", "/present/", sign(t, hs, nullEmail), forbidden},
		{"number claim", "/number/", sign(t, hs, validClaims("level", 3)), accepted},
		{"number claim, other value", "/number/", sign(t, hs, validClaims("level", 4)), forbidden},
		{"all requirements hold", "/all/", sign(t, hs, validClaims("role", "admin", "scope", "write")), accepted},
		{"one requirement of two fails", "/all/", sign(t, hs, validClaims("role", "admin", "scope", "read")), scopeWrite},
		// Requirements are checked only after the token is verified:
		// a forged token with the right claims is still 401.
		{"forged token with the required claim", "/role/", sign(t, newKey(t, "HS256"), validClaims("role", "admin")), unauthorized(descBadSignature)},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			var h http.Header
			if r.token != "" {
				h = bearer(r.token)
			}
			resp := check(t, c, up, http.MethodGet, r.path, h, r.want)
			if r.want.status != http.StatusOK && r.token != "" && strings.Contains(resp.Body, r.token) {
				t.Error("the response body echoes the token")
			}
		})
	}
}

// TestHandleErrorsSeesTheStatus: rejections are caddyhttp.Errors, so a
// handle_errors route renders them, with the challenge header kept.
func TestHandleErrorsSeesTheStatus(t *testing.T) {
	requireCaddy(t)
	up := newUpstream(t)
	k := newKey(t, "HS256")
	c := startCaddy(t, caddyfileFor(
		jwtRoute("/*", "secret "+k.Secret()+"\nrequire_claim role admin", "reverse_proxy "+up.Addr())+
			"\thandle_errors {\n\t\trespond \"custom {err.status_code}: {err.message}\" {err.status_code}\n\t}\n"))

	cases := []struct {
		name   string
		header http.Header
		want   expectation
		body   string
	}{
		{"missing", nil, expectation{http.StatusUnauthorized, challengeMissing}, "custom 401: no token"},
		{"invalid", bearer("garbage"), expectation{http.StatusUnauthorized, invalidToken(descMalformed)}, "custom 401: " + descMalformed},
		{"expired", bearer(sign(t, k, validClaims("exp", 1000))), expectation{http.StatusUnauthorized, invalidToken(descExpired)}, "custom 401: " + descExpired},
		{"ambiguous", http.Header{"Authorization": {"Bearer a.b.c", "Bearer d.e.f"}}, expectation{http.StatusBadRequest, challengeInvalidRequest}, "custom 400: more than one token in the request"},
		{"forbidden", bearer(sign(t, k, validClaims("role", "user"))), expectation{http.StatusForbidden, challengeInsufficientScope}, "custom 403: the token does not grant access to this resource"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := check(t, c, up, http.MethodGet, "/x", tc.header, tc.want)
			if resp.Body != tc.body {
				t.Errorf("body = %q, want %q", resp.Body, tc.body)
			}
		})
	}
}

// TestRejectionsAreLoggedWithoutTheToken: an operator sees why a request
// was refused and who sent it, never the token.
func TestRejectionsAreLoggedWithoutTheToken(t *testing.T) {
	requireCaddy(t)
	up := newUpstream(t)
	k := newKey(t, "HS256")
	c := startCaddy(t, caddyfileFor(jwtRoute("/*", "secret "+k.Secret(), "reverse_proxy "+up.Addr())))

	tok := sign(t, k, validClaims("exp", time.Now().Add(-time.Hour).Unix(), "jti", "token-17"))
	check(t, c, up, http.MethodGet, "/x", bearer(tok), expectation{http.StatusUnauthorized, invalidToken(descExpired)})

	waitFor(t, "the rejection in the log", func() bool { return strings.Contains(c.Logs(), "request rejected") })
	var line string
	for _, l := range strings.Split(c.Logs(), "\n") {
		if strings.Contains(l, "request rejected") {
			line = l
		}
	}
	for _, want := range []string{`"reason":"` + descExpired + `"`, `"client_ip":"127.0.0.1"`, `"sub":"user-42"`, `"jti":"token-17"`} {
		if !strings.Contains(line, want) {
			t.Errorf("log line lacks %s: %s", want, line)
		}
	}
	sig := tok[strings.LastIndexByte(tok, '.')+1:]
	if strings.Contains(c.Logs(), sig) {
		t.Error("the log contains the token's signature")
	}
}

// waitFor polls cond until it holds or a deadline passes: 30s, which only
// a broken run reaches, however starved of CPU the machine is.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitForT(t, 30*time.Second, what, cond)
}
