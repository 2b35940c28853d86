package integration_test

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestHostileTokensNeverReachTheUpstream throws the tokens attackers and
// broken clients send at the real Caddy: every one gets 401 invalid_token
// with a fixed description, none reaches the upstream, none shows up in the
// log, and Caddy keeps serving.
func TestHostileTokensNeverReachTheUpstream(t *testing.T) {
	requireCaddy(t)
	up := newUpstream(t)
	hs := newKey(t, "HS256")
	rs := newKey(t, "RS256")
	es := newKey(t, "ES256")
	keys := "secret " + hs.Secret() + "\npublic_key " + rs.writePublicKeyPEM(t) + "\npublic_key " + es.writePublicKeyPEM(t) + " es-1"
	c := startCaddy(t, caddyfileFor(
		jwtRoute("/api/*", keys, "reverse_proxy "+up.Addr())+
			jwtRoute("/query/*", keys+"\nfrom query token", "reverse_proxy "+up.Addr())))

	good := validClaims()
	hsHeader := segment(t, map[string]any{"alg": "HS256", "typ": "JWT"})
	payload := segment(t, good)
	tokens := hostileTokens(t, hs, rs, es, good, hsHeader, payload)

	for name, tok := range tokens {
		t.Run(name, func(t *testing.T) {
			checkHostileToken(t, c, up, tok)
		})
	}

	// Bytes no HTTP client would put in a header arrive through the query.
	for _, raw := range []string{"a\x00b.c.d", hsHeader + "\x00." + payload + ".x", "\xff\xfe.\xff.\xff", hsHeader + "." + payload + ".\r\n"} {
		before := up.Count()
		resp := get(t, c.URL("/query/?token="+url.QueryEscape(raw)), nil)
		if resp.StatusCode != http.StatusUnauthorized || up.Count() != before {
			t.Errorf("token %q: status %d, upstream reached %d times", raw, resp.StatusCode, up.Count()-before)
		}
	}

	// Still serving (a panic in the log fails the test at cleanup, as for
	// every Caddy of the suite).
	check(t, c, up, http.MethodGet, "/api/", bearer(sign(t, hs, validClaims())), accepted)
	if exited, err := c.Exited(); exited {
		t.Fatalf("caddy exited: %v", err)
	}
	logs := c.Logs()
	for name, tok := range tokens {
		if i := strings.LastIndexByte(tok, '.'); i >= 0 && len(tok)-i > 20 && strings.Contains(logs, tok[i+1:]) {
			t.Errorf("%s: the log contains the token's signature", name)
		}
	}
}

