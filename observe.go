package caddyjwt

import (
	"errors"
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// The two modes of `mode`.
const (
	modeEnforce = "enforce"
	modeObserve = "observe"
)

// errObserved is what reject returns in observe mode, after counting and
// logging the refusal it would have made, so that ServeHTTP passes the
// request on instead. No other handler returns it.
var errObserved = errors.New("jwt: observe mode: would have been rejected")

// passObserved hands a request that enforcing would have refused to the
// next handler as an anonymous one. Nothing from its token is trusted:
// claim headers were removed before it was read and are not set, and the
// user ID and claim placeholders are empty, so that
// `header_up X-User {http.auth.user.id}` cannot send a name from a token
// that failed. The request keeps its token where the client put it, as
// the upstream, still doing its own authentication while the edge is
// observed, expects.
func (h *Handler) passObserved(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	provideClaimPlaceholders(r, anonymousPlaceholders)
	setUserID(r, "")
	return next.ServeHTTP(w, r)
}
