package caddyjwt

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The fuzz targets of the handler's hostile-input surface, one file each:
// reading the token from a request (fuzz_extract_test.go), verifying it
// (this file), formatting claims for headers (fuzz_claims_test.go), the
// Caddyfile (fuzz_caddyfile_test.go) and fetched key sets
// (fuzz_jwks_test.go). Their seed corpora (in code, and written out under
// testdata/fuzz) hold the classic JWT attacks; scripts/fuzz.sh (run by
// scripts/test.sh) fuzzes each target for a fixed number of executions. A
// crasher go test -fuzz finds lands in testdata/fuzz/<Target>/ and from
// then on runs with every `go test`.

// TestVerifyRefusesClassicAttacks checks every token of the seed catalog
// against the reason it must get: the attacks are refused for the right
// reason, the tokens we signed pass.
func TestVerifyRefusesClassicAttacks(t *testing.T) {
	keys := loadFuzzKeys(t)
	h := newFuzzHandler(t, keys)
	valid, attacks := tokenCatalog(t, keys)
	for _, tc := range append(valid, attacks...) {
		t.Run(tc.name, func(t *testing.T) {
			_, got := h.verifier.verify(context.Background(), tc.token, time.Now())
			if got != tc.want {
				t.Errorf("got %q (%d), want %q (%d)", got.info().metric+": "+got.String(), got, tc.want.info().metric+": "+tc.want.String(), tc.want)
			}
		})
	}
}

// FuzzVerify mutates well-signed tokens and attacks. Whatever the input,
// verify must not panic, and a token it accepts must be one we signed:
// the same header and payload bytes (base64 may differ in unused trailing
// bits, never in meaning).
func FuzzVerify(f *testing.F) {
	keys := loadFuzzKeys(f)
	h := newFuzzHandler(f, keys)
	valid, attacks := tokenCatalog(f, keys)
	signed := make(map[string]bool)
	for _, tc := range valid {
		signed[decodedSegments(tc.token)] = true
	}
	for _, tc := range append(valid, attacks...) {
		f.Add(tc.token)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		token, rsn := h.verifier.verify(context.Background(), raw, time.Now())
		if rsn >= reasonCount {
			t.Fatalf("unknown reason %d", rsn)
		}
		if rsn != reasonAllowed {
			if s := rsn.info().status; s != http.StatusUnauthorized && s != http.StatusServiceUnavailable {
				t.Fatalf("rejection %q has status %d", rsn, s)
			}
			return
		}
		if token == nil {
			t.Fatal("accepted without a token")
		}
		if !signed[decodedSegments(raw)] {
			t.Fatalf("accepted a token we never signed: %q", raw)
		}
	})
}

// decodedSegments is the meaning of a compact token: its header and
// payload decoded, or "" when it is not three base64url segments. The
// signature is left out: PS* and ES* signatures are randomised, and any
// signature that verifies came from the key's holder.
func decodedSegments(raw string) string {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return ""
	}
	if _, err := base64.RawURLEncoding.DecodeString(parts[2]); err != nil {
		return ""
	}
	var out []string
	for _, p := range parts[:2] {
		b, err := base64.RawURLEncoding.DecodeString(p)
		if err != nil {
			return ""
		}
		out = append(out, string(b))
	}
	return strings.Join(out, "\x00")
}