// hostileTokens are the tokens attackers and broken clients send, by what
// is wrong with them: forged algorithms, attacker-chosen keys, malformed
// headers and payloads, bad claims, mangled signatures, wrong formats.
func hostileTokens(t *testing.T, hs, rs, es *testKey, good claims, hsHeader, payload string) map[string]string {
	attacker := newKey(t, "RS256")
	hsSigned := func(header, payload string) string { return resign(t, hs, header+"."+payload) }
	derSig := func() string {
		// ES256 with an ASN.1 DER signature instead of RFC 7518's R||S,
		// the usual mistake of hand-rolled signers.
		input := segment(t, map[string]any{"alg": "ES256", "kid": "es-1"}) + "." + payload
		sum := sha256.Sum256([]byte(input))
		der, err := ecdsa.SignASN1(rand.Reader, es.Signing.(*ecdsa.PrivateKey), sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return input + "." + base64.RawURLEncoding.EncodeToString(der)
	}()
	stdAlphabet := strings.NewReplacer("-", "+", "_", "/").Replace(sign(t, hs, validClaims("sub", "~~~>>>???")))

	return map[string]string{
		"alg none, empty signature":            segment(t, map[string]any{"alg": "none"}) + "." + payload + ".",
		"alg none, some signature":             rawToken(t, map[string]any{"alg": "none"}, good, "x"),
		"alg nOnE":                             rawToken(t, map[string]any{"alg": "nOnE"}, good, "x"),
		"alg HS256 keyed with the RSA PEM":     resign(t, &testKey{Alg: "HS256", method: hs.method, Signing: rs.PublicPEM(t)}, hsHeader+"."+payload),
		"alg HS256 keyed with the EC PEM":      resign(t, &testKey{Alg: "HS256", method: hs.method, Signing: es.PublicPEM(t)}, hsHeader+"."+payload),
		"embedded jwk of the attacker's key":   signToken(t, attacker, good, map[string]any{"jwk": map[string]any{"kty": "RSA", "e": "AQAB", "n": "attacker"}}),
		"jku pointing at the attacker":         signToken(t, attacker, good, map[string]any{"jku": "http://127.0.0.1:1/jwks.json"}),
		"x5u pointing at the attacker":         signToken(t, attacker, good, map[string]any{"x5u": "http://127.0.0.1:1/cert.pem"}),
		"kid path traversal":                   signToken(t, attacker, good, map[string]any{"kid": "../../../../../../dev/null"}),
		"kid SQL injection":                    signToken(t, attacker, good, map[string]any{"kid": "' OR 1=1 --"}),
		"kid of the EC key on an RSA token":    signToken(t, attacker, good, map[string]any{"kid": "es-1"}),
		"kid not a string":                     hsSigned(segment(t, map[string]any{"alg": "HS256", "kid": 5}), payload),
		"crit extension":                       hsSigned(segment(t, map[string]any{"alg": "HS256", "crit": []string{"b64"}, "b64": false}), payload),
		"header null":                          hsSigned(segment(t, "null"), payload),
		"header an array":                      hsSigned(segment(t, `["HS256"]`), payload),
		"header a string":                      hsSigned(segment(t, `"HS256"`), payload),
		"header with trailing garbage":         hsSigned(segment(t, `{"alg":"HS256"}xyz`), payload),
		"payload null":                         hsSigned(hsHeader, segment(t, "null")),
		"payload a number":                     hsSigned(hsHeader, segment(t, "42")),
		"payload not base64":                   hsHeader + ".@@@." + strings.Split(sign(t, hs, good), ".")[2],
		"exp out of range":                     hsSigned(hsHeader, segment(t, `{"sub":"a","exp":1e400}`)),
		"exp negative":                         hsSigned(hsHeader, segment(t, `{"sub":"a","exp":-1}`)),
		"exp a bool":                           hsSigned(hsHeader, segment(t, `{"sub":"a","exp":true}`)),
		"exp zero":                             hsSigned(hsHeader, segment(t, `{"sub":"a","exp":0}`)),
		"nbf a string":                         sign(t, hs, validClaims("nbf", "now")),
		"sub an object":                        sign(t, hs, validClaims("sub", map[string]any{"id": 1})),
		"iss an array":                         sign(t, hs, validClaims("iss", []string{"a"})),
		"deeply nested claims, forged":         resign(t, newKey(t, "HS256"), hsHeader+"."+segment(t, `{"exp":`+validExp()+`,"x":`+strings.Repeat("[", 3000)+strings.Repeat("]", 3000)+`}`)),
		"duplicate alg, last one none":         hsSigned(segment(t, `{"alg":"HS256","alg":"none"}`), payload),
		"signature empty":                      hsHeader + "." + payload + ".",
		"signature truncated":                  sign(t, hs, good)[:len(sign(t, hs, good))-5],
		"signature with a trailing dot":        sign(t, hs, good) + ".",
		"standard base64 alphabet":             stdAlphabet,
		"ES256 signature in DER":               derSig,
		"EdDSA token on RSA and EC keys":       sign(t, newKey(t, "EdDSA"), good),
		"RS256 signed by a 1024-bit key":       sign(t, &testKey{Alg: "RS256", method: rs.method, Signing: newRSAKey(t, 1024)}, good),
		"PS256 by the right key's impostor":    sign(t, newKey(t, "PS256"), good),
		"JWE, five segments":                   "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d",
		"thousands of dots":                    strings.Repeat(".", 5000),
		"only dots":                            "..",
		"unicode":                              "é.é.é",
		"token over the size limit":            sign(t, hs, validClaims("pad", strings.Repeat("A", 12500))),
		"valid token with a space and garbage": sign(t, hs, good) + " garbage",
	}
}

// checkHostileToken sends tok in the header and in the query: 401
// invalid_token with a fixed description, the token not echoed, and nothing
// reaching the upstream.
func checkHostileToken(t *testing.T, c *caddyProcess, up *upstream, tok string) {
	before := up.Count()
	resp := get(t, c.URL("/api/"), bearer(tok))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status = %d, want 401", resp.StatusCode)
	}
	if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer realm="127.0.0.1", error="invalid_token", error_description="the token`) {
		t.Errorf("WWW-Authenticate = %q", got)
	}
	if up.Count() != before {
		t.Error("the hostile token reached the upstream")
	}
	if len(tok) > 40 && strings.Contains(resp.Body+resp.Header.Get("WWW-Authenticate"), tok[len(tok)-20:]) {
		t.Error("the response echoes the token")
	}

	// The same through the query string, where any byte can be sent.
	q := get(t, c.URL("/query/?token="+url.QueryEscape(tok)), nil)
	if q.StatusCode != http.StatusUnauthorized || up.Count() != before {
		t.Errorf("through the query: status %d, upstream reached %d times", q.StatusCode, up.Count()-before)
	}
}
