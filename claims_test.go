package caddyjwt

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// decodeClaims decodes a payload the way the verifier does (numbers kept
// as json.Number).
func decodeClaims(t *testing.T, payload string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(payload)))
	dec.UseNumber()
	var c map[string]any
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("bad test payload %s: %v", payload, err)
	}
	return c
}

func TestClaimPathLookup(t *testing.T) {
	payload := `{
		"sub": "alice",
		"https://example.com/roles": ["admin"],
		"realm_access": {"roles": ["editor"], "deep": {"level": 3}},
		"a.b": "top-level wins",
		"a": {"b": "nested loses"},
		"list": [{"x": 1}],
		"null": null
	}`
	claims := decodeClaims(t, payload)
	cases := []struct {
		path  string
		want  string // formatted; "" with found false means absent
		found bool
	}{
		{"sub", "alice", true},
		{"https://example.com/roles", "admin", true},
		{"realm_access.roles", "editor", true},
		{"realm_access.deep.level", "3", true},
		{"a.b", "top-level wins", true},
		{"null", "", true},
		{"missing", "", false},
		{"realm_access.missing", "", false},
		{"sub.length", "", false},
		{"list.0", "", false},
		{"realm_access..roles", "", false},
		{"https://example.com/other", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			v, ok := compileClaimPath(tc.path).lookup(claims)
			if ok != tc.found {
				t.Fatalf("found = %v, want %v", ok, tc.found)
			}
			if ok && formatClaim(v) != tc.want {
				t.Errorf("value = %q, want %q", formatClaim(v), tc.want)
			}
		})
	}
	if _, ok := compileClaimPath("sub").lookup(nil); ok {
		t.Error("lookup in nil claims found something")
	}
}

