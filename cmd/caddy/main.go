// Command caddy is Caddy with the standard modules and the jwt plugin, built
// from this repository with `go build ./cmd/caddy`. It is the quick path for
// development and tests; users build their Caddy with xcaddy.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/jwtgate/caddy-jwt"
)

func main() {
	caddycmd.Main()
}
