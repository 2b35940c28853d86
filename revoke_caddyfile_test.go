package caddyjwt

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func parseRevocationBlock(t *testing.T, block string) (*RevocationConfig, error) {
	t.Helper()
	d := caddyfile.NewTestDispenser(block)
	d.Next() // revocation
	rc := new(RevocationConfig)
	return rc, rc.unmarshalCaddyfile(d)
}

func TestRevocationBlockBecomesTheStoreModule(t *testing.T) {
	rc, err := parseRevocationBlock(t, `revocation redis rediss+sentinel://s1:26379?master_name=main {
		cache 1m
		on_error allow
		prefix auth:
		password {env.REDIS_PASSWORD}
		sentinel_password {file./run/sentinel}
		tls_ca /etc/ca.pem
		tls_client_auth /etc/c.pem /etc/c.key
		tls_server_name redis.internal
		push auth:events
		fallback_cache 2s
	}`)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(rc.StoreRaw, &got); err != nil {
		t.Fatal(err)
	}
	if got["module"] != "redis" || got["location"] != "rediss+sentinel://s1:26379?master_name=main" ||
		got["prefix"] != "auth:" || got["password"] != "{env.REDIS_PASSWORD}" ||
		got["sentinel_password"] != "{file./run/sentinel}" || !strings.Contains(string(rc.StoreRaw), `"tls":{"ca":"/etc/ca.pem","client_cert":"/etc/c.pem","client_key":"/etc/c.key","server_name":"redis.internal"}`) {
		t.Errorf("store JSON: %s", rc.StoreRaw)
	}
	if push, _ := got["push"].(map[string]any); push["channel"] != "auth:events" || push["fallback_cache"] != float64(2*time.Second) {
		t.Errorf("push JSON: %v", got["push"])
	}
	if rc.OnError != "allow" || time.Duration(rc.Cache) != time.Minute {
		t.Errorf("block settings: on_error %q, cache %v", rc.OnError, rc.Cache)
	}
}

func TestRevocationBlockRefusesAnotherStoresSubdirective(t *testing.T) {
	for name, block := range map[string]string{
		"prefix on a file store":      "revocation file /r.json {\n prefix jwt:\n}",
		"reload_interval on redis":    "revocation redis redis://r {\n reload_interval 1s\n}",
		"version_header on redis":     "revocation redis redis://r {\n version_header X\n}",
		"fallback_cache without push": "revocation redis redis://r {\n fallback_cache 1s\n}",
		"tls_client_auth without key": "revocation redis rediss://r {\n tls_client_auth c.pem\n}",
		"unknown store":               "revocation ldap ldap://r",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := parseRevocationBlock(t, block); err == nil {
				t.Error("accepted")
			}
		})
	}
}
