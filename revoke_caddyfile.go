package caddyjwt

import (
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// caddyfileRevocationStore is a store the revocation block can name: it
// takes the store-specific subdirectives.
type caddyfileRevocationStore interface {
	// unmarshalSubdirective reads the subdirective d is on, reporting
	// false when the store has no such subdirective.
	unmarshalSubdirective(d *caddyfile.Dispenser, name string) (bool, error)
}

// unmarshalCaddyfile reads
//
//	revocation file|redis|http <location> {
//		version_claim <claim>
//		cache         <duration>
//		on_error      deny|allow
//		...           the store's own subdirectives
//	}
func (rc *RevocationConfig) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	if len(args) != 2 {
		return d.ArgErr()
	}
	name, location := args[0], args[1]
	var store caddyfileRevocationStore
	switch name {
	case "file":
		store = &FileStore{Location: location}
	case "redis":
		store = &RedisStore{RedisConnection: RedisConnection{Location: location}}
	case "http":
		store = &HTTPStore{Location: location}
	default:
		return d.Errf("revocation: unknown store %q (file, redis or http)", name)
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		sub := d.Val()
		var err error
		switch sub {
		case "version_claim":
			rc.VersionClaim, err = singleArg(d)
		case "cache":
			rc.Cache, err = durationArg(d)
		case "on_error":
			rc.OnError, err = singleArg(d)
			if err == nil && rc.OnError != "deny" && rc.OnError != "allow" {
				err = d.Errf("revocation on_error must be deny or allow, not %q", rc.OnError)
			}
		default:
			var handled bool
			handled, err = store.unmarshalSubdirective(d, sub)
			if err == nil && !handled {
				return d.Errf("revocation %s: unknown subdirective %q", name, sub)
			}
		}
		if err != nil {
			return err
		}
	}
	rc.StoreRaw = caddyconfig.JSONModuleObject(store, "module", name, nil)
	return nil
}

func (s *FileStore) unmarshalSubdirective(d *caddyfile.Dispenser, name string) (bool, error) {
	if name != "reload_interval" {
		return false, nil
	}
	var err error
	s.ReloadInterval, err = durationArg(d)
	return true, err
}

func (s *HTTPStore) unmarshalSubdirective(d *caddyfile.Dispenser, name string) (bool, error) {
	if name != "version_header" {
		return false, nil
	}
	var err error
	s.VersionHeader, err = singleArg(d)
	return true, err
}

func (s *RedisStore) unmarshalSubdirective(d *caddyfile.Dispenser, name string) (bool, error) {
	var err error
	switch name {
	case "prefix":
		s.Prefix, err = singleArg(d)
	case "username":
		s.Username, err = singleArg(d)
	case "password":
		s.Password, err = singleArg(d)
	case "sentinel_username":
		s.SentinelUsername, err = singleArg(d)
	case "sentinel_password":
		s.SentinelPassword, err = singleArg(d)
	case "tls_ca":
		s.tls().CA, err = singleArg(d)
	case "tls_client_auth":
		args := d.RemainingArgs()
		if len(args) != 2 {
			return true, d.ArgErr()
		}
		s.tls().ClientCert, s.tls().ClientKey = args[0], args[1]
	case "tls_server_name":
		s.tls().ServerName, err = singleArg(d)
	case "tls_insecure_skip_verify":
		s.tls().InsecureSkipVerify, err = flagArg(d)
	case "push":
		s.pushConfig()
		args := d.RemainingArgs()
		switch len(args) {
		case 0:
		case 1:
			s.Push.Channel = args[0]
		default:
			return true, d.ArgErr()
		}
	case "fallback_cache":
		if s.Push == nil {
			return true, d.Err("revocation redis: fallback_cache is the cache time while push is down; it needs push before it")
		}
		s.Push.FallbackCache, err = durationArg(d)
	default:
		return false, nil
	}
	return true, err
}

// tls returns the TLS settings, made on first use.
func (s *RedisStore) tls() *RedisTLS {
	if s.TLS == nil {
		s.TLS = new(RedisTLS)
	}
	return s.TLS
}

// pushConfig returns the push settings, made on first use.
func (s *RedisStore) pushConfig() *RedisPush {
	if s.Push == nil {
		s.Push = new(RedisPush)
	}
	return s.Push
}
