package caddyjwt

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// The fuzz targets of the handler's hostile-input surface: reading the
// token from a request, verifying it, formatting claims for headers, and
// the Caddyfile. Their seed corpora (in code, and written out under
// testdata/fuzz) hold the classic JWT attacks; scripts/test.sh runs each
// target for a few seconds. A crasher go test -fuzz finds lands in
// testdata/fuzz/<Target>/ and from then on runs with every `go test`.

// TestVerifyRefusesClassicAttacks checks every token of the seed catalog
// against the reason it must get: the attacks are refused for the right
// reason, the tokens we signed pass.
func TestVerifyRefusesClassicAttacks(t *testing.T) {
	keys := loadFuzzKeys(t)
	h := newFuzzHandler(t, keys)
	valid, attacks := tokenCatalog(t, keys)
	for _, tc := range append(valid, attacks...) {
		t.Run(tc.name, func(t *testing.T) {
			_, got := h.verifier.verify(context.Background(), tc.token)
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
		token, rsn := h.verifier.verify(context.Background(), raw)
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
		token, rsn := h.verifier.verify(context.Background(), raw)
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

func readTokenSeeds(validHS, validRS string) []namedSeed {
	seed := func(name, auth1, auth2, xToken, cookie, query string) namedSeed {
		return namedSeed{name, []any{auth1, auth2, xToken, cookie, query}}
	}
	return []namedSeed{
		seed("bearer-valid", "Bearer "+validHS, "", "", "", ""),
		seed("bearer-lowercase-tab", "bearer\t"+validRS, "", "", "", ""),
		seed("bearer-empty", "Bearer", "", "", "", ""),
		seed("bearer-space-only", "Bearer ", "", "", "", ""),
		seed("bearer-doubled", "Bearer Bearer "+validHS, "", "", "", ""),
		seed("bearerish-scheme", "Bearerx "+validHS, "", "", "", ""),
		seed("basic-beside-bearer", "Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Bearer "+validHS, "", "", ""),
		seed("two-authorization-headers-differ", "Bearer "+validHS, "Bearer "+validRS, "", "", ""),
		seed("two-authorization-headers-same", "Bearer "+validHS, "Bearer "+validHS, "", "", ""),
		seed("comma-joined", "Bearer "+validHS+", Bearer "+validRS, "", "", "", ""),
		seed("header-and-cookie-differ", "Bearer "+validHS, "", "", "session="+validRS, ""),
		seed("header-and-query-same", "Bearer "+validHS, "", "", "", "access_token="+validHS),
		seed("x-token-and-cookie-same", "", "", validRS, "other=1; session="+validRS, ""),
		seed("cookie-twice-differ", "", "", "", "session="+validHS+"; session="+validRS, ""),
		seed("cookie-quoted", "", "", "", `session="`+validHS+`"`, ""),
		seed("cookie-empty", "", "", "", "session=", ""),
		seed("query-twice-differ", "", "", "", "", "access_token="+validHS+"&access_token="+validRS),
		seed("query-empty-value", "", "", "", "", "access_token="),
		seed("query-semicolon-smuggled", "", "", "", "", "access_token="+validHS+"&x=1;access_token="+validRS),
		seed("query-bad-escape", "", "", "", "", "access_token=%zz&access_token="+validHS),
		seed("query-encoded-name", "", "", "", "", "access%5Ftoken="+validRS+"&access_token="+validHS),
		seed("control-bytes", "Bearer \x00\r\n"+validHS, "", "\x7f", "session=\x01", "access_token=%00"),
		seed("non-utf8", "Bearer \xff\xfe", "", "", "", ""),
		seed("bearer-nbsp-beside-valid", "Bearer\u00a0"+validRS, "Bearer "+validHS, "", "", ""),
		seed("bearer-ideographic-space", "Bearer\u3000"+validRS, "", "", "", ""),
		seed("bearer-comma", "Bearer,"+validRS, "Bearer "+validHS, "", "", ""),
		seed("bearer-two-tokens", "Bearer "+validHS+" "+validRS, "", "", "", ""),
		seed("nbsp-before-scheme", "\u00a0Bearer "+validRS, "Bearer "+validHS, "", "", ""),
		seed("cookie-backslash-hides-second", "", "", "", `session=a\b; session=`+validRS+`; session=`+validHS, ""),
		seed("cookie-stray-quote", "", "", "", `session="`+validRS+`; session=`+validHS, ""),
		seed("cookie-non-ascii", "", "", "", "session=\xe9"+validRS+"; session="+validHS, ""),
		seed("cookie-percent-encoded-value", "", "", "", "session=%65"+validRS[1:]+"; session="+validHS, ""),
		seed("cookie-percent-encoded-name", "", "", "", "%73ession="+validRS+"; session="+validHS, ""),
		seed("cookie-array-name", "", "", "", "session[]="+validRS+"; session="+validHS, ""),
		seed("cookie-nbsp-name", "", "", "", "\u00a0session="+validRS+"; session="+validHS, ""),
		seed("cookie-after-comma", "", "", "", "a=1,session="+validRS+"; session="+validHS, ""),
		seed("cookie-past-3000-pairs", "", "", "", strings.Repeat("c=1; ", 3001)+"session="+validHS, ""),
		seed("query-php-dot", "", "", "", "", "access.token="+validRS+"&access_token="+validHS),
		seed("query-php-space", "", "", "", "", "access+token="+validRS+"&access_token="+validHS),
		seed("query-array", "", "", "", "", "access_token[]="+validRS+"&access_token="+validHS),
		seed("query-upper-case", "", "", "", "", "ACCESS_TOKEN="+validRS+"&access_token="+validHS),
		seed("query-encoded-nul", "", "", "", "", "access_token%00x="+validRS+"&access_token="+validHS),
	}
}

// FuzzReadToken builds requests with tokens in the Authorization header
// (twice), an X-Token header, the Cookie header and the query string, and
// runs them through readToken and the whole handler. It must never panic,
// never pick one of two different tokens, and whatever reaches the next
// handler must carry a token we signed and no token left in any of the
// places tokens are read from.
func FuzzReadToken(f *testing.F) {
	keys := loadFuzzKeys(f)
	h := newFuzzHandler(f, keys)
	valid := validTokens(f, keys)
	signed := make(map[string]bool)
	for _, tc := range valid {
		signed[decodedSegments(tc.token)] = true
	}
	for _, s := range readTokenSeeds(valid[0].token, valid[2].token) {
		a := s.args
		f.Add(a[0].(string), a[1].(string), a[2].(string), a[3].(string), a[4].(string))
	}
	f.Fuzz(func(t *testing.T, auth1, auth2, xToken, cookie, query string) {
		newRequest := func() *http.Request {
			r := &http.Request{
				Method: http.MethodGet,
				URL:    &url.URL{Path: "/", RawQuery: query},
				Host:   "example.com",
				Header: make(http.Header),
			}
			r.RequestURI = r.URL.RequestURI()
			for name, v := range map[string]string{"Authorization": auth1, "X-Token": xToken, "Cookie": cookie} {
				if v != "" {
					r.Header[name] = []string{v}
				}
			}
			if auth2 != "" {
				r.Header["Authorization"] = append(r.Header["Authorization"], auth2)
			}
			return r
		}

		r := newRequest()
		found, rsn := h.readToken(r)
		switch rsn {
		case reasonAllowed, reasonMalformed, reasonAmbiguous:
		default:
			t.Fatalf("readToken gave reason %q", rsn)
		}
		if rsn == reasonAllowed {
			for i := range h.sources {
				values, _ := h.sources[i].values(r)
				carried := found.in&(1<<i) != 0
				if carried != (len(values) > 0) {
					t.Fatalf("%s: carried=%v but has values %q", h.sources[i].String(), carried, values)
				}
				for _, v := range values {
					if v != found.raw {
						t.Fatalf("%s carries %q beside the token %q: must be ambiguous", h.sources[i].String(), v, found.raw)
					}
				}
			}
		}

		var upstream *http.Request
		next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			upstream = r
			return nil
		})
		r = newRequest()
		repl := caddy.NewReplacer()
		r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
		err := h.ServeHTTP(httptest.NewRecorder(), r, next)
		if upstream == nil {
			var he caddyhttp.HandlerError
			if !errors.As(err, &he) {
				t.Fatalf("rejected with %T %v, not a caddyhttp.HandlerError", err, err)
			}
			switch he.StatusCode {
			case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
			default:
				t.Fatalf("rejected with status %d", he.StatusCode)
			}
			return
		}
		if err != nil {
			t.Fatalf("passed on, but returned %v", err)
		}
		if rsn != reasonAllowed || !signed[decodedSegments(found.raw)] {
			t.Fatalf("passed on a request whose token %q (%q) we never signed", found.raw, rsn)
		}
		for i := range h.sources {
			if values, _ := h.sources[i].values(upstream); len(values) > 0 {
				t.Fatalf("upstream still reads %q from %s", values, h.sources[i].String())
			}
		}
		if got := upstream.Header.Get("X-User-Id"); got != "alice" {
			t.Fatalf("X-User-Id = %q, want alice", got)
		}
	})
}

func claimSeeds() []namedSeed {
	seed := func(name, claims, path string) namedSeed {
		return namedSeed{name, []any{[]byte(claims), path}}
	}
	return []namedSeed{
		seed("top-level-url-name", `{"https://example.com/roles":["a","b"],"https://example":{"com/roles":"x"}}`, "https://example.com/roles"),
		seed("dot-path", `{"realm_access":{"roles":["admin","user"]}}`, "realm_access.roles"),
		seed("dot-path-through-array", `{"a":[{"b":1}]}`, "a.0.b"),
		seed("crlf-in-string", `{"sub":"alice\r\nX-Admin: true"}`, "sub"),
		seed("nul-in-nested-object", `{"o":{"k":"\u0000"}}`, "o"),
		seed("del-in-array", `{"a":["x","\u007f"]}`, "a"),
		seed("huge-number", `{"n":1e400}`, "n"),
		seed("number-text", `{"n":-0.000e+10}`, "n"),
		seed("null", `{"n":null}`, "n"),
		seed("bool", `{"b":false}`, "b"),
		seed("scope-string", `{"scope":"read write\tadmin"}`, "scope"),
		seed("empty-path-segments", `{"":{"":"x"}}`, "."),
		seed("deep", `{"a":{"a":{"a":{"a":{"a":"deep"}}}}}`, "a.a.a.a.a"),
		seed("non-utf8", "{\"s\":\"\xff\"}", "s"),
		seed("unicode-line-separator", `{"s":"a\u2028b\u0085c"}`, "s"),
		seed("trailing-space", `{"sub":"admin "}`, "sub"),
		seed("leading-tab", `{"sub":"\tadmin"}`, "sub"),
		seed("trailing-nbsp", `{"sub":"admin\u00a0"}`, "sub"),
		seed("leading-bom", `{"sub":"\ufeffadmin"}`, "sub"),
		seed("array-element-with-comma", `{"roles":["dev,admin"]}`, "roles"),
		seed("array-of-two", `{"roles":["dev","admin"]}`, "roles"),
		seed("array-quotes-and-backslashes", `{"roles":["a\"b","c\\d",""," e "]}`, "roles"),
		seed("array-nested", `{"roles":[["a","b"],{"c":"d"},null,1]}`, "roles"),
	}
}

// FuzzClaimHeaderValue looks up a claim path in arbitrary claims and
// formats it the way claim_header, {http.auth.user.id} and
// {http.auth.jwt.*} do. It must never panic; a value claimText lets
// through can never split or smuggle a header and has no white space an
// HTTP hop would trim; an array of strings reads back as the same
// elements; and a name that exists as a top-level claim always wins over
// the dot path.
func FuzzClaimHeaderValue(f *testing.F) {
	for _, s := range claimSeeds() {
		f.Add(s.args[0].([]byte), s.args[1].(string))
	}
	f.Fuzz(func(t *testing.T, claimsJSON []byte, path string) {
		var claims map[string]any
		dec := json.NewDecoder(bytes.NewReader(claimsJSON))
		dec.UseNumber()
		if dec.Decode(&claims) != nil || claims == nil {
			return
		}
		p := compileClaimPath(path)
		v, ok := p.lookup(claims)
		if top, isTop := claims[path]; isTop && (!ok || !reflect.DeepEqual(v, top)) {
			t.Fatalf("top-level claim %q not preferred: got %v", path, v)
		}
		for _, values := range [][]string{nil, {"admin"}, {formatClaim(v)}} {
			req := claimRequirement{path: p, values: values}
			if got := req.satisfiedBy(claims); got && !ok {
				t.Fatalf("requirement %q %q satisfied by a missing claim", path, values)
			}
		}
		if !ok {
			return
		}
		s, safe := claimText(v)
		if again, _ := claimText(v); again != s {
			t.Fatal("claimText is not deterministic")
		}
		if str, isString := v.(string); isString && s != str {
			t.Fatalf("string claim %q formatted as %q", str, s)
		}
		if elems, ok := stringElements(v); ok {
			if back := readList(s); len(elems) > 0 && !reflect.DeepEqual(back, elems) {
				t.Fatalf("array %q formatted as %q reads back as %q", elems, s, back)
			}
		}
		if !safe {
			return
		}
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
				t.Fatalf("safe value %q has control byte %#x", s, c)
			}
		}
		if strings.TrimSpace(s) != s {
			t.Fatalf("safe value %q has white space at an edge", s)
		}
	})
}

