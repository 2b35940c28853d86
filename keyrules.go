package caddyjwt

import (
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"

	"filippo.io/edwards25519"
)

// The key size rules, in one place: the handler applies them to `secret`,
// `public_key` and JWK Sets (files and URLs), and `caddy jwt keygen` and
// `caddy jwt sign` make and accept keys by the same numbers, so that a key
// the commands produce is always one the handler takes.
const (
	// minRSABits is the smallest RSA modulus accepted. RFC 7518 §3.3
	// requires 2048 bits for RS*/PS*.
	minRSABits = 2048

	// maxRSABits is the largest. RSA verification costs grow with the
	// square of the modulus: a forged token naming a published 65536-bit
	// key costs a quarter second of CPU, so a JWKS (or a careless
	// public_key) could turn every request into a denial of service.
	// No provider issues keys above 8192 bits.
	maxRSABits = 8192
)

// minHMACSecretBytes is the shortest secret for each HS algorithm: the
// hash's output size, as RFC 7518 §3.2 requires. keygen makes secrets of
// exactly this length.
var minHMACSecretBytes = map[algorithm]int{algHS256: 32, algHS384: 48, algHS512: 64}

// hmacAlgorithmsForLength returns the HS* algorithms a key of n bytes is
// long enough for.
func hmacAlgorithmsForLength(n int) algorithmSet {
	var algs algorithmSet
	for a, need := range minHMACSecretBytes {
		if n >= need {
			algs |= setOf(a)
		}
	}
	return algs
}

// checkRSAKeySize refuses a modulus outside [minRSABits, maxRSABits].
func checkRSAKeySize(bits int) error {
	if bits < minRSABits {
		return fmt.Errorf("RSA key is %d bits; at least %d are required", bits, minRSABits)
	}
	if bits > maxRSABits {
		return fmt.Errorf("RSA key is %d bits; at most %d are accepted, since verifying with a larger key costs too much CPU per forged token", bits, maxRSABits)
	}
	return nil
}

// checkRSAPublicKey applies the size rule and refuses exponents that no
// signer uses: e = 1 makes every value its own signature, and an even e
// is not an RSA key at all. PEM parsing already refuses these; a JWK's
// "e" is taken as written.
func checkRSAPublicKey(k *rsa.PublicKey) error {
	if err := checkRSAKeySize(k.N.BitLen()); err != nil {
		return err
	}
	if k.E < 3 || k.E%2 == 0 {
		return fmt.Errorf("RSA public exponent %d is not an odd number of at least 3", k.E)
	}
	return nil
}

var errEd25519SmallOrder = errors.New("Ed25519 public key is a point of small order (such as the identity): a signature with R = identity and S = 0 would verify for any claims")

// checkEd25519PublicKey refuses keys that are not points on the curve and
// points of small order. crypto/ed25519 verifies against any 32 bytes
// that decode to a point; with the identity published as the key, a token
// whose signature is the identity's encoding and S = 0 verifies whatever
// its claims, since [S]B - [k]A is then the identity for every k.
func checkEd25519PublicKey(k ed25519.PublicKey) error {
	if len(k) != ed25519.PublicKeySize {
		return fmt.Errorf("Ed25519 public key is %d bytes, not %d", len(k), ed25519.PublicKeySize)
	}
	p, err := new(edwards25519.Point).SetBytes(k)
	if err != nil {
		return errors.New("Ed25519 public key is not a point on the curve")
	}
	// A point of small order is one that the cofactor (8) takes to the
	// identity.
	if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
		return errEd25519SmallOrder
	}
	return nil
}
