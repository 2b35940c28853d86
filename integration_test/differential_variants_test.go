package integration_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// The requests of the differential test: each token location written in
// many spellings, with a valid token V (alice, signed by the configured
// key) and a forged token F (admin, signed by an attacker's key) placed in
// them alone, side by side, and across locations; then seeded random
// combinations of the same pieces with extra bytes mixed in.

// differentialName is the cookie and query parameter name jwt reads.
const differentialName = "access_token"

// differentialClaimHeaders are the headers the upstreams report: the two
// claim_headers and three header_up headers filled from placeholders.
var differentialClaimHeaders = []string{"X-User-Id", "X-Roles", "X-Auth-User", "X-Jwt-Sub", "X-Jwt-Roles"}

// variant is one request shape, sent to every upstream under every config.
type variant struct {
	name   string
	method string
	query  string // raw, without "?"
	lines  []headerLine
}

type location int

const (
	inHeader location = iota
	inCookie
	inQuery
)

func (l location) String() string { return [...]string{"header", "cookie", "query"}[l] }

// Templates of one location: {T} is the token placed, {V} always the
// valid one, {T%} the token with every byte percent-encoded, {T%1} with
// its first byte percent-encoded, and {PAD} base64url characters that
// take the token past jwt's default max_token_size (the payload, which
// upstreams decode, stays the token's).
var (
	authorizationTemplates = []string{
		"Bearer {T}", "bearer {T}", "BEARER {T}", "bEaReR {T}",
		"Bearer  {T}", "Bearer\t{T}", " Bearer {T}", "Bearer {T} ", "Bearer {T}\t",
		// White space that is not SP or HTAB, raw and in UTF-8.
		"Bearer\xa0{T}", "Bearer\xc2\xa0{T}", "Bearer\xe2\x80\x83{T}", "Bearer\xe3\x80\x80{T}",
		"Bearer\xe2\x80\xa8{T}", "Bearer\xc2\x85{T}", "Bearer\x85{T}", "Bearer\xef\xbb\xbf{T}",
		"\xc2\xa0Bearer {T}", "Bearer\x0b{T}", "Bearer\x0c{T}", "Bearer\x1c{T}",
		// Bytes that cannot continue a scheme name, and ones that can.
		"Bearer,{T}", "Bearer;{T}", "Bearer:{T}", "Bearer={T}", "Bearer\"{T}\"", "Bearer/{T}",
		"Bearer{T}", "BearerX {T}", "Bearer- {T}",
		"Bearer \"{T}\"", "Bearer {T},", "Bearer {T} x", "Bearer {T%1}",
		"Bearer {T}, Bearer {V}", "Bearer {V}, Bearer {T}", "Bearer {V} {T}", "Bearer {V},{T}",
		"Basic dXNlcjpwYXNz, Bearer {T}", "Token {T}", "Bearer {T}{PAD}",
	}
	cookieTemplates = []string{
		"access_token={T}", "access_token=\"{T}\"",
		"access_token ={T}", "access_token= {T}", "access_token = {T}", "access_token\t={T}", "\taccess_token={T}",
		"ACCESS_TOKEN={T}", "Access_Token={T}",
		"access_token={T%1}", "access_token={T%}", "access%5Ftoken={T}", "%61ccess_token={T}",
		// Names PHP folds into access_token.
		"access.token={T}", "access token={T}", "access[token={T}", "access_token[]={T}",
		"access_token[0]={T}", "access_token[x]={T}", "access-token={T}",
		// Values net/http refuses and others keep.
		"access_token={T}\\", "access_token=\\{T}", "access_token={T}\"", "access_token=\"{T}",
		"access_token={T}\xff", "access_token={T}\xc3\xa9", "access_token=\xc2\xa0{T}",
		"access_token={T} x", "access_token={T},x", "access_token={T}\t",
		"access_token=j:\"{T}\"", "access_token=j:[\"{T}\"]", "access_token=j:{\"a\":\"{T}\"}",
		"access_token={T}=", "access_token=={T}", "$Version=1; access_token={T}", "access_token={T}{PAD}",
	}
	queryNames = []string{
		"access_token", "ACCESS_TOKEN", "Access_token", "access%5Ftoken", "access%5ftoken", "%61ccess_token",
		"access_%74oken", "access.token", "access+token", "access%20token", "access[token", "access%5Btoken",
		"access_token[]", "access_token%5B%5D", "access_token[0]", "access_token[x]", "access_token[",
		"access_token%00", "%20access_token", "access_token%20", "access_token+", "amp;access_token",
		"access-token", "access_token\xff", "%E2%80%8Baccess_token",
		// Bracket-only keys: qs reads "[name]" as name.
		"[access_token]", "%5Baccess_token%5D", "[access_token", "[access_token][x]", "[]access_token",
	}
	queryValues = []string{
		"{T%1}", "{T%}", "\"{T}\"", "{T}%00", "{T}%20", "{T}+", "+{T}", "%20{T}", "{T}%ff", "{T}\xff",
		"{T}%", "{T}%zz", "{T}%2C{V}", "{T},{V}", "{V},{T}", "{T}=x", "{T}{PAD}",
	}
	cookieSeparators = []string{"; ", ";", ", ", ",", " ; ", ";;", "\t;"}
	querySeparators  = []string{"&", ";", "&&", "&amp;", ",", "%26", "&\xa0"}
)

