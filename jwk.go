package caddyjwt

import (
	"bytes"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/MicahParks/jwkset"
)

// Reasons a JWK is not turned into a verification key. They go to the log
// (at debug for fetched sets, as errors for files), never to clients.
var (
	errJWKNotForSignatures = errors.New(`"use" is not "sig" or "key_ops" lacks "verify"`)
	errJWKSymmetricFromURL = errors.New("symmetric (oct) key from a URL: only keys read from a file may be HMAC keys")
	errJWKPrivateInFile    = errors.New("private key material (d); publish only the public half (caddy jwt jwks)")
)

// verificationKeyFromJWK turns one JWK into a key that verifies signatures,
// or says why it may not be used. The algorithms it may verify are its
// family's, narrowed by the JWK's own "alg" (RFC 7517 §4.4), by the curve
// for EC keys (RFC 7518 §3.4) and by the handler's allowlist.
//
// fromURL marks keys fetched over the network. Those never become HMAC
// keys: jwkset parses fetched sets with private-key parsing on, so an "oct"
// member would otherwise be a shared secret chosen by whoever controls the
// response, and anything signed with HS* would pass.
func verificationKeyFromJWK(jwk jwkset.JWK, allowed algorithmSet, fromURL bool, source string) (*verificationKey, error) {
	m := jwk.Marshal()
	// RFC 7517 §4.2 and §4.3: a key meant for encryption must not verify
	// signatures, even if its type could.
	if m.USE != "" && m.USE != jwkset.UseSig {
		return nil, errJWKNotForSignatures
	}
	if len(m.KEYOPS) > 0 && !slices.Contains(m.KEYOPS, jwkset.KeyOpsVerify) {
		return nil, errJWKNotForSignatures
	}

	var algs algorithmSet
	var material any
	switch k := jwk.Key().(type) {
	case []byte:
		if fromURL {
			return nil, errJWKSymmetricFromURL
		}
		algs, material = hmacAlgorithmsForLength(len(k)), k
	case interface{ Public() crypto.PublicKey }:
		if !fromURL {
			return nil, errJWKPrivateInFile
		}
		// A provider that publishes private keys has bigger problems;
		// we only ever need the public half.
		pub := k.Public()
		var err error
		if algs, err = algorithmsForKey(pub); err != nil {
			return nil, err
		}
		material = pub
	default:
		var err error
		if algs, err = algorithmsForKey(k); err != nil {
			return nil, err
		}
		material = k
	}
	if m.ALG != "" {
		a := parseAlgorithm(string(m.ALG))
		if a == algNone {
			return nil, fmt.Errorf("alg %q is not a signature algorithm", m.ALG)
		}
		algs &= sameOperation(a)
	}
	if algs&allowed == 0 {
		return nil, fmt.Errorf("verifies none of the accepted algorithms (%s)", allowed)
	}
	return newVerificationKey(m.KID, algs&allowed, material, source), nil
}

// loadJWKSFile reads a JWK Set from a file at provisioning. Unlike fetched
// sets, a file may hold HMAC ("oct") keys: it is part of the operator's own
// configuration, as a `secret` is. Any key that cannot be used is an error,
// so that a typo shows up at load rather than as 401s.
func loadJWKSFile(path string, allowed algorithmSet) ([]*verificationKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("jwt: jwks %s: %v", path, err)
	}
	var set jwkset.JWKSMarshal
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&set); err != nil {
		return nil, fmt.Errorf("jwt: jwks %s: not a JWK Set: %v", path, err)
	}
	source := "jwks " + path
	var keys []*verificationKey
	for i, m := range set.Keys {
		// Private parsing is what lets jwkset read an oct key's "k".
		jwk, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{Private: true}, jwkset.JWKValidateOptions{})
		if err != nil {
			return nil, fmt.Errorf("jwt: jwks %s: key %d (kid %q): %v", path, i, m.KID, err)
		}
		key, err := verificationKeyFromJWK(jwk, allowed, false, source)
		if err != nil {
			return nil, fmt.Errorf("jwt: jwks %s: key %d (kid %q): %v", path, i, m.KID, err)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("jwt: jwks %s: the set has no keys", path)
	}
	return keys, nil
}

// skippedKey is a member of a fetched set that is not used, and why.
type skippedKey struct {
	kid string
	why error
}

// parseFetchedJWKS reads a fetched JWK Set one member at a time: a key
// that cannot be used (a `use` or `key_ops` jwkset does not know, a bad
// `x5c`, a point off its curve, a short Ed25519 key, an RSA key outside
// the size rules, an encryption or oct key) is skipped, and the others
// are kept. Handing the whole set to jwkset would refuse all of it for
// one such member, and a provider adding, say, an encryption key with a
// new `use` would take every token down. Only a body that is not a JWK
// Set at all is an error (the JSON error, which the caller words).
func parseFetchedJWKS(body []byte, allowed algorithmSet, source string) ([]*verificationKey, []skippedKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, nil, err
	}
	keys := make([]*verificationKey, 0, len(set.Keys))
	var skipped []skippedKey
	for _, raw := range set.Keys {
		// Private parsing, as for files: a provider that publishes "d"
		// still gets its public half used (verificationKeyFromJWK).
		jwk, err := jwkset.NewJWKFromRawJSON(raw, jwkset.JWKMarshalOptions{Private: true}, jwkset.JWKValidateOptions{})
		if err != nil {
			skipped = append(skipped, skippedKey{kid: rawKeyID(raw), why: err})
			continue
		}
		key, err := verificationKeyFromJWK(jwk, allowed, true, source)
		if err != nil {
			skipped = append(skipped, skippedKey{kid: jwk.Marshal().KID, why: err})
			continue
		}
		keys = append(keys, key)
	}
	return keys, skipped, nil
}

// rawKeyID is the kid of a member jwkset could not read, "" if it has no
// string kid.
func rawKeyID(raw json.RawMessage) string {
	var m struct {
		KID any `json:"kid"`
	}
	_ = json.Unmarshal(raw, &m)
	kid, _ := m.KID.(string)
	return kid
}

// sameKeys reports whether two key lists hold the same keys in the same
// order, so that a refresh that changed nothing does not drop caches.
func sameKeys(a, b []*verificationKey) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].id != b[i].id || a[i].algorithms != b[i].algorithms || !sameMaterial(a[i].material, b[i].material) {
			return false
		}
	}
	return true
}

func sameMaterial(a, b any) bool {
	if ab, ok := a.([]byte); ok {
		bb, ok := b.([]byte)
		return ok && bytes.Equal(ab, bb)
	}
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}
