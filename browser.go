package caddyjwt

import (
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// Redirect sends browsers without a valid token to a login page.
type Redirect struct {
	// The login page, an absolute URL or a path. Only this value decides
	// where browsers go: nothing from the request can change the target.
	URL string `json:"url,omitempty"`

	// The query parameter that carries the original request URI back to the
	// login page. Default: `next`.
	Param string `json:"param,omitempty"`
}

// loginRedirect is a compiled Redirect.
type loginRedirect struct {
	target *url.URL
	param  string
}

// provisionBrowserProtection compiles redirect and csrf.
func (h *Handler) provisionBrowserProtection() error {
	if h.Redirect != nil {
		target, err := url.Parse(h.Redirect.URL)
		if err != nil || h.Redirect.URL == "" {
			return fmt.Errorf("jwt: redirect: %q is not a URL", h.Redirect.URL)
		}
		if target.Scheme != "" && target.Scheme != "http" && target.Scheme != "https" {
			return fmt.Errorf("jwt: redirect: scheme %q is not http or https", target.Scheme)
		}
		param := h.Redirect.Param
		if param == "" {
			param = "next"
		}
		h.redirect = &loginRedirect{target: target, param: param}
	}
	if strings.EqualFold(h.CSRF, "off") {
		if len(h.TrustedOrigins) > 0 {
			return fmt.Errorf("jwt: trusted_origin has no effect with csrf off")
		}
		return nil
	}
	h.csrf = http.NewCrossOriginProtection()
	for _, o := range h.TrustedOrigins {
		if err := h.csrf.AddTrustedOrigin(o); err != nil {
			return fmt.Errorf("jwt: trusted_origin %q: %v", o, err)
		}
	}
	return nil
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

// prefersHTML reports whether text/html has the highest q of the Accept
// header's media ranges (ties go to HTML; wildcards do not count as HTML).
func prefersHTML(accept string) bool {
	if accept == "" {
		return false
	}
	htmlQ, bestOther := -1.0, -1.0
	for _, part := range strings.Split(accept, ",") {
		mediaType, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if qs, ok := params["q"]; ok {
			if _, err := fmt.Sscanf(qs, "%g", &q); err != nil {
				continue
			}
		}
		switch mediaType {
		case "text/html", "application/xhtml+xml":
			htmlQ = max(htmlQ, q)
		case "*/*", "text/*":
		default:
			bestOther = max(bestOther, q)
		}
	}
	return htmlQ > 0 && htmlQ >= bestOther
}

// send answers with 302 to the login page, carrying the original request
// URI (path and query) in the configured parameter.
func (lr *loginRedirect) send(w http.ResponseWriter, r *http.Request) {
	target := *lr.target
	q := target.Query()
	next := r.URL.RequestURI()
	// "//evil.example/x" is a path to us but a host to a login page that
	// redirects back to it: never hand one on.
	if strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		next = "/" + strings.TrimLeft(next, "/\\")
	}
	q.Set(lr.param, next)
	target.RawQuery = q.Encode()
	w.Header().Set("Location", target.String())
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusFound)
}
