package caddyjwt

import (
	"context"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
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
// answer the resource metadata document, read the token, check CSRF for a
// cookie, verify the token, check its sender constraint, revocation and
// required claims, hand the claims on, and call next.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	h.removeSpoofedHeaders(r)

	// The resource's metadata is public: it tells a client without a
	// token where to get one (RFC 9728 §3).
	if h.resource != nil && r.URL.Path == h.resource.path {
		return h.resource.serve(w, r)
	}

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
	if rsn := h.checkSenderConstraint(w, r, token, found); rsn != reasonAllowed {
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
// stored, so that a hit finds it ready. A token whose signature just
// failed is remembered as forged and refused again without a signature
// check. On failure the token, if it could be read, comes back for the log.
func (h *Handler) verifyToken(ctx context.Context, raw string, now time.Time) (*verifiedToken, *handOff, reason) {
	// An oversized token is not even hashed for a lookup.
	if h.cache == nil || !h.verifier.fits(raw) {
		return h.verifyFresh(ctx, raw, now)
	}
	hash := h.cache.hash(raw)
	if e := h.cache.get(raw, hash); e != nil {
		rsn := h.verifier.stillValid(e.token, now)
		if rsn == reasonAllowed {
			e.markUsed()
		}
		return e.token, e.handOff, rsn
	}
	if t := h.cache.forgedToken(raw, hash); t != nil {
		return t, nil, reasonBadSignature
	}
	generation := h.cache.generation.Load()
	t, ho, rsn := h.verifyFresh(ctx, raw, now)
	switch rsn {
	case reasonAllowed:
		h.cache.put(raw, hash, t, ho, generation)
	case reasonBadSignature:
		h.cache.putForged(raw, hash, t, generation)
	}
	return t, ho, rsn
}

func (h *Handler) verifyFresh(ctx context.Context, raw string, now time.Time) (*verifiedToken, *handOff, reason) {
	t, rsn := h.verifier.verify(ctx, raw, now)
	if rsn != reasonAllowed {
		return t, nil, rsn
	}
	return t, h.prepareHandOff(t), rsn
}

// checkRequirements applies require_claim (all must hold) and max_age, at
// the time now. The first that fails says what the client is told (see
// stepup.go).
func (h *Handler) checkRequirements(token *verifiedToken, now time.Time) reason {
	for i := range h.requirements {
		if !h.requirements[i].satisfiedBy(token) {
			return h.requirements[i].failure
		}
	}
	if h.MaxAge > 0 {
		return checkAuthenticationAge(token, time.Duration(h.MaxAge), h.verifier.leeway, now)
	}
	return reasonAllowed
}

// Interface guard
var _ caddyhttp.MiddlewareHandler = (*Handler)(nil)
