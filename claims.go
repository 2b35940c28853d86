package caddyjwt

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ClaimRequirement is a claim a token must carry for the request to pass.
type ClaimRequirement struct {
	// The claim: a top-level name (`https://example.com/roles` works as
	// is), else a dot path into nested objects (`realm_access.roles`).
	Path string `json:"path,omitempty"`

	// If given, the claim must equal one of these values or, when it is an
	// array (or a space-separated `scope`/`scp` string), contain one of
	// them. Default: none, the claim only has to be present.
	Values []string `json:"values,omitempty"`
}

// ClaimHeader passes a claim to the upstream as a request header.
type ClaimHeader struct {
	// The claim, as for `require_claim`.
	Path string `json:"path,omitempty"`

	// The request header to set, e.g. `X-User-Id`.
	Header string `json:"header,omitempty"`
}

// claimPath is a compiled claim reference. The whole name is tried first as
// a top-level claim, so that URL-shaped names with dots keep working; only
// then is it read as a dot path.
type claimPath struct {
	name string
	// scope: the claim is a space-separated set (RFC 8693 §4.2 `scope`,
	// and Azure AD's `scp`), matched by its members.
	scope bool
}

func compileClaimPath(name string) claimPath {
	last := name
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		last = name[i+1:]
	}
	return claimPath{name: name, scope: last == "scope" || last == "scp"}
}

// lookup finds the claim's value in the token's claims.
func (p claimPath) lookup(claims map[string]any) (any, bool) {
	return lookupClaimName(claims, p.name)
}

// lookupClaimName finds a claim by name: the whole name as a top-level
// claim first, then as a dot path. It walks the path in place, so that a
// lookup allocates nothing, also for placeholders whose name is only known
// at request time.
func lookupClaimName(claims map[string]any, name string) (any, bool) {
	if v, ok := claims[name]; ok {
		return v, true
	}
	if !strings.Contains(name, ".") {
		return nil, false
	}
	var cur any = claims
	for rest := name; ; {
		part, tail, more := strings.Cut(rest, ".")
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[part]; !ok {
			return nil, false
		}
		if !more {
			return cur, true
		}
		rest = tail
	}
}

// claimText is the one way a claim becomes text for the upstream: the
// value of a claim_header, {http.auth.user.id} and {http.auth.jwt.*}. It
// returns the text and whether it is safe to send; an unsafe value is
// never sent (the header is left out, the placeholder is empty).
func claimText(v any) (string, bool) {
	s := formatClaim(v)
	return s, safeClaimText(s)
}

// formatClaim renders a claim value: strings as they are, numbers and
// booleans as JSON text, null as nothing, objects as compact JSON, and
// arrays as an RFC 9110 §5.6.1 list: elements separated by ",", each as
// it would be on its own, except that an element that is empty, contains
// `,`, `"` or `\`, or starts or ends with white space is sent as a quoted
// string (§5.6.4, `"` and `\` escaped with `\`). So ["a","b"] is `a,b`,
// and ["dev,admin"] (`"dev,admin"`) and ["dev","admin"] (`dev,admin`)
// stay apart.
func formatClaim(v any) string {
	if arr, ok := v.([]any); ok {
		var b strings.Builder
		for i, item := range arr {
			if i > 0 {
				b.WriteByte(',')
			}
			writeListElement(&b, formatScalarClaim(item))
		}
		return b.String()
	}
	return formatScalarClaim(v)
}

