package integration_test

// DPoP proofs made in Go for the DPoP tests: a client key of any
// asymmetric family, its public JWK and RFC 7638 thumbprint (computed here
// independently of the handler), and proofs with any claim or header
// member changed or removed.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// dpopKey is a client's DPoP key pair.
type dpopKey struct {
	alg    string
	method jwt.SigningMethod
	signer crypto.Signer
	// jwk is the public key as the proof's jwk header member.
	jwk map[string]any
	// jkt is its RFC 7638 thumbprint, what a bound token's cnf.jkt holds.
	jkt string
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// newDPoPKey makes a key for alg: ES256/384/512, RS*/PS* (2048 bits) or EdDSA.
func newDPoPKey(t testing.TB, alg string) *dpopKey {
	t.Helper()
	k := &dpopKey{alg: alg, method: jwt.GetSigningMethod(alg)}
	var canonical string
	switch alg {
	case "ES256", "ES384", "ES512":
		curve := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
		crv := map[string]string{"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}[alg]
		priv, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		point, err := priv.PublicKey.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		size := (len(point) - 1) / 2
		x, y := b64(point[1:1+size]), b64(point[1+size:])
		k.signer = priv
		k.jwk = map[string]any{"kty": "EC", "crv": crv, "x": x, "y": y}
		canonical = `{"crv":"` + crv + `","kty":"EC","x":"` + x + `","y":"` + y + `"}`
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		priv := newRSAKey(t, 2048)
		n, e := b64(priv.N.Bytes()), b64(big.NewInt(int64(priv.E)).Bytes())
		k.signer = priv
		k.jwk = map[string]any{"kty": "RSA", "n": n, "e": e}
		canonical = `{"e":"` + e + `","kty":"RSA","n":"` + n + `"}`
	case "EdDSA":
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		x := b64(pub)
		k.signer = priv
		k.jwk = map[string]any{"kty": "OKP", "crv": "Ed25519", "x": x}
		canonical = `{"crv":"Ed25519","kty":"OKP","x":"` + x + `"}`
	default:
		t.Fatalf("no DPoP key family for %q", alg)
	}
	sum := sha256.Sum256([]byte(canonical))
	k.jkt = b64(sum[:])
	return k
}

// privateJWK is the key's JWK with its private members, as a careless
// client would send it.
func (k *dpopKey) privateJWK() map[string]any {
	jwk := map[string]any{}
	for name, v := range k.jwk {
		jwk[name] = v
	}
	switch priv := k.signer.(type) {
	case *ecdsa.PrivateKey:
		d, _ := priv.Bytes()
		jwk["d"] = b64(d)
	case *rsa.PrivateKey:
		jwk["d"] = b64(priv.D.Bytes())
		jwk["p"], jwk["q"] = b64(priv.Primes[0].Bytes()), b64(priv.Primes[1].Bytes())
	case ed25519.PrivateKey:
		jwk["d"] = b64(priv.Seed())
	}
	return jwk
}

// tokenHash is what a proof's ath holds for token.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return b64(sum[:])
}

// proofEdit changes a proof's JOSE header and claims before it is signed;
// a member set to nil is removed.
type proofEdit func(header, claims map[string]any)

// proof is a DPoP proof for method and url presented with token, with a
// fresh jti, signed by the key, with each edit applied.
func (k *dpopKey) proof(t testing.TB, method, url, token string, edits ...proofEdit) string {
	t.Helper()
	header := map[string]any{"typ": "dpop+jwt", "alg": k.alg, "jwk": k.jwk}
	c := map[string]any{
		"jti": randomText(t, 16),
		"htm": method,
		"htu": url,
		"iat": time.Now().Unix(),
		"ath": tokenHash(token),
	}
	for _, e := range edits {
		e(header, c)
	}
	for _, m := range []map[string]any{header, c} {
		for name, v := range m {
			if v == nil {
				delete(m, name)
			}
		}
	}
	tok := jwt.NewWithClaims(k.method, jwt.MapClaims(c))
	tok.Header = header
	s, err := tok.SignedString(k.signer)
	if err != nil {
		t.Fatalf("signing a %s proof: %v", k.alg, err)
	}
	return s
}

// withClaim sets (or with nil removes) one proof claim.
func withClaim(name string, v any) proofEdit {
	return func(_, c map[string]any) { c[name] = v }
}

// withHeader sets (or with nil removes) one JOSE header member.
func withHeader(name string, v any) proofEdit {
	return func(h, _ map[string]any) { h[name] = v }
}

// dpopRequest is the headers of a DPoP request: the token with the DPoP
// scheme and each proof in its own DPoP header.
func dpopRequest(token string, proofs ...string) http.Header {
	h := http.Header{"Authorization": {"DPoP " + token}}
	for _, p := range proofs {
		h.Add("DPoP", p)
	}
	return h
}

// boundClaims are validClaims bound to the DPoP key's thumbprint.
func boundClaims(k *dpopKey, kv ...any) claims {
	return validClaims(append([]any{"cnf", map[string]any{"jkt": k.jkt}}, kv...)...)
}
