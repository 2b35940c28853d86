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
	switch d.Val() {
	case "algorithms":
		return true, appendArgs(d, &h.Algorithms)
	case "issuer":
		is, err := unmarshalIssuer(d)
		if err != nil {
			return true, err
		}
		h.Issuers = append(h.Issuers, is)
	case "from":
		src, err := unmarshalTokenSource(d)
		if err != nil {
			return true, err
		}
		h.From = append(h.From, src)
	case "audience":
		return true, appendArgs(d, &h.Audience)
	case "leeway":
		dur, err := durationArg(d)
		if err != nil {
			return true, err
		}
		h.Leeway = &dur
	case "max_lifetime":
		dur, err := durationArg(d)
		if err != nil {
			return true, err
		}
		h.MaxLifetime = dur
	case "token_type":
		return true, appendArgs(d, &h.TokenType)
	case "require_claim":
		args := d.RemainingArgs()
		if len(args) == 0 {
			return true, d.ArgErr()
		}
		h.RequireClaims = append(h.RequireClaims, &ClaimRequirement{Path: args[0], Values: args[1:]})
	case "max_age":
		dur, err := durationArg(d)
		if err != nil {
			return true, err
		}
		h.MaxAge = dur
	default:
		return false, nil
	}
	return true, nil
}

// unmarshalResponseRule parses what the handler does with a request once
// the token is judged: headers handed on, the token stripped, the
// challenge, the browser redirect and its CSRF check, and the mode.
func (h *Handler) unmarshalResponseRule(d *caddyfile.Dispenser) (bool, error) {
	switch d.Val() {
	case "claim_header":
		args := d.RemainingArgs()
		if len(args) != 2 {
			return true, d.ArgErr()
		}
		h.ClaimHeaders = append(h.ClaimHeaders, &ClaimHeader{Path: args[0], Header: args[1]})
	case "user_claim":
		v, err := singleArg(d)
		if err != nil {
			return true, err
		}
		h.UserClaim = v
	case "strip_token":
		if d.NextArg() {
			return true, d.ArgErr()
		}
		h.StripToken = true
	case "optional":
		if d.NextArg() {
			return true, d.ArgErr()
		}
		h.Optional = true
	case "realm":
		v, err := singleArg(d)
		if err != nil {
			return true, err
		}
		h.Realm = v
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
		v, err := singleArg(d)
		if err != nil {
			return true, err
		}
		h.CSRF = v
	case "trusted_origin":
		return true, appendArgs(d, &h.TrustedOrigins)
	case "mode":
		// enforce or observe: Validate judges it, for JSON configs too.
		v, err := singleArg(d)
		if err != nil {
			return true, err
		}
		h.Mode = v
	default:
		return false, nil
	}
	return true, nil
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
		v, err := singleArg(d)
		if err != nil {
			return true, err
		}
		h.ClientCertificateHeader = v
	default:
		return false, nil
	}
	return true, nil
}

// appendArgs appends the subdirective's arguments, at least one, to *dst.
func appendArgs(d *caddyfile.Dispenser, dst *[]string) error {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return d.ArgErr()
	}
	*dst = append(*dst, args...)
	return nil
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

func durationArg(d *caddyfile.Dispenser) (caddy.Duration, error) {
	if !d.NextArg() {
		return 0, d.ArgErr()
	}
	dur, err := caddy.ParseDuration(d.Val())
	if err != nil {
		return 0, d.Errf("invalid duration %q: %v", d.Val(), err)
	}
	if d.NextArg() {
		return 0, d.ArgErr()
	}
	return caddy.Duration(dur), nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Handler)(nil)
