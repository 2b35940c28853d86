package caddyjwt

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/jwtgate/caddy-jwt/internal/jws"
)

// readForTest reads claimsJSON as verify does, index included.
func readForTest(claimsJSON string) (*verifiedToken, reason) {
	tok := &verifiedToken{claimsJSON: claimsJSON}
	var index [maxIndexedClaims]indexedClaim
	_, indexed, rsn := tok.readRegisteredClaims(&index)
	if indexed >= 0 {
		tok.index = append([]indexedClaim{}, index[:indexed]...)
	}
	return tok, rsn
}

// checkIndexedClaim checks that a claim found through the token's index is
// exactly the claim lookupClaimName finds in the decoded claims: the
// claim headers, placeholders, require_claim and the version claim read
// the one, the HTTP revocation store's query the other.
func checkIndexedClaim(t *testing.T, claimsJSON, name string) {
	t.Helper()
	decoded, ok := jws.ParseObject(claimsJSON)
	tok, rsn := readForTest(claimsJSON)
	if !ok {
		if rsn == reasonAllowed {
			t.Fatalf("%q: read, but the parser refuses it", claimsJSON)
		}
		return
	}
	if rsn != reasonAllowed {
		return // iss, sub or jti of another type: refused before any lookup
	}
	got, gotOK := tok.claim(name)
	want, wantOK := lookupClaimName(decoded, name)
	if gotOK != wantOK || !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: claim %q is %#v (%v) from the index, %#v (%v) decoded", claimsJSON, name, got, gotOK, want, wantOK)
	}
	text, found, safe := tok.claimText(name)
	wantText, wantSafe := "", false
	if wantOK {
		wantText, wantSafe = claimText(want)
	}
	if found != wantOK || text != wantText || safe != wantSafe {
		t.Fatalf("%q: claim %q has text %q (found %v, safe %v) from the index, %q (%v, %v) decoded",
			claimsJSON, name, text, found, safe, wantText, wantOK, wantSafe)
	}
}

func TestIndexedClaimsAreTheDecodedClaims(t *testing.T) {
	var many strings.Builder
	many.WriteString(`{"sub":"many"`)
	for i := range maxIndexedClaims + 4 {
		fmt.Fprintf(&many, `,"c%d":%d`, i, i)
	}
	many.WriteString(`}`)
	payloads := []string{
		`{"sub":"alice","email":"a@example.com","n":1.50,"big":12345678901234567890,"yes":true,"no":false,"none":null,` +
			`"roles":["a","b"],"realm":{"roles":["x"]},"a.b":"dotted","a":{"b":"nested"},"esc":"\u00e9\n","":"empty"}`,
		`{}`, `{"o":{"p":{"q":1}}}`, many.String(),
	}
	names := []string{"sub", "email", "n", "big", "yes", "no", "none", "roles", "realm", "realm.roles", "a.b", "a",
		"esc", "", "missing", "realm.missing", "sub.x", "o.p.q", "o.p", "c3", "c35", "."}
	for _, payload := range payloads {
		for _, name := range names {
			checkIndexedClaim(t, payload, name)
		}
	}
}

// TestHandOffOfTopLevelClaimsDecodesNothing: claim headers, the user ID
// and placeholders of top-level strings and numbers are answered from the
// index, so a typical token is never decoded into values; a dot path or
// an array decodes it once.
func TestHandOffOfTopLevelClaimsDecodesNothing(t *testing.T) {
	h := mustProvision(t, &Handler{
		KeySources:   KeySources{Secret: &SecretKey{Value: testSecret}},
		ClaimHeaders: []*ClaimHeader{{Path: "sub", Header: "X-User"}, {Path: "n", Header: "X-N"}, {Path: "missing", Header: "X-M"}},
	})
	tok, rsn := readForTest(`{"sub":"alice","n":7,"roles":["a"],"o":{"k":"v"}}`)
	if rsn != reasonAllowed {
		t.Fatal(rsn)
	}
	ho := h.prepareHandOff(tok)
	if v, _ := ho.placeholders("http.auth.jwt.sub"); v != "alice" || ho.headers[1].value != "7" || ho.headers[2].found {
		t.Fatalf("hand-off: placeholder %v, headers %+v", v, ho.headers)
	}
	if tok.claims != nil {
		t.Fatal("the claims were decoded for top-level strings and numbers")
	}
	if v, _ := ho.placeholders("http.auth.jwt.o.k"); v != "v" || tok.claims == nil {
		t.Fatalf("dot path: %v, decoded %v", v, tok.claims != nil)
	}
}
