package caddyjwt

import (
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// `secret {$JWT_SECRET}` with the variable unset reaches the parser as a
// bare `secret`: the error must point at the variable, not only at an
// argument count.
func TestCaddyfileSecretWithoutValueNamesTheLikelyCause(t *testing.T) {
	var h Handler
	err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("jwt {\n\tsecret\n}"))
	if err == nil {
		t.Fatal("a secret without a value was accepted")
	}
	if !strings.Contains(err.Error(), "secret has no value") || !strings.Contains(err.Error(), "{$VAR}") {
		t.Errorf("error %q does not say the secret is empty and why it may be", err)
	}
}

func TestCaddyfileResourceModeAndMaxAge(t *testing.T) {
	var h Handler
	err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`jwt {
		secret {env.S}
		max_age 10m
		mode OBSERVE
		resource https://mcp.example.com/mcp {
			authorization_server https://a.example https://b.example
			scopes mcp:tools mcp:read
			documentation https://docs.example.com
			name "Example MCP"
		}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	pr := h.Resource
	if !strings.EqualFold(h.Mode, "observe") || time.Duration(h.MaxAge) != 10*time.Minute || pr == nil || pr.URI != "https://mcp.example.com/mcp" ||
		strings.Join(pr.AuthorizationServers, " ") != "https://a.example https://b.example" ||
		strings.Join(pr.Scopes, " ") != "mcp:tools mcp:read" || pr.Documentation != "https://docs.example.com" || pr.Name != "Example MCP" {
		t.Errorf("parsed %+v, resource %+v", h, pr)
	}
	for _, bad := range []string{
		"jwt {\n\tmode\n}",
		"jwt {\n\tresource\n}",
		"jwt {\n\tresource https://a https://b\n}",
		"jwt {\n\tresource https://a\n\tresource https://b\n}",
		"jwt {\n\tresource https://a {\n\t\tcolour blue\n\t}\n}",
		"jwt {\n\tresource https://a {\n\t\tname\n\t}\n}",
		"jwt {\n\tmax_age soon\n}",
	} {
		var h Handler
		if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	// The mode's value is Validate's to judge, for a JSON config too.
	var audit Handler
	if err := audit.UnmarshalCaddyfile(caddyfile.NewTestDispenser("jwt {\n\tmode audit\n}")); err != nil {
		t.Fatal(err)
	}
	if err := audit.Validate(); err == nil {
		t.Error("mode audit passed Validate")
	}
}
