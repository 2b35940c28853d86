package caddyjwt

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"fmt"
	"math/big"
	"strings"
	"testing"
)

// TestVerifySignatureAgreesWithGolangJWT checks the direct standard-library
// verification against golang-jwt's signing methods, which it replaces on
// the request path: for good signatures, each byte of the signature
// changed, cut short or lengthened, r or s zero, and keys of the wrong type.
func TestVerifySignatureAgreesWithGolangJWT(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKeys := map[algorithm]*ecdsa.PrivateKey{}
	for alg, curve := range map[algorithm]elliptic.Curve{algES256: elliptic.P256(), algES384: elliptic.P384(), algES512: elliptic.P521()} {
		if ecKeys[alg], err = ecdsa.GenerateKey(curve, rand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	secret := []byte(strings.Repeat("k", 64))
	type pair struct{ sign, verify any }
	keys := map[algorithm]pair{
		algHS256: {secret, secret}, algHS384: {secret, secret}, algHS512: {secret, secret},
		algRS256: {rsaKey, &rsaKey.PublicKey}, algRS384: {rsaKey, &rsaKey.PublicKey}, algRS512: {rsaKey, &rsaKey.PublicKey},
		algPS256: {rsaKey, &rsaKey.PublicKey},
	}
	for alg, k := range ecKeys {
		keys[alg] = pair{k, &k.PublicKey}
	}
	otherP256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherEC := otherP256.Public()
	wrongKeys := []any{secret, &rsaKey.PublicKey, otherEC, nil, "key"}

	const input = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0"
	for alg, k := range keys {
		method := signingMethods[alg]
		good, err := method.Sign(input, k.sign)
		if err != nil {
			t.Fatalf("%v: %v", alg, err)
		}
		variants := [][]byte{good, good[:len(good)-1], append(append([]byte{}, good...), 0), nil}
		for i := range good {
			v := append([]byte{}, good...)
			v[i] ^= 0x01
			variants = append(variants, v)
		}
		if alg >= algES256 && alg <= algES512 {
			zeroR := append([]byte{}, good...)
			clear(zeroR[:len(good)/2])
			zeroS := append([]byte{}, good...)
			clear(zeroS[len(good)/2:])
			variants = append(variants, zeroR, zeroS)
		}
		for i, sig := range variants {
			for _, key := range append([]any{k.verify}, wrongKeys...) {
				want := method.Verify(input, sig, key) == nil
				if got := verifySignature(alg, input, sig, key); got != want {
					t.Errorf("%v variant %d, key %T: verifySignature %v, golang-jwt %v", alg, i, key, got, want)
				}
			}
		}
		if !verifySignature(alg, input, good, k.verify) {
			t.Errorf("%v: a good signature does not verify", alg)
		}
	}
}

// TestECDSADEREncoding checks the DER built from r and s against
// encoding/asn1's reading of it, for magnitudes with and without a high
// bit, with leading zero bytes and of P-521's size (the long length form).
func TestECDSADEREncoding(t *testing.T) {
	halves := [][]byte{
		{0x01}, {0x7f}, {0x80}, {0xff},
		{0x00, 0x00, 0x80, 0x01},
		bytes.Repeat([]byte{0xff}, 32),
		append([]byte{0x00}, bytes.Repeat([]byte{0x7f}, 31)...),
		append([]byte{0x01}, bytes.Repeat([]byte{0xff}, 65)...),
		bytes.Repeat([]byte{0xff}, 66),
	}
	for _, r := range halves {
		for _, s := range halves {
			var buf [2*(3+66) + 3]byte
			der, ok := ecdsaDER(buf[:0], r, s)
			if !ok {
				t.Fatalf("r %x s %x: refused", r, s)
			}
			var got struct{ R, S *big.Int }
			rest, err := asn1.Unmarshal(der, &got)
			if err != nil || len(rest) != 0 {
				t.Fatalf("r %x s %x: %x does not parse: %v", r, s, der, err)
			}
			if got.R.Cmp(new(big.Int).SetBytes(r)) != 0 || got.S.Cmp(new(big.Int).SetBytes(s)) != 0 {
				t.Errorf("r %x s %x: parsed as %v, %v", r, s, got.R, got.S)
			}
		}
	}
	if _, ok := ecdsaDER(nil, []byte{0, 0}, []byte{1}); ok {
		t.Error("r = 0 was encoded")
	}
	if _, ok := ecdsaDER(nil, []byte{1}, []byte{0}); ok {
		t.Error("s = 0 was encoded")
	}
}

// TestHMACKeyReusesItsStatesWithoutCarryingOver checks that a key's pooled
// HMAC states give each token its own answer: good and forged signatures
// alternating, for each HS algorithm, from several goroutines at once.
func TestHMACKeyReusesItsStatesWithoutCarryingOver(t *testing.T) {
	secret := []byte(strings.Repeat("s", 64))
	key := newVerificationKey("", hmacAlgorithms, secret, "secret")
	if key.macs == nil {
		t.Fatal("an HMAC key was made without its keyed hash states")
	}
	type signed struct {
		alg   algorithm
		input string
		sig   []byte
	}
	var cases []signed
	for _, alg := range []algorithm{algHS256, algHS384, algHS512} {
		for i := range 4 {
			input := strings.Repeat("ab.", i+1)
			sig, err := signingMethods[alg].Sign(input, secret)
			if err != nil {
				t.Fatal(err)
			}
			cases = append(cases, signed{alg, input, sig})
		}
	}
	done := make(chan error, 4)
	for range 4 {
		go func() {
			for round := range 200 {
				c := cases[round%len(cases)]
				if !key.verifies(c.alg, c.input, c.sig) {
					done <- fmt.Errorf("%v: a good signature did not verify in round %d", c.alg, round)
					return
				}
				other := cases[(round+1)%len(cases)]
				if key.verifies(c.alg, c.input, other.sig) || key.verifies(c.alg, c.input+"x", c.sig) {
					done <- fmt.Errorf("%v: a wrong signature verified in round %d", c.alg, round)
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
