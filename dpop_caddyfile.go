package caddyjwt

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// unmarshalDPoP parses
//
//	dpop [off|allowed|required] {
//		algorithms <alg>...
//		leeway     <duration>
//		max_age    <duration>
//		origin     <scheme://host[:port]>
//		replay     memory [<entries>]
//		replay     redis <url> { prefix <prefix>; on_error deny|allow }
//	}
func unmarshalDPoP(d *caddyfile.Dispenser) (*DPoPConfig, error) {
	cfg := &DPoPConfig{}
	if d.NextArg() {
		cfg.Mode = d.Val()
		switch cfg.Mode {
		case "off", "allowed", "required":
		default:
			return nil, d.Errf("dpop must be off, allowed or required, not %q", cfg.Mode)
		}
		if d.NextArg() {
			return nil, d.ArgErr()
		}
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "algorithms":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return nil, d.ArgErr()
			}
			cfg.Algorithms = append(cfg.Algorithms, args...)
		case "leeway":
			var dur caddy.Duration
			dur, err = durationArg(d)
			cfg.Leeway = &dur
		case "max_age":
			cfg.MaxAge, err = durationArg(d)
		case "origin":
			cfg.Origin, err = singleArg(d)
		case "replay":
			if cfg.Replay != nil {
				return nil, d.Err("dpop: replay given twice")
			}
			cfg.Replay, err = unmarshalDPoPReplay(d)
		default:
			return nil, d.Errf("dpop: unknown subdirective %q", d.Val())
		}
		if err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

func unmarshalDPoPReplay(d *caddyfile.Dispenser) (*DPoPReplayConfig, error) {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return nil, d.ArgErr()
	}
	rc := &DPoPReplayConfig{Store: args[0]}
	switch {
	case args[0] == "memory" && len(args) <= 2:
		if len(args) == 2 {
			n, err := strconv.Atoi(args[1])
			if err != nil || n <= 0 {
				return nil, d.Errf("dpop replay memory: entries must be a positive number, not %q", args[1])
			}
			rc.Entries = n
		}
	case args[0] == "redis" && len(args) == 2:
		rc.Location = args[1]
	case args[0] == "memory" || args[0] == "redis":
		return nil, d.ArgErr()
	default:
		return nil, d.Errf("dpop replay: unknown store %q (memory or redis)", args[0])
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if rc.Store != "redis" {
			return nil, d.Errf("dpop replay memory takes no block")
		}
		var err error
		switch d.Val() {
		case "prefix":
			rc.Prefix, err = singleArg(d)
		case "on_error":
			rc.OnError, err = singleArg(d)
			if err == nil && rc.OnError != "deny" && rc.OnError != "allow" {
				err = d.Errf("dpop replay on_error must be deny or allow, not %q", rc.OnError)
			}
		default:
			return nil, d.Errf("dpop replay: unknown subdirective %q", d.Val())
		}
		if err != nil {
			return nil, err
		}
	}
	return rc, nil
}

// unmarshalDPoPNonce parses
//
//	dpop_nonce {
//		secret <value> [base64]
//		rotate <duration>
//	}
func unmarshalDPoPNonce(d *caddyfile.Dispenser) (*DPoPNonceConfig, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	cfg := &DPoPNonceConfig{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "secret":
			var err error
			if cfg.Secret, err = unmarshalSecret(d, "dpop_nonce secret"); err != nil {
				return nil, err
			}
		case "rotate":
			var err error
			if cfg.Rotate, err = durationArg(d); err != nil {
				return nil, err
			}
		default:
			return nil, d.Errf("dpop_nonce: unknown subdirective %q", d.Val())
		}
	}
	return cfg, nil
}
