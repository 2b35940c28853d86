package integration_test

import (
	"net/http"
	"testing"
)

// TestRefusalsReachTheErrorRoutesThatCouldSeeThem: where no error route
// could see a refusal, the handler writes the status itself; where one
// could (a subroute's own errors, in a JSON config), the refusal still goes
// to it. Both answer with the same status and challenge, and neither
// reaches the upstream.
func TestRefusalsReachTheErrorRoutesThatCouldSeeThem(t *testing.T) {
	requireCaddy(t)
	t.Parallel()
	up := newUpstream(t)
	k := newKey(t, "HS256")
	c := startCaddy(t, caddyfileFor("\trespond 404"))

	jwtThenProxy := []map[string]any{
		{"handler": "jwt", "secret": map[string]any{"value": k.Secret()}, "algorithms": []string{"HS256"}},
		{"handler": "reverse_proxy", "upstreams": []map[string]any{{"dial": up.Addr()}}},
	}
	loadJSONRoutes(t, c, []map[string]any{
		{"match": []map[string]any{{"path": []string{"/sub/*"}}}, "handle": []map[string]any{{
			"handler": "subroute",
			"routes":  []map[string]any{{"handle": jwtThenProxy}},
			"errors": map[string]any{"routes": []map[string]any{{"handle": []map[string]any{{
				"handler": "static_response", "status_code": "{http.error.status_code}",
				"body": "subroute saw {http.error.status_code}",
			}}}}},
		}}},
		{"match": []map[string]any{{"path": []string{"/plain/*"}}}, "handle": jwtThenProxy},
	})

	malformed := expectation{http.StatusUnauthorized, invalidToken(descMalformed)}
	forged := bearer(sign(t, newKey(t, "HS256"), validClaims()))
	for _, tc := range []struct {
		path, body string
	}{
		{"/sub/x", "subroute saw 401"},
		{"/plain/x", ""},
	} {
		t.Run(tc.path, func(t *testing.T) {
			check(t, c, up, http.MethodGet, tc.path, bearer(sign(t, k, validClaims())), accepted)
			for name, header := range map[string]http.Header{"malformed": bearer("garbage"), "forged": forged} {
				want := malformed
				if name == "forged" {
					want = expectation{http.StatusUnauthorized, invalidToken(descBadSignature)}
				}
				// Twice: the first refusal decides how the handler ends them.
				for range 2 {
					if resp := check(t, c, up, http.MethodGet, tc.path, header, want); resp.Body != tc.body {
						t.Errorf("%s: body %q, want %q", name, resp.Body, tc.body)
					}
				}
			}
			resp := check(t, c, up, http.MethodGet, tc.path, nil, expectation{http.StatusUnauthorized, challengeMissing})
			if resp.Body != tc.body {
				t.Errorf("missing: body %q, want %q", resp.Body, tc.body)
			}
		})
	}
}

// TestRefusalWrittenByJWTGoesBackThroughEarlierHandlers: without error
// routes a refusal is jwt's own response, so a deferred header operation
// of the site applies to it as to any response; with handle_errors, the
// error route answers, as Caddy error routes always do.
func TestRefusalWrittenByJWTGoesBackThroughEarlierHandlers(t *testing.T) {
	requireCaddy(t)
	t.Parallel()
	up := newUpstream(t)
	k := newKey(t, "HS256")
	site := "\theader {\n\t\tdefer\n\t\tX-Deferred yes\n\t}\n" + jwtRoute("/*", "secret "+k.Secret(), "reverse_proxy "+up.Addr())
	plain := startCaddy(t, caddyfileFor(site))
	withErrors := startCaddy(t, caddyfileFor(site+"\thandle_errors {\n\t\trespond \"error route {err.status_code}\" {err.status_code}\n\t}\n"))

	missing := expectation{http.StatusUnauthorized, challengeMissing}
	resp := check(t, plain, up, http.MethodGet, "/x", nil, missing)
	if resp.Header.Get("X-Deferred") != "yes" || resp.Body != "" {
		t.Errorf("without error routes: X-Deferred %q, body %q", resp.Header.Get("X-Deferred"), resp.Body)
	}
	resp = check(t, withErrors, up, http.MethodGet, "/x", nil, missing)
	if resp.Body != "error route 401" {
		t.Errorf("with handle_errors: body %q", resp.Body)
	}
	check(t, plain, up, http.MethodGet, "/x", bearer(sign(t, k, validClaims())), accepted)
}
