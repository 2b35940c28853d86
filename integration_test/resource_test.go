package integration_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// rfc9728Fields are the metadata parameters RFC 9728 §2 registers.
var rfc9728Fields = map[string]bool{
	"resource": true, "authorization_servers": true, "jwks_uri": true,
	"scopes_supported": true, "bearer_methods_supported": true,
	"resource_signing_alg_values_supported": true, "resource_name": true,
	"resource_documentation": true, "resource_policy_uri": true, "resource_tos_uri": true,
	"tls_client_certificate_bound_access_tokens": true,
	"authorization_details_types_supported":      true,
	"dpop_signing_alg_values_supported":          true,
	"dpop_bound_access_tokens_required":          true,
	"signed_metadata":                            true,
}

// resourceFromMetadataURL undoes RFC 9728 §3.1: the resource a metadata
// URL of the path-suffix form was made for.
func resourceFromMetadataURL(t *testing.T, metadataURL string) string {
	t.Helper()
	u, err := url.Parse(metadataURL)
	if err != nil {
		t.Fatal(err)
	}
	rest, ok := strings.CutPrefix(u.Path, "/.well-known/oauth-protected-resource")
	if !ok {
		t.Fatalf("%s is not under /.well-known/oauth-protected-resource", metadataURL)
	}
	return u.Scheme + "://" + u.Host + rest
}

// TestResourceMetadataFollowsRFC9728: for a resource at the site's root
// and one at a path, every challenge names a metadata URL of the
// path-suffix form; fetching it gives a JSON document of registered
// fields only whose `resource` is exactly the resource that URL was made
// for, readable across origins, cacheable, with HEAD, conditional GET and
// CORS preflight answered and other methods refused.
func TestResourceMetadataFollowsRFC9728(t *testing.T) {
	t.Parallel()
	requireCaddy(t)
	up := newUpstream(t)
	k := newKey(t, "ES256")
	c := startResourceSite(t, k, up)

	for _, tc := range []struct {
		name, protected, metadataPath string
		want                          map[string]any
	}{
		{"resource at a path", "/api/v1/files", "/.well-known/oauth-protected-resource/api/v1", map[string]any{
			"resource":                 c.URL("/api/v1"),
			"authorization_servers":    []any{"https://auth.example.com", "https://login.example.org"},
			"scopes_supported":         []any{"files:read", "files:write"},
			"bearer_methods_supported": []any{"header", "query"},
			"resource_name":            "Files API",
			"resource_documentation":   "https://docs.example.com/api",
		}},
		{"resource at the root", "/files", "/.well-known/oauth-protected-resource", map[string]any{
			"resource":                 strings.TrimSuffix(c.URL(""), "/"),
			"authorization_servers":    []any{"https://as.example.com"},
			"scopes_supported":         []any{"site:read"},
			"bearer_methods_supported": []any{},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			metadataURL, etag := checkMetadataDocument(t, c, up, tc.protected, tc.metadataPath, tc.want)
			checkMetadataMethods(t, metadataURL, etag)
		})
	}

	t.Run("audience defaults to the resource", func(t *testing.T) {
		meta := `, resource_metadata="` + c.URL("/.well-known/oauth-protected-resource/api/v1") + `"`
		mine := sign(t, k, validClaims("iss", "https://auth.example.com", "aud", c.URL("/api/v1")))
		theirs := sign(t, k, validClaims("iss", "https://auth.example.com", "aud", c.URL("/other")))
		check(t, c, up, http.MethodGet, "/api/v1/files", bearer(mine), accepted)
		check(t, c, up, http.MethodGet, "/api/v1/files", bearer(theirs), expectation{http.StatusUnauthorized, invalidToken(descBadAudience) + meta})
	})
}

// startResourceSite starts a site with two protected resources: one at
// /api/v1, one at the root.
func startResourceSite(t *testing.T, k *testKey, up *upstream) *caddyProcess {
	keyLine := k.keyDirective(t)
	return startCaddy(t, caddyfileFor(`	@api path /api/v1/* /.well-known/oauth-protected-resource/api/v1
	handle @api {
		jwt {
			`+keyLine+`
			issuer https://auth.example.com
			issuer https://login.example.org
			from header Authorization
			from query access_token
			resource {{site}}/api/v1 {
				scopes files:read files:write
				documentation https://docs.example.com/api
				name "Files API"
			}
		}
		reverse_proxy `+up.Addr()+`
	}
	handle {
		jwt {
			`+keyLine+`
			from cookie session
			resource {{site}} {
				authorization_server https://as.example.com
			}
			require_claim scope site:read
		}
		reverse_proxy `+up.Addr()+`
	}`))
}

