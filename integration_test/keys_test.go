package integration_test

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
)

// TestPublicKeyFileFormats: the PEM shapes operators get from openssl,
// identity providers and Windows tools all load.
func TestPublicKeyFileFormats(t *testing.T) {
	requireCaddy(t)
	up := newUpstream(t)
	rs := newKey(t, "RS256")
	es := newKey(t, "ES384")
	ed := newKey(t, "EdDSA")
	other := newKey(t, "RS256")

	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(rs.Public.(*rsa.PublicKey))})
	formats := []struct {
		name string
		key  *testKey
		pem  []byte
	}{
		{"PKCS#1 RSA PUBLIC KEY", rs, pkcs1},
		{"PKIX with text around it", es, append(append([]byte("issuer: example\n"), es.PublicPEM(t)...), []byte("-- end\n")...)},
		{"CRLF line endings", ed, bytes.ReplaceAll(ed.PublicPEM(t), []byte("\n"), []byte("\r\n"))},
		{"certificate chain, leaf first", rs, append(rs.CertificatePEM(t), other.CertificatePEM(t)...)},
	}
	var site strings.Builder
	for i, f := range formats {
		site.WriteString(jwtRoute("/"+string(rune('a'+i))+"/*", "public_key "+writeFile(t, "key.pem", f.pem), "reverse_proxy "+up.Addr()))
	}
	c := startCaddy(t, caddyfileFor(site.String()))
	for i, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			path := "/" + string(rune('a'+i)) + "/"
			check(t, c, up, http.MethodGet, path, bearer(sign(t, f.key, validClaims())), accepted)
			check(t, c, up, http.MethodGet, path, bearer(sign(t, newKey(t, f.key.Alg), validClaims())),
				expectation{http.StatusUnauthorized, invalidToken(descBadSignature)})
		})
	}
}

// TestKeyIDSelectsTheKey: with several keys, a token's kid picks exactly
// one; a token signed by key 2 but naming key 1 is not tried against key 2.
func TestKeyIDSelectsTheKey(t *testing.T) {
	requireCaddy(t)
	up := newUpstream(t)
	k1, k2 := newKey(t, "ES256"), newKey(t, "ES256")
	c := startCaddy(t, caddyfileFor(jwtRoute("/*",
		"public_key "+k1.writePublicKeyPEM(t)+" key-1\npublic_key "+k2.writePublicKeyPEM(t)+" key-2",
		"reverse_proxy "+up.Addr())))

	cases := []struct {
		name string
		key  *testKey
		kid  any
		want expectation
	}{
		{"key 1 by its kid", k1, "key-1", accepted},
		{"key 2 by its kid", k2, "key-2", accepted},
		{"key 2 naming key 1", k2, "key-1", expectation{http.StatusUnauthorized, invalidToken(descBadSignature)}},
		{"unknown kid", k1, "key-3", expectation{http.StatusUnauthorized, invalidToken(descUnknownKey)}},
		{"kid differs in case", k1, "KEY-1", expectation{http.StatusUnauthorized, invalidToken(descUnknownKey)}},
		{"no kid, tried against the keys in order", k2, nil, accepted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check(t, c, up, http.MethodGet, "/", bearer(signToken(t, tc.key, validClaims(), map[string]any{"kid": tc.kid})), tc.want)
		})
	}
}
