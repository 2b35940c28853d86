package caddyjwt

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

// minNonceSecret is the shortest nonce key accepted: that of HMAC-SHA256.
const minNonceSecret = 32

// nonceIssuer hands out and checks DPoP nonces without keeping any state
// per client: a nonce is the number of its time window and an HMAC of it,
// so any instance with the key can tell a current one. A nonce is valid in
// its own window and the next, so one handed out just before a rotation
// still works.
type nonceIssuer struct {
	key    []byte
	period time.Duration
	// windows holds the nonces of the current and the previous window,
	// made when the window starts, so that checking a nonce is a string
	// comparison.
	windows atomic.Pointer[nonceWindows]
}

type nonceWindows struct {
	number            int64
	current, previous string
}

func newNonceIssuer(cfg *DPoPNonceConfig) (*nonceIssuer, error) {
	n := &nonceIssuer{period: defaultNonceEvery}
	if cfg.Rotate != 0 {
		n.period = time.Duration(cfg.Rotate)
	}
	if n.period < time.Second {
		return nil, fmt.Errorf("jwt: dpop_nonce rotate must be at least 1s")
	}
	if cfg.Secret == nil {
		n.key = make([]byte, minNonceSecret)
		if _, err := rand.Read(n.key); err != nil {
			return nil, fmt.Errorf("jwt: dpop_nonce: making a key: %v", err)
		}
		return n, nil
	}
	var err error
	if n.key, err = secretBytes(cfg.Secret); err != nil {
		return nil, fmt.Errorf("jwt: dpop_nonce secret %v", err)
	}
	if len(n.key) < minNonceSecret {
		return nil, fmt.Errorf("jwt: dpop_nonce secret is %d bytes after placeholder resolution; at least %d are needed", len(n.key), minNonceSecret)
	}
	return n, nil
}

// nonceFor is the nonce of window number w.
func (n *nonceIssuer) nonceFor(w int64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(w))
	mac := hmac.New(sha256.New, n.key)
	mac.Write(msg[:])
	out := append(msg[:], mac.Sum(nil)[:16]...)
	return base64.RawURLEncoding.EncodeToString(out)
}

// at returns the nonces of the window now is in.
func (n *nonceIssuer) at(now time.Time) *nonceWindows {
	w := now.UnixNano() / int64(n.period)
	if cur := n.windows.Load(); cur != nil && cur.number == w {
		return cur
	}
	// Several requests may make the same windows at a rotation; they are
	// equal, so whichever is stored last is right.
	nw := &nonceWindows{number: w, current: n.nonceFor(w), previous: n.nonceFor(w - 1)}
	n.windows.Store(nw)
	return nw
}

// check accepts a proof's nonce when it is current or from the window
// before; the latter gets the current one in DPoP-Nonce to use next
// (RFC 9449 §8.2). Any other gets 401 use_dpop_nonce with a fresh one.
func (n *nonceIssuer) check(w http.ResponseWriter, nonce string, now time.Time) reason {
	nw := n.at(now)
	switch nonce {
	case nw.current:
		return reasonAllowed
	case nw.previous:
		w.Header().Set("DPoP-Nonce", nw.current)
		return reasonAllowed
	}
	w.Header().Set("DPoP-Nonce", nw.current)
	return reasonDPoPNonceRequired
}
