package caddyjwt

import (
	"strings"
	"testing"

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