func queryTemplates() []string {
	var out []string
	for _, n := range queryNames {
		out = append(out, n+"={T}")
	}
	for _, v := range queryValues {
		out = append(out, differentialName+"="+v)
	}
	return append(out, "{T}", differentialName)
}

func templatesOf(l location) []string {
	switch l {
	case inHeader:
		return authorizationTemplates
	case inCookie:
		return cookieTemplates
	}
	return queryTemplates()
}

// fill puts tokens into a template.
func fill(template, tok, valid string) string {
	return strings.NewReplacer(
		"{T%1}", fmt.Sprintf("%%%02X", tok[0])+tok[1:],
		"{T%}", percentEveryByte(tok),
		"{T}", tok,
		"{V}", valid,
		"{PAD}", strings.Repeat("A", 17000),
	).Replace(template)
}

func percentEveryByte(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%%%02X", s[i])
	}
	return b.String()
}

// piece is one filled template in its location.
type piece struct {
	at   location
	text string
}

// shape says how pieces become a request.
type shape struct {
	cookieSep   string
	cookieLines bool // each cookie piece on its own Cookie line
	querySep    string
	headerName  string
	extra       []headerLine
	method      string
}

var plainShape = shape{cookieSep: "; ", querySep: "&", headerName: "Authorization", method: "GET"}

func build(name string, sh shape, pieces ...piece) variant {
	v := variant{name: name, method: sh.method}
	var cookies, query []string
	for _, p := range pieces {
		switch p.at {
		case inHeader:
			v.lines = append(v.lines, headerLine{sh.headerName, p.text})
		case inCookie:
			cookies = append(cookies, p.text)
		case inQuery:
			query = append(query, p.text)
		}
	}
	if sh.cookieLines {
		for _, c := range cookies {
			v.lines = append(v.lines, headerLine{"Cookie", c})
		}
	} else if len(cookies) > 0 {
		v.lines = append(v.lines, headerLine{"Cookie", strings.Join(cookies, sh.cookieSep)})
	}
	v.query = strings.Join(query, sh.querySep)
	v.lines = append(v.lines, sh.extra...)
	return v
}

// plainPiece is the usual spelling of a location.
func plainPiece(l location, tok string) piece {
	return piece{l, fill(templatesOf(l)[0], tok, tok)}
}

