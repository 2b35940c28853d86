package caddyjwt

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// retryAfterSeconds is sent with 503s: keys or the revocation store are
// expected back within seconds, and clients should not hammer us meanwhile.
const retryAfterSeconds = "5"

// ServeHTTP authenticates the request and passes it on only if it may pass.
// The steps, each once: remove spoofed claim headers, read the token,
// verify it, check CSRF, revocation and required claims, hand the claims on.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	h.removeSpoofedHeaders(r)

	found, rsn := h.readToken(r)
	// CORS preflights carry no credentials (Fetch standard §3.2.2); refusing
	// them would break every cross-origin API call before it starts. They
	// pass as anonymous requests do, with empty placeholders, so that
	// `header_up X-User {http.auth.user.id}` never sends the placeholder's
	// own text. One that carries a token anyway (a header or cookie no
	// browser sends on a preflight, or a token in its URL) is
	// authenticated like any other request: passed on unchecked, it would
	// hand the upstream a token nobody verified.
	if isCORSPreflight(r) && rsn == reasonAllowed && found.raw == "" {
		provideClaimPlaceholders(r, anonymousPlaceholders)
		setUserID(r, "")
		return next.ServeHTTP(w, r)
	}
	if rsn != reasonAllowed {
		return h.reject(w, r, rsn, nil)
	}
	if found.raw == "" {
		if h.Optional {
			provideClaimPlaceholders(r, anonymousPlaceholders)
			setUserID(r, "")
			requestsByReason[reasonAnonymous].Inc()
			return next.ServeHTTP(w, r)
		}
		return h.reject(w, r, reasonMissing, nil)
	}
	if h.csrf != nil && found.fromCookie(h.sources) {
		if err := h.csrf.Check(r); err != nil {
			return h.reject(w, r, reasonCrossOrigin, nil)
		}
	}

	started := time.Now()
	token, rsn := h.verifyToken(r.Context(), found.raw, started)
	verificationSeconds.Observe(time.Since(started).Seconds())
	if rsn != reasonAllowed {
		return h.reject(w, r, rsn, token)
	}
	if h.revocation != nil {
		if rsn := h.revocation.check(r, token); rsn != reasonAllowed {
			return h.reject(w, r, rsn, token)
		}
	}
	if rsn := h.checkRequirements(token); rsn != reasonAllowed {
		return h.reject(w, r, rsn, token)
	}

	h.handOn(r, token, found)
	requestsByReason[reasonAllowed].Inc()
	return next.ServeHTTP(w, r)
}

// removeSpoofedHeaders deletes the client's own copies of the claim headers,
// on every request: an anonymous or rejected request must not be able to
// reach a handle_errors route or the upstream with a forged X-User-Id.
func (h *Handler) removeSpoofedHeaders(r *http.Request) {
	for i := range h.headers {
		delete(r.Header, h.headers[i].header)
	}
	if len(h.headers) > 0 && len(r.Header["Connection"]) > 0 {
		h.unlistClaimHeaders(r.Header)
	}
}

func isCORSPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions &&
		r.Header.Get("Origin") != "" &&
		r.Header.Get("Access-Control-Request-Method") != ""
}

// checkRequirements applies require_claim: all must hold.
func (h *Handler) checkRequirements(token *verifiedToken) reason {
	for i := range h.requirements {
		if !h.requirements[i].satisfiedBy(token.claims) {
			return reasonForbidden
		}
	}
	return reasonAllowed
}

// handOff is what a verified token hands to the rest of the chain, worked
// out once per token when it is verified (and kept with it in the cache),
// so that a request with a known token formats nothing and encodes no JSON.
// It is only read after it is made: requests share it.
type handOff struct {
	// userID is the user claim's value as {http.auth.user.id}, "" when
	// the claim is missing or unsafe. Kept as an interface so that setting
	// it does not box the string again on every request.
	userID any
	// headers holds the value of each of the handler's claim headers, in
	// the same order.
	headers []handOffHeader
	// placeholders resolves {http.auth.jwt.*} from the token's claims.
	placeholders caddy.ReplacerFunc
}

type handOffHeader struct {
	value string
	// found: the claim is present; unsafe: its value has control
	// characters and is not sent.
	found, unsafe bool
}

func (h *Handler) prepareHandOff(claims map[string]any) *handOff {
	ho := &handOff{userID: "", headers: make([]handOffHeader, len(h.headers))}
	if v, ok := h.userClaim.lookup(claims); ok {
		if s, safe := claimText(v); safe {
			ho.userID = s
		} else {
			h.logUnsafeClaim(h.userClaim.name, zap.String("placeholder", "http.auth.user.id"))
		}
	}
	for i := range h.headers {
		v, ok := h.headers[i].path.lookup(claims)
		if !ok {
			continue
		}
		s, safe := claimText(v)
		ho.headers[i] = handOffHeader{value: s, found: true, unsafe: !safe}
	}
	ho.placeholders = claimPlaceholders(claims, h.logger)
	return ho
}

// handOn makes the verified claims available to the rest of the chain: the
// user ID and claim placeholders, the claim headers, and strips the token
// if asked to.
func (h *Handler) handOn(r *http.Request, token *verifiedToken, found foundToken) {
	ho := token.handOff
	provideClaimPlaceholders(r, ho.placeholders)
	setUserID(r, ho.userID)

	if len(h.headers) > 0 {
		// One allocation for all the header values of this request. Each
		// header gets its own one-element window (capacity 1, so an append
		// cannot run into the next), because later handlers may edit
		// values in place: the slices must not be shared between requests.
		values := make([]string, len(h.headers))
		for i := range h.headers {
			hv := &ho.headers[i]
			if !hv.found {
				continue
			}
			if hv.unsafe {
				h.logUnsafeClaim(h.headers[i].path.name, zap.String("header", h.headers[i].header))
				continue
			}
			values[i] = hv.value
			r.Header[h.headers[i].header] = values[i : i+1 : i+1]
		}
	}

	if h.StripToken {
		for i := range h.sources {
			if found.in&(1<<i) != 0 {
				h.sources[i].strip(r)
			}
		}
	}
}

