package integration_test

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// attackSite is a Caddy whose jwt handler trusts an RSA key (kid rsa-1) and
// an EC P-256 key (kid ec-1), requires audience api, reads the token from
// the Authorization header, a cookie and a query parameter, and strips it,
// in front of a recording upstream.
type attackSite struct {
	c       *caddyProcess
	up      *upstream
	rsa, ec *testKey
}

func startAttackSite(t *testing.T) *attackSite {
	t.Helper()
	requireCaddy(t)
	s := &attackSite{up: newUpstream(t), rsa: newKey(t, "RS256"), ec: newKey(t, "ES256")}
	config := fmt.Sprintf(`public_key %s rsa-1
public_key %s ec-1
audience api
from header Authorization Bearer
from cookie session
from query access_token
strip_token`, s.rsa.writePublicKeyPEM(t), s.ec.writePublicKeyPEM(t))
	// Caddy's own header limit (16 KiB by default) is raised so that tokens
	// larger than max_token_size reach the plugin; /big/ lets tokens of up
	// to 100000 bytes reach the JSON decoder.
	proxy := "reverse_proxy " + s.up.Addr()
	s.c = startCaddy(t, caddyfileFor(
		jwtRoute("/big/*", config+"\nmax_token_size 100000", proxy)+jwtRoute("/*", config, proxy),
		"servers {\n\t\tmax_header_size 128KiB\n\t}"))
	return s
}

// claimsFor are valid claims for the attack site, with changes as for
// validClaims.
func claimsFor(kv ...any) claims {
	return validClaims(append([]any{"aud", "api"}, kv...)...)
}

