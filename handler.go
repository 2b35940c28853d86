package caddyjwt

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"
	"unsafe"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// retryAfterSeconds is sent with 503s: keys or the revocation store are
// expected back within seconds, and clients should not hammer us meanwhile.
const retryAfterSeconds = "5"

// ServeHTTP authenticates the request and passes it on only if it may pass.
// In observe mode a request that would be refused is passed on all the
// same, without any identity (see observe.go).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	err := h.authenticate(w, r, next)
	if err == errObserved {
		return h.passObserved(w, r, next)
	}
	return err
}

// authenticate does the steps, each once: remove spoofed claim headers,
// read the token, verify it, check CSRF, revocation and required claims,
// hand the claims on, and call next.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	h.removeSpoofedHeaders(r)

	// The resource's metadata is public: it tells a client without a
	// token where to get one (RFC 9728 §3).
	if h.resource != nil && r.URL.Path == h.resource.path {
		return h.resource.serve(w, r)
	}

	// CORS preflights carry no credentials (Fetch standard §3.2.2); refusing
	// them would break every cross-origin API call before it starts. They
	// pass as anonymous requests do, with empty placeholders, so that
	// `header_up X-User {http.auth.user.id}` never sends the placeholder's
	// own text.
	if isCORSPreflight(r) {
		provideClaimPlaceholders(r, anonymousPlaceholders)
		setUserID(r, "")
		return next.ServeHTTP(w, r)
	}

	found, rsn := h.readToken(r)
	if rsn != reasonAllowed {
		return h.reject(w, r, rsn, nil)
	}
	if found.raw == "" {
		if h.Optional {
			provideClaimPlaceholders(r, anonymousPlaceholders)
			setUserID(r, "")
			h.requests[reasonAnonymous].Inc()
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
	token, ho, rsn := h.verifyToken(r.Context(), found.raw, started)
	verificationSeconds.Observe(time.Since(started).Seconds())
	if rsn != reasonAllowed {
		return h.reject(w, r, rsn, token)
	}
	if h.revocation != nil {
		if rsn := h.revocation.check(r, token); rsn != reasonAllowed {
			return h.reject(w, r, rsn, token)
		}
	}
	if rsn := h.checkRequirements(token, started); rsn != reasonAllowed {
		return h.reject(w, r, rsn, token)
	}

	h.handOn(r, ho, found)
	h.requests[reasonAllowed].Inc()
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

// verifyToken verifies raw at the time now, through the cache when it is
// on. A token the cache holds is judged again only by its dates; a token
// newly verified gets what it hands on worked out once, before it is
// stored, so that a hit finds it ready. On failure the token, if it could
// be read, comes back for the log.
func (h *Handler) verifyToken(ctx context.Context, raw string, now time.Time) (*verifiedToken, *handOff, reason) {
	// An oversized token is not even hashed for a lookup.
	if h.cache == nil || !h.verifier.fits(raw) {
		return h.verifyFresh(ctx, raw, now)
	}
	if e := h.cache.get(raw); e != nil {
		rsn := h.verifier.stillValid(e.token, now)
		if rsn == reasonAllowed {
			e.markUsed()
		}
		return e.token, e.handOff, rsn
	}
	generation := h.cache.generation.Load()
	t, ho, rsn := h.verifyFresh(ctx, raw, now)
	if rsn == reasonAllowed {
		h.cache.put(raw, t, ho, generation)
	}
	return t, ho, rsn
}

func (h *Handler) verifyFresh(ctx context.Context, raw string, now time.Time) (*verifiedToken, *handOff, reason) {
	t, rsn := h.verifier.verify(ctx, raw, now)
	if rsn != reasonAllowed {
		return t, nil, rsn
	}
	return t, h.prepareHandOff(t.claims), rsn
}

// checkRequirements applies require_claim (all must hold) and max_age, at
// the time now. The first that fails says what the client is told (see
// stepup.go).
func (h *Handler) checkRequirements(token *verifiedToken, now time.Time) reason {
	for i := range h.requirements {
		if !h.requirements[i].satisfiedBy(token.claims) {
			return h.requirements[i].failure
		}
	}
	if h.MaxAge > 0 {
		return checkAuthenticationAge(token.claims, time.Duration(h.MaxAge), h.verifier.leeway, now)
	}
	return reasonAllowed
}

// handOff is what a verified token hands to the rest of the chain, worked
// out once per token when it is verified (and kept beside it in the
// cache), so that a request with a known token formats nothing and encodes
// no JSON. It is only read after it is made: requests share it.
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

// heapCost estimates the heap the hand-off keeps alive beyond the claims
// it reads from, for the cache's memory bound.
func (ho *handOff) heapCost() int {
	if ho == nil {
		return 0
	}
	return len(ho.headers) * int(unsafe.Sizeof(handOffHeader{}))
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
func (h *Handler) handOn(r *http.Request, ho *handOff, found foundToken) {
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
	h.requests[rsn].Inc()
	h.logRejection(r, rsn, token)
	if h.observe {
		return errObserved
	}

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
// token but never the token itself. Values from the request are capped
// (capLogValue), and lines are sampled per reason (rejectionSampler), so
// that a client cannot make Caddy write more than a few hundred bytes per
// refused request, nor a line per request in a flood.
func (h *Handler) logRejection(r *http.Request, rsn reason, token *verifiedToken) {
	msg := "request rejected"
	if h.observe {
		msg = "request would be rejected (observe mode: passed on without identity)"
	}
	c := h.logger.Check(zapcore.InfoLevel, msg)
	if c == nil {
		return
	}
	if h.rejectionLog != nil {
		ok, suppressed, since := h.rejectionLog.admit(rsn)
		if !ok {
			return
		}
		if suppressed > 0 {
			h.logger.Info("request rejections not logged",
				zap.String("reason", rsn.info().description),
				zap.String("result", rsn.info().metric),
				zap.Int("suppressed", suppressed),
				zap.Time("since", since))
		}
	}
	fields := []zap.Field{
		zap.String("reason", rsn.info().description),
		zap.String("result", rsn.info().metric),
		zap.String("client_ip", clientIP(r)),
		zap.String("method", capLogValue(r.Method)),
		zap.String("uri", capLogValue(r.URL.Path)),
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
