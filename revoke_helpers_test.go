package caddyjwt

import (
	"context"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"go.uber.org/zap"
)

// testCaddyContext is a Caddy context for provisioning modules in a unit
// test; cancelling it (returned, and at the end of the test) runs the
// modules' Cleanup.
func testCaddyContext(tb testing.TB) (caddy.Context, func()) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	tb.Cleanup(cancel)
	return ctx, cancel
}

// provisionRevocation provisions the revocation block rc with store as
// Caddy does from JSON. The returned func stops the store.
func provisionRevocation(tb testing.TB, rc RevocationConfig, store caddy.Module) (*revocationCheck, func(), error) {
	tb.Helper()
	rc.StoreRaw = caddyconfig.JSONModuleObject(store, "module", store.CaddyModule().ID.Name(), nil)
	ctx, cancel := testCaddyContext(tb)
	checker, err := rc.provision(ctx, zap.NewNop())
	if err != nil {
		cancel()
		return nil, nil, err
	}
	return checker, cancel, nil
}

// provisionStore provisions one store module, stopped at the end of the
// test.
func provisionStore[S interface {
	caddy.Provisioner
	caddy.CleanerUpper
}](tb testing.TB, s S) S {
	tb.Helper()
	ctx, _ := testCaddyContext(tb)
	if err := s.Provision(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Cleanup() })
	return s
}
