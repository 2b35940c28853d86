// Package revocationtest shows that a revocation store can be added from
// outside the caddyjwt package: it registers its own store module, which
// the jwt handler then loads by name from a JSON config, with no change to
// the handler.
package revocationtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/golang-jwt/jwt/v5"

	caddyjwt "github.com/jwtgate/caddy-jwt"
)

func init() {
	caddy.RegisterModule(new(listStore))
}

// listStore is a third party's store, as a database-backed one would be
// written: a fixed deny list of jtis from its own config.
type listStore struct {
	// Denied jtis.
	Denied []string `json:"denied,omitempty"`

	provisioned bool
}

// lookups counts the store's lookups across instances, to show that the
// handler caches a store that allows it.
var lookups atomic.Int64

func (*listStore) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.jwt.revocation.denylist",
		New: func() caddy.Module { return new(listStore) },
	}
}

func (s *listStore) Provision(caddy.Context) error {
	s.provisioned = true
	return nil
}

func (s *listStore) CacheKey(q caddyjwt.RevocationQuery) (string, bool) {
	return q.TokenID, q.TokenID != ""
}

func (s *listStore) Lookup(_ context.Context, q caddyjwt.RevocationQuery) (caddyjwt.RevocationFacts, error) {
	lookups.Add(1)
	if !s.provisioned {
		return caddyjwt.RevocationFacts{}, fmt.Errorf("not provisioned")
	}
	return caddyjwt.RevocationFacts{TokenDenied: slices.Contains(s.Denied, q.TokenID)}, nil
}

var _ caddyjwt.RevocationStore = (*listStore)(nil)

const secret = "third-party-store-test-secret-of-32+bytes"

func TestAThirdPartyStoreIsLoadedByName(t *testing.T) {
	// The port is free when picked, but may be taken before Caddy binds
	// it (other packages' tests open ports meanwhile): then another one.
	var addr string
	for attempt := 1; ; attempt++ {
		addr = freeAddr(t)
		err := caddy.Load(storeTestConfig(t, addr), true)
		if err == nil {
			break
		}
		if attempt == 5 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = caddy.Stop() })

	client := &http.Client{Timeout: 5 * time.Second}
	status := func(jti string) int {
		t.Helper()
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"sub": "alice", "jti": jti, "exp": time.Now().Add(time.Hour).Unix(),
		}).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status("revoked-1"); got != http.StatusUnauthorized {
		t.Errorf("a jti on the third-party deny list: status %d, want 401", got)
	}
	if got := status("fine-1"); got != http.StatusOK {
		t.Errorf("a jti not on the list: status %d, want 200", got)
	}
	before := lookups.Load()
	if got := status("fine-1"); got != http.StatusOK {
		t.Errorf("the same jti again: status %d, want 200", got)
	}
	if lookups.Load() != before {
		t.Error("the store's cacheable answer was not cached")
	}
}

// freeAddr is a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// storeTestConfig is a Caddy config serving addr through the jwt handler
// with the third-party store, revoked-1 on its deny list.
func storeTestConfig(t *testing.T, addr string) []byte {
	t.Helper()
	cfg := map[string]any{
		"admin": map[string]any{"disabled": true},
		"logging": map[string]any{"logs": map[string]any{"default": map[string]any{
			"writer": map[string]any{"output": "discard"}}}},
		"apps": map[string]any{"http": map[string]any{"servers": map[string]any{"test": map[string]any{
			"listen": []string{addr},
			"routes": []map[string]any{{"handle": []map[string]any{
				{
					"handler":    "jwt",
					"secret":     map[string]any{"value": secret},
					"algorithms": []string{"HS256"},
					"revocation": map[string]any{
						"store": map[string]any{"module": "denylist", "denied": []string{"revoked-1"}},
						"cache": "1m",
					},
				},
				{"handler": "static_response", "status_code": 200, "body": "ok"},
			}}},
		}}}},
	}
	body, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return body
}
