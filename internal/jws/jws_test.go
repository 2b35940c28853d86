package jws

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// referenceDecode is what the verifier did before it had its own parser:
// encoding/json with UseNumber, one object, nothing after it.
func referenceDecode(s string) (map[string]any, bool) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, false
	}
	return m, true
}

// refusedOnPurpose reports whether valid JSON s names a member twice in one
// object, nests deeper than maxJSONDepth or holds a number beyond float64's
// range: the three things ParseObject refuses that encoding/json with
// UseNumber accepts.
func refusedOnPurpose(s string) bool {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	type level struct {
		object    bool
		names     map[string]bool
		expectKey bool
	}
	var stack []*level
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *level
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.expectKey {
			if name, ok := tok.(string); ok {
				if top.names[name] {
					return true
				}
				top.names[name] = true
				top.expectKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if top != nil && top.object {
				top.expectKey = true
			}
			stack = append(stack, &level{object: tok == json.Delim('{'), names: map[string]bool{}, expectKey: true})
			if len(stack) > maxJSONDepth {
				return true
			}
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		default:
			if n, ok := tok.(json.Number); ok {
				if _, err := n.Float64(); err != nil {
					return true
				}
			}
			if top != nil && top.object {
				top.expectKey = true
			}
		}
	}
}

func checkAgainstEncodingJSON(t *testing.T, s string) {
	t.Helper()
	got, gotOK := ParseObject(s)
	// Before the early return below: VisitObject must refuse what
	// ParseObject refuses on purpose (duplicate names above all) too.
	checkVisitAgainstParse(t, s, got, gotOK)
	want, wantOK := referenceDecode(s)
	if wantOK && !gotOK && refusedOnPurpose(s) {
		return // refused on purpose
	}
	if gotOK != wantOK {
		t.Fatalf("%q: accepted %v, encoding/json %v", s, gotOK, wantOK)
	}
	if gotOK && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: got %#v, encoding/json %#v", s, got, want)
	}
}

// checkVisitAgainstParse checks that VisitObject accepts exactly what
// ParseObject accepts, estimates the same heap, and reports each top-level
// member as ParseObject decodes it (an array member's elements through
// VisitArray, an object member's text through ParseObject): the verifier
// reads a token's header and registered claims with the one and the rest
// of its claims with the other, so the two must never disagree.
func checkVisitAgainstParse(t *testing.T, s string, parsed map[string]any, parsedOK bool) {
	t.Helper()
	_, parsedSize, _ := ParseObjectSize(s)
	type member struct {
		name, text string
		kind       Kind
	}
	var members []member
	size, ok := VisitObject(s, func(name string, kind Kind, text string) {
		members = append(members, member{name, text, kind})
	})
	if ok != parsedOK {
		t.Fatalf("%q: VisitObject %v, ParseObject %v", s, ok, parsedOK)
	}
	if !ok {
		return
	}
	if size != parsedSize {
		t.Fatalf("%q: VisitObject estimates %d bytes, ParseObjectSize %d", s, size, parsedSize)
	}
	visited := map[string]any{}
	for _, m := range members {
		visited[m.name] = visitedValue(t, m.kind, m.text)
	}
	if !reflect.DeepEqual(visited, parsed) {
		t.Fatalf("%q: visited %#v, parsed %#v", s, visited, parsed)
	}
}

// visitedValue rebuilds the value a visitor was told of.
func visitedValue(t *testing.T, kind Kind, text string) any {
	t.Helper()
	switch kind {
	case String:
		return text
	case Number:
		return json.Number(text)
	case Bool:
		return text == "true"
	case Null:
		return nil
	case Object:
		m, ok := ParseObject(text)
		if !ok {
			t.Fatalf("object member text %q does not parse", text)
		}
		return m
	case Array:
		var kinds []Kind
		var texts []string
		if !VisitArray(text, func(_ string, kind Kind, text string) { kinds, texts = append(kinds, kind), append(texts, text) }) {
			t.Fatalf("array member text %q refused by VisitArray", text)
		}
		a := []any{}
		for i := range kinds {
			a = append(a, visitedValue(t, kinds[i], texts[i]))
		}
		return a
	}
	t.Fatalf("kind %d for %q", kind, text)
	return nil
}

// TestVisitObjectAllocatesNothingForATypicalHeader: reading the header
// and the issuer this way is what keeps a forged token cheap.
func TestVisitObjectAllocatesNothingForATypicalHeader(t *testing.T) {
	const header = `{"alg":"ES256","typ":"JWT","kid":"2024-06-key"}`
	var alg string
	allocs := testing.AllocsPerRun(100, func() {
		if _, ok := VisitObject(header, func(name string, kind Kind, text string) {
			if name == "alg" {
				alg = text
			}
		}); !ok {
			t.Fatal("refused")
		}
	})
	if allocs != 0 || alg != "ES256" {
		t.Fatalf("%v allocations, alg %q", allocs, alg)
	}
}

