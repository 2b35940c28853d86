package caddyjwt

import (
	"encoding/json"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/jwtgate/caddy-jwt/internal/jws"
)

// verifiedToken is a token whose signature and registered claims held.
// Once verify returns it, it may be cached and read by many requests at
// once: nothing writes to it after that, except that its claims are
// decoded once, on first need (decodedClaims).
type verifiedToken struct {
	algorithm algorithm
	keyID     string
	issuer    string
	subject   string
	tokenID   string
	issuedAt  time.Time // zero when the token has no iat
	expiresAt time.Time
	notBefore time.Time // zero when the token has no nbf
	// authTime is auth_time (max_age), hasAuthTime false when the token
	// has none or it is not a NumericDate.
	authTime    time.Time
	hasAuthTime bool

	// claimsJSON is the decoded claims segment; the claims' strings are
	// slices of it, so keeping it costs nothing more. claimsSize estimates
	// the heap of the decoded claims beyond it, for the cache's bound: it
	// is counted whether or not they are ever decoded.
	claimsJSON string
	claimsSize int

	// index holds the top-level claims as read from claimsJSON, without
	// decoding (nil for a token with more than maxIndexedClaims). Most
	// claims handed on are top-level strings and numbers, which it
	// answers.
	index []indexedClaim

	// claims are the claims as values. Verifying a token needs only the
	// registered ones, and a typical hand-off only top-level strings; so
	// the whole set is decoded the first time a rule or placeholder asks
	// for an array, an object or a dot path, and kept.
	claims       map[string]any
	decodeClaims sync.Once

	// headerEnd and payloadEnd are the offsets of the two dots in the
	// token as it was verified, so that the cache need not look again.
	headerEnd, payloadEnd int

	// binding is what the token's cnf claim binds it to (binding.go).
	binding tokenBinding
}

// decodedClaims returns the token's claims as values (strings, json.Number,
// bool, nil, []any, map[string]any), decoding them the first time. The
// JSON was checked by the same parser when the token was read, so the
// decoding cannot fail.
func (t *verifiedToken) decodedClaims() map[string]any {
	t.decodeClaims.Do(func() {
		t.claims, _, _ = jws.ParseObjectSize(t.claimsJSON)
	})
	return t.claims
}

// maxIndexedClaims bounds the index a token keeps of its top-level claims;
// typical tokens have a dozen.
const maxIndexedClaims = 32

// indexedClaim is one top-level claim as the JSON visitor read it.
type indexedClaim struct {
	name string
	rawClaim
}

// claim finds a claim by name as lookupClaimName does in the decoded
// claims. A top-level string, number, boolean or null comes from the
// index, and a name that is no top-level claim and no dot path is absent,
// without decoding anything.
func (t *verifiedToken) claim(name string) (any, bool) {
	c, known := t.lookupIndex(name)
	switch {
	case !known:
		return lookupClaimName(t.decodedClaims(), name)
	case c == nil:
		return nil, false
	}
	switch c.kind {
	case jws.String:
		return c.text, true
	case jws.Number:
		return json.Number(c.text), true
	case jws.Bool:
		return c.text == "true", true
	case jws.Null:
		return nil, true
	}
	return t.decodedClaims()[name], true
}

// claimText is claimText (claims.go) of the claim name: the text the
// upstream gets, whether the claim is there, and whether the text is safe
// to send. A top-level string, number or boolean is its own text in the
// index, and null is empty, so none of them is boxed or decoded.
func (t *verifiedToken) claimText(name string) (text string, found, safe bool) {
	if c, known := t.lookupIndex(name); known {
		if c == nil {
			return "", false, false
		}
		switch c.kind {
		case jws.String, jws.Number, jws.Bool:
			return c.text, true, safeClaimText(c.text)
		case jws.Null:
			return "", true, safeClaimText("")
		}
	}
	v, ok := t.claim(name)
	if !ok {
		return "", false, false
	}
	text, safe = claimText(v)
	return text, true, safe
}

// lookupIndex finds name among the top-level claims. known is false when
// the index cannot say: the token has none, or name is no top-level claim
// but may be a dot path. A known name that is absent gives a nil claim.
func (t *verifiedToken) lookupIndex(name string) (c *indexedClaim, known bool) {
	if t.index == nil {
		return nil, false
	}
	for i := range t.index {
		if t.index[i].name == name {
			return &t.index[i], true
		}
	}
	return nil, !strings.Contains(name, ".")
}

// indexedSize is the heap the index keeps alive, for the cache's bound.
func (t *verifiedToken) indexedSize() int {
	return cap(t.index) * int(unsafe.Sizeof(indexedClaim{}))
}
