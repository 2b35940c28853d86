package caddyjwt

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
)

// FuzzDPoPProof mutates a valid DPoP proof (and seeds of the classic
// defects). Whatever the DPoP header holds, checkProof must not panic, and
// a proof it accepts must carry exactly the signed header and claims of the
// valid one: only the signature segment may differ, and only in a way the
// key still verifies.
func FuzzDPoPProof(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	point, _ := key.PublicKey.Bytes()
	jwk := map[string]any{"kty": "EC", "crv": "P-256",
		"x": base64.RawURLEncoding.EncodeToString(point[1:33]), "y": base64.RawURLEncoding.EncodeToString(point[33:])}
	thumb := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + jwk["x"].(string) + `","y":"` + jwk["y"].(string) + `"}`))
	const token, url = "header.payload.signature", "https://api.example.com/orders"
	ath := sha256.Sum256([]byte(token))
	binding := &tokenBinding{
		keyThumbprint: base64.RawURLEncoding.EncodeToString(thumb[:]),
		tokenHash:     base64.RawURLEncoding.EncodeToString(ath[:]),
	}
	sign := func(header map[string]any, claims jwt.MapClaims) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
		tok.Header = header
		s, err := tok.SignedString(key)
		if err != nil {
			f.Fatal(err)
		}
		return s
	}
	claims := jwt.MapClaims{"jti": "j-1", "htm": "GET", "htu": url, "iat": time.Now().Unix(), "ath": binding.tokenHash}
	valid := sign(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}, claims)
	signed := valid[:strings.LastIndexByte(valid, '.')]
	f.Add(valid)
	f.Add(sign(map[string]any{"typ": "JWT", "alg": "ES256", "jwk": jwk}, claims))
	f.Add(sign(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": map[string]any{"kty": "EC", "crv": "P-256", "x": jwk["x"], "y": jwk["y"], "d": "AAAA"}}, claims))
	f.Add(sign(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": map[string]any{"kty": "RSA", "n": "AQAB", "e": "AQAB"}}, claims))
	f.Add(sign(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk, "crit": []string{"x"}}, claims))
	f.Add(signed + ".")
	f.Add("e30.e30.e30")

	check := func(proof string) reason {
		d := &dpopChecker{algorithms: defaultProofAlgorithms, leeway: defaultDPoPLeeway, maxAge: defaultDPoPMaxAge, logger: zap.NewNop(),
			replay: &proofReplay{store: newMemoryReplayStore(16), logger: zap.NewNop()}}
		r := httptest.NewRequest(http.MethodGet, url, nil)
		r.Header["Dpop"] = []string{proof}
		return d.checkProof(httptest.NewRecorder(), r, binding)
	}
	if rsn := check(valid); rsn != reasonAllowed {
		f.Fatalf("the valid proof is refused: %v", rsn)
	}

	f.Fuzz(func(t *testing.T, proof string) {
		if check(proof) != reasonAllowed {
			return
		}
		if i := strings.LastIndexByte(proof, '.'); i < 0 || proof[:i] != signed {
			t.Fatalf("accepted a proof whose signed part is not the valid proof's: %q", proof)
		}
	})
}
