package caddyjwt

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func caddyfileSeeds() []namedSeed {
	seed := func(name, input string) namedSeed { return namedSeed{name, []any{input}} }
	return []namedSeed{
		seed("minimal", "jwt {\n\tsecret {env.JWT_SECRET}\n}"),
		seed("everything", `jwt {
	secret {file./run/secrets/jwt} base64
	public_key /etc/caddy/jwt.pem key-1
	jwks https://idp.example.com/jwks.json {
		refresh 10m
		unknown_kid_wait 1m
		timeout 5s
	}
	algorithms RS256 ES256
	issuer https://idp.example.com {
		jwks https://idp.example.com/keys
		audience api
	}
	issuer https://other.example.com {
		discover
	}
	from header Authorization Bearer
	from cookie session
	from query access_token
	audience api web
	leeway 1m
	max_lifetime 24h
	token_type at+jwt
	require_claim realm_access.roles admin
	require_claim scope read
	revocation redis redis://127.0.0.1:6379/0 {
		version_claim ver
		cache 1s
		on_error deny
		prefix jwt:
	}
	claim_header sub X-User-Id
	user_claim email
	strip_token
	optional
	realm api
	redirect /login next
	csrf off
	trusted_origin https://app.example.com
	cache 100
	max_token_size 4096
}`),
		seed("alg-none", "jwt {\n\tsecret x\n\talgorithms none NONE\n}"),
		seed("unbalanced-open", "jwt {\n\tissuer a {\n\t\tjwks b {\n"),
		seed("unbalanced-close", "jwt }\n}"),
		seed("argument-on-directive", "jwt extra {\n}"),
		seed("nested-blocks", "jwt {\n\tissuer a {\n\t\tissuer b {\n\t\t\tsecret c\n\t\t}\n\t}\n}"),
		seed("revocation-twice", "jwt {\n\trevocation file /a\n\trevocation file /b\n}"),
		seed("empty-args", "jwt {\n\tfrom\n\tcache\n\tmax_token_size -1\n\tleeway\n}"),
		seed("huge-numbers", "jwt {\n\tcache 99999999999999999999\n\tmax_token_size 0x10\n\tleeway 9999999999h\n}"),
		seed("quotes-and-heredoc", "jwt {\n\tsecret \"a b\" base64\n\trealm `x\"y`\n\trequire_claim <<EOF\n\tz\n\tEOF\n}"),
		seed("placeholders", "jwt {\n\tsecret {env.}\n\tclaim_header {http.request.header.x} {x}\n}"),
		seed("empty", ""),
	}
}

// FuzzUnmarshalCaddyfile feeds arbitrary text to the jwt directive's
// parser. It must return an error or a config, never panic, and a config
// it returns must survive a JSON round trip unchanged (what `caddy adapt`
// prints is what Caddy loads).
func FuzzUnmarshalCaddyfile(f *testing.F) {
	for _, s := range caddyfileSeeds() {
		f.Add(s.args[0].(string))
	}
	f.Fuzz(func(t *testing.T, input string) {
		tokens, err := caddyfile.Tokenize([]byte(input), "Caddyfile")
		if err != nil {
			return
		}
		var h Handler
		if err := h.UnmarshalCaddyfile(caddyfile.NewDispenser(tokens)); err != nil {
			return
		}
		_ = h.Validate()
		first, err := json.Marshal(&h)
		if err != nil {
			t.Fatalf("marshalling the parsed config: %v", err)
		}
		var again Handler
		if err := json.Unmarshal(first, &again); err != nil {
			t.Fatalf("unmarshalling %s: %v", first, err)
		}
		second, err := json.Marshal(&again)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, second) {
			t.Fatalf("JSON round trip changed the config:\n%s\n%s", first, second)
		}
	})
}
