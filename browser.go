package caddyjwt

import (
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// Redirect sends browsers without a valid token to a login page.
type Redirect struct {
	// The login page: an absolute `http` or `https` URL, or a path starting
	// with `/`. Only this value decides where browsers go: nothing in the
	// request can change the target.
	URL string `json:"url,omitempty"`

	// The query parameter that carries the original request URI (path and
	// query, always starting with a single `/`) to the login page, so that
	// it can send the user back after logging in. Default: `next`.
	Param string `json:"param,omitempty"`
}

// defaultRedirectParam is the query parameter of Redirect.Param's default.
const defaultRedirectParam = "next"

// loginRedirect is a compiled Redirect.
type loginRedirect struct {
	// target is the login URL without the query, and query its own query
	// string with any value of param removed, both computed at load so that
	// sending a redirect only appends.
	target string
	query  string
	param  string // query-escaped
}

// provisionBrowserProtection compiles redirect and csrf.
func (h *Handler) provisionBrowserProtection() error {
	if h.Redirect != nil {
		lr, err := compileRedirect(h.Redirect)
		if err != nil {
			return err
		}
		h.redirect = lr
	}
	if strings.EqualFold(h.CSRF, "off") {
		if len(h.TrustedOrigins) > 0 {
			return fmt.Errorf("jwt: trusted_origin has no effect with csrf off")
		}
		return nil
	}
	h.csrf = http.NewCrossOriginProtection()
	for _, o := range h.TrustedOrigins {
		if err := h.csrf.AddTrustedOrigin(canonicalOrigin(o)); err != nil {
			return fmt.Errorf("jwt: trusted_origin %q: %v", o, err)
		}
	}
	return nil
}

func compileRedirect(cfg *Redirect) (*loginRedirect, error) {
	target, err := url.Parse(cfg.URL)
	if err != nil || cfg.URL == "" {
		return nil, fmt.Errorf("jwt: redirect: %q is not a URL", cfg.URL)
	}
	switch {
	case target.Scheme == "http" || target.Scheme == "https":
		if target.Host == "" {
			return nil, fmt.Errorf("jwt: redirect: %q has no host", cfg.URL)
		}
	case target.Scheme != "":
		// javascript:, data: and friends have no business in a Location.
		return nil, fmt.Errorf("jwt: redirect: scheme %q is not http or https", target.Scheme)
	case target.Host != "" || !strings.HasPrefix(target.Path, "/"):
		// A relative path would resolve against whatever page was asked
		// for, and "//host" silently drops the scheme: say what is meant.
		return nil, fmt.Errorf("jwt: redirect: %q must be an absolute http(s) URL or a path starting with /", cfg.URL)
	}
	if target.Fragment != "" {
		return nil, fmt.Errorf("jwt: redirect: %q has a fragment, which would hide the return parameter from the login page", cfg.URL)
	}
	param := cfg.Param
	if param == "" {
		param = defaultRedirectParam
	}
	q := target.Query()
	q.Del(param)
	lr := &loginRedirect{query: q.Encode(), param: url.QueryEscape(param)}
	target.RawQuery, target.ForceQuery = "", false
	lr.target = target.String()
	return lr, nil
}

// canonicalOrigin writes an origin the way browsers send it in the Origin
// header (lower-case scheme and host, no default port), because
// CrossOriginProtection compares trusted origins as exact strings.
func canonicalOrigin(origin string) string {
	u, err := url.Parse(origin)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return origin // AddTrustedOrigin explains what is wrong
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Host)
	if port := u.Port(); (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		host = strings.TrimSuffix(host, ":"+port)
	}
	u.Scheme, u.Host = scheme, host
	return u.String()
}

// wants reports whether the request is a browser navigation: a GET or HEAD
// whose Accept prefers text/html. API clients (JSON, or no Accept at all)
// keep getting 401 with a challenge they can act on.
func (lr *loginRedirect) wants(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	return prefersHTML(r.Header.Get("Accept"))
}

// prefersHTML reports whether an HTML media type has the highest quality
// value among the Accept header's media ranges (RFC 9110 §12.5.1).
// Wildcards do not count as HTML: `*/*` is what curl and most HTTP
// libraries send. A tie with another type goes to whichever is listed
// first, so that browsers (which list text/html first) get HTML and
// `application/json, text/html` does not.
func prefersHTML(accept string) bool {
	htmlQ, otherQ := 0.0, 0.0
	htmlFirst := false
	for part := range strings.SplitSeq(accept, ",") {
		mediaType, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if qs, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(qs, 64); err != nil || q < 0 || q > 1 {
				continue
			}
		}
		switch mediaType {
		case "text/html", "application/xhtml+xml":
			if q > htmlQ {
				htmlQ, htmlFirst = q, q > otherQ
			}
		case "*/*", "text/*":
		default:
			otherQ = max(otherQ, q)
		}
	}
	return htmlQ > otherQ || (htmlQ > 0 && htmlQ == otherQ && htmlFirst)
}

// send answers with 302 to the login page, carrying the original request
// URI (path and query) in the configured parameter.
func (lr *loginRedirect) send(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	b.WriteString(lr.target)
	b.WriteByte('?')
	if lr.query != "" {
		b.WriteString(lr.query)
		b.WriteByte('&')
	}
	b.WriteString(lr.param)
	b.WriteByte('=')
	b.WriteString(url.QueryEscape(returnPath(r)))

	w.Header().Set("Location", b.String())
	w.Header().Set("Cache-Control", "no-store")
	// The same URL answers 401 to API clients.
	w.Header().Add("Vary", "Accept")
	w.WriteHeader(http.StatusFound)
}

// returnPath is the URI the client asked for, before any rewrite or
// handle_path in the Caddyfile changed it: the login page sends the user
// back there. It is always a path on this site: it starts with exactly one
// "/" and no backslash, so that a login page which redirects to it as given
// cannot be turned into an open redirect by a request for
// "//evil.example" or "/\evil.example" (browsers read both as a host).
func returnPath(r *http.Request) string {
	u := r.URL
	if orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && orig.URL != nil {
		u = orig.URL
	}
	// EscapedPath, not RequestURI: an absolute-form or opaque request
	// target must not bring its scheme and host along.
	path := u.EscapedPath()
	path = "/" + strings.TrimLeft(path, "/\\")
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	return path
}
