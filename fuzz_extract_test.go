package caddyjwt

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

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
		r := fuzzTokenRequest(auth1, auth2, xToken, cookie, query)
		found, rsn := h.readToken(r)
		checkTokenSources(t, h, r, found, rsn)

		upstream := serveFuzzRequest(t, h, fuzzTokenRequest(auth1, auth2, xToken, cookie, query))
		if upstream == nil {
			return
		}
		if rsn != reasonAllowed || !signed[decodedSegments(found.raw)] {
			t.Fatalf("passed on a request whose token %q (%q) we never signed", found.raw, rsn)
		}
		for i := range h.sources {
			if values, _ := h.sources[i].values(upstream, nil); len(values) > 0 {
				t.Fatalf("upstream still reads %q from %s", values, h.sources[i].String())
			}
		}
		if got := upstream.Header.Get("X-User-Id"); got != "alice" {
			t.Fatalf("X-User-Id = %q, want alice", got)
		}
	})
}

// fuzzTokenRequest is a GET with the fuzzed Authorization lines, X-Token,
// Cookie and query string, each left out when empty.
func fuzzTokenRequest(auth1, auth2, xToken, cookie, query string) *http.Request {
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

// checkTokenSources checks readToken's answer for r: one of the three
// reasons a request's token can have, and when a token was found, every
// source it names carries it and nothing else.
func checkTokenSources(t *testing.T, h *Handler, r *http.Request, found foundToken, rsn reason) {
	switch rsn {
	case reasonAllowed, reasonMalformed, reasonAmbiguous:
	default:
		t.Fatalf("readToken gave reason %q", rsn)
	}
	if rsn == reasonAllowed {
		for i := range h.sources {
			values, _ := h.sources[i].values(r, nil)
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
}

// serveFuzzRequest runs r through the whole handler. It returns the
// request that reached the next handler, after checking the handler then
// returned no error, or nil when the request was refused, after checking
// the refusal is a caddyhttp.HandlerError of a documented status.
func serveFuzzRequest(t *testing.T, h *Handler, r *http.Request) *http.Request {
	var upstream *http.Request
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		upstream = r
		return nil
	})
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
		return nil
	}
	if err != nil {
		t.Fatalf("passed on, but returned %v", err)
	}
	return upstream
}
