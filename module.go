// Package caddyjwt is a Caddy HTTP handler that authenticates requests with
// JSON Web Tokens at the edge, so that the sites and APIs behind Caddy only
// ever see requests whose token was verified.
package caddyjwt

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Default values of the config fields that have one.
const (
	defaultLeeway       = 30 * time.Second
	defaultMaxTokenSize = 16384
	defaultUserClaim    = "sub"
	defaultCacheEntries = 10000
)

// Handler authenticates requests with JSON Web Tokens. A request passes to
// the next handler only when it carries a token whose signature, algorithm,
// issuer, audience, lifetime, revocation status and required claims all
// check out (or, with `optional`, when it carries no token at all). The
// verified claims are available to later handlers as `{http.auth.jwt.*}`
// placeholders, the user as `{http.auth.user.id}`, and as request headers
// configured with `claim_header`.
//
// Rejections are returned as HTTP errors (401, 400, 403 or 503 with an
// RFC 6750 `WWW-Authenticate` challenge) so that `handle_errors` can
// render them.
type Handler struct {
	// Key sources that verify tokens from any issuer without an issuer
	// block of its own: an HMAC `secret`, `public_key` PEM files and
	// `jwks` key sets. Sources may be combined.
	KeySources

	// The signature algorithms accepted, e.g. `["ES256", "RS256"]`.
	// Default: every algorithm the configured keys can verify. `none` is
	// never accepted and is refused in this list.
	Algorithms []string `json:"algorithms,omitempty"`

	// Issuers whose tokens are accepted. When any is given, the token's
	// `iss` must equal one of them. An issuer with key sources of its own
	// has its tokens verified only by those keys. Default: none, so any
	// issuer (or none) is accepted.
	Issuers []*Issuer `json:"issuer,omitempty"`

	// Where the token is read from, tried in this order. Default: the
	// `Authorization` header with the `Bearer` scheme. When two locations
	// carry different tokens, the request is rejected with 400.
	From []*TokenSource `json:"from,omitempty"`

	// The token's `aud` must contain at least one of these values.
	// Default: none, so `aud` is not checked.
	Audience []string `json:"audience,omitempty"`

	// Clock skew tolerated when checking `exp`, `nbf` and `iat`.
	// Default: 30s.
	Leeway *caddy.Duration `json:"leeway,omitempty"`

	// If set, tokens whose `exp` is further than this after their `iat`
	// are rejected, so that a leaked long-lived token cannot be used here;
	// so are tokens without `iat`. Default: 0, no limit.
	MaxLifetime caddy.Duration `json:"max_lifetime,omitempty"`

	// If set, the JOSE header `typ` must be one of these values (compared
	// case-insensitively, with an optional `application/` prefix), e.g.
	// `at+jwt` for OAuth access tokens (RFC 9068). Default: none, so `typ`
	// is not checked.
	TokenType []string `json:"token_type,omitempty"`

	// Claims a token must carry, all of them, or the request is refused
	// with 403 `insufficient_scope`. Default: none.
	RequireClaims []*ClaimRequirement `json:"require_claim,omitempty"`

	// Revocation checks: deny-listed `jti`s, token versions per subject and
	// per-subject logout times, looked up in a file, Redis or HTTP store.
	// Default: none, no revocation checks.
	Revocation *RevocationConfig `json:"revocation,omitempty"`

	// Claims passed to the upstream as request headers. The client's own
	// copies of these headers are always removed first, also from requests
	// that are rejected or anonymous, and so are their names from the
	// client's `Connection` header, where they would make reverse_proxy
	// drop them as hop-by-hop. Values are formatted as for placeholders:
	// arrays as RFC 9110 lists (`a,b`; an element with `,`, `"`, `\` or
	// edge white space quoted); a value with control characters, edge
	// white space or invalid UTF-8 is not sent. Default: none.
	ClaimHeaders []*ClaimHeader `json:"claim_header,omitempty"`

	// The claim that becomes `{http.auth.user.id}` (and so the access log's
	// `user_id`), empty when the claim is missing or its value unsafe (as
	// for claim headers). Default: `sub`.
	UserClaim string `json:"user_claim,omitempty"`

	// Remove the token from where it was found (header, cookie or query
	// parameter) before the request is passed on. Default: false, the
	// upstream gets the token as the client sent it.
	StripToken bool `json:"strip_token,omitempty"`

	// Let requests without any token through, anonymously. A token that is
	// present but not valid is still rejected. Default: false, a token is
	// required.
	Optional bool `json:"optional,omitempty"`

	// The realm in `WWW-Authenticate` challenges. Default: the request's host.
	Realm string `json:"realm,omitempty"`

	// Send browser navigations (GET or HEAD preferring text/html) without a
	// valid token to a login page, with the request URI in a query
	// parameter, instead of answering 401. Other clients still get 401.
	// Default: off.
	Redirect *Redirect `json:"redirect,omitempty"`

	// Cross-site request forgery protection for tokens read from cookies:
	// `on` (the default) refuses unsafe-method requests (POST, PUT, DELETE,
	// …) that a browser marks as cross-origin with 403. Requests whose token
	// came from a header or query parameter are not affected.
	CSRF string `json:"csrf,omitempty"`

	// Origins (`scheme://host[:port]`, no path) whose cross-origin requests
	// pass the CSRF check, e.g. `https://app.example.com`. They are compared
	// with the browser's `Origin` header after lower-casing and dropping a
	// default port. Not allowed with `csrf off`. Default: none.
	TrustedOrigins []string `json:"trusted_origin,omitempty"`

	// How many verified tokens to remember, so that a token seen a moment
	// ago is not verified again. Expiry and revocation are still checked on
	// every request. 0 means the default of 10000; -1 turns the cache off.
	Cache int `json:"cache,omitempty"`

	// Tokens longer than this many bytes are rejected before any parsing.
	// Default: 16384.
	MaxTokenSize int `json:"max_token_size,omitempty"`

	// Everything below is computed in Provision; ServeHTTP only reads it.
	logger       *zap.Logger
	verifier     *tokenVerifier
	sources      []tokenSource
	requirements []claimRequirement
	headers      []claimHeader
	userClaim    claimPath
	challenge    challengeBuilder
	revocation   revocationChecker
	csrf         *http.CrossOriginProtection
	redirect     *loginRedirect
	cleanups     []func()
}