// stringElements returns the elements of an array of strings.
func stringElements(v any) ([]string, bool) {
	arr, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(arr))
	for _, item := range arr {
		s, ok := item.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// readList reads an RFC 9110 list the way an upstream would: elements at
// the commas outside quoted strings, a quoted string unescaped.
func readList(s string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, cur.String())
}

func caddyfileSeeds() []namedSeed {
	seed := func(name, input string) namedSeed { return namedSeed{name, []any{input}} }
	return []namedSeed{
		seed("minimal", "jwt {\n\tsecret {env.JWT_SECRET}\n}"),
		seed("everything", `jwt {
	secret {file./run/secrets/jwt} base64
	public_key /etc/caddy/jwt.pem key-1
	jwks https://idp.example.com/jwks.json {
		refresh 10m
		unknown_kid_wait 1m
		timeout 5s
	}
	algorithms RS256 ES256
	issuer https://idp.example.com {
		jwks https://idp.example.com/keys
		audience api
	}
	issuer https://other.example.com {
		discover
	}
	from header Authorization Bearer
	from cookie session
	from query access_token
	audience api web
	leeway 1m
	max_lifetime 24h
	token_type at+jwt
	require_claim realm_access.roles admin
	require_claim scope read
	revocation redis redis://127.0.0.1:6379/0 {
		version_claim ver
		cache 1s
		on_error deny
		prefix jwt:
	}
	claim_header sub X-User-Id
	user_claim email
	strip_token
	optional
	realm api
	redirect /login next
	csrf off
	trusted_origin https://app.example.com
	cache 100
	max_token_size 4096
}`),
		seed("alg-none", "jwt {\n\tsecret x\n\talgorithms none NONE\n}"),
		seed("unbalanced-open", "jwt {\n\tissuer a {\n\t\tjwks b {\n"),
		seed("unbalanced-close", "jwt }\n}"),
		seed("argument-on-directive", "jwt extra {\n}"),
		seed("nested-blocks", "jwt {\n\tissuer a {\n\t\tissuer b {\n\t\t\tsecret c\n\t\t}\n\t}\n}"),
		seed("revocation-twice", "jwt {\n\trevocation file /a\n\trevocation file /b\n}"),
		seed("empty-args", "jwt {\n\tfrom\n\tcache\n\tmax_token_size -1\n\tleeway\n}"),
		seed("huge-numbers", "jwt {\n\tcache 99999999999999999999\n\tmax_token_size 0x10\n\tleeway 9999999999h\n}"),
		seed("quotes-and-heredoc", "jwt {\n\tsecret \"a b\" base64\n\trealm `x\"y`\n\trequire_claim <<EOF\n\tz\n\tEOF\n}"),
		seed("placeholders", "jwt {\n\tsecret {env.}\n\tclaim_header {http.request.header.x} {x}\n}"),
		seed("empty", ""),
	}
}

