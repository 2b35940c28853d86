package caddyjwt

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
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
// a proof it accepts must carry the signed header and claims of the valid
// one, with a signature that golang-jwt verifies with the proof's key.
//
// The key is fixed, not generated: the fuzzing workers mutate the proofs
// the coordinating process signed, and a worker with a key of its own
// would refuse every one of them.
func FuzzDPoPProof(f *testing.F) {
	key := loadFuzzKeys(f).ec
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
	validHeader := map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}
	validClaims := func(iat int64) jwt.MapClaims {
		return jwt.MapClaims{"jti": "j-1", "htm": "GET", "htu": url, "iat": iat, "ath": binding.tokenHash}
	}
	// The part a proof signs, for the valid header and claims issued at iat.
	signedPart := func(iat int64) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, validClaims(iat))
		tok.Header = validHeader
		s, err := tok.SigningString()
		if err != nil {
			f.Fatal(err)
		}
		return s
	}
	claims := validClaims(time.Now().Unix())
	valid := sign(validHeader, claims)
	f.Add(valid)
	f.Add(sign(map[string]any{"typ": "JWT", "alg": "ES256", "jwk": jwk}, claims))
	f.Add(sign(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": map[string]any{"kty": "EC", "crv": "P-256", "x": jwk["x"], "y": jwk["y"], "d": "AAAA"}}, claims))
	f.Add(sign(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": map[string]any{"kty": "RSA", "n": "AQAB", "e": "AQAB"}}, claims))
	f.Add(sign(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk, "crit": []string{"x"}}, claims))
	f.Add(valid[:strings.LastIndexByte(valid, '.')+1]) // no signature
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

	// A worker may run a proof the coordinator signed a few seconds
	// earlier or later, so its iat is read from the proof, not assumed.
	f.Fuzz(func(t *testing.T, proof string) {
		if check(proof) != reasonAllowed {
			return
		}
		parts := strings.Split(proof, ".")
		if len(parts) != 3 {
			t.Fatalf("accepted a proof that is not a compact JWS: %q", proof)
		}
		var issued struct {
			IssuedAt int64 `json:"iat"`
		}
		payload, err := base64.RawURLEncoding.Strict().DecodeString(parts[1])
		if err != nil || json.Unmarshal(payload, &issued) != nil {
			t.Fatalf("accepted a proof whose claims encoding/json cannot read: %q", proof)
		}
		signingInput := parts[0] + "." + parts[1]
		if signingInput != signedPart(issued.IssuedAt) {
			t.Fatalf("accepted a proof whose signed part is not the valid proof's: %q", proof)
		}
		sig, err := base64.RawURLEncoding.Strict().DecodeString(parts[2])
		if err != nil || jwt.SigningMethodES256.Verify(signingInput, sig, &key.PublicKey) != nil {
			t.Fatalf("accepted a proof whose signature golang-jwt refuses: %q", proof)
		}
	})
}