// TestAttackTable sends hostile tokens and requests through the real Caddy:
// each gets its documented status and WWW-Authenticate challenge, and none
// reaches the upstream.
func TestAttackTable(t *testing.T) {
	s := startAttackSite(t)
	attacker := newKey(t, "RS256")
	attackerEC := newKey(t, "ES256")
	good := signToken(t, s.rsa, claimsFor(), map[string]any{"kid": "rsa-1"})
	other := signToken(t, s.rsa, claimsFor("sub", "someone-else"), map[string]any{"kid": "rsa-1"})
	goodParts := strings.Split(good, ".")
	goodES := signToken(t, s.ec, claimsFor(), map[string]any{"kid": "ec-1"})
	esInput := goodES[:strings.LastIndexByte(goodES, '.')]
	esSig, err := base64.RawURLEncoding.DecodeString(goodES[len(esInput)+1:])
	if err != nil {
		t.Fatal(err)
	}

	// signedRS signs claims with the site's RSA key under the given header
	// fields: the claims are what is wrong, not the signature.
	signedRS := func(c claims, header ...any) string {
		h := map[string]any{"kid": "rsa-1"}
		for i := 0; i+1 < len(header); i += 2 {
			h[header[i].(string)] = header[i+1]
		}
		return signToken(t, s.rsa, c, h)
	}
	// rawSigned signs hand-written header and payload JSON with the site's
	// RSA key, for claims golang-jwt would not produce.
	rawSigned := func(header, payload string) string {
		return resign(t, s.rsa, segment(t, header)+"."+segment(t, payload))
	}
	unsigned := func(alg string) string {
		return segment(t, map[string]any{"alg": alg, "typ": "JWT"}) + "." + segment(t, claimsFor()) + "."
	}
	hmacWithPEM := func(kid string) string {
		pemKey := &testKey{Alg: "HS256", method: jwt.SigningMethodHS256, Signing: s.rsa.PublicPEM(t)}
		h := map[string]any{}
		if kid != "" {
			h["kid"] = kid
		}
		return signToken(t, pemKey, claimsFor(), h)
	}
	jwkOf := func(k *testKey) map[string]any {
		switch pub := k.Public.(type) {
		case *ecdsa.PublicKey:
			// Bytes is the uncompressed point: 0x04 || X || Y.
			point, err := pub.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			return map[string]any{"kty": "EC", "crv": "P-256",
				"x": base64.RawURLEncoding.EncodeToString(point[1:33]),
				"y": base64.RawURLEncoding.EncodeToString(point[33:65])}
		case *rsa.PublicKey:
			return map[string]any{"kty": "RSA",
				"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
				"e": base64.RawURLEncoding.EncodeToString([]byte{1, 0, 1})}
		}
		t.Fatalf("no JWK for %T", k.Public)
		return nil
	}
	nested := func(depth int) string {
		return fmt.Sprintf(`{"sub":"x","aud":"api","exp":%d,"n":%s%s}`, time.Now().Add(time.Hour).Unix(), strings.Repeat("[", depth), strings.Repeat("]", depth))
	}
	exp := time.Now().Add(time.Hour).Unix()

	malformed := expectation{http.StatusUnauthorized, invalidToken(descMalformed)}
	badAlg := expectation{http.StatusUnauthorized, invalidToken(descBadAlgorithm)}
	unknownKey := expectation{http.StatusUnauthorized, invalidToken(descUnknownKey)}
	badSig := expectation{http.StatusUnauthorized, invalidToken(descBadSignature)}
	badClaims := expectation{http.StatusUnauthorized, invalidToken(descInvalidClaims)}
	tooLarge := expectation{http.StatusUnauthorized, invalidToken(descTooLarge)}
	ambiguous := expectation{http.StatusBadRequest, challengeInvalidRequest}
	missing := expectation{http.StatusUnauthorized, challengeMissing}

	cases := []struct {
		name   string
		path   string
		header http.Header
		want   expectation
	}{
		{"baseline: a valid token passes", "/", bearer(good), accepted},

		{"alg none", "/", bearer(unsigned("none")), malformed},
		{"alg None", "/", bearer(unsigned("None")), malformed},
		{"alg NONE", "/", bearer(unsigned("NONE")), malformed},
		{"alg nOnE", "/", bearer(unsigned("nOnE")), malformed},
		{"alg none with a signature", "/", bearer(unsigned("none") + "c2ln"), badAlg},
		{"alg nOnE with a signature", "/", bearer(unsigned("nOnE") + "c2ln"), badAlg},
		{"alg member spelled Alg", "/", bearer(rawSigned(`{"Alg":"RS256","kid":"rsa-1"}`, fmt.Sprintf(`{"sub":"x","aud":"api","exp":%d}`, exp))), badAlg},
		{"alg none beside ALG", "/", bearer(rawSigned(`{"alg":"none","ALG":"RS256","kid":"rsa-1"}`, fmt.Sprintf(`{"sub":"x","aud":"api","exp":%d}`, exp))), badAlg},

		{"HS256 signed with the RSA public key PEM as secret", "/", bearer(hmacWithPEM("")), badAlg},
		{"HS256 signed with the RSA public key PEM, RSA kid", "/", bearer(hmacWithPEM("rsa-1")), badAlg},

		{"unknown kid", "/", bearer(signToken(t, attacker, claimsFor(), map[string]any{"kid": "attacker"})), unknownKey},
		{"path traversal kid", "/", bearer(signToken(t, attacker, claimsFor(), map[string]any{"kid": "../../../../../../dev/null"})), unknownKey},
		{"SQL injection kid", "/", bearer(signToken(t, attacker, claimsFor(), map[string]any{"kid": "x' UNION SELECT 'k' --"})), unknownKey},

		{"jku to the attacker's JWKS", "/", bearer(signToken(t, attacker, claimsFor(), map[string]any{"kid": "attacker", "jku": "http://127.0.0.1:1/jwks.json"})), unknownKey},
		{"jku with the site's kid", "/", bearer(signToken(t, attacker, claimsFor(), map[string]any{"kid": "rsa-1", "jku": "http://127.0.0.1:1/jwks.json"})), badSig},
		{"x5u to the attacker's certificate", "/", bearer(signToken(t, attacker, claimsFor(), map[string]any{"kid": "rsa-1", "x5u": "http://127.0.0.1:1/cert.pem"})), badSig},
		{"embedded jwk of the attacker's EC key", "/", bearer(signToken(t, attackerEC, claimsFor(), map[string]any{"jwk": jwkOf(attackerEC)})), badSig},
		{"embedded jwk of the attacker's RSA key", "/", bearer(signToken(t, attacker, claimsFor(), map[string]any{"jwk": jwkOf(attacker)})), badSig},

		{"ECDSA zero signature (r = s = 0)", "/", bearer(esInput + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 64))), badSig},
		{"ECDSA truncated signature", "/", bearer(esInput + "." + base64.RawURLEncoding.EncodeToString(esSig[:32])), badSig},
		{"ECDSA empty signature", "/", bearer(esInput + "."), malformed},

		{"tampered payload", "/", bearer(goodParts[0] + "." + segment(t, claimsFor("sub", "admin")) + "." + goodParts[2]), badSig},
		{"tampered header", "/", bearer(segment(t, `{"alg":"RS512","kid":"rsa-1","typ":"JWT"}`) + "." + goodParts[1] + "." + goodParts[2]), badSig},

		{"unknown crit extension", "/", bearer(signedRS(claimsFor(), "crit", []string{"x-acme"}, "x-acme", true)), malformed},

		{"exp as a string", "/", bearer(signedRS(claimsFor("exp", strconv.FormatInt(exp, 10)))), badClaims},
		{"nbf as a string", "/", bearer(signedRS(claimsFor("nbf", "0"))), badClaims},
		{"iat as a string", "/", bearer(signedRS(claimsFor("iat", "now"))), badClaims},
		{"iss as a number", "/", bearer(signedRS(claimsFor("iss", 42))), badClaims},
		{"aud as a number", "/", bearer(signedRS(claimsFor("aud", 42))), expectation{http.StatusUnauthorized, invalidToken(descBadAudience)}},
		{"sub as an object", "/", bearer(signedRS(claimsFor("sub", map[string]any{"id": 1}))), badClaims},
		{"nbf beyond float range, malformed: no float64 holds it", "/", bearer(rawSigned(`{"alg":"RS256","kid":"rsa-1"}`, fmt.Sprintf(`{"sub":"x","aud":"api","exp":%d,"nbf":1e400}`, exp))), malformed},
		{"iat beyond int64 seconds", "/", bearer(rawSigned(`{"alg":"RS256","kid":"rsa-1"}`, fmt.Sprintf(`{"sub":"x","aud":"api","exp":%d,"iat":1e19}`, exp))), badClaims},

		{"token larger than max_token_size", "/", bearer(signedRS(claimsFor("pad", strings.Repeat("A", 20000)))), tooLarge},
		{"deeply nested payload, forged", "/", bearer(segment(t, `{"alg":"RS256","kid":"rsa-1"}`) + "." + segment(t, nested(5000)) + "." + goodParts[2]), malformed},
		{"nesting deeper than 32 levels, well signed", "/", bearer(rawSigned(`{"alg":"RS256","kid":"rsa-1"}`, nested(40))), malformed},
		{"nesting of 12000 levels in a large token", "/big/", bearer(segment(t, `{"alg":"RS256","kid":"rsa-1"}`) + "." + segment(t, nested(12000)) + "." + goodParts[2]), malformed},
		{"duplicate claim names, well signed", "/", bearer(rawSigned(`{"alg":"RS256","kid":"rsa-1"}`, fmt.Sprintf(`{"sub":"x","sub":"admin","aud":"api","exp":%d}`, exp))), malformed},

		{"base64 (not base64url) alphabet", "/", bearer(goodParts[0] + "." + goodParts[1] + "+/." + goodParts[2]), malformed},
		{"base64 padding", "/", bearer(goodParts[0] + "==." + goodParts[1] + "." + goodParts[2]), malformed},
		{"JWE-shaped token (five segments)", "/", bearer(segment(t, `{"alg":"RSA-OAEP","enc":"A256GCM"}`) + ".ZW5j.aXY.Y3Q.dGFn"), malformed},
		{"four segments", "/", bearer(good + ".x"), malformed},
		{"garbage", "/", bearer("not-a-token"), malformed},

		{"Bearer with nothing after it", "/", http.Header{"Authorization": {"Bearer"}}, malformed},
		{"Bearer and a space", "/", http.Header{"Authorization": {"Bearer "}}, malformed},
		{"Bearer Bearer token", "/", http.Header{"Authorization": {"Bearer Bearer " + good}}, malformed},
		{"two Bearer tokens in one header", "/", http.Header{"Authorization": {"Bearer " + good + ", Bearer " + other}}, malformed},
		{"two Authorization headers with different tokens", "/", http.Header{"Authorization": {"Bearer " + good, "Bearer " + other}}, ambiguous},
		{"Basic credentials are not ours", "/", http.Header{"Authorization": {"Basic YWxhZGRpbjpvcGVuc2VzYW1l"}}, missing},

		{"header and cookie carry different tokens", "/", http.Header{"Authorization": {"Bearer " + good}, "Cookie": {"session=" + other}}, ambiguous},
		{"header and query carry different tokens", "/?access_token=" + url.QueryEscape(other), bearer(good), ambiguous},
		{"two cookies carry different tokens", "/", http.Header{"Cookie": {"session=" + good + "; session=" + other}}, ambiguous},
		{"query carries two different tokens", "/?access_token=" + good + "&access_token=" + other, nil, ambiguous},
		{"empty query token beside a header token", "/?access_token=", bearer(good), malformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check(t, s.c, s.up, http.MethodGet, tc.path, tc.header, tc.want)
		})
	}

	t.Run("same token in header, cookie and query passes, stripped from all", func(t *testing.T) {
		check(t, s.c, s.up, http.MethodGet, "/?access_token="+good+"&keep=1",
			http.Header{"Authorization": {"Bearer " + good}, "Cookie": {"session=" + good + "; other=1"}}, accepted)
		got := s.up.Last(t)
		if got.Header.Get("Authorization") != "" {
			t.Errorf("upstream got Authorization %q", got.Header.Get("Authorization"))
		}
		if v, ok := got.Cookie("session"); ok {
			t.Errorf("upstream got the session cookie %q", v)
		}
		if v, ok := got.Cookie("other"); !ok || v != "1" {
			t.Errorf("upstream lost the other cookie (got %q)", v)
		}
		if strings.Contains(got.URI, "access_token") || !strings.Contains(got.URI, "keep=1") {
			t.Errorf("upstream URI %q: token not stripped or other parameters lost", got.URI)
		}
	})

	t.Run("a token after a semicolon is stripped too, for upstreams that split there", func(t *testing.T) {
		check(t, s.c, s.up, http.MethodGet, "/?keep=1;access_token="+good, nil, accepted)
		got := s.up.Last(t)
		if strings.Contains(got.URI, "access_token") || !strings.Contains(got.URI, "keep=1") {
			t.Errorf("upstream URI %q: token not stripped or other parameters lost", got.URI)
		}
	})

	t.Run("a header larger than Caddy's max_header_size never passes", func(t *testing.T) {
		before := s.up.Count()
		status, err := rawGet(s.c.URL("/"), "Authorization: Bearer "+good+strings.Repeat("A", 2<<20))
		if err == nil && (status < 400 || status == http.StatusOK) {
			t.Errorf("status %d for a 2 MiB header, want 431 or another refusal", status)
		}
		t.Logf("2 MiB header: status %d, err %v", status, err)
		if s.up.Count() != before {
			t.Error("the request reached the upstream")
		}
		// Caddy is still serving.
		check(t, s.c, s.up, http.MethodGet, "/", bearer(good), accepted)
	})
}