// FuzzUnmarshalCaddyfile feeds arbitrary text to the jwt directive's
// parser. It must return an error or a config, never panic, and a config
// it returns must survive a JSON round trip unchanged (what `caddy adapt`
// prints is what Caddy loads).
func FuzzUnmarshalCaddyfile(f *testing.F) {
	for _, s := range caddyfileSeeds() {
		f.Add(s.args[0].(string))
	}
	f.Fuzz(func(t *testing.T, input string) {
		tokens, err := caddyfile.Tokenize([]byte(input), "Caddyfile")
		if err != nil {
			return
		}
		var h Handler
		if err := h.UnmarshalCaddyfile(caddyfile.NewDispenser(tokens)); err != nil {
			return
		}
		_ = h.Validate()
		first, err := json.Marshal(&h)
		if err != nil {
			t.Fatalf("marshalling the parsed config: %v", err)
		}
		var again Handler
		if err := json.Unmarshal(first, &again); err != nil {
			t.Fatalf("unmarshalling %s: %v", first, err)
		}
		second, err := json.Marshal(&again)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, second) {
			t.Fatalf("JSON round trip changed the config:\n%s\n%s", first, second)
		}
	})
}

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
		seed("not-a-set", `[{"kty":"oct"}]`),
		seed("empty", `{"keys":[]}`),
	}
}