func TestFormatClaim(t *testing.T) {
	claims := decodeClaims(t, `{
		"s": "text with spaces",
		"int": 42,
		"big": 12345678901234567890,
		"float": 1.5,
		"exp": 1e3,
		"t": true,
		"f": false,
		"null": null,
		"arr": ["a", "b", "c"],
		"mixed": ["a", 1, true],
		"empty": [],
		"obj": {"name": "acme", "id": 7, "tags": ["x"]},
		"objs": [{"a": 1}, {"b": 2}]
	}`)
	cases := []struct {
		claim string
		want  string
	}{
		{"s", "text with spaces"},
		{"int", "42"},
		{"big", "12345678901234567890"},
		{"float", "1.5"},
		{"exp", "1e3"},
		{"t", "true"},
		{"f", "false"},
		{"null", ""},
		{"arr", "a,b,c"},
		{"mixed", "a,1,true"},
		{"empty", ""},
		{"obj", `{"id":7,"name":"acme","tags":["x"]}`},
		{"objs", `"{\"a\":1}","{\"b\":2}"`},
	}
	for _, tc := range cases {
		t.Run(tc.claim, func(t *testing.T) {
			if got := formatClaim(claims[tc.claim]); got != tc.want {
				t.Errorf("formatClaim = %q, want %q", got, tc.want)
			}
		})
	}
	// Values as golang-jwt or a JSON decoder without UseNumber give them.
	for v, want := range map[any]string{float64(3): "3", float64(0.25): "0.25", float64(1e21): "1000000000000000000000"} {
		if got := formatClaim(v); got != want {
			t.Errorf("formatClaim(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestSafeHeaderValue(t *testing.T) {
	cases := []struct {
		value string
		safe  bool
	}{
		{"alice", true},
		{"", true},
		{"with\ttab", true},
		{"ünïcödé", true},
		{`{"json":"object"}`, true},
		{"line\r\nX-Injected: 1", false},
		{"new\nline", false},
		{"nul\x00byte", false},
		{"del\x7f", false},
		{"bell\a", false},
	}
	for _, tc := range cases {
		if got := safeHeaderValue(tc.value); got != tc.safe {
			t.Errorf("safeHeaderValue(%q) = %v, want %v", tc.value, got, tc.safe)
		}
	}
}

func TestClaimRequirements(t *testing.T) {
	token, _ := readForTest(`{
		"role": "admin",
		"role_words": "admin user",
		"roles": ["user", "editor"],
		"scope": "read write:all openid",
		"scp": ["orders.read", "orders.write"],
		"token": {"scope": "a b"},
		"level": 3,
		"verified": true,
		"org": {"id": 7},
		"null": null,
		"https://example.com/roles": ["admin"],
		"realm_access": {"roles": ["editor"]}
	}`)
	cases := []struct {
		name   string
		path   string
		values []string
		want   bool
	}{
		{"present", "role", nil, true},
		{"absent", "missing", nil, false},
		{"null is not present", "null", nil, false},
		{"string equals", "role", []string{"admin"}, true},
		{"string equals one of", "role", []string{"owner", "admin"}, true},
		{"string differs", "role", []string{"user"}, false},
		{"no substring match", "role", []string{"adm"}, false},
		{"no case folding", "role", []string{"Admin"}, false},
		{"a string with spaces is one value outside scope", "role_words", []string{"admin"}, false},
		{"array contains", "roles", []string{"editor"}, true},
		{"array lacks", "roles", []string{"admin"}, false},
		{"scope set contains", "scope", []string{"write:all"}, true},
		{"scope set contains one of", "scope", []string{"delete", "openid"}, true},
		{"scope set lacks", "scope", []string{"write"}, false},
		{"scope whole string is not a member", "scope", []string{"read write:all openid"}, false},
		{"scp array", "scp", []string{"orders.write"}, true},
		{"nested scope is a set", "token.scope", []string{"b"}, true},
		{"number", "level", []string{"3"}, true},
		{"number differs", "level", []string{"4"}, false},
		{"bool", "verified", []string{"true"}, true},
		{"object never equals", "org", []string{`{"id":7}`}, false},
		{"object is present", "org", nil, true},
		{"URL-named claim", "https://example.com/roles", []string{"admin"}, true},
		{"dot path", "realm_access.roles", []string{"editor"}, true},
		{"dot path lacks", "realm_access.roles", []string{"admin"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reqs, err := compileRequirements([]*ClaimRequirement{{Path: tc.path, Values: tc.values}})
			if err != nil {
				t.Fatal(err)
			}
			if got := reqs[0].satisfiedBy(token); got != tc.want {
				t.Errorf("satisfiedBy = %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := compileRequirements([]*ClaimRequirement{{Path: ""}}); err == nil {
		t.Error("an empty claim path was accepted")
	}
}

// TestAllRequirementsMustHold goes through the handler's own check.
func TestAllRequirementsMustHold(t *testing.T) {
	reqs, err := compileRequirements([]*ClaimRequirement{
		{Path: "role", Values: []string{"admin"}},
		{Path: "scope", Values: []string{"write"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{requirements: reqs}
	cases := []struct {
		payload string
		want    reason
	}{
		{`{"role":"admin","scope":"read write"}`, reasonAllowed},
		{`{"role":"admin","scope":"read"}`, reasonScopeNotGranted},
		{`{"role":"user","scope":"write"}`, reasonForbidden},
		{`{}`, reasonForbidden},
	}
	for _, tc := range cases {
		if got := h.checkRequirements(&verifiedToken{claimsJSON: tc.payload}, time.Now()); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.payload, got, tc.want)
		}
	}
}

func TestCompileClaimHeaders(t *testing.T) {
	got, err := compileClaimHeaders([]*ClaimHeader{{Path: "sub", Header: "x-user-id"}, {Path: "realm_access.roles", Header: "X-Roles"}})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].header != "X-User-Id" || got[1].header != "X-Roles" || got[1].path.name != "realm_access.roles" {
		t.Errorf("compiled %+v", got)
	}
	for _, bad := range []*ClaimHeader{
		{Path: "sub", Header: "X User"},
		{Path: "sub", Header: "X-User:"},
		{Path: "sub", Header: "X-Üser"},
		{Path: "", Header: "X-User"},
		{Path: "sub", Header: ""},
	} {
		if _, err := compileClaimHeaders([]*ClaimHeader{bad}); err == nil {
			t.Errorf("claim_header %q %q was accepted", bad.Path, bad.Header)
		}
	}
}

func TestValidHeaderName(t *testing.T) {
	for name, want := range map[string]bool{
		"X-User-Id": true, "x_user": true, "X.Y": true, "A1!#$%&'*+-.^_`|~": true,
		"": false, "X User": false, "X:Y": false, "X\r\nY": false, "(X)": false, "X/Y": false,
	} {
		if got := validHeaderName(name); got != want {
			t.Errorf("validHeaderName(%q) = %v, want %v", name, got, want)
		}
	}
	// What the handler deletes and sets must be the form net/http stores.
	if http.CanonicalHeaderKey("x-user-id") != "X-User-Id" {
		t.Fatal("unexpected canonical form")
	}
}

// TestArrayClaimsKeepTheirElementBoundaries: arrays are sent as an RFC 9110
// list, so that no two different arrays give the same header, while the
// common case stays a bare comma-separated list.
func TestArrayClaimsKeepTheirElementBoundaries(t *testing.T) {
	cases := []struct {
		name, claim, want string
	}{
		{"plain elements joined with commas", `["a","b"]`, `a,b`},
		{"one element with a comma is quoted", `["dev,admin"]`, `"dev,admin"`},
		{"two elements are two", `["dev","admin"]`, `dev,admin`},
		{"a quote inside is escaped", `["say \"hi\""]`, `"say \"hi\""`},
		{"a backslash inside is escaped", `["a\\b"]`, `"a\\b"`},
		{"edge spaces survive in quotes", `[" admin","b\t"]`, `" admin","b` + "\t" + `"`},
		{"edge Unicode space survives in quotes", `["admin\u00a0"]`, "\"admin\u00a0\""},
		{"an empty element is an empty quoted string", `["a",""]`, `a,""`},
		{"one empty element differs from no element", `[""]`, `""`},
		{"no element is empty", `[]`, ``},
		{"null element is empty", `["a",null]`, `a,""`},
		{"numbers and booleans as JSON text", `[1,2.5,true]`, `1,2.5,true`},
		{"inner spaces need no quotes", `["a b","c"]`, `a b,c`},
		{"nested arrays are quoted JSON", `[["a","b"],"c"]`, `"[\"a\",\"b\"]",c`},
		{"objects are quoted JSON", `[{"a":1}]`, `"{\"a\":1}"`},
		{"non-ASCII as is", `["josé","zoë"]`, `josé,zoë`},
	}
	seen := map[string]string{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := decodeClaims(t, `{"c":`+tc.claim+`}`)["c"]
			if got := formatClaim(v); got != tc.want {
				t.Errorf("formatClaim(%s) = %q, want %q", tc.claim, got, tc.want)
			}
		})
		if other, dup := seen[tc.want]; dup && tc.claim != `["a",null]` && other != `["a",null]` {
			t.Errorf("%s and %s give the same text %q", tc.claim, other, tc.want)
		}
		seen[tc.want] = tc.claim
	}
}

// TestClaimTextRefusesWhatAHopWouldChange: a value that Go's header writer,
// an HTTP parser or an upstream's trim would change is never sent.
func TestClaimTextRefusesWhatAHopWouldChange(t *testing.T) {
	cases := []struct {
		name  string
		claim string
		want  string
		safe  bool
	}{
		{"plain", `"alice"`, "alice", true},
		{"inner space", `"Alice Smith"`, "Alice Smith", true},
		{"inner tab", `"a\tb"`, "a\tb", true},
		{"non-ASCII", `"zoë"`, "zoë", true},
		{"empty", `""`, "", true},
		{"number", `42`, "42", true},
		{"trailing space", `"admin "`, "", false},
		{"leading space", `" admin"`, "", false},
		{"trailing tab", `"admin\t"`, "", false},
		{"leading tab", `"\tadmin"`, "", false},
		{"trailing U+00A0", `"admin\u00a0"`, "", false},
		{"leading U+3000", `"\u3000admin"`, "", false},
		{"trailing U+0085", `"admin\u0085"`, "", false},
		{"leading U+FEFF", `"\ufeffadmin"`, "", false},
		{"CR LF", `"alice\r\nX-Admin: 1"`, "", false},
		{"NUL", `"a\u0000"`, "", false},
		{"DEL", `"a\u007f"`, "", false},
		{"C1 control inside", `"a\u0085b"`, "", false},
		{"control inside an array element", `["a","b\nc"]`, "", false},
		{"object: JSON escapes its control characters", `{"k":"\u0001"}`, `{"k":"\u0001"}`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, safe := claimText(decodeClaims(t, `{"c":`+tc.claim+`}`)["c"])
			if safe != tc.safe || safe && got != tc.want {
				t.Errorf("claimText(%s) = %q, %v; want %q, %v", tc.claim, got, safe, tc.want, tc.safe)
			}
		})
	}
	if safeClaimText("a\xffb") {
		t.Error("invalid UTF-8 is safe")
	}
}

// TestUnsafeClaimsReachNoOutlet: the claim header, {http.auth.user.id} and
// {http.auth.jwt.*} get a claim through the one formatter and its one
// safety rule, so an unsafe user claim is absent from all three, and
// logged without its value.
func TestUnsafeClaimsReachNoOutlet(t *testing.T) {
	headers, err := compileClaimHeaders([]*ClaimHeader{{Path: "sub", Header: "X-User-Id"}, {Path: "roles", Header: "X-Roles"}})
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.WarnLevel)
	h := &Handler{headers: headers, userClaim: compileClaimPath("sub"), logger: zap.New(core)}
	ho := h.prepareHandOff(&verifiedToken{claimsJSON: `{"sub":"admin ","roles":["dev","admin"]}`})
	if ho.userID != "" {
		t.Errorf("user id = %q", ho.userID)
	}
	if !ho.headers[0].unsafe || ho.headers[1].unsafe || ho.headers[1].value != "dev,admin" {
		t.Errorf("headers = %+v", ho.headers)
	}
	for key, want := range map[string]string{"http.auth.jwt.sub": "", "http.auth.jwt.roles": "dev,admin", "http.auth.jwt.missing": ""} {
		if got, ok := ho.placeholders(key); !ok || got != want {
			t.Errorf("{%s} = %q, %v; want %q", key, got, ok, want)
		}
	}
	if logs.FilterMessage(unsafeClaimMessage).Len() != 2 {
		t.Errorf("logged %d unsafe claims, want 2 (user id, placeholder)", logs.FilterMessage(unsafeClaimMessage).Len())
	}
	for _, e := range logs.All() {
		for _, f := range e.Context {
			if strings.Contains(f.String, "admin ") {
				t.Errorf("the log shows the value: %v", e.Context)
			}
		}
	}
}
