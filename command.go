package caddyjwt

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

// jwtSubcommands build the `caddy jwt` subcommands. Each subcommand's file
// appends its constructor in init; they are only called when Caddy builds
// its command tree, after every init has run.
var jwtSubcommands []func() *cobra.Command

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "jwt",
		Short: "Create keys, sign, inspect and revoke JSON Web Tokens for the jwt handler",
		Long: `
Tools for setting up and operating the jwt handler: generate keys, sign
test tokens, inspect tokens, publish public keys as a JWKS, and revoke
tokens in a file or Redis revocation store.`,
		CobraFunc: func(cmd *cobra.Command) {
			for _, build := range jwtSubcommands {
				cmd.AddCommand(build())
			}
		},
	})
}
