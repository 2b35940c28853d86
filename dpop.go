package caddyjwt

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// DPoPConfig configures DPoP, proof of possession (RFC 9449): a token
// whose claims carry `cnf.jkt` is bound to the client's key and passes
// only in `Authorization: DPoP <token>` together with a `DPoP` header
// holding a fresh proof signed by that key, for this method and URI.
// Whatever the mode, a DPoP-bound token never passes without its proof.
type DPoPConfig struct {
	// `off`: DPoP is not spoken; a DPoP-bound token is refused (and
	// logged as a configuration error). `allowed` (the default): Bearer
	// and DPoP tokens both pass, each with its own rules. `required`:
	// every token must be DPoP-bound and come with its proof.
	Mode string `json:"mode,omitempty"`

	// The signature algorithms accepted for proofs. Proofs are always
	// signed with the client's own asymmetric key, so HMAC and `none`
	// are refused here. EdDSA and its RFC 9864 name Ed25519 are listed
	// apart, as in the handler's own `algorithms`. Default: ES256, ES384,
	// ES512, RS256, RS384, RS512, PS256, PS384, PS512, EdDSA and Ed25519.
	Algorithms []string `json:"algorithms,omitempty"`

	// Clock skew tolerated for a proof's `iat`: a proof issued up to this
	// far in the future is accepted, and one this much older than
	// `max_age`. Default: 10s.
	Leeway *caddy.Duration `json:"leeway,omitempty"`

	// How long after its `iat` a proof is accepted. Each proof is accepted
	// once, and used proofs are remembered for this long (plus leeway).
	// Default: 1m.
	MaxAge caddy.Duration `json:"max_age,omitempty"`

	// The public origin (`https://api.example.com`, scheme and host with
	// an optional port, no path) that clients address, when Caddy sits
	// behind a proxy that terminates TLS or changes the host: a proof's
	// `htu` is then compared with this origin and the path of the request
	// as it reached Caddy. Forwarded headers (X-Forwarded-Proto/Host) are
	// never trusted for this. Default: none, the scheme and host of the
	// request as Caddy received it.
	Origin string `json:"origin,omitempty"`

	// Where used proofs are remembered so that each is accepted once.
	// Default: in memory, for this instance only.
	Replay *DPoPReplayConfig `json:"replay,omitempty"`
}

// DPoPNonceConfig turns on server-provided nonces (RFC 9449 §8, §9): every
// proof must then carry a `nonce` the edge handed out recently in a
// `DPoP-Nonce` response header, so that a proof cannot be made in advance.
// Nonces are stateless: an HMAC over a time window, valid for the current
// window and the one before it.
type DPoPNonceConfig struct {
	// The HMAC key, at least 32 bytes, e.g. `{env.DPOP_NONCE_SECRET}`.
	// Give every instance of a fleet the same one, so that a nonce from
	// one is accepted by all. Default: a random key per config load.
	Secret *SecretKey `json:"secret,omitempty"`

	// How long one nonce is current. A nonce is accepted for up to twice
	// this long. Default: 5m.
	Rotate caddy.Duration `json:"rotate,omitempty"`
}

// Defaults of the dpop block.
const (
	defaultDPoPLeeway = 10 * time.Second
	defaultDPoPMaxAge = time.Minute
	defaultNonceEvery = 5 * time.Minute

	// maxProofSize bounds the DPoP header read: a proof holds a public key
	// (an RSA-8192 one is about 1,400 characters) and a few short claims.
	maxProofSize = 8192
)

// defaultProofAlgorithms are the asymmetric algorithms the verifier knows.
const defaultProofAlgorithms = rsaAlgorithms | eddsaAlgorithms | algorithmSet(1<<algES256|1<<algES384|1<<algES512)

type dpopMode uint8

const (
	dpopAllowed dpopMode = iota
	dpopOff
	dpopRequired
)

// dpopChecker verifies proofs. It is built once in Provision; nothing in
// it is written after that except what the replay store and nonce issuer
// keep behind their own locks.
type dpopChecker struct {
	mode       dpopMode
	algorithms algorithmSet
	leeway     time.Duration
	maxAge     time.Duration
	// origin is the normalised `scheme://host[:port]` of the origin
	// option, "" to take it from the request.
	origin string
	// challenge is the DPoP challenge without an error: `DPoP algs="…"`.
	challenge string
	// advertise: a dpop or dpop_nonce block is configured, so every
	// challenge offers DPoP, not only those of refusals that concern it.
	advertise bool
	replay    *proofReplay
	nonces    *nonceIssuer // nil without dpop_nonce
	logger    *zap.Logger
	// offWarned: the warning about a DPoP-bound token under dpop off has
	// been logged.
	offWarned atomic.Bool
}