// checkMetadataDocument checks that the challenge of protected names the
// metadata URL at metadataPath, and that the document there is wantDoc:
// only registered fields, the resource it was fetched for, readable across
// origins and cacheable. It returns the URL and the document's ETag.
func checkMetadataDocument(t *testing.T, c *caddyProcess, up *upstream, protected, metadataPath string, wantDoc map[string]any) (metadataURL, etag string) {
	resp := get(t, c.URL(protected), nil)
	challenge := resp.Header.Get("WWW-Authenticate")
	_, metadataURL, ok := strings.Cut(challenge, `resource_metadata="`)
	metadataURL = strings.TrimSuffix(metadataURL, `"`)
	if resp.StatusCode != http.StatusUnauthorized || !ok || metadataURL != c.URL(metadataPath) {
		t.Fatalf("GET %s: %d %q, want 401 naming %s", protected, resp.StatusCode, challenge, c.URL(metadataPath))
	}
	before := up.Count()
	doc := get(t, metadataURL, http.Header{"Origin": {"https://app.example"}, "MCP-Protocol-Version": {"2025-06-18"}})
	if up.Count() != before {
		t.Error("the metadata request reached the upstream")
	}
	if doc.StatusCode != http.StatusOK || doc.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %d %s", metadataURL, doc.StatusCode, doc.Header.Get("Content-Type"))
	}
	for header, want := range map[string]string{"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"} {
		if got := doc.Header.Get(header); got != want {
			t.Errorf("%s = %q, want %q", header, got, want)
		}
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(doc.Body), &got); err != nil {
		t.Fatalf("the document is not a JSON object: %v\n%s", err, doc.Body)
	}
	for field := range got {
		if !rfc9728Fields[field] {
			t.Errorf("field %q is not an RFC 9728 metadata parameter", field)
		}
	}
	// §3.3: the resource must be identical to the one the
	// metadata URL was made from, or the client must reject it.
	if got["resource"] != resourceFromMetadataURL(t, metadataURL) {
		t.Errorf("resource %v, but the document was fetched for %s", got["resource"], resourceFromMetadataURL(t, metadataURL))
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(wantDoc)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("document %s\n    want %s", gotJSON, wantJSON)
	}
	return metadataURL, doc.Header.Get("ETag")
}

// checkMetadataMethods checks the methods the metadata URL answers besides
// GET: HEAD, a conditional GET, a CORS preflight, and POST refused.
func checkMetadataMethods(t *testing.T, metadataURL, etag string) {
	head := send(t, http.MethodHead, metadataURL, nil, nil)
	if head.StatusCode != http.StatusOK || head.Body != "" || head.Header.Get("Content-Type") != "application/json" {
		t.Errorf("HEAD: %d, %d body bytes, %s", head.StatusCode, len(head.Body), head.Header.Get("Content-Type"))
	}
	again := get(t, metadataURL, http.Header{"If-None-Match": {etag}})
	if again.StatusCode != http.StatusNotModified {
		t.Errorf("conditional GET with the ETag: %d, want 304", again.StatusCode)
	}
	preflight := send(t, http.MethodOptions, metadataURL, http.Header{
		"Origin": {"https://app.example"}, "Access-Control-Request-Method": {"GET"}, "Access-Control-Request-Headers": {"mcp-protocol-version"},
	}, nil)
	if preflight.StatusCode != http.StatusNoContent || preflight.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(preflight.Header.Get("Access-Control-Allow-Methods"), "GET") || preflight.Header.Get("Access-Control-Allow-Headers") == "" {
		t.Errorf("preflight: %d %v", preflight.StatusCode, preflight.Header)
	}
	post := send(t, http.MethodPost, metadataURL, nil, strings.NewReader("{}"))
	if post.StatusCode != http.StatusMethodNotAllowed || post.Header.Get("Allow") != "GET, HEAD, OPTIONS" {
		t.Errorf("POST: %d Allow %q, want 405 GET, HEAD, OPTIONS", post.StatusCode, post.Header.Get("Allow"))
	}
}

// TestStepUpChallengesThroughCaddy: a valid token whose authentication is
// too weak or too old gets RFC 9470's 401 insufficient_user_authentication
// with acr_values and max_age, one without the scope RFC 6750's 403 naming
// it; none reaches the upstream.
func TestStepUpChallengesThroughCaddy(t *testing.T) {
	t.Parallel()
	requireCaddy(t)
	up := newUpstream(t)
	k := newKey(t, "EdDSA")
	c := startCaddy(t, caddyfileFor(`	jwt {
		`+k.keyDirective(t)+`
		algorithms Ed25519
		require_claim scope files:write
		require_claim acr urn:example:mfa
		max_age 5m
	}
	reverse_proxy `+up.Addr()))
	ed := k.withAlg("EdDSA")
	now := time.Now()
	token := func(kv ...any) string {
		base := []any{"scope", "files:read files:write", "acr", "urn:example:mfa", "auth_time", now.Add(-time.Minute).Unix()}
		return signToken(t, ed, validClaims(append(base, kv...)...), map[string]any{"alg": "Ed25519"})
	}
	stepUp := func(desc string) expectation {
		return expectation{http.StatusUnauthorized, `Bearer realm="127.0.0.1", error="insufficient_user_authentication", error_description="` + desc + `", acr_values="urn:example:mfa", max_age="300"`}
	}
	check(t, c, up, http.MethodGet, "/", bearer(token()), accepted)
	check(t, c, up, http.MethodGet, "/", bearer(token("scope", "files:read")), expectation{http.StatusForbidden, challengeInsufficientScope + `, scope="files:write"`})
	check(t, c, up, http.MethodGet, "/", bearer(token("acr", "urn:example:pwd")), stepUp("a stronger authentication is required"))
	check(t, c, up, http.MethodGet, "/", bearer(token("auth_time", now.Add(-time.Hour).Unix())), stepUp("a more recent authentication is required"))
	check(t, c, up, http.MethodGet, "/", bearer(token("auth_time", nil)), stepUp("the token has no auth_time, which max_age needs"))
	// algorithms Ed25519 admits RFC 9864's name only.
	check(t, c, up, http.MethodGet, "/", bearer(sign(t, ed, validClaims("scope", "files:write", "acr", "urn:example:mfa", "auth_time", now.Unix()))),
		expectation{http.StatusUnauthorized, invalidToken(descBadAlgorithm)})
}
