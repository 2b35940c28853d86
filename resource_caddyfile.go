package caddyjwt

import "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

// unmarshalResource parses
//
//	resource <uri> {
//		authorization_server <url>...
//		scopes               <scope>...
//		documentation        <url>
//		name                 <text>
//	}
//
// where the block is optional.
func unmarshalResource(d *caddyfile.Dispenser) (*ProtectedResource, error) {
	if !d.NextArg() {
		return nil, d.ArgErr()
	}
	pr := &ProtectedResource{URI: d.Val()}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "authorization_server":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return nil, d.ArgErr()
			}
			pr.AuthorizationServers = append(pr.AuthorizationServers, args...)
		case "scopes":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return nil, d.ArgErr()
			}
			pr.Scopes = append(pr.Scopes, args...)
		case "documentation":
			args := d.RemainingArgs()
			if len(args) != 1 {
				return nil, d.ArgErr()
			}
			pr.Documentation = args[0]
		case "name":
			args := d.RemainingArgs()
			if len(args) != 1 {
				return nil, d.ArgErr()
			}
			pr.Name = args[0]
		default:
			return nil, d.Errf("resource: unknown subdirective %q", d.Val())
		}
	}
	return pr, nil
}