func signedClaimsSeeds() []namedSeed {
	hdr := `{"alg":"HS256","typ":"JWT"}`
	seed := func(name, header, payload string) namedSeed {
		return namedSeed{name, []any{[]byte(header), []byte(payload)}}
	}
	return []namedSeed{
		seed("valid", hdr, `{"sub":"alice","aud":"api","exp":4102444800,"iat":1700000000}`),
		seed("aud-array", hdr, `{"sub":"alice","aud":["x","api"],"exp":4102444800}`),
		seed("exp-float", hdr, `{"aud":"api","exp":4102444800.5}`),
		seed("exp-huge", hdr, `{"aud":"api","exp":1e400}`),
		seed("exp-negative-huge", hdr, `{"aud":"api","exp":-1e400}`),
		seed("exp-zero", hdr, `{"aud":"api","exp":0}`),
		seed("nbf-huge", hdr, `{"aud":"api","exp":4102444800,"nbf":1e400}`),
		seed("nbf-int64-overflow", hdr, `{"aud":"api","exp":4102444800,"nbf":9223372036854775808}`),
		seed("iat-huge", hdr, `{"aud":"api","exp":4102444800,"iat":1e19}`),
		seed("exp-tiny", hdr, `{"aud":"api","exp":1e-400}`),
		seed("claim-number-overflow", hdr, `{"aud":"api","exp":4102444800,"n":1e700}`),
		seed("crit", `{"alg":"HS256","crit":["b64"],"b64":false}`, `{"aud":"api","exp":4102444800}`),
		seed("typ-and-kid", `{"alg":"HS256","kid":"../../etc/passwd","typ":"at+jwt"}`, `{"aud":"api","exp":4102444800}`),
		seed("duplicate-keys", `{"alg":"HS256","alg":"HS256"}`, `{"aud":"x","aud":"api","exp":0,"exp":4102444800}`),
		seed("unicode-escapes", `{"\u0061lg":"HS256"}`, `{"\u0061ud":"api","exp":4102444800,"sub":"\u0000\r\n"}`),
		seed("non-utf8", hdr, "{\"aud\":\"api\",\"exp\":4102444800,\"sub\":\"\xff\xfe\"}"),
	}
}

// FuzzVerifySignedClaims signs arbitrary header and payload JSON with the
// configured secret, so that the fuzzer reaches the claim checks behind
// the signature. Whatever it accepts must satisfy the rules an
// independent reading of the JSON gives: HS256, no crit, a finite exp in
// the future, nbf and iat not in the future, our audience, string
// iss/sub/jti.
func FuzzVerifySignedClaims(f *testing.F) {
	keys := loadFuzzKeys(f)
	h := newFuzzHandler(f, keys)
	for _, s := range signedClaimsSeeds() {
		f.Add(s.args[0].([]byte), s.args[1].([]byte))
	}
	sign := hmacSigner([]byte(fuzzSecret))
	f.Fuzz(func(t *testing.T, header, payload []byte) {
		raw := compactToken(string(header), string(payload), sign)
		before := unixSeconds(time.Now())
		token, rsn := h.verifier.verify(context.Background(), raw, time.Now())
		after := unixSeconds(time.Now())
		if rsn != reasonAllowed {
			return
		}
		var hdr map[string]any
		if err := json.Unmarshal(header, &hdr); err != nil {
			t.Fatalf("accepted a header that is not a JSON object: %v", err)
		}
		if hdr["alg"] != "HS256" {
			t.Fatalf("accepted alg %v for an HS256 signature", hdr["alg"])
		}
		if _, ok := hdr["crit"]; ok {
			t.Fatal("accepted a token with crit")
		}
		var claims map[string]any
		if err := json.Unmarshal(payload, &claims); err != nil {
			t.Fatalf("accepted claims that do not decode as JSON with float64 numbers: %v", err)
		}
		// Dates count in whole seconds (golang-jwt's TimePrecision), and
		// the verification happened somewhere between before and after.
		leeway := defaultLeeway.Seconds()
		exp, ok := claims["exp"].(float64)
		if !ok || exp == 0 || math.Trunc(exp)+leeway <= before {
			t.Fatalf("accepted exp %v", claims["exp"])
		}
		for _, name := range []string{"nbf", "iat"} {
			if v, present := claims[name]; present {
				if f, ok := v.(float64); !ok || math.Trunc(f)-leeway > after {
					t.Fatalf("accepted %s %v", name, v)
				}
			}
		}
		if !audienceHas(claims["aud"], fuzzAudience) {
			t.Fatalf("accepted aud %v", claims["aud"])
		}
		for _, name := range []string{"iss", "sub", "jti"} {
			if v, present := claims[name]; present {
				if _, ok := v.(string); !ok {
					t.Fatalf("accepted non-string %s %v", name, v)
				}
			}
		}
		if token.expiresAt.IsZero() {
			t.Fatal("accepted token has no expiry time")
		}
	})
}

func unixSeconds(t time.Time) float64 {
	return float64(t.UnixNano()) / 1e9
}

func audienceHas(aud any, want string) bool {
	switch v := aud.(type) {
	case string:
		return v == want
	case []any:
		for _, a := range v {
			if a == want {
				return true
			}
		}
	}
	return false
}
