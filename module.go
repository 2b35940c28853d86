// Package caddyjwt is a Caddy HTTP handler that authenticates requests with
// JSON Web Tokens at the edge, so that the sites and APIs behind Caddy only
// ever see requests whose token was verified.
package caddyjwt

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
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
// Rejections are 401, 400, 403 or 503 with an RFC 6750 `WWW-Authenticate`
// challenge. They are returned as HTTP errors wherever error routes could
// render them (`handle_errors`, a subroute's `errors`) and for every 503;
// elsewhere the handler writes the status itself (refusal.go).
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
	// with 403 `insufficient_scope`. A `scope` (or `scp`) requirement's
	// challenge names the required scopes (`scope="…"`, RFC 6750 §3); an
	// `acr` requirement that fails answers 401
	// `insufficient_user_authentication` with `acr_values` (RFC 9470).
	// Default: none.
	RequireClaims []*ClaimRequirement `json:"require_claim,omitempty"`

	// If set, the user must have authenticated at most this long ago, by
	// the token's `auth_time` claim (leeway applies); a token without
	// `auth_time`, or with an older one, gets 401
	// `insufficient_user_authentication` with `max_age` in seconds
	// (RFC 9470), so the client can have the user sign in again. At least
	// 1s. Default: 0, not checked.
	MaxAge caddy.Duration `json:"max_age,omitempty"`

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
	// every request. The cache also remembers the last 128 tokens whose
	// signature failed, so that one repeated is refused without another
	// signature check. 0 means the default of 10000; -1 turns the cache
	// (both parts) off.
	Cache int `json:"cache,omitempty"`

	// Tokens longer than this many bytes are rejected before any parsing.
	// Default: 16384.
	MaxTokenSize int `json:"max_token_size,omitempty"`

	// The protected resource this handler guards (RFC 9728). The handler
	// then serves the resource's metadata document itself, at
	// `/.well-known/oauth-protected-resource` plus the resource's path,
	// to anyone and without a token; every challenge carries
	// `resource_metadata` with that document's URL; and `audience`
	// defaults to the resource URI (RFC 8707), so a token minted for
	// another resource is refused. The metadata path must be routed to
	// this handler. Default: none.
	Resource *ProtectedResource `json:"resource,omitempty"`

	// `enforce` refuses requests that fail; `observe` verifies every
	// request exactly as `enforce` would, counts it in
	// `caddy_jwt_observed_requests_total` by the result enforcing would
	// have had, logs each that would have been refused ("request would be
	// rejected"), and passes it on: a request that would be refused
	// reaches the next handler as the client sent it, minus spoofed claim
	// headers, with no claim header, user ID or claim placeholder from its
	// token. For rolling authentication out in front of a live service;
	// switching to `enforce` is a config reload. Default: `enforce`.
	Mode string `json:"mode,omitempty"`

	// DPoP proof of possession (RFC 9449): `mode` off, allowed (the
	// default) or required, and how proofs are checked. A token whose
	// claims carry `cnf.jkt` never passes without a valid proof. (A token
	// carrying `cnf.x5t#S256` passes only over TLS with the client
	// certificate it names, RFC 8705, whatever this says.)
	DPoP *DPoPConfig `json:"dpop,omitempty"`

	// Server-provided DPoP nonces (RFC 9449 §8, §9). Default: off.
	DPoPNonce *DPoPNonceConfig `json:"dpop_nonce,omitempty"`

	// For certificate-bound tokens (RFC 8705) behind a proxy that
	// terminates TLS: the request header in which the proxy forwards the
	// client certificate it verified, as PEM (URL-escaped or not) or
	// base64 DER. It is read only on requests from the server's
	// `trusted_proxies`, and only when the connection to Caddy has no
	// client certificate of its own; the proxy must overwrite any copy
	// the client sends. Default: none, only Caddy's own TLS client
	// certificate counts.
	ClientCertificateHeader string `json:"client_certificate_header,omitempty"`

	// Everything below is computed in Provision; ServeHTTP only reads it.
	logger       *zap.Logger
	verifier     *tokenVerifier
	cache        *tokenCache // nil with `cache off`
	sources      []tokenSource
	requirements []claimRequirement
	headers      []claimHeader
	userClaim    claimPath
	challenge    challengeBuilder
	revocation   *revocationCheck
	csrf         *http.CrossOriginProtection
	redirect     *loginRedirect
	resource     *resourceMetadata
	observe      bool
	requests     *[reasonCount]prometheus.Counter // by reason, for this mode
	rejectionLog *rejectionSampler
	refusals     refusalPath
	dpop         *dpopChecker
	dpopSource   int // index of the DPoP scheme in sources, -1 for none
	cleanups     []func()

	clientCertificateHeader string // canonical ClientCertificateHeader
}

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
	h.rejectionLog = newRejectionSampler(time.Now)
	h.warnIfNeverReached(ctx)
	if err := registerMetrics(ctx); err != nil {
		return fmt.Errorf("jwt: registering metrics: %v", err)
	}

	h.provisionModeAndDefaults()
	if err := h.provisionTokenReading(ctx); err != nil {
		return err
	}
	if h.Resource != nil && len(h.Audience) == 0 {
		// RFC 8707 §2: a token for this resource names it in aud; one
		// minted for another resource must not be replayed here.
		h.Audience = []string{h.Resource.URI}
	}
	// The cache is made before any key source starts: remote sources
	// report key changes, which drop it.
	var onKeysChanged func()
	if h.cache = newTokenCache(h.Cache); h.cache != nil {
		onKeysChanged = h.cache.clear
	}
	var err error
	if h.verifier, err = h.provisionVerifier(ctx, onKeysChanged); err != nil {
		return err
	}
	if h.requirements, err = compileRequirements(h.RequireClaims); err != nil {
		return err
	}
	if err := validateMaxAge(time.Duration(h.MaxAge)); err != nil {
		return err
	}
	h.challenge.params.stepUp = compileStepUp(h.requirements, time.Duration(h.MaxAge))
	if h.resource, err = h.provisionResource(); err != nil {
		return err
	}
	if h.resource != nil {
		h.challenge.params.resourceMetadata = h.resource.url
	}
	h.challenge.finish()
	if h.headers, err = compileClaimHeaders(h.ClaimHeaders); err != nil {
		return err
	}
	if err := h.provisionBrowserProtection(); err != nil {
		return err
	}
	if h.Revocation != nil {
		// The store module's Cleanup runs with the handler's context.
		if h.revocation, err = h.Revocation.provision(ctx, h.logger); err != nil {
			return err
		}
	}
	return nil
}

