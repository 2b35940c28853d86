package caddyjwt

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// revokeTestToken makes a verified token with the given claims, as verify would.
func revokeTestToken(claims map[string]any) *verifiedToken {
	claimsJSON, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	t, _ := readForTest(string(claimsJSON))
	t.subject, _ = claims["sub"].(string)
	t.tokenID, _ = claims["jti"].(string)
	if iat, ok := claims["iat"].(json.Number); ok {
		n, _ := iat.Int64()
		t.issuedAt = time.Unix(n, 0)
	}
	return t
}

// revokeTestRequest is a request as Caddy hands it to the handler.
func revokeTestRequest() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://example.com/", nil)
	return r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
}

func TestRevocationRules(t *testing.T) {
	const logout = 1_700_000_000
	c := &revocationCheck{versionClaim: compileClaimPath("ver")}
	tests := []struct {
		name    string
		facts   RevocationFacts
		claims  map[string]any
		revoked bool
	}{
		{"nothing known passes", RevocationFacts{}, map[string]any{"sub": "a"}, false},
		{"denied jti is revoked", RevocationFacts{TokenDenied: true}, map[string]any{"jti": "x"}, true},
		{"lower version is revoked", RevocationFacts{HasVersion: true, Version: 3}, map[string]any{"ver": json.Number("2")}, true},
		{"equal version passes", RevocationFacts{HasVersion: true, Version: 3}, map[string]any{"ver": json.Number("3")}, false},
		{"higher version passes", RevocationFacts{HasVersion: true, Version: 3}, map[string]any{"ver": json.Number("4")}, false},
		{"missing version is revoked when the subject has one", RevocationFacts{HasVersion: true, Version: 0}, map[string]any{}, true},
		{"version as a string of digits counts", RevocationFacts{HasVersion: true, Version: 3}, map[string]any{"ver": "3"}, false},
		{"fractional version is revoked", RevocationFacts{HasVersion: true, Version: 3}, map[string]any{"ver": json.Number("3.5")}, true},
		{"non-numeric version is revoked", RevocationFacts{HasVersion: true, Version: 1}, map[string]any{"ver": true}, true},
		{"version claim is ignored without a subject version", RevocationFacts{}, map[string]any{"ver": json.Number("0")}, false},
		{"issued before logout is revoked", RevocationFacts{NotBefore: time.Unix(logout, 0)}, map[string]any{"iat": json.Number("1699999999")}, true},
		{"issued at logout passes", RevocationFacts{NotBefore: time.Unix(logout, 0)}, map[string]any{"iat": json.Number("1700000000")}, false},
		{"issued after logout passes", RevocationFacts{NotBefore: time.Unix(logout, 0)}, map[string]any{"iat": json.Number("1700000001")}, false},
		{"no iat is revoked when the subject logged out", RevocationFacts{NotBefore: time.Unix(logout, 0)}, map[string]any{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.revoked(revokeTestToken(tt.claims), tt.facts); got != tt.revoked {
				t.Errorf("revoked = %v, want %v", got, tt.revoked)
			}
		})
	}
}

func TestVersionClaimIsReadByPath(t *testing.T) {
	c := &revocationCheck{versionClaim: compileClaimPath("app.token_version")}
	tok := revokeTestToken(map[string]any{"app": map[string]any{"token_version": json.Number("5")}})
	if c.revoked(tok, RevocationFacts{HasVersion: true, Version: 5}) {
		t.Error("a nested version claim equal to the current version was revoked")
	}
	if !c.revoked(tok, RevocationFacts{HasVersion: true, Version: 6}) {
		t.Error("a nested version claim lower than the current version passed")
	}
}

// newHTTPCheck provisions an http store against srv.
func newHTTPCheck(t *testing.T, location string, onError string) (*revocationCheck, func()) {
	t.Helper()
	rc := RevocationConfig{OnError: onError, Cache: caddy.Duration(time.Minute)}
	checker, stop, err := provisionRevocation(t, rc, &HTTPStore{Location: location})
	if err != nil {
		t.Fatal(err)
	}
	return checker, stop
}

func TestStoreErrorDeniesByDefaultAndAllowsWithOnErrorAllow(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	tok := revokeTestToken(map[string]any{"sub": "alice"})

	deny, stop := newHTTPCheck(t, srv.URL+"/v/{http.auth.jwt.sub}", "")
	defer stop()
	if got := deny.check(revokeTestRequest(), tok); got != reasonRevocationUnavailable {
		t.Errorf("on_error default: got %v, want revocation unavailable", got)
	}
	allow, stop2 := newHTTPCheck(t, srv.URL+"/v/{http.auth.jwt.sub}", "allow")
	defer stop2()
	if got := allow.check(revokeTestRequest(), tok); got != reasonAllowed {
		t.Errorf("on_error allow: got %v, want allowed", got)
	}
}