// KeySources are the places keys come from. They appear at the top level of
// the handler and inside each issuer block.
type KeySources struct {
	// An HMAC secret for HS256/384/512. `{env.*}` and `{file.*}`
	// placeholders are resolved when the config loads; a secret shorter
	// than the hash (32, 48 or 64 bytes) is refused. Default: none.
	Secret *SecretKey `json:"secret,omitempty"`

	// PEM files holding RSA (2048 bits or more), EC (P-256, P-384, P-521)
	// or Ed25519 public keys, or X.509 certificates. Default: none.
	PublicKeys []*PublicKeyFile `json:"public_key,omitempty"`

	// JSON Web Key Sets fetched from a URL (and refreshed) or read from a
	// file. Keys that came from a URL only verify asymmetric algorithms.
	// Default: none.
	JWKS []*JWKSSource `json:"jwks,omitempty"`
}

func (ks *KeySources) empty() bool {
	return ks.Secret == nil && len(ks.PublicKeys) == 0 && len(ks.JWKS) == 0
}

// SecretKey is an HMAC secret.
type SecretKey struct {
	// The secret, or a placeholder such as `{env.JWT_SECRET}` or
	// `{file./run/secrets/jwt}` resolved when the config loads.
	Value string `json:"value,omitempty"`

	// The resolved value is base64 (standard or URL alphabet, padded or
	// not) and decodes to the key bytes. Default: false, the value's bytes
	// are the key.
	Base64 bool `json:"base64,omitempty"`
}

// PublicKeyFile is a PEM file with one public key or certificate.
type PublicKeyFile struct {
	// Path of the PEM file.
	Path string `json:"path,omitempty"`

	// The key ID. When set, a token whose header names another `kid` is
	// never verified with this key (a token naming no `kid` may be). When
	// empty, the key verifies tokens whatever their `kid`, except tokens
	// whose `kid` some other key has exactly. Default: empty.
	KeyID string `json:"kid,omitempty"`
}

// Issuer binds key sources and audiences to one token issuer.
type Issuer struct {
	// The exact `iss` value.
	Issuer string `json:"issuer,omitempty"`

	// Keys that verify this issuer's tokens only. When none are given (and
	// `discover` is off), the handler's top-level keys are used.
	KeySources

	// Audiences accepted for this issuer's tokens, instead of the handler's
	// `audience`. Default: none, so the handler's `audience` applies.
	Audience []string `json:"audience,omitempty"`

	// Fetch the issuer's JWKS URL from `<issuer>/.well-known/openid-configuration`.
	// Default: false.
	Discover bool `json:"discover,omitempty"`
}

// hasOwnKeys reports whether the issuer is verified with keys of its own.
func (is *Issuer) hasOwnKeys() bool { return !is.KeySources.empty() || is.Discover }

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.jwt",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision loads keys and compiles everything the request path needs.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if err := registerMetrics(ctx); err != nil {
		return fmt.Errorf("jwt: registering metrics: %v", err)
	}

	if h.MaxTokenSize == 0 {
		h.MaxTokenSize = defaultMaxTokenSize
	}
	if h.UserClaim == "" {
		h.UserClaim = defaultUserClaim
	}
	h.userClaim = compileClaimPath(h.UserClaim)
	h.challenge = newChallengeBuilder(h.Realm)

	var err error
	if h.sources, err = h.provisionTokenSources(); err != nil {
		return err
	}
	if h.verifier, err = h.provisionVerifier(ctx); err != nil {
		return err
	}
	if h.requirements, err = compileRequirements(h.RequireClaims); err != nil {
		return err
	}
	if h.headers, err = compileClaimHeaders(h.ClaimHeaders); err != nil {
		return err
	}
	if err := h.provisionBrowserProtection(); err != nil {
		return err
	}
	if h.Revocation != nil {
		var stop func()
		h.revocation, stop, err = h.Revocation.provision(ctx, h.logger)
		if stop != nil {
			h.cleanups = append(h.cleanups, stop)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Validate refuses configurations that can never be safe.
func (h *Handler) Validate() error {
	if h.MaxTokenSize < 0 {
		return errors.New("jwt: max_token_size must be positive")
	}
	if h.Cache < -1 {
		return errors.New("jwt: cache must be a number of entries or off")
	}
	switch strings.ToLower(h.CSRF) {
	case "", "on", "off":
	default:
		return fmt.Errorf("jwt: csrf must be on or off, not %q", h.CSRF)
	}
	return nil
}

// Cleanup stops background work (key refreshes, store connections). It runs
// also when Provision failed half way, so each step registers its own undo.
func (h *Handler) Cleanup() error {
	for i := len(h.cleanups) - 1; i >= 0; i-- {
		h.cleanups[i]()
	}
	h.cleanups = nil
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