// setUserID sets {http.auth.user.id}, which Caddy's access log shows as
// user_id, from the user claim. It is empty for an anonymous request or a
// token without a usable user claim: left unset, the placeholder would
// reach `header_up X-User {http.auth.user.id}` as its own text, which an
// upstream would take for a user name.
func setUserID(r *http.Request, user any) {
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	repl.Set("http.auth.user.id", user)
}

const claimPlaceholderPrefix = "http.auth.jwt."

// logUnsafeClaim says that a claim was not passed on, and where it would
// have gone, without its value: the value is what an attacker chose.
func (h *Handler) logUnsafeClaim(claim string, where zap.Field) {
	logUnsafeClaim(h.logger, claim, where)
}

func logUnsafeClaim(logger *zap.Logger, claim string, where zap.Field) {
	if logger == nil {
		return
	}
	if c := logger.Check(zapcore.WarnLevel, unsafeClaimMessage); c != nil {
		c.Write(zap.String("claim", claim), where)
	}
}

const unsafeClaimMessage = "claim not passed on: its value has control characters, white space at an edge or invalid UTF-8, which a hop could change"

// claimPlaceholders answers {http.auth.jwt.<path>} from the verified
// claims, nil for an anonymous request. They are resolved lazily: most
// configs read a handful of claims, and formatting all of them on every
// request would waste the work. A claim that is absent (or unsafe, see
// claimText; logged) is the empty string, as Caddy's placeholders for
// absent request headers are: otherwise `header_up X-Email
// {http.auth.jwt.email}` would send the placeholder's literal text to the
// upstream.
//
// The function is made once per verified token (and cached with it), not
// per request.
func claimPlaceholders(claims map[string]any, logger *zap.Logger) caddy.ReplacerFunc {
	return func(key string) (any, bool) {
		path, ok := strings.CutPrefix(key, claimPlaceholderPrefix)
		if !ok {
			return nil, false
		}
		v, ok := lookupClaimName(claims, path)
		if !ok {
			return "", true
		}
		s, safe := claimText(v)
		if !safe {
			logUnsafeClaim(logger, path, zap.String("placeholder", key))
			return "", true
		}
		return s, true
	}
}

// anonymousPlaceholders are the claim placeholders of a request without a
// token: all empty.
var anonymousPlaceholders = claimPlaceholders(nil, nil)

func provideClaimPlaceholders(r *http.Request, placeholders caddy.ReplacerFunc) {
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	repl.Map(placeholders)
}

// reject answers a request that may not pass. The error goes to Caddy as a
// caddyhttp.Error, so handle_errors routes can render it; the challenge
// headers set here survive into them.
func (h *Handler) reject(w http.ResponseWriter, r *http.Request, rsn reason, token *verifiedToken) error {
	info := rsn.info()
	requestsByReason[rsn].Inc()
	h.logRejection(r, rsn, token)

	if info.status == http.StatusUnauthorized && h.redirect != nil && h.redirect.wants(r) {
		h.redirect.send(w, r)
		return nil
	}
	if info.challenge {
		w.Header().Set("WWW-Authenticate", h.challenge.build(r, info))
	}
	if info.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfterSeconds)
	}
	return caddyhttp.Error(info.status, reasonErrors[rsn])
}

// reasonErrors holds the error of each reason, made once: its text is the
// fixed description, so there is nothing to build per request. The Trace
// is set here because caddyhttp.Error otherwise walks the stack with
// runtime.Caller on every rejection, the largest cost of refusing garbage;
// it still gives each error its own ID.
var reasonErrors = func() (errs [reasonCount]caddyhttp.HandlerError) {
	for r := range reasonCount {
		errs[r] = caddyhttp.HandlerError{
			StatusCode: reasons[r].status,
			Err:        errors.New(reasons[r].description),
			Trace:      "caddyjwt.(*Handler).reject",
		}
	}
	return errs
}()

// logRejection logs a refused request at info, with what is known about the
// token but never the token itself.
func (h *Handler) logRejection(r *http.Request, rsn reason, token *verifiedToken) {
	c := h.logger.Check(zapcore.InfoLevel, "request rejected")
	if c == nil {
		return
	}
	fields := []zap.Field{
		zap.String("reason", rsn.info().description),
		zap.String("result", rsn.info().metric),
		zap.String("client_ip", clientIP(r)),
		zap.String("method", r.Method),
		zap.String("uri", r.URL.Path),
	}
	if token != nil {
		// These were read from the token but may not be verified: they help
		// an operator find the client, nothing more.
		fields = appendNonEmpty(fields, "kid", token.keyID)
		fields = appendNonEmpty(fields, "iss", token.issuer)
		fields = appendNonEmpty(fields, "sub", token.subject)
		fields = appendNonEmpty(fields, "jti", token.tokenID)
	}
	c.Write(fields...)
}

func appendNonEmpty(fields []zap.Field, key, value string) []zap.Field {
	if value == "" || !safeHeaderValue(value) || len(value) > 256 {
		return fields
	}
	return append(fields, zap.String(key, value))
}

// clientIP is the client address as Caddy determined it (honouring
// trusted_proxies), falling back to the connection's peer.
func clientIP(r *http.Request) string {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && ip != "" {
		return ip
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Interface guard
var _ caddyhttp.MiddlewareHandler = (*Handler)(nil)