func TestLookupsAreCachedButErrorsAreNot(t *testing.T) {
	var hits atomic.Int32
	var failing atomic.Bool
	failing.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if failing.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.Header().Set("Token-Version", "2")
	}))
	defer srv.Close()
	c, stop := newHTTPCheck(t, srv.URL+"/v/{http.auth.jwt.sub}", "")
	defer stop()
	tok := revokeTestToken(map[string]any{"sub": "alice", "ver": json.Number("1")})

	if got := c.check(revokeTestRequest(), tok); got != reasonRevocationUnavailable {
		t.Fatalf("store down: got %v", got)
	}
	failing.Store(false)
	if got := c.check(revokeTestRequest(), tok); got != reasonRevoked {
		t.Fatalf("store back: got %v, want revoked (version 1 < 2)", got)
	}
	if got := c.check(revokeTestRequest(), tok); got != reasonRevoked {
		t.Fatalf("cached: got %v, want revoked", got)
	}
	if n := hits.Load(); n != 2 {
		t.Errorf("store asked %d times, want 2 (the error is not cached, the answer is)", n)
	}
}

func TestRevocationCacheExpiresAndStaysBounded(t *testing.T) {
	const ttl = 50 * time.Millisecond
	c := newRevocationCache(ttl, 100)
	// The entry is fresh for a get that comes within ttl of the put; a
	// test stalled for longer (a loaded machine) cannot tell, and puts
	// it again.
	for {
		start := time.Now()
		c.put("k", RevocationQuery{}, RevocationFacts{TokenDenied: true}, c.epoch())
		f, ok := c.get("k")
		if time.Since(start) >= ttl {
			continue
		}
		if !ok || !f.TokenDenied {
			t.Fatal("fresh entry not returned")
		}
		break
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := c.get("k"); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("entry never expired")
		}
		time.Sleep(10 * time.Millisecond)
	}

	c = newRevocationCache(time.Hour, 100)
	for i := range 1000 {
		c.put(strings.Repeat("k", i%50)+string(rune('a'+i%26))+strings.Repeat("x", i/26), RevocationQuery{}, RevocationFacts{}, c.epoch())
		if len(c.entries) > 100 {
			t.Fatalf("cache grew to %d entries, bound is 100", len(c.entries))
		}
	}
	c.put(strings.Repeat("y", maxRevocationCacheKey+1), RevocationQuery{}, RevocationFacts{}, c.epoch())
	if _, ok := c.get(strings.Repeat("y", maxRevocationCacheKey+1)); ok {
		t.Error("an over-long key was cached")
	}
}

func TestProvisionRefusesBadRevocationConfig(t *testing.T) {
	for name, tc := range map[string]struct {
		rc    RevocationConfig
		store caddy.Module
	}{
		"unknown on_error":          {RevocationConfig{OnError: "maybe"}, &FileStore{Location: "x.json"}},
		"negative cache":            {RevocationConfig{Cache: -1}, &FileStore{Location: "x.json"}},
		"too short reload_interval": {RevocationConfig{}, &FileStore{Location: "x.json", ReloadInterval: -1}},
		"bad version header":        {RevocationConfig{}, &HTTPStore{Location: "http://127.0.0.1/", VersionHeader: "Bad Header"}},
		"http store without URL":    {RevocationConfig{}, &HTTPStore{Location: "/v/{http.auth.jwt.sub}"}},
		"redis store with http":     {RevocationConfig{}, &RedisStore{RedisConnection: RedisConnection{Location: "http://127.0.0.1:6379"}}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := provisionRevocation(t, tc.rc, tc.store); err == nil {
				t.Error("provisioned without error")
			}
		})
	}
	t.Run("unknown store", func(t *testing.T) {
		ctx, _ := testCaddyContext(t)
		rc := RevocationConfig{StoreRaw: []byte(`{"module": "ldap"}`)}
		if _, err := rc.provision(ctx, zap.NewNop()); err == nil {
			t.Error("provisioned without error")
		}
	})
	t.Run("no store", func(t *testing.T) {
		ctx, _ := testCaddyContext(t)
		if _, err := (&RevocationConfig{}).provision(ctx, zap.NewNop()); err == nil {
			t.Error("provisioned without error")
		}
	})
}