// provisionModeAndDefaults picks the request counter for the mode and fills
// in the defaults the rest of Provision builds on.
func (h *Handler) provisionModeAndDefaults() {
	h.observe, h.requests = strings.EqualFold(h.Mode, modeObserve), &requestsByReason
	if h.observe {
		h.requests = &observedByReason
		h.logger.Warn("observe mode: requests that fail authentication are passed on without identity; nothing is refused")
	}
	if h.MaxTokenSize == 0 {
		h.MaxTokenSize = defaultMaxTokenSize
	}
	if h.UserClaim == "" {
		h.UserClaim = defaultUserClaim
	}
	h.userClaim = compileClaimPath(h.UserClaim)
	h.challenge = newChallengeBuilder(h.Realm)
}

// provisionTokenReading sets up where a request's token and its proof of
// possession are read from: the token sources, DPoP and the header that
// carries the client certificate.
func (h *Handler) provisionTokenReading(ctx caddy.Context) error {
	var err error
	if h.sources, err = h.provisionTokenSources(); err != nil {
		return err
	}
	var stopDPoP func()
	h.dpop, stopDPoP, err = h.provisionDPoP(ctx)
	if stopDPoP != nil {
		h.cleanups = append(h.cleanups, stopDPoP)
	}
	if err != nil {
		return err
	}
	if h.sources, h.dpopSource, err = addDPoPSource(h.sources, h.dpop); err != nil {
		return err
	}
	if h.ClientCertificateHeader != "" {
		if !validHeaderName(h.ClientCertificateHeader) {
			return fmt.Errorf("jwt: client_certificate_header: %q is not a valid header name", h.ClientCertificateHeader)
		}
		h.clientCertificateHeader = http.CanonicalHeaderKey(h.ClientCertificateHeader)
	}
	return nil
}

// Validate refuses configurations that can never be safe.
func (h *Handler) Validate() error {
	if h.Cache < -1 {
		return fmt.Errorf("jwt: cache must be a positive number of entries, or -1 (off), not %d", h.Cache)
	}
	switch strings.ToLower(h.Mode) {
	case "", modeEnforce, modeObserve:
	default:
		return fmt.Errorf("jwt: mode must be enforce or observe, not %q", h.Mode)
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
	runInReverse(h.cleanups)
	h.cleanups = nil
	return nil
}

// runInReverse calls the undo functions of steps taken one after the
// other, the last step's first.
func runInReverse(undo []func()) {
	for i := len(undo) - 1; i >= 0; i-- {
		undo[i]()
	}
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
