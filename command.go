package caddyjwt

import (
	"fmt"
	"strings"

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
			// Without a RunE of its own, cobra would answer a mistyped
			// subcommand (caddy jwt signn) with the help and exit 0.
			cmd.Use = "jwt <subcommand>"
			cmd.Args = cobra.ArbitraryArgs
			cmd.RunE = unknownJWTSubcommand
			// Cobra's own default for its "did you mean" (it is only set
			// on the root command's path).
			cmd.SuggestionsMinimumDistance = 2
		},
	})
}

// unknownJWTSubcommand runs when `caddy jwt` is given no subcommand it
// knows: the help for none, an error with suggestions for a typo.
func unknownJWTSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	msg := fmt.Sprintf("unknown subcommand %q for %q", args[0], cmd.CommandPath())
	if suggestions := cmd.SuggestionsFor(args[0]); len(suggestions) > 0 {
		msg += "; did you mean " + strings.Join(suggestions, " or ") + "?"
	}
	return fmt.Errorf("%s (see '%s --help')", msg, cmd.CommandPath())
}

// jwtCommandFunc runs a subcommand and hands its error back to cobra, which
// prints it as one plain "Error: …" line on standard error, as it does a
// flag error, and makes caddy exit 1. Caddy's own wrapper would log it as a
// JSON line instead, in a second voice. The status is not needed: every
// failure of these commands exits 1.
func jwtCommandFunc(f func(caddycmd.Flags) (int, error)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		_, err := f(caddycmd.Flags{FlagSet: cmd.Flags()})
		return err
	}
}

// parseAlgorithmFlag reads an --alg value. Unlike a token's "alg" header,
// which RFC 7515 makes case-sensitive, a name typed on the command line is
// matched in any case (es256 is ES256).
func parseAlgorithmFlag(name string) algorithm {
	for a := algHS256; a < algCount; a++ {
		if strings.EqualFold(algorithmNames[a], name) {
			return a
		}
	}
	return algNone
}
