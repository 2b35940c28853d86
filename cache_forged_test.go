package caddyjwt

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// forgedClaims are the claims of the forged token, which a genuine token
// may carry as well.
func forgedClaims() jwt.MapClaims {
	claims := validClaims()
	claims["sub"], claims["jti"] = "mallory", "forged-1"
	return claims
}

// signForged signs forgedClaims with a key the handler does not have.
func signForged(t testing.TB) string {
	return sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("k", 32)), forgedClaims(), nil)
}

func TestRepeatedForgedTokenIsRefusedFromMemory(t *testing.T) {
	h := cachedHandler(t, 0)
	forged := signForged(t)
	first, _, rsn := h.verifyToken(context.Background(), forged, time.Now())
	if rsn != reasonBadSignature {
		t.Fatalf("forged token: %q, want a bad signature", rsn)
	}
	remembered := h.cache.forgedToken(forged, h.cache.hash(forged))
	if remembered == nil {
		t.Fatal("a token whose signature failed was not remembered")
	}
	for range 3 {
		again, ho, rsn := h.verifyToken(context.Background(), forged, time.Now())
		if rsn != reasonBadSignature || ho != nil {
			t.Fatalf("repeated forged token: %q, hand-off %v; want a bad signature and nothing handed on", rsn, ho)
		}
		if again != remembered {
			t.Error("a repeated forged token was checked again instead of refused from memory")
		}
		// What the rejection log shows is the same as the first time.
		if again.subject != first.subject || again.tokenID != first.tokenID || again.issuer != first.issuer || again.keyID != first.keyID {
			t.Errorf("remembered log fields %+v, want those of %+v", again, first)
		}
	}

	// A token that differs in one byte is not the remembered one.
	i := strings.LastIndexByte(forged, '.') + 5
	other := forged[:i] + flipChar(forged[i]) + forged[i+1:]
	if h.cache.forgedToken(other, h.cache.hash(other)) != nil {
		t.Error("a different token was taken for the remembered forged one")
	}
	if got := h.cache.len(); got != 0 {
		t.Errorf("the cache of verified tokens holds %d entries, want none", got)
	}
	// Neither is a valid token refused, nor taken from memory.
	mustVerify(t, h, hsToken(t, forgedClaims()), time.Now())
}

func TestKeyChangeForgetsForgedTokens(t *testing.T) {
	h := cachedHandler(t, 0)
	forged := signForged(t)
	if _, _, rsn := h.verifyToken(context.Background(), forged, time.Now()); rsn != reasonBadSignature {
		t.Fatalf("forged token: %q", rsn)
	}
	h.verifier.keysChanged() // the same bytes may verify under the new keys
	if h.cache.forgedToken(forged, h.cache.hash(forged)) != nil {
		t.Error("a forged token is still remembered after a key change")
	}

	// A check that started before the change does not store its result.
	generation := h.cache.generation.Load()
	tok, _, _ := h.verifyToken(context.Background(), forged, time.Now())
	if tok == nil {
		t.Fatal("the refusal returned no token to remember")
	}
	h.verifier.keysChanged()
	h.cache.putForged(forged, h.cache.hash(forged), tok, generation)
	if h.cache.forgedToken(forged, h.cache.hash(forged)) != nil {
		t.Error("a token refused with keys that changed meanwhile was remembered")
	}
}