// FuzzFetchedJWKS parses arbitrary JWK Set responses the way a fetch does
// (jwkset, private parsing on) and converts them with the rules for keys
// from a URL. Whatever the body, a key that comes out is public and
// asymmetric (never an HMAC secret the response chose), RSA keys have at
// least 2048 bits, and EC keys verify only their curve's algorithm.
func FuzzFetchedJWKS(f *testing.F) {
	for _, s := range fetchedJWKSSeeds() {
		f.Add(s.args[0].([]byte))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var set jwkset.JWKSMarshal
		if json.NewDecoder(bytes.NewReader(body)).Decode(&set) != nil {
			return
		}
		var jwks []jwkset.JWK
		for _, m := range set.Keys {
			jwk, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{Private: true}, jwkset.JWKValidateOptions{})
			if err == nil {
				jwks = append(jwks, jwk)
			}
		}
		keys, _ := verificationKeysFromJWKs(jwks, allAlgorithms, "fuzz")
		for _, k := range keys {
			if k.algorithms == 0 || k.algorithms&hmacAlgorithms != 0 {
				t.Fatalf("key %q from a URL verifies %s", k.id, k.algorithms)
			}
			switch pub := k.material.(type) {
			case *rsa.PublicKey:
				if pub.N.BitLen() < minRSABits {
					t.Fatalf("RSA key of %d bits", pub.N.BitLen())
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
			default:
				t.Fatalf("key from a URL has material %T", k.material)
			}
		}
	})
}

// TestEveryFuzzTargetRunsInTestScript: scripts/test.sh names the fuzz
// targets it runs; a target missing there would never be fuzzed in CI.
func TestEveryFuzzTargetRunsInTestScript(t *testing.T) {
	script, err := os.ReadFile("scripts/test.sh")
	if err != nil {
		t.Fatal(err)
	}
	file, err := parser.ParseFile(gotoken.NewFileSet(), "fuzz_test.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, decl := range file.Decls {
		if fn, ok := decl.(*ast.FuncDecl); ok && strings.HasPrefix(fn.Name.Name, "Fuzz") {
			if !strings.Contains(string(script), " "+fn.Name.Name+" ") && !strings.Contains(string(script), " "+fn.Name.Name+";") {
				t.Errorf("scripts/test.sh does not fuzz %s", fn.Name.Name)
			}
		}
	}
}
