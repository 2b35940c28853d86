package caddyjwt

import (
	"errors"
	"fmt"
	"net/http"
)

// maxFetchRedirects is how many redirects a JWKS or discovery fetch
// follows. Providers use one or two (a CDN, a versioned path).
const maxFetchRedirects = 5

var errRedirectDowngrade = errors.New("redirect from https to http refused: keys must not come over a connection anyone on the path can change")

// checkFetchRedirect is the redirect policy of JWKS and discovery
// fetches: at most maxFetchRedirects, and never from https to anything
// else, which would let whoever sits on the path replace the keys of a
// provider configured (or discovered) as https.
func checkFetchRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxFetchRedirects {
		return fmt.Errorf("stopped after %d redirects", maxFetchRedirects)
	}
	if req.URL.Scheme != "https" {
		for _, prev := range via {
			if prev.URL.Scheme == "https" {
				return errRedirectDowngrade
			}
		}
	}
	return nil
}