// provisionDPoP builds the DPoP checker. It exists also when no dpop
// block is configured: the default mode is allowed.
func (h *Handler) provisionDPoP(ctx caddy.Context) (*dpopChecker, func(), error) {
	cfg := h.DPoP
	if cfg == nil {
		cfg = &DPoPConfig{}
	}
	d := &dpopChecker{algorithms: defaultProofAlgorithms, leeway: defaultDPoPLeeway, maxAge: defaultDPoPMaxAge, logger: h.logger, advertise: h.DPoP != nil || h.DPoPNonce != nil}
	switch cfg.Mode {
	case "", "allowed":
	case "off":
		d.mode = dpopOff
	case "required":
		d.mode = dpopRequired
	default:
		return nil, nil, fmt.Errorf("jwt: dpop must be off, allowed or required, not %q", cfg.Mode)
	}
	if d.mode == dpopOff {
		if h.DPoPNonce != nil {
			return nil, nil, fmt.Errorf("jwt: dpop_nonce needs dpop allowed or required, not off")
		}
		return d, nil, nil
	}
	if len(cfg.Algorithms) > 0 {
		algs, err := parseAlgorithmList(cfg.Algorithms)
		if err != nil {
			return nil, nil, fmt.Errorf("jwt: dpop %v", strings.TrimPrefix(err.Error(), "jwt: "))
		}
		if hs := algs & hmacAlgorithms; hs != 0 {
			return nil, nil, fmt.Errorf("jwt: dpop algorithms: %s is symmetric; a proof is signed with the client's own private key (RFC 9449 §4.2)", hs)
		}
		d.algorithms = algs
	}
	if cfg.Leeway != nil {
		d.leeway = time.Duration(*cfg.Leeway)
	}
	if cfg.MaxAge != 0 {
		d.maxAge = time.Duration(cfg.MaxAge)
	}
	if d.leeway < 0 || d.maxAge <= 0 {
		return nil, nil, fmt.Errorf("jwt: dpop leeway must not be negative and max_age must be positive")
	}
	if cfg.Origin != "" {
		origin, ok := normalizeOrigin(cfg.Origin)
		if !ok {
			return nil, nil, fmt.Errorf("jwt: dpop origin %q must be http(s)://host[:port], without path, query or user", cfg.Origin)
		}
		d.origin = origin
	}
	d.challenge = `DPoP algs="` + strings.Join(d.algorithms.names(), " ") + `"`
	if h.DPoPNonce != nil {
		var err error
		if d.nonces, err = newNonceIssuer(h.DPoPNonce); err != nil {
			return nil, nil, err
		}
	}
	var err error
	var stop func()
	d.replay, stop, err = provisionProofReplay(ctx, cfg.Replay, h.logger)
	return d, stop, err
}

// dpopTokenSource is where DPoP tokens are read: the Authorization header
// with the DPoP scheme (RFC 9449 §7.1).
var dpopTokenSource = tokenSource{kind: fromHeader, name: "Authorization", scheme: "dpop"}

// addDPoPSource makes the handler read `Authorization: DPoP <token>` as
// well, unless DPoP is off or the source is configured already, and
// returns its index among the sources (-1 for none).
func addDPoPSource(sources []tokenSource, d *dpopChecker) ([]tokenSource, int, error) {
	if d.mode == dpopOff {
		return sources, -1, nil
	}
	for i, s := range sources {
		if s == dpopTokenSource {
			return sources, i, nil
		}
	}
	if len(sources) >= 64 {
		return nil, -1, fmt.Errorf("jwt: from: %d token sources and the DPoP one; at most 64", len(sources))
	}
	return append(sources, dpopTokenSource), len(sources), nil
}

// checkSenderConstraint enforces the token's binding (its `cnf` claim):
// a certificate-bound token needs its TLS client certificate, a DPoP-bound
// one a valid proof, and in mode required every token must be DPoP-bound.
func (h *Handler) checkSenderConstraint(w http.ResponseWriter, r *http.Request, t *verifiedToken, found foundToken) reason {
	b := &t.binding
	if b.hasCertificate {
		if rsn := h.checkCertificateBinding(r, b); rsn != reasonAllowed {
			return rsn
		}
	}
	d := h.dpop
	asDPoP := h.dpopSource >= 0 && found.in&(1<<h.dpopSource) != 0
	if asDPoP && found.in != 1<<h.dpopSource {
		// The same token under two schemes (or also in a cookie): which
		// rules apply would depend on who reads it.
		return reasonAmbiguous
	}
	switch {
	case b.keyThumbprint != "" && d.mode == dpopOff:
		// A configuration error rather than a client's: say so once per
		// config load (each request is logged as a rejection anyway).
		if d.offWarned.CompareAndSwap(false, true) {
			h.logger.Warn("a DPoP-bound token (cnf.jkt) was refused because dpop is off; set dpop allowed to accept DPoP")
		}
		return reasonDPoPOff
	case b.keyThumbprint == "" && asDPoP:
		return reasonDPoPTokenUnbound
	case b.keyThumbprint == "" && d.mode == dpopRequired:
		return reasonDPoPRequired
	case b.keyThumbprint == "":
		return reasonAllowed
	case !asDPoP:
		// RFC 9449 §7.2: a DPoP-bound token sent as a bearer token is
		// exactly what a thief does with it.
		return reasonDPoPBoundAsBearer
	}
	return d.checkProof(w, r, b)
}
