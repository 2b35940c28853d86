package caddyjwt

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("jwt", parseCaddyfile)
	// Authentication belongs with basic_auth: before rewrites of the
	// response and before anything that proxies or serves files.
	httpcaddyfile.RegisterDirectiveOrder("jwt", httpcaddyfile.After, "basic_auth")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var handler Handler
	err := handler.UnmarshalCaddyfile(h.Dispenser)
	return &handler, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	jwt [<matcher>] {
//		secret         <value> [base64]
//		public_key     <pem-file> [<kid>]
//		jwks           <url-or-file> { refresh <d>; unknown_kid_wait <d>; timeout <d> }
//		algorithms     <alg>...
//		issuer         <iss> [{ secret|public_key|jwks|audience|discover }]
//		from           header <name> [<scheme>] | cookie <name> | query <name>
//		audience       <aud>...
//		leeway         <duration>
//		max_lifetime   <duration>
//		token_type     <typ>...
//		require_claim  <path> [<value>...]
//		max_age        <duration>
//		revocation     file|redis|http <location> { ... }
//		claim_header   <path> <header>
//		user_claim     <path>
//		strip_token
//		optional
//		realm          <name>
//		redirect       <url> [<param>]
//		csrf           on|off
//		trusted_origin <origin>...
//		cache          <entries>|off
//		max_token_size <bytes>
//		resource       <uri> [{ authorization_server <url>...; scopes <scope>...; documentation <url>; name <text> }]
//		mode           enforce|observe
//		dpop           [off|allowed|required] { algorithms; leeway; max_age; origin; replay }
//		dpop_nonce     { secret <value> [base64]; rotate <d> }
//		client_certificate_header <header>
//	}
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	// Each group reports whether the subdirective was one of its own.
	groups := []func(*caddyfile.Dispenser) (bool, error){
		h.KeySources.unmarshalKeySource,
		h.unmarshalTokenRule,
		h.unmarshalResponseRule,
		h.unmarshalLimit,
		h.unmarshalExtension,
	}
	for d.NextBlock(0) {
		var handled bool
		var err error
		for _, group := range groups {
			if handled, err = group(d); handled || err != nil {
				break
			}
		}
		if err != nil {
			return err
		}
		if !handled {
			return d.Errf("unknown subdirective %q", d.Val())
		}
	}
	return nil
}

// unmarshalTokenRule parses what a token must be to pass: its algorithm,
// issuer, audience, lifetime, type and claims, and where it is read from.
func (h *Handler) unmarshalTokenRule(d *caddyfile.Dispenser) (bool, error) {
	var err error
	switch d.Val() {
	case "algorithms":
		err = appendArgs(d, &h.Algorithms)
	case "issuer":
		var is *Issuer
		if is, err = unmarshalIssuer(d); err == nil {
			h.Issuers = append(h.Issuers, is)
		}
	case "from":
		var src *TokenSource
		if src, err = unmarshalTokenSource(d); err == nil {
			h.From = append(h.From, src)
		}
	case "audience":
		err = appendArgs(d, &h.Audience)
	case "leeway":
		var dur caddy.Duration
		dur, err = durationArg(d)
		h.Leeway = &dur
	case "max_lifetime":
		h.MaxLifetime, err = durationArg(d)
	case "token_type":
		err = appendArgs(d, &h.TokenType)
	case "require_claim":
		args := d.RemainingArgs()
		if len(args) == 0 {
			return true, d.ArgErr()
		}
		h.RequireClaims = append(h.RequireClaims, &ClaimRequirement{Path: args[0], Values: args[1:]})
	case "max_age":
		h.MaxAge, err = durationArg(d)
	default:
		return false, nil
	}
	return true, err
}

// unmarshalResponseRule parses what the handler does with a request once
// the token is judged: headers handed on, the token stripped, the
// challenge, the browser redirect and its CSRF check, and the mode.
func (h *Handler) unmarshalResponseRule(d *caddyfile.Dispenser) (bool, error) {
	var err error
	switch d.Val() {
	case "claim_header":
		args := d.RemainingArgs()
		if len(args) != 2 {
			return true, d.ArgErr()
		}
		h.ClaimHeaders = append(h.ClaimHeaders, &ClaimHeader{Path: args[0], Header: args[1]})
	case "user_claim":
		h.UserClaim, err = singleArg(d)
	case "strip_token":
		h.StripToken, err = flagArg(d)
	case "optional":
		h.Optional, err = flagArg(d)
	case "realm":
		h.Realm, err = singleArg(d)
	case "redirect":
		args := d.RemainingArgs()
		if len(args) < 1 || len(args) > 2 {
			return true, d.ArgErr()
		}
		h.Redirect = &Redirect{URL: args[0]}
		if len(args) == 2 {
			h.Redirect.Param = args[1]
		}
	case "csrf":
		// on or off: Validate judges it, for JSON configs too.
		h.CSRF, err = singleArg(d)
	case "trusted_origin":
		err = appendArgs(d, &h.TrustedOrigins)
	case "mode":
		// enforce or observe: Validate judges it, for JSON configs too.
		h.Mode, err = singleArg(d)
	default:
		return false, nil
	}
	return true, err
}

