package caddyjwt

import (
	"testing"
	"time"
)

// BenchmarkRequireClaimOnANewToken measures reading a newly verified
// token's claims and checking `require_claim role admin` on them: a
// top-level string claim is answered from the claim index, so nothing
// else of the token (its arrays and objects here) is decoded.
//
//	go test -run '^$' -bench BenchmarkRequireClaimOnANewToken -benchmem .
func BenchmarkRequireClaimOnANewToken(b *testing.B) {
	const claims = `{"iss":"https://id.example.com","sub":"alice","aud":"api","role":"admin","exp":4102444800,"iat":1700000000,` +
		`"scope":"read write","roles":["reader","writer"],"org":{"id":7}}`
	reqs, err := compileRequirements([]*ClaimRequirement{{Path: "role", Values: []string{"admin"}}})
	if err != nil {
		b.Fatal(err)
	}
	h := &Handler{requirements: reqs}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		t, _ := readForTest(claims)
		if rsn := h.checkRequirements(t, now); rsn != reasonAllowed {
			b.Fatalf("refused: %v", rsn)
		}
	}
}
