package caddyjwt

import (
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"
)

// RevocationConfig says where revocations are looked up. A token is revoked
// when its `jti` is on the deny list, when its subject has a current token
// version higher than the token's version claim (or the token has none), or
// when its `iat` is before its subject's last logout (`not_before`).
type RevocationConfig struct {
	// The store: `file` (one machine), `redis` (a fleet) or `http` (ask the
	// auth service).
	Store string `json:"store,omitempty"`

	// The store's location: a file path, a `redis://` URL, or an http(s)
	// URL in which placeholders such as `{http.auth.jwt.sub}` are filled.
	Location string `json:"location,omitempty"`

	// The claim holding the token's version. Default: `ver`.
	VersionClaim string `json:"version_claim,omitempty"`

	// How long a lookup is remembered: the longest a revocation takes to
	// reach every instance. Default: 1s.
	Cache caddy.Duration `json:"cache,omitempty"`

	// What to do when the store cannot answer: `deny` (the default) answers
	// 503 with Retry-After; `allow` lets the request pass and logs it.
	OnError string `json:"on_error,omitempty"`

	// File store: how often the file is checked for changes. Default: 1s.
	ReloadInterval caddy.Duration `json:"reload_interval,omitempty"`

	// Redis store: the prefix of every key. Default: `jwt:`.
	Prefix string `json:"prefix,omitempty"`

	// HTTP store: the response header carrying the subject's current token
	// version. Default: `Token-Version`.
	VersionHeader string `json:"version_header,omitempty"`
}

// revocationChecker decides whether a verified token has been revoked.
type revocationChecker interface {
	// check returns reasonAllowed, reasonRevoked, or
	// reasonRevocationUnavailable when the store cannot answer and
	// on_error is deny.
	check(r *http.Request, t *verifiedToken) reason
}

func (rc *RevocationConfig) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	if len(args) != 2 {
		return d.ArgErr()
	}
	rc.Store, rc.Location = args[0], args[1]
	switch rc.Store {
	case "file", "redis", "http":
	default:
		return d.Errf("revocation: unknown store %q (file, redis or http)", rc.Store)
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
		case "reload_interval":
			rc.ReloadInterval, err = durationArg(d)
		case "prefix":
			rc.Prefix, err = singleArg(d)
		case "version_header":
			rc.VersionHeader, err = singleArg(d)
		default:
			return d.Errf("revocation: unknown subdirective %q", sub)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func singleArg(d *caddyfile.Dispenser) (string, error) {
	if !d.NextArg() {
		return "", d.ArgErr()
	}
	v := d.Val()
	if d.NextArg() {
		return "", d.ArgErr()
	}
	return v, nil
}

func (rc *RevocationConfig) provision(ctx caddy.Context, logger *zap.Logger) (revocationChecker, error) {
	return nil, fmt.Errorf("jwt: revocation %s: not available yet", rc.Store)
}
