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
		algs &= setOf(a)
	}
	if algs&allowed == 0 {
		return nil, fmt.Errorf("verifies none of the accepted algorithms (%s)", allowed)
	}
	return &verificationKey{id: m.KID, algorithms: algs & allowed, material: material, source: source}, nil
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

// verificationKeysFromJWKs converts a fetched set, skipping (and
// returning the reasons for) keys that may not be used.
func verificationKeysFromJWKs(jwks []jwkset.JWK, allowed algorithmSet, source string) ([]*verificationKey, []error) {
	keys := make([]*verificationKey, 0, len(jwks))
	var skipped []error
	for _, jwk := range jwks {
		key, err := verificationKeyFromJWK(jwk, allowed, true, source)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("kid %q: %w", jwk.Marshal().KID, err))
			continue
		}
		keys = append(keys, key)
	}
	return keys, skipped
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