// formatScalarClaim renders a value on its own; arrays and objects as
// compact JSON.
func formatScalarClaim(v any) string {
	switch val := v.(type) {
	case string:
		return val
	case json.Number:
		return val.String()
	case float64:
		return strconv.FormatFloat(val, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(val)
	case nil:
		return ""
	}
	out, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(out)
}

// writeListElement writes one list element, quoted when it would
// otherwise blur the element boundaries or lose its edge white space.
func writeListElement(b *strings.Builder, s string) {
	if s != "" && !strings.ContainsAny(s, `,"\`) && !edgeSpace(firstRune(s)) && !edgeSpace(lastRune(s)) {
		b.WriteString(s)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
}

// safeClaimText reports whether s reaches the upstream exactly as it is.
// Control characters (C0 but tab, DEL, C1) could split a header or smuggle
// another one. White space at either end is trimmed by Go's header
// writer and by HTTP parsers (RFC 9110 §5.5), and Unicode white space such
// as U+00A0 or U+3000 by the trim functions of every language, so
// "admin " would arrive as the claim "admin". Invalid UTF-8 is decoded
// differently by every upstream.
func safeClaimText(s string) bool {
	if s == "" {
		return true
	}
	if edgeSpace(firstRune(s)) || edgeSpace(lastRune(s)) {
		return false
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || unicode.IsControl(r) {
			return false
		}
		i += size
	}
	return true
}

// edgeSpace reports whether r is white space that some trim function
// removes at the edge of a value: Unicode's (U+0085, U+00A0, U+3000, …)
// and JavaScript's U+FEFF.
func edgeSpace(r rune) bool {
	return unicode.IsSpace(r) || r == '\uFEFF'
}

func firstRune(s string) rune {
	r, _ := utf8.DecodeRuneInString(s)
	return r
}

func lastRune(s string) rune {
	r, _ := utf8.DecodeLastRuneInString(s)
	return r
}

// safeHeaderValue reports whether s can go into a header as is: no control
// characters, so a claim can never split a header or smuggle another one.
// Claims passed on are checked by the stricter safeClaimText; this is for
// the token fields of log lines.
func safeHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// claimRequirement is a compiled `require_claim`.
type claimRequirement struct {
	path   claimPath
	values []string
	// failure is the reason a token that does not meet it gets.
	failure reason
}

func compileRequirements(cfgs []*ClaimRequirement) ([]claimRequirement, error) {
	out := make([]claimRequirement, 0, len(cfgs))
	for _, c := range cfgs {
		if c.Path == "" {
			return nil, fmt.Errorf("jwt: require_claim: empty claim path")
		}
		path := compileClaimPath(c.Path)
		out = append(out, claimRequirement{path: path, values: c.Values, failure: failureOf(path)})
	}
	return out, nil
}

// satisfiedBy reports whether the token's claims meet the requirement.
func (r *claimRequirement) satisfiedBy(t *verifiedToken) bool {
	v, ok := t.claim(r.path.name)
	if !ok || v == nil {
		return false
	}
	if len(r.values) == 0 {
		return true
	}
	switch val := v.(type) {
	case []any:
		for _, item := range val {
			if r.accepts(formatClaim(item)) {
				return true
			}
		}
		return false
	case string:
		if r.path.scope {
			for _, item := range strings.Fields(val) {
				if r.accepts(item) {
					return true
				}
			}
			return false
		}
		return r.accepts(val)
	case map[string]any:
		return false
	}
	return r.accepts(formatClaim(v))
}

func (r *claimRequirement) accepts(s string) bool {
	for _, want := range r.values {
		if s == want {
			return true
		}
	}
	return false
}

// claimHeader is a compiled `claim_header`, its header name canonicalised.
type claimHeader struct {
	path   claimPath
	header string
}

func compileClaimHeaders(cfgs []*ClaimHeader) ([]claimHeader, error) {
	out := make([]claimHeader, 0, len(cfgs))
	for _, c := range cfgs {
		if c.Path == "" || c.Header == "" {
			return nil, fmt.Errorf("jwt: claim_header needs a claim and a header name")
		}
		if !validHeaderName(c.Header) {
			return nil, fmt.Errorf("jwt: claim_header: %q is not a valid header name", c.Header)
		}
		name := http.CanonicalHeaderKey(c.Header)
		if reservedRequestHeaders[name] {
			return nil, fmt.Errorf("jwt: claim_header: %s cannot carry a claim: it frames the request or carries credentials", name)
		}
		out = append(out, claimHeader{path: compileClaimPath(c.Path), header: name})
	}
	return out, nil
}

// reservedRequestHeaders cannot be claim headers. Claim headers are first
// deleted from every request, so Authorization or Cookie would take the
// token away before it is read; a claim in a framing or hop-by-hop header
// (Content-Length, Transfer-Encoding, …) could split the request on its
// way upstream.
var reservedRequestHeaders = map[string]bool{
	"Authorization": true, "Cookie": true, "Host": true,
	"Content-Length": true, "Transfer-Encoding": true, "Te": true, "Trailer": true,
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Upgrade": true,
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}