var jsonCorpus = []string{
	`{}`, ` { } `, "\t{\n}\r\n", `{"a":1}`, `{"a":-0}`, `{"a":1.5e+10}`, `{"a":1E-2}`, `{"a":0.0}`,
	`{"a":01}`, `{"a":-}`, `{"a":1.}`, `{"a":.5}`, `{"a":1e}`, `{"a":+1}`, `{"a":0x10}`, `{"a":NaN}`,
	`{"a":true,"b":false,"c":null}`, `{"a":tru}`, `{"a":nulll}`, `{"a":True}`,
	`{"a":"x"}`, `{"a":"\u00e9\n\t\"\\\/"}`, `{"a":"\ud83d\ude00"}`, `{"a":"\ud83d"}`, `{"a":"\x"}`,
	`{"a":"` + "\x01" + `"}`, `{"a":"` + "\xff\xfe" + `"}`, `{"a":"é"}`, `{"\u0061":1}`, `{"":1}`,
	`{"a":[]}`, `{"a":[1,"x",[true,{}],{"b":[null]}]}`, `{"a":[1,]}`, `{"a":[,1]}`, `{"a":{"b":{"c":{}}}}`,
	`{"a":1,}`, `{,"a":1}`, `{"a" 1}`, `{"a":1 "b":2}`, `{a:1}`, `{'a':1}`, `{"a":1}}`, `{"a":1}x`,
	`{"a":1} {"b":2}`, `{"a":1}]`, `[]`, `null`, `"x"`, `1`, ``, ` `, `{`, `{"a"`, `{"a":`, `{"a":"x`,
	`{"a":1,"a":2}`, `{"a":{"b":1,"b":2}}`, `{"a":1,"A":2}`, `{"a":1,"\u0061":2}`, `{"a":[{"b":1,"b":2}]}`,
	`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"a":18}`,
	`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"r":18}`,
	`{"a":1e308}`, `{"a":1e309}`, `{"a":-1e700}`, `{"a":[1E+400]}`, `{"a":1e-400}`, `{"a":1.7976931348623157e308}`,
	`{"a":` + strings.Repeat("9", 308) + `}`, `{"a":` + strings.Repeat("9", 309) + `}`, `{"a":-` + strings.Repeat("9", 400) + `.5}`,
	strings.Repeat(`{"a":`, maxJSONDepth) + `1` + strings.Repeat(`}`, maxJSONDepth),
	strings.Repeat(`{"a":`, maxJSONDepth+1) + `1` + strings.Repeat(`}`, maxJSONDepth+1),
}

func TestClaimsParserMatchesEncodingJSON(t *testing.T) {
	for _, s := range jsonCorpus {
		checkAgainstEncodingJSON(t, s)
	}
}

func TestClaimsParserRefusesDuplicateDeepAndHugeMembers(t *testing.T) {
	for _, s := range []string{
		`{"sub":"alice","sub":"admin"}`,
		`{"a":{"role":"user","role":"admin"}}`,
		strings.Repeat(`[`, maxJSONDepth) + strings.Repeat(`]`, maxJSONDepth),
		`{"a":` + strings.Repeat(`[`, maxJSONDepth) + strings.Repeat(`]`, maxJSONDepth) + `}`,
		`{"sub":"alice","n":1e700}`,
		`{"n":[-2e308]}`,
		`{"n":` + strings.Repeat("9", 400) + `}`,
	} {
		if _, ok := ParseObject(s); ok {
			t.Errorf("%.40q was accepted", s)
		}
	}
	// Names differing in case are different members (RFC 8259 §8.3).
	if m, ok := ParseObject(`{"sub":"a","Sub":"b"}`); !ok || m["sub"] != "a" {
		t.Errorf("case-distinct names: %v %v", m, ok)
	}
}

func FuzzClaimsParser(f *testing.F) {
	for _, s := range jsonCorpus {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkAgainstEncodingJSON(t, s)
	})
}

func TestBase64URLDecoderMatchesEncodingBase64(t *testing.T) {
	for _, s := range []string{"", "A", "AA", "AAA", "AAAA", "QQ", "QR", "QUI", "QUJD", "-_-_", "+/", "AA=", "AA==", "A\nAA", "eyJhbGciOiJIUzI1NiJ9", "Zm9v\r\nYmFy"} {
		checkBase64(t, s)
	}
}

func FuzzBase64URLDecoder(f *testing.F) {
	f.Add("eyJhbGciOiJIUzI1NiJ9")
	f.Add("A\nAA")
	f.Fuzz(func(t *testing.T, s string) { checkBase64(t, s) })
}

// checkBase64 compares with RawURLEncoding.Strict, which also skips CR and
// LF: the verifier's decoder refuses them, so such inputs only must not
// pass.
func checkBase64(t *testing.T, s string) {
	t.Helper()
	got, gotOK := DecodeSegment(s)
	want, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if strings.ContainsAny(s, "\r\n") {
		if gotOK {
			t.Fatalf("%q: line breaks accepted", s)
		}
		return
	}
	if gotOK != (err == nil) {
		t.Fatalf("%q: accepted %v, encoding/base64 error %v", s, gotOK, err)
	}
	if gotOK && !bytes.Equal([]byte(got), want) {
		t.Fatalf("%q: got %x, want %x", s, got, want)
	}
}

func TestSplitCompact(t *testing.T) {
	tests := map[string]bool{
		"a.b.c": true, "a.b.": false, ".b.c": false, "a..c": false, "a.b.c.d.e": false,
		"a.b": false, "abc": false, "": false, "a.b.c.": false,
	}
	for raw, want := range tests {
		if _, _, ok := Split(raw); ok != want {
			t.Errorf("%q: got %v, want %v", raw, ok, want)
		}
	}
}

func TestIsBase64URLOf(t *testing.T) {
	for _, data := range []string{"", "a", "ab", "abc", "abcd", `{"sub":"alice"}`, "\xff\x00\x10"} {
		enc := base64.RawURLEncoding.EncodeToString([]byte(data))
		if !IsEncodingOf(enc, data) {
			t.Errorf("%q: its own encoding %q does not match", data, enc)
		}
		if data != "" && IsEncodingOf(enc, data[1:]+"?") {
			t.Errorf("%q: matched other data", data)
		}
		if len(enc) > 0 {
			last := base64URLValues[enc[len(enc)-1]]
			if other := enc[:len(enc)-1] + string(Base64URLAlphabet[last^1]); IsEncodingOf(other, data) {
				t.Errorf("%q: non-canonical %q matched", data, other)
			}
		}
	}
}
