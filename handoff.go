package caddyjwt

import (
	"net/http"
	"strings"
	"unsafe"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

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
	// the same order; in inline when there are few, so that the hand-off
	// is one allocation.
	headers []handOffHeader
	inline  [2]handOffHeader
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

func (h *Handler) prepareHandOff(t *verifiedToken) *handOff {
	ho := &handOff{userID: ""}
	if len(h.headers) <= len(ho.inline) {
		ho.headers = ho.inline[:len(h.headers)]
	} else {
		ho.headers = make([]handOffHeader, len(h.headers))
	}
	if s, found, safe := t.claimText(h.userClaim.name); found {
		if safe {
			ho.userID = s
		} else {
			h.logUnsafeClaim(h.userClaim.name, zap.String("placeholder", "http.auth.user.id"))
		}
	}
	for i := range h.headers {
		s, found, safe := t.claimText(h.headers[i].path.name)
		if found {
			ho.headers[i] = handOffHeader{value: s, found: true, unsafe: !safe}
		}
	}
	ho.placeholders = claimPlaceholders(t, h.logger)
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
		// The proof goes with the token: it names the token (ath).
		delete(r.Header, "Dpop")
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
func claimPlaceholders(t *verifiedToken, logger *zap.Logger) caddy.ReplacerFunc {
	return func(key string) (any, bool) {
		path, ok := strings.CutPrefix(key, claimPlaceholderPrefix)
		if !ok {
			return nil, false
		}
		if t == nil {
			return "", true
		}
		s, found, safe := t.claimText(path)
		if !found {
			return "", true
		}
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
