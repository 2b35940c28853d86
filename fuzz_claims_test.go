package caddyjwt

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

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
		checkIndexedClaim(t, string(claimsJSON), path)
		if top, isTop := claims[path]; isTop && (!ok || !reflect.DeepEqual(v, top)) {
			t.Fatalf("top-level claim %q not preferred: got %v", path, v)
		}
		token, rsn := readForTest(string(claimsJSON))
		if rsn != reasonAllowed {
			token = &verifiedToken{claimsJSON: string(claimsJSON)}
		}
		for _, values := range [][]string{nil, {"admin"}, {formatClaim(v)}} {
			req := claimRequirement{path: p, values: values}
			if got := req.satisfiedBy(token); got && !ok {
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