// tableVariants places V and F in every template of every location: each
// alone, beside the plain V in the same location (before and after, and
// on separate Cookie lines), and beside the plain V in another location.
// Then separators, counts past parsers' limits, Connection headers,
// spoofed claim headers and CORS preflights.
func tableVariants(valid, forged string) []variant {
	var out []variant
	seen := map[string]bool{}
	add := func(v variant) {
		key := v.method + "\x00" + v.query + fmt.Sprint(v.lines)
		if !seen[key] {
			seen[key] = true
			out = append(out, v)
		}
	}
	for _, l := range []location{inHeader, inCookie, inQuery} {
		for _, tmpl := range templatesOf(l) {
			f, v := piece{l, fill(tmpl, forged, valid)}, piece{l, fill(tmpl, valid, valid)}
			name := fmt.Sprintf("%s %q", l, tmpl)
			add(build(name+" F", plainShape, f))
			add(build(name+" V", plainShape, v))
			add(build(name+" F, then plain V", plainShape, f, plainPiece(l, valid)))
			add(build(name+" F, after plain V", plainShape, plainPiece(l, valid), f))
			if l == inCookie {
				add(build(name+" F, plain V on its own Cookie line", shape{cookieLines: true, headerName: "Authorization", method: "GET"}, f, plainPiece(l, valid)))
			}
			for _, other := range []location{inHeader, inCookie, inQuery} {
				if other != l {
					add(build(fmt.Sprintf("%s F, plain V in the %s", name, other), plainShape, f, plainPiece(other, valid)))
				}
			}
		}
	}
	for _, sep := range cookieSeparators {
		sh := plainShape
		sh.cookieSep = sep
		add(build(fmt.Sprintf("cookie separator %q: x=1, F", sep), sh, piece{inCookie, "x=1"}, plainPiece(inCookie, forged)))
		add(build(fmt.Sprintf("cookie separator %q: F\\, V", sep), sh, piece{inCookie, "access_token=" + forged + "\\"}, plainPiece(inCookie, valid)))
		add(build(fmt.Sprintf("cookie separator %q: V, F", sep), sh, plainPiece(inCookie, valid), plainPiece(inCookie, forged)))
	}
	for _, sep := range querySeparators {
		sh := plainShape
		sh.querySep = sep
		add(build(fmt.Sprintf("query separator %q: x=1, F", sep), sh, piece{inQuery, "x=1"}, plainPiece(inQuery, forged)))
		add(build(fmt.Sprintf("query separator %q: V, F", sep), sh, plainPiece(inQuery, valid), plainPiece(inQuery, forged)))
	}
	for _, count := range countVariants(valid, forged) {
		add(count)
	}
	for _, v := range hopAndSpoofVariants(valid, forged) {
		add(v)
	}
	return out
}

// countVariants put the token past the number of pairs parsers stop at:
// net/http's 3,000 cookies and 10,000 query parameters, PHP's 1,000
// input variables, qs's 1,000 parameters.
func countVariants(valid, forged string) []variant {
	var out []variant
	for _, n := range []int{999, 1000, 3000, 3001} {
		semis := piece{inCookie, strings.Repeat(";", n-1) + "x=1"}
		pairs := piece{inCookie, strings.TrimSuffix(strings.Repeat("c=1; ", n), "; ")}
		out = append(out,
			build(fmt.Sprintf("cookie F after %d empty pairs", n), plainShape, semis, plainPiece(inCookie, forged)),
			build(fmt.Sprintf("cookie F after %d pairs, plain V in the header", n), plainShape, pairs, plainPiece(inCookie, forged), plainPiece(inHeader, valid)),
			build(fmt.Sprintf("cookie V after %d pairs", n), plainShape, pairs, plainPiece(inCookie, valid)),
		)
	}
	for _, n := range []int{1000, 10000, 10001} {
		amps := piece{inQuery, strings.Repeat("&", n-1) + "x=1"}
		out = append(out,
			build(fmt.Sprintf("query F after %d empty pairs", n), plainShape, amps, plainPiece(inQuery, forged)),
			build(fmt.Sprintf("query F after %d empty pairs, plain V in the header", n), plainShape, amps, plainPiece(inQuery, forged), plainPiece(inHeader, valid)),
		)
	}
	return out
}

