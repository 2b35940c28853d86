package caddyjwt

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// TestConnectionCannotNameAClaimHeader: a client's Connection header makes
// the headers it names hop-by-hop, which reverse_proxy deletes, so the
// names of claim headers are taken out of it, in any case and list form,
// and its other options are kept.
func TestConnectionCannotNameAClaimHeader(t *testing.T) {
	headers, err := compileClaimHeaders([]*ClaimHeader{{Path: "sub", Header: "X-User-Id"}, {Path: "email", Header: "X-User-Email"}})
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{headers: headers}
	cases := []struct {
		name string
		sent []string
		want []string // nil: no Connection header left
	}{
		{"a claim header alone", []string{"X-User-Id"}, nil},
		{"lower case", []string{"x-user-id"}, nil},
		{"upper case", []string{"X-USER-ID"}, nil},
		{"in a list, others kept", []string{"keep-alive, X-User-Id,Upgrade"}, []string{"keep-alive, Upgrade"}},
		{"with white space around", []string{" \tx-user-email\t , close"}, []string{"close"}},
		{"both claim headers", []string{"X-User-Id, X-User-Email"}, nil},
		{"in several Connection headers", []string{"close", "X-User-Id", "x-user-email, TE"}, []string{"close", "TE"}},
		{"other headers untouched, byte for byte", []string{"keep-alive,  X-Other"}, []string{"keep-alive,  X-Other"}},
		{"a longer name is another header", []string{"X-User-Id-2, X-User"}, []string{"X-User-Id-2, X-User"}},
		{"empty options", []string{",X-User-Id,,"}, nil},
		{"empty options beside kept ones", []string{"a,,X-User-Id, ,b"}, []string{"a, b"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := request("/")
			r.Header["Connection"] = slices.Clone(tc.sent)
			r.Header.Set("X-User-Id", "spoofed")
			h.removeSpoofedHeaders(r)
			if got := r.Header["Connection"]; !slices.Equal(got, tc.want) {
				t.Errorf("Connection = %q, want %q", got, tc.want)
			}
			if _, ok := r.Header["X-User-Id"]; ok {
				t.Error("the spoofed claim header is still there")
			}
		})
	}
	// Without claim headers there is nothing to protect.
	r := request("/", "Connection: X-User-Id")
	(&Handler{}).removeSpoofedHeaders(r)
	if got := r.Header.Values("Connection"); !slices.Equal(got, []string{"X-User-Id"}) {
		t.Errorf("without claim headers Connection = %q", got)
	}
}

// TestConnectionWithoutClaimHeadersIsKeptAsItIs: nearly every HTTP/1.1
// request sends `Connection: keep-alive`; with claim headers configured,
// such a line is left as the client sent it, the same string.
func TestConnectionWithoutClaimHeadersIsKeptAsItIs(t *testing.T) {
	h := &Handler{headers: []claimHeader{{header: "X-User-Id"}, {header: "X-Roles"}}}
	sent := strings.Clone("keep-alive, Upgrade")
	header := http.Header{"Connection": {sent}}
	h.unlistClaimHeaders(header)
	got := header["Connection"]
	if len(got) != 1 || got[0] != sent || unsafe.StringData(got[0]) != unsafe.StringData(sent) {
		t.Errorf("Connection = %q, want the line the client sent, not a copy", got)
	}
}
