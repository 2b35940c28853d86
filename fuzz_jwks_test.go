package caddyjwt

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"testing"
)

func fetchedJWKSSeeds() []namedSeed {
	seed := func(name, body string) namedSeed { return namedSeed{name, []any{[]byte(body)}} }
	ec := `"kty":"EC","crv":"P-256","x":"43kT-dasiqEm1ScjdqqMOBh9v9nACLW-JQ-4xD6i9CQ","y":"KgzIPdp64L-jnJ8BZxewe5epDXjL4X9JNaGeabQWzy4"`
	return []namedSeed{
		seed("oct-key", `{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC0"}]}`),
		seed("oct-key-alg-hs256-use-sig", `{"keys":[{"kty":"oct","alg":"HS256","use":"sig","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC0"}]}`),
		seed("ec-p256", `{"keys":[{`+ec+`,"kid":"e"}]}`),
		seed("ec-p256-alg-es384", `{"keys":[{`+ec+`,"alg":"ES384"}]}`),
		seed("ec-p256-alg-hs256", `{"keys":[{`+ec+`,"alg":"HS256"}]}`),
		seed("ec-use-enc", `{"keys":[{`+ec+`,"use":"enc"}]}`),
		seed("ec-key-ops-sign-only", `{"keys":[{`+ec+`,"key_ops":["sign"]}]}`),
		seed("ec-private-d", `{"keys":[{`+ec+`,"d":"fb6S1LjHqzo8KdLHrHGwgROGSn9K8QawJJxv9PVIeI4"}]}`),
		seed("rsa-2048", `{"keys":[{"kty":"RSA","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw","e":"AQAB"}]}`),
		seed("rsa-1024", `{"keys":[{"kty":"RSA","n":"wFOzENwRnLSjJr8vRT4X1-lJcKGEpIieQWpJnVM3FocsJTN_0_6TcLCpdakRWc9QU32MVucpaYRtsq3EtZR2nxsJa8sdxAIMV60p8lXTlHztK84IxCE6bhMxjip8Pm1S2TUXVmQm6YhKYYa7X1FM-cNqCVzr--ITcRr19W3Dlzs","e":"AQAB"}]}`),
		seed("okp-ed25519", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`),
		seed("okp-x25519", `{"keys":[{"kty":"OKP","crv":"X25519","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}]}`),
		seed("alg-none", `{"keys":[{`+ec+`,"alg":"none"}]}`),
		seed("rsa-2048-e-1", `{"keys":[{"kty":"RSA","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw","e":"AQ"}]}`),
		seed("okp-ed25519-identity", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}`),
		seed("one-unusable-member-among-good-ones", `{"keys":[{`+ec+`,"kid":"e"},{`+ec+`,"use":"wrap"},{"kty":"OKP","crv":"Ed25519","x":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},{"kty":"EC","crv":"P-256","x":"AQ","y":"Ag"},17]}`),
		seed("not-a-set", `[{"kty":"oct"}]`),
		seed("empty", `{"keys":[]}`),
	}
}

// FuzzFetchedJWKS parses arbitrary JWK Set responses the way a fetch does
// (member by member, jwkset with private parsing on) and converts them with
// the rules for keys from a URL. Whatever the body, a key that comes out is
// public and asymmetric (never an HMAC secret the response chose), RSA keys
// have 2048 to 8192 bits and an odd exponent of at least 3, Ed25519 keys
// are not of small order, EC keys verify only their curve's algorithm, and
// every member is either a key or skipped with a reason.
func FuzzFetchedJWKS(f *testing.F) {
	for _, s := range fetchedJWKSSeeds() {
		f.Add(s.args[0].([]byte))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		keys, skipped, err := parseFetchedJWKS(body, allAlgorithms, "fuzz")
		if err != nil {
			return
		}
		var set struct{ Keys []json.RawMessage }
		if json.Unmarshal(body, &set) == nil && len(keys)+len(skipped) != len(set.Keys) {
			t.Fatalf("%d members, but %d keys and %d skipped", len(set.Keys), len(keys), len(skipped))
		}
		for _, s := range skipped {
			if s.why == nil {
				t.Fatalf("member %q skipped without a reason", s.kid)
			}
		}
		for _, k := range keys {
			if k.algorithms == 0 || k.algorithms&hmacAlgorithms != 0 {
				t.Fatalf("key %q from a URL verifies %s", k.id, k.algorithms)
			}
			switch pub := k.material.(type) {
			case *rsa.PublicKey:
				if pub.N.BitLen() < minRSABits || pub.N.BitLen() > maxRSABits {
					t.Fatalf("RSA key of %d bits", pub.N.BitLen())
				}
				if pub.E < 3 || pub.E%2 == 0 {
					t.Fatalf("RSA key with exponent %d", pub.E)
				}
				if k.algorithms&^rsaAlgorithms != 0 {
					t.Fatalf("RSA key verifies %s", k.algorithms)
				}
			case *ecdsa.PublicKey:
				want := map[string]algorithmSet{"P-256": setOf(algES256), "P-384": setOf(algES384), "P-521": setOf(algES512)}[pub.Curve.Params().Name]
				if k.algorithms != want {
					t.Fatalf("%s key verifies %s", pub.Curve.Params().Name, k.algorithms)
				}
			case ed25519.PublicKey:
				if k.algorithms != eddsaAlgorithms {
					t.Fatalf("Ed25519 key verifies %s", k.algorithms)
				}
				if checkEd25519PublicKey(pub) != nil {
					t.Fatalf("Ed25519 key %x is not a usable point", []byte(pub))
				}
			default:
				t.Fatalf("key from a URL has material %T", k.material)
			}
		}
	})
}