// hopAndSpoofVariants: Connection headers naming the claim headers,
// client copies of the claim headers in other spellings, and CORS
// preflights with and without tokens.
func hopAndSpoofVariants(valid, forged string) []variant {
	var out []variant
	for _, conn := range []string{"X-User-Id", "x-user-id, X-Roles", "keep-alive, X-Roles", "X-Auth-User, X-Jwt-Sub", "X-User-Id,X-Roles,X-Jwt-Roles"} {
		for _, l := range []location{inHeader, inCookie, inQuery} {
			sh := plainShape
			sh.extra = []headerLine{{"Connection", conn}}
			out = append(out, build(fmt.Sprintf("Connection: %s, plain V in the %s", conn, l), sh, plainPiece(l, valid)))
		}
	}
	for _, spoof := range []headerLine{{"X-User-Id", "admin"}, {"x-user-id", "admin"}, {"X_User_Id", "admin"}, {"X-Roles", "admin"}, {"X_Roles", "admin"}, {"x_roles", "admin"},
		{"X.User.Id", "admin"}, {"X-User.Id", "admin"}, {"X_User-Id", "admin"}} {
		sh := plainShape
		sh.extra = []headerLine{spoof}
		out = append(out,
			build(fmt.Sprintf("spoofed %s: admin, no token", spoof.name), sh),
			build(fmt.Sprintf("spoofed %s: admin, plain V in the header", spoof.name), sh, plainPiece(inHeader, valid)),
		)
	}
	preflight := shape{cookieSep: "; ", querySep: "&", headerName: "Authorization", method: "OPTIONS",
		extra: []headerLine{{"Origin", "http://other.example"}, {"Access-Control-Request-Method", "GET"}}}
	out = append(out, build("CORS preflight without a token", preflight))
	for _, l := range []location{inHeader, inCookie, inQuery} {
		out = append(out,
			build("CORS preflight, plain F in the "+l.String(), preflight, plainPiece(l, forged)),
			build("CORS preflight, plain V in the "+l.String(), preflight, plainPiece(l, valid)),
		)
	}
	return out
}

// interestingBytes are mixed into random variants.
var interestingBytes = []string{
	" ", "\t", "\xa0", "\xc2\xa0", "\xe2\x80\x83", ",", ";", "&", "=", "\"", "\\", "%", "%20", "%00",
	"[", "]", ".", "+", "\xff", "\xc3\xa9", "j:", "%5F", "_",
}

// randomVariants combines one to four random pieces (any template, token
// V or F) with random separators, header name case, extra bytes, filler
// pairs, Connection headers, spoofed claim headers and methods.
func randomVariants(rng *rand.Rand, n int, valid, forged string) []variant {
	out := make([]variant, 0, n)
	for i := range n {
		sh := shape{
			cookieSep:   cookieSeparators[rng.IntN(len(cookieSeparators))],
			cookieLines: rng.IntN(4) == 0,
			querySep:    querySeparators[rng.IntN(len(querySeparators))],
			headerName:  []string{"Authorization", "authorization", "AUTHORIZATION"}[rng.IntN(3)],
			method:      "GET",
		}
		if rng.IntN(3) == 0 {
			sh.querySep, sh.cookieSep = "&", "; "
		}
		var pieces []piece
		for range 1 + rng.IntN(4) {
			l := location(rng.IntN(3))
			tmpls := templatesOf(l)
			tmpl := tmpls[0]
			if rng.IntN(2) == 0 {
				tmpl = tmpls[rng.IntN(len(tmpls))]
			}
			tok := valid
			if rng.IntN(2) == 0 {
				tok = forged
			}
			text := fill(tmpl, tok, valid)
			for range rng.IntN(3) {
				at := rng.IntN(len(text) + 1)
				text = text[:at] + interestingBytes[rng.IntN(len(interestingBytes))] + text[at:]
			}
			pieces = append(pieces, piece{l, text})
		}
		if rng.IntN(10) == 0 {
			pieces = append([]piece{{inCookie, strings.Repeat(";", 3000) + "x=1"}}, pieces...)
		}
		switch rng.IntN(8) {
		case 0:
			sh.extra = append(sh.extra, headerLine{"Connection", "X-User-Id, X-Roles"})
		case 1:
			sh.extra = append(sh.extra, headerLine{[]string{"X-User-Id", "X_User_Id", "x-roles"}[rng.IntN(3)], "admin"})
		case 2:
			sh.method = "POST"
		}
		out = append(out, build(fmt.Sprintf("random %d", i), sh, pieces...))
	}
	return out
}
