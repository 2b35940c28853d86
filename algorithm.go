package caddyjwt

import (
	"fmt"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// algorithm is a JWS "alg" value this module can verify (RFC 7518 §3.1,
// RFC 8037 §3.1, RFC 9864 §2.2). The zero value is no algorithm: "none" and every name we
// do not know map to it and are never accepted.
type algorithm uint8

const (
	algNone algorithm = iota
	algHS256
	algHS384
	algHS512
	algRS256
	algRS384
	algRS512
	algPS256
	algPS384
	algPS512
	algES256
	algES384
	algES512
	algEdDSA
	// algEd25519 is RFC 9864's fully-specified name for EdDSA over
	// Ed25519: the same signature as EdDSA with an Ed25519 key, named so
	// that the alg alone says which curve.
	algEd25519
	algCount
)

var algorithmNames = [algCount]string{
	algHS256: "HS256", algHS384: "HS384", algHS512: "HS512",
	algRS256: "RS256", algRS384: "RS384", algRS512: "RS512",
	algPS256: "PS256", algPS384: "PS384", algPS512: "PS512",
	algES256: "ES256", algES384: "ES384", algES512: "ES512",
	algEdDSA: "EdDSA", algEd25519: "Ed25519",
}

// signingMethods holds the golang-jwt implementation of each algorithm,
// looked up once so the request path does not go through the library's
// lock-protected registry.
var signingMethods [algCount]jwt.SigningMethod

func init() {
	for a := algHS256; a < algCount; a++ {
		signingMethods[a] = jwt.GetSigningMethod(algorithmNames[a])
	}
	// golang-jwt registers only the polymorphic name; its EdDSA method
	// verifies exactly what Ed25519 names (RFC 9864 §2.2).
	signingMethods[algEd25519] = jwt.SigningMethodEdDSA
}

// parseAlgorithm maps a JOSE "alg" string to an algorithm. The match is
// exact, as RFC 7515 §4.1.1 makes "alg" case-sensitive: "none", "None",
// "NONE" and "hs256" all map to algNone.
func parseAlgorithm(name string) algorithm {
	for a := algHS256; a < algCount; a++ {
		if algorithmNames[a] == name {
			return a
		}
	}
	return algNone
}

func (a algorithm) String() string {
	if a == algNone || a >= algCount {
		return "none"
	}
	return algorithmNames[a]
}

// isHMAC reports whether a is one of the symmetric HS* algorithms.
func (a algorithm) isHMAC() bool { return a >= algHS256 && a <= algHS512 }

// algorithmSet is a set of algorithms as a bit mask, so that the per-request
// allowlist checks are a single AND.
type algorithmSet uint16

const (
	hmacAlgorithms  = algorithmSet(1<<algHS256 | 1<<algHS384 | 1<<algHS512)
	rsaAlgorithms   = algorithmSet(1<<algRS256 | 1<<algRS384 | 1<<algRS512 | 1<<algPS256 | 1<<algPS384 | 1<<algPS512)
	eddsaAlgorithms = algorithmSet(1<<algEdDSA | 1<<algEd25519)
)

// sameOperation is the set of algorithm names that mean the same
// signature operation as a: for a JWK whose "alg" says EdDSA, a token
// signed Ed25519 is the very same signature over the very same key, and
// the other way round, so a provider that moves to RFC 9864's name in its
// tokens before its key set (or after) keeps working. Every other name
// stands for itself.
func sameOperation(a algorithm) algorithmSet {
	if eddsaAlgorithms.has(a) {
		return eddsaAlgorithms
	}
	return setOf(a)
}

func setOf(algs ...algorithm) algorithmSet {
	var s algorithmSet
	for _, a := range algs {
		s |= 1 << a
	}
	return s
}

func (s algorithmSet) has(a algorithm) bool { return a != algNone && s&(1<<a) != 0 }

func (s algorithmSet) names() []string {
	var out []string
	for a := algHS256; a < algCount; a++ {
		if s.has(a) {
			out = append(out, algorithmNames[a])
		}
	}
	return out
}

func (s algorithmSet) String() string { return strings.Join(s.names(), ",") }

// parseAlgorithmList turns the `algorithms` directive into a set. "none" in
// any spelling is refused outright rather than silently dropped, so that an
// operator who wrote it learns that it can never be accepted.
func parseAlgorithmList(names []string) (algorithmSet, error) {
	var s algorithmSet
	for _, name := range names {
		if strings.EqualFold(name, "none") {
			return 0, fmt.Errorf("jwt: algorithms: %q is never accepted: unsigned tokens prove nothing", name)
		}
		a := parseAlgorithm(name)
		if a == algNone {
			return 0, fmt.Errorf("jwt: algorithms: unknown algorithm %q (known: %s)", name, algorithmSet(1<<algCount-2).String())
		}
		s |= 1 << a
	}
	return s, nil
}
