package caddyjwt

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func TestMetadataPathIsThePathSuffixForm(t *testing.T) {
	for uri, want := range map[string]string{
		"https://api.example.com":          "/.well-known/oauth-protected-resource",
		"https://api.example.com/":         "/.well-known/oauth-protected-resource",
		"https://api.example.com/mcp":      "/.well-known/oauth-protected-resource/mcp",
		"https://api.example.com/v1/mcp/":  "/.well-known/oauth-protected-resource/v1/mcp/",
		"https://api.example.com:8443/a b": "/.well-known/oauth-protected-resource/a%20b",
	} {
		id, err := url.Parse(uri)
		if err != nil {
			t.Fatal(err)
		}
		if got := metadataPath(id); got != want {
			t.Errorf("%s: %s, want %s", uri, got, want)
		}
	}
}

func TestResourceURIMustBeAnAbsoluteURLWithoutQueryOrFragment(t *testing.T) {
	for _, uri := range []string{"", "api.example.com/mcp", "/mcp", "ftp://example.com/x", "https://example.com/mcp?x=1", "https://example.com/mcp#top", "https://user:pw@example.com/mcp", "https:///mcp"} {
		h := &Handler{KeySources: KeySources{Secret: &SecretKey{Value: testSecret}}, Resource: &ProtectedResource{URI: uri}}
		if err := provisionForTest(t, h); err == nil {
			t.Errorf("resource %q was accepted", uri)
		}
	}
}

func newResourceHandler(t *testing.T, pr *ProtectedResource, extra func(*Handler)) *Handler {
	t.Helper()
	h := &Handler{
		KeySources: KeySources{Secret: &SecretKey{Value: testSecret}},
		Issuers:    []*Issuer{{Issuer: "https://auth.example.com"}},
		Resource:   pr,
	}
	if extra != nil {
		extra(h)
	}
	return mustProvision(t, h)
}

func TestMetadataDocumentHasTheFieldsOfRFC9728(t *testing.T) {
	h := newResourceHandler(t, &ProtectedResource{URI: "https://api.example.com/mcp", Name: "Files", Documentation: "https://docs.example.com/mcp"}, func(h *Handler) {
		h.RequireClaims = []*ClaimRequirement{{Path: "scope", Values: []string{"files:read"}}}
		h.From = []*TokenSource{{Header: "Authorization"}, {Cookie: "session"}, {Query: "access_token"}}
	})
	w := httptest.NewRecorder()
	if got := serveTo(h, w, httptest.NewRequest(http.MethodGet, "/.well-known/oauth-protected-resource/mcp", nil)); got != http.StatusOK {
		t.Fatalf("status %d", got)
	}
	var doc map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"resource":                 "https://api.example.com/mcp",
		"authorization_servers":    []any{"https://auth.example.com"},
		"scopes_supported":         []any{"files:read"},
		"bearer_methods_supported": []any{"header", "query"},
		"resource_name":            "Files",
		"resource_documentation":   "https://docs.example.com/mcp",
	}
	if got, _ := json.Marshal(doc); string(got) != mustJSON(t, want) {
		t.Errorf("document %s\n    want %s", got, mustJSON(t, want))
	}
	for header, want := range map[string]string{"Content-Type": "application/json", "Access-Control-Allow-Origin": "*", "Cache-Control": metadataCacheControl} {
		if got := w.Header().Get(header); got != want {
			t.Errorf("%s = %q, want %q", header, got, want)
		}
	}
	etag := w.Header().Get("ETag")
	r := httptest.NewRequest(http.MethodGet, "/.well-known/oauth-protected-resource/mcp", nil)
	r.Header.Set("If-None-Match", etag)
	if got := serve(h, r); got != http.StatusNotModified {
		t.Errorf("conditional GET: %d, want 304", got)
	}
}

func TestMetadataMethods(t *testing.T) {
	h := newResourceHandler(t, &ProtectedResource{URI: "https://api.example.com/mcp"}, nil)
	const path = "/.well-known/oauth-protected-resource/mcp"
	head := httptest.NewRecorder()
	if got := serveTo(h, head, httptest.NewRequest(http.MethodHead, path, nil)); got != http.StatusOK || head.Body.Len() != 0 {
		t.Errorf("HEAD: %d with %d body bytes", got, head.Body.Len())
	}
	pre := httptest.NewRequest(http.MethodOptions, path, nil)
	pre.Header.Set("Origin", "https://app.example")
	pre.Header.Set("Access-Control-Request-Method", "GET")
	w := httptest.NewRecorder()
	if got := serveTo(h, w, pre); got != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Methods") == "" || w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("preflight: %d %v", got, w.Header())
	}
	if got := serve(h, httptest.NewRequest(http.MethodPost, path, nil)); got != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", got)
	}
	// Only the resource's own metadata path is served; the rest needs a token.
	if got := serve(h, httptest.NewRequest(http.MethodGet, "/.well-known/oauth-protected-resource", nil)); got != http.StatusUnauthorized {
		t.Errorf("root well-known path: %d, want 401", got)
	}
}

// TestResourceChallengesAndAudience: every challenge names the metadata;
// the audience defaults to the resource, so a token for another resource
// is refused.
func TestResourceChallengesAndAudience(t *testing.T) {
	h := newResourceHandler(t, &ProtectedResource{URI: "https://api.example.com/mcp"}, func(h *Handler) {
		h.Realm = "mcp"
		h.RequireClaims = []*ClaimRequirement{{Path: "scope", Values: []string{"files:read"}}}
	})
	const meta = `, resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp"`
	token := func(aud, scope string) string {
		c := validClaims()
		c["iss"], c["aud"], c["scope"] = "https://auth.example.com", aud, scope
		return sign(t, jwt.SigningMethodHS256, []byte(testSecret), c, nil)
	}
	tests := []struct {
		name, token string
		status      int
		challenge   string
	}{
		{"no token", "", http.StatusUnauthorized, `Bearer realm="mcp"` + meta},
		{"token for this resource", token("https://api.example.com/mcp", "files:read"), http.StatusOK, ""},
		{"token for another resource", token("https://other.example.com/mcp", "files:read"), http.StatusUnauthorized, `Bearer realm="mcp", error="invalid_token", error_description="the token's audience is not accepted"` + meta},
		{"missing scope", token("https://api.example.com/mcp", "other"), http.StatusForbidden, `Bearer realm="mcp", error="insufficient_scope", scope="files:read"` + meta},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			if tt.token != "" {
				r.Header.Set("Authorization", "Bearer "+tt.token)
			}
			w := httptest.NewRecorder()
			if got := serveTo(h, w, r); got != tt.status {
				t.Errorf("status %d, want %d", got, tt.status)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate = %q\n                  want %q", got, tt.challenge)
			}
		})
	}
}
