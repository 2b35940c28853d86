package caddyjwt

import "testing"

// TestQueryNamesQsReadsAsTheParameterAreMalformed: Express's qs drops the
// brackets around a key that starts with one, so `[access_token]=F` is
// req.query.access_token for an Express upstream while net/http sees
// another parameter. Found by the differential test.
func TestQueryNamesQsReadsAsTheParameterAreMalformed(t *testing.T) {
	byQuery := &TokenSource{Query: "access_token"}
	cases := []struct {
		name   string
		query  string
		raw    string
		reason reason
	}{
		{"bracketed name, malformed", "/?[access_token]=other", "", reasonMalformed},
		{"encoded bracketed name, malformed", "/?%5Baccess_token%5D=other&access_token=tok", "", reasonMalformed},
		{"bracketed name with an array key, malformed", "/?[access_token][x]=other", "", reasonMalformed},
		{"bracketed name beside the token, malformed", "/?access_token=tok&[access_token]=tok", "", reasonMalformed},
		{"unclosed bracket before the name is another parameter", "/?[access_token=other&access_token=tok", "tok", reasonAllowed},
		{"bracket pair before the name is another parameter", "/?[]access_token=other&access_token=tok", "tok", reasonAllowed},
		{"bracketed longer name is another parameter", "/?[access_token_x]=other&access_token=tok", "tok", reasonAllowed},
		{"name inside another key is another parameter", "/?x[access_token]=other&access_token=tok", "tok", reasonAllowed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := handlerWithSources(t, false, byQuery)
			found, rsn := h.readToken(request(tc.query))
			if rsn != tc.reason {
				t.Fatalf("reason = %v, want %v", rsn, tc.reason)
			}
			if rsn == reasonAllowed && found.raw != tc.raw {
				t.Errorf("token = %q, want %q", found.raw, tc.raw)
			}
		})
	}
}
