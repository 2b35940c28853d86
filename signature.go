package caddyjwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"sync"
	"unsafe"
)

// verifySignature reports whether sig is alg's signature of signingInput
// under key (a verificationKey's material). RSASSA-PKCS1-v1_5 and ECDSA
// call the standard library directly, with the digest on the stack
// and no copy of the signing input: they are what most tokens use, and
// golang-jwt's signing methods allocate a hasher, a digest and a copy of
// the input on every call (for ECDSA also two big.Ints and an ASN.1
// signature). The checks are the same as golang-jwt's: the key's type,
// for ECDSA a signature of exactly twice the curve's size with r and s
// not zero. RSASSA-PSS and EdDSA go through golang-jwt, and so does HMAC
// here: a loaded secret's checks go through its pooled keyed hashes
// (verifies), so only material that is no secret reaches this path for
// HMAC, and fails.
func verifySignature(alg algorithm, signingInput string, sig []byte, key any) bool {
	// A view of the input, not a copy: it is only read, by the hashes.
	input := unsafe.Slice(unsafe.StringData(signingInput), len(signingInput))
	switch alg {
	case algRS256:
		sum := sha256.Sum256(input)
		return verifyPKCS1v15(crypto.SHA256, sum[:], sig, key)
	case algRS384:
		sum := sha512.Sum384(input)
		return verifyPKCS1v15(crypto.SHA384, sum[:], sig, key)
	case algRS512:
		sum := sha512.Sum512(input)
		return verifyPKCS1v15(crypto.SHA512, sum[:], sig, key)
	case algES256:
		sum := sha256.Sum256(input)
		return verifyECDSA(32, sum[:], sig, key)
	case algES384:
		sum := sha512.Sum384(input)
		return verifyECDSA(48, sum[:], sig, key)
	case algES512:
		sum := sha512.Sum512(input)
		return verifyECDSA(66, sum[:], sig, key)
	}
	return signingMethods[alg].Verify(signingInput, sig, key) == nil
}

// verifies is verifySignature with a configured key. An HMAC key keeps its
// keyed hash states for reuse: hmac.New hashes the key into two fresh
// states each time, a third of an HS256 check's allocations.
func (k *verificationKey) verifies(alg algorithm, signingInput string, sig []byte) bool {
	if k.macs == nil || !alg.isHMAC() {
		return verifySignature(alg, signingInput, sig, k.material)
	}
	pool := &k.macs[alg-algHS256]
	mac := pool.Get().(hash.Hash)
	mac.Write(unsafe.Slice(unsafe.StringData(signingInput), len(signingInput)))
	var sum [sha512.Size]byte
	valid := hmac.Equal(sig, mac.Sum(sum[:0]))
	mac.Reset() // back to the keyed state, ready for the next token
	pool.Put(mac)
	return valid
}

// macPools holds a key's HMAC states for HS256, HS384 and HS512.
type macPools [3]sync.Pool

func newMACPools(secret []byte) *macPools {
	var pools macPools
	for i, newHash := range [3]func() hash.Hash{sha256.New, sha512.New384, sha512.New} {
		pools[i].New = func() any { return hmac.New(newHash, secret) }
	}
	return &pools
}

func verifyPKCS1v15(h crypto.Hash, digest, sig []byte, key any) bool {
	pub, ok := key.(*rsa.PublicKey)
	return ok && rsa.VerifyPKCS1v15(pub, h, digest, sig) == nil
}

// verifyECDSA checks a JWS ECDSA signature, r and s as fixed-size
// big-endian halves (RFC 7518 §3.4), by giving the standard library the
// same pair as DER, built on the stack.
func verifyECDSA(size int, digest, sig []byte, key any) bool {
	pub, ok := key.(*ecdsa.PublicKey)
	if !ok || len(sig) != 2*size {
		return false
	}
	var buf [2*(3+66) + 3]byte
	der, ok := ecdsaDER(buf[:0], sig[:size], sig[size:])
	return ok && ecdsa.VerifyASN1(pub, digest, der)
}

// ecdsaDER appends SEQUENCE { INTEGER r, INTEGER s } (RFC 3279 §2.2.3) to
// dst, each integer in its minimal two's-complement form. ok is false when
// r or s is zero, which no valid signature has.
func ecdsaDER(dst, r, s []byte) ([]byte, bool) {
	r, s = trimLeadingZeros(r), trimLeadingZeros(s)
	if len(r) == 0 || len(s) == 0 {
		return nil, false
	}
	body := derIntegerLen(r) + derIntegerLen(s)
	dst = append(dst, 0x30)
	if body >= 0x80 {
		// At most 2 × (2 + 67) bytes for P-521: one length byte.
		dst = append(dst, 0x81)
	}
	dst = append(dst, byte(body))
	dst = appendDERInteger(dst, r)
	dst = appendDERInteger(dst, s)
	return dst, true
}

func trimLeadingZeros(b []byte) []byte {
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

// derIntegerLen is the encoded size of a positive integer of these
// magnitude bytes (no leading zeros, at most 127 bytes with its pad).
func derIntegerLen(b []byte) int {
	n := len(b)
	if b[0]&0x80 != 0 {
		n++
	}
	return 2 + n
}

func appendDERInteger(dst, b []byte) []byte {
	n := len(b)
	pad := b[0]&0x80 != 0
	if pad {
		n++
	}
	dst = append(dst, 0x02, byte(n))
	if pad {
		dst = append(dst, 0)
	}
	return append(dst, b...)
}