// unmarshalLimit parses the numbers that bound the work per request: the
// verified-token cache and the largest token read.
func (h *Handler) unmarshalLimit(d *caddyfile.Dispenser) (bool, error) {
	switch d.Val() {
	case "cache":
		if !d.NextArg() {
			return true, d.ArgErr()
		}
		// The JSON config's 0 is the default, so `cache 0` would not
		// mean what it says; the range is Validate's to judge.
		switch n, err := strconv.Atoi(d.Val()); {
		case d.Val() == "off":
			h.Cache = -1
		case err != nil:
			return true, d.Errf("cache must be a number of entries or off, not %q", d.Val())
		case n == 0:
			return true, d.Err("cache 0: write `cache off` to turn the cache off")
		default:
			h.Cache = n
		}
		if d.NextArg() {
			return true, d.ArgErr()
		}
	case "max_token_size":
		if !d.NextArg() {
			return true, d.ArgErr()
		}
		// The range is judged in Provision, for JSON configs too.
		n, err := strconv.Atoi(d.Val())
		if err != nil {
			return true, d.Errf("max_token_size must be a number of bytes, not %q", d.Val())
		}
		if n == 0 {
			return true, d.Err("max_token_size 0: leave it out for the default of 16384 bytes")
		}
		h.MaxTokenSize = n
		if d.NextArg() {
			return true, d.ArgErr()
		}
	default:
		return false, nil
	}
	return true, nil
}

// unmarshalExtension parses the subdirectives with blocks of their own:
// revocation, the protected resource's metadata, DPoP and its nonces, and
// the header that carries a client certificate for bound tokens.
func (h *Handler) unmarshalExtension(d *caddyfile.Dispenser) (bool, error) {
	switch d.Val() {
	case "revocation":
		return true, unmarshalOnce(d, &h.Revocation, func(d *caddyfile.Dispenser) (*RevocationConfig, error) {
			rc := new(RevocationConfig)
			return rc, rc.unmarshalCaddyfile(d)
		})
	case "resource":
		return true, unmarshalOnce(d, &h.Resource, unmarshalResource)
	case "dpop":
		return true, unmarshalOnce(d, &h.DPoP, unmarshalDPoP)
	case "dpop_nonce":
		return true, unmarshalOnce(d, &h.DPoPNonce, unmarshalDPoPNonce)
	case "client_certificate_header":
		var err error
		h.ClientCertificateHeader, err = singleArg(d)
		return true, err
	default:
		return false, nil
	}
}

// unmarshalOnce parses a subdirective that may be given only once into
// *dst, with parse.
func unmarshalOnce[T any](d *caddyfile.Dispenser, dst **T, parse func(*caddyfile.Dispenser) (*T, error)) error {
	if *dst != nil {
		return d.Errf("%s given twice", d.Val())
	}
	v, err := parse(d)
	if err != nil {
		return err
	}
	*dst = v
	return nil
}

func unmarshalTokenSource(d *caddyfile.Dispenser) (*TokenSource, error) {
	args := d.RemainingArgs()
	if len(args) < 2 {
		return nil, d.ArgErr()
	}
	switch args[0] {
	case "header":
		if len(args) > 3 {
			return nil, d.ArgErr()
		}
		src := &TokenSource{Header: args[1]}
		if len(args) == 3 {
			src.Scheme = args[2]
		}
		return src, nil
	case "cookie":
		if len(args) != 2 {
			return nil, d.ArgErr()
		}
		return &TokenSource{Cookie: args[1]}, nil
	case "query":
		if len(args) != 2 {
			return nil, d.ArgErr()
		}
		return &TokenSource{Query: args[1]}, nil
	}
	return nil, d.Errf("from: unknown location %q (header, cookie or query)", args[0])
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Handler)(nil)
