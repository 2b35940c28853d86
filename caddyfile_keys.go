package caddyjwt

import "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

// The key sources of the Caddyfile: secret, public_key, jwks and issuer
// blocks, at the top level and inside an issuer.

// unmarshalSecret parses `<what> <value> [base64]`, the one spelling of an
// HMAC secret (secret, dpop_nonce's secret).
func unmarshalSecret(d *caddyfile.Dispenser, what string) (*SecretKey, error) {
	args := d.RemainingArgs()
	switch {
	case len(args) == 0:
		// Most often `secret {$JWT_SECRET}` with the variable unset.
		return nil, d.Errf("%s has no value (a {$VAR} that is not set is empty when the Caddyfile is read)", what)
	case len(args) > 2:
		return nil, d.ArgErr()
	case len(args) == 2 && args[1] != "base64":
		return nil, d.Errf("%s: unknown encoding %q (only base64)", what, args[1])
	}
	return &SecretKey{Value: args[0], Base64: len(args) == 2}, nil
}

// unmarshalKeySource parses secret, public_key and jwks, which appear both
// at the top level and in issuer blocks. It reports whether the current
// token was one of them.
func (ks *KeySources) unmarshalKeySource(d *caddyfile.Dispenser) (bool, error) {
	switch d.Val() {
	case "secret":
		if ks.Secret != nil {
			return true, d.Err("secret given twice")
		}
		var err error
		ks.Secret, err = unmarshalSecret(d, "secret")
		return true, err
	case "public_key":
		args := d.RemainingArgs()
		if len(args) < 1 || len(args) > 2 {
			return true, d.ArgErr()
		}
		pk := &PublicKeyFile{Path: args[0]}
		if len(args) == 2 {
			pk.KeyID = args[1]
		}
		ks.PublicKeys = append(ks.PublicKeys, pk)
	case "jwks":
		src, err := unmarshalJWKS(d)
		if err != nil {
			return true, err
		}
		ks.JWKS = append(ks.JWKS, src)
	default:
		return false, nil
	}
	return true, nil
}

func unmarshalJWKS(d *caddyfile.Dispenser) (*JWKSSource, error) {
	if !d.NextArg() {
		return nil, d.ArgErr()
	}
	src := &JWKSSource{URL: d.Val()}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "refresh":
			src.Refresh, err = durationArg(d)
		case "unknown_kid_wait":
			src.UnknownKIDWait, err = durationArg(d)
		case "timeout":
			src.Timeout, err = durationArg(d)
		default:
			return nil, d.Errf("jwks: unknown subdirective %q", d.Val())
		}
		if err != nil {
			return nil, err
		}
	}
	return src, nil
}

func unmarshalIssuer(d *caddyfile.Dispenser) (*Issuer, error) {
	if !d.NextArg() {
		return nil, d.ArgErr()
	}
	is := &Issuer{Issuer: d.Val()}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if handled, err := is.KeySources.unmarshalKeySource(d); handled || err != nil {
			if err != nil {
				return nil, err
			}
			continue
		}
		var err error
		switch d.Val() {
		case "audience":
			err = appendArgs(d, &is.Audience)
		case "discover":
			is.Discover, err = flagArg(d)
		default:
			return nil, d.Errf("issuer: unknown subdirective %q", d.Val())
		}
		if err != nil {
			return nil, err
		}
	}
	return is, nil
}
