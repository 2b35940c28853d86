package caddyjwt

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestEd25519IsTheFullySpecifiedNameOfEdDSA: RFC 9864's `Ed25519` is
// accepted in tokens and in `algorithms`, verified with an Ed25519 key,
// and EdDSA keeps working; each name in an allowlist admits only itself.
func TestEd25519IsTheFullySpecifiedNameOfEdDSA(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pemPath := writePublicKeyPEM(t, pub)
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	ed25519Token := sign(t, jwt.SigningMethodEdDSA, priv, validClaims(), map[string]any{"alg": "Ed25519"})
	eddsaToken := sign(t, jwt.SigningMethodEdDSA, priv, validClaims(), nil)
	forged := sign(t, jwt.SigningMethodEdDSA, otherPriv, validClaims(), map[string]any{"alg": "Ed25519"})

	tests := []struct {
		name       string
		algorithms []string
		token      string
		want       reason
	}{
		{"Ed25519 token, default allowlist", nil, ed25519Token, reasonAllowed},
		{"EdDSA token, default allowlist", nil, eddsaToken, reasonAllowed},
		{"Ed25519 token signed by another key", nil, forged, reasonBadSignature},
		{"Ed25519 token, allowlist Ed25519", []string{"Ed25519"}, ed25519Token, reasonAllowed},
		{"EdDSA token, allowlist Ed25519 only", []string{"Ed25519"}, eddsaToken, reasonBadAlgorithm},
		{"Ed25519 token, allowlist EdDSA only", []string{"EdDSA"}, ed25519Token, reasonBadAlgorithm},
		{"both names listed", []string{"EdDSA", "Ed25519"}, ed25519Token, reasonAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := mustProvision(t, &Handler{KeySources: KeySources{PublicKeys: []*PublicKeyFile{{Path: pemPath}}}, Algorithms: tt.algorithms})
			if _, got := h.verifier.verify(context.Background(), tt.token, time.Now()); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestEd25519NamesAreCaseSensitive: "alg" is case-sensitive (RFC 7515
// §4.1.1); "ed25519" and "ED25519" are no algorithm.
func TestEd25519NamesAreCaseSensitive(t *testing.T) {
	for _, name := range []string{"ed25519", "ED25519", "Ed448", "EDDSA"} {
		if a := parseAlgorithm(name); a != algNone {
			t.Errorf("parseAlgorithm(%q) = %s, want none", name, a)
		}
	}
	if _, err := parseAlgorithmList([]string{"ed25519"}); err == nil {
		t.Error(`algorithms "ed25519" was accepted`)
	}
}

// TestJWKAlgEdDSAAndEd25519NameTheSameOperation: a key published with
// either name verifies tokens signed under either, since both are the one
// signature over Ed25519 (a provider renames its tokens and its key set
// at different times); an Ed25519 name on an RSA key is still refused.
func TestJWKAlgEdDSAAndEd25519NameTheSameOperation(t *testing.T) {
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	for _, alg := range []string{"EdDSA", "Ed25519"} {
		key, err := verificationKeyFromJWK(mustJWK(t, publicJWK(t, edPub, map[string]any{"alg": alg})), allAlgorithms, true, "test")
		if err != nil {
			t.Fatalf("JWK with alg %s: %v", alg, err)
		}
		if key.algorithms != eddsaAlgorithms {
			t.Errorf("JWK with alg %s verifies %s, want %s", alg, key.algorithms, eddsaAlgorithms)
		}
		key, err = verificationKeyFromJWK(mustJWK(t, publicJWK(t, edPub, map[string]any{"alg": alg})), setOf(algEd25519), true, "test")
		if err != nil || key.algorithms != setOf(algEd25519) {
			t.Errorf("JWK with alg %s under allowlist Ed25519: %v, %v", alg, key, err)
		}
	}
}
