package caddyjwt

import (
	"fmt"

	"github.com/caddyserver/caddy/v2"
)

// JWKSSource is a JSON Web Key Set read from a URL or a file.
type JWKSSource struct {
	// An https:// (or http://) URL, or a file path.
	URL string `json:"url,omitempty"`

	// How often the key set is fetched again in the background. Default: 1h.
	Refresh caddy.Duration `json:"refresh,omitempty"`

	// A token with a kid not in the key set triggers at most one refetch per
	// this window, however many such tokens arrive. Default: 5m.
	UnknownKIDWait caddy.Duration `json:"unknown_kid_wait,omitempty"`

	// The limit of one fetch. Default: 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
}

// provisionRemoteKeys starts the key sources of one scope's JWKS entries
// (and its discovery document).
func (h *Handler) provisionRemoteKeys(ctx caddy.Context, issuer string, sets []*JWKSSource, discover bool, allowed algorithmSet) ([]keySource, error) {
	if len(sets) == 0 && !discover {
		return nil, nil
	}
	return nil, fmt.Errorf("jwt: jwks: not available yet")
}
