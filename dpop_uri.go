package caddyjwt

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// originalRequest is the method and request-target as the client sent
// them, before `rewrite`, `handle_path`, `uri` or `method` changed them: a
// proof names what the client addressed (RFC 9449 §4.3 steps 8 and 9),
// not what a route made of it. Caddy keeps only these (and the URL) of
// the original request; the host and the connection are the request's own.
func originalRequest(r *http.Request) (method, requestURI string) {
	if orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && orig.RequestURI != "" {
		return orig.Method, orig.RequestURI
	}
	return r.Method, r.RequestURI
}

// requestHTU is the normalised URI of the request, without query and
// fragment, to compare with a proof's htu: the configured origin, else
// the scheme of the connection and the Host header, then the path as the
// client sent it.
func (d *dpopChecker) requestHTU(r *http.Request, requestURI string) string {
	path := requestURI
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if !strings.HasPrefix(path, "/") {
		// The absolute form (RFC 9112 §3.2.2), sent to proxies.
		u, err := url.Parse(path)
		if err != nil {
			return ""
		}
		path = u.EscapedPath()
	}
	origin := d.origin
	if origin == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		origin = scheme + "://" + r.Host
	}
	htu, ok := normalizeHTU(origin + path)
	if !ok {
		return ""
	}
	return htu
}

// normalizeHTU brings an http(s) URI into the form RFC 9449 §4.3 compares
// (RFC 3986 §6.2.2 and §6.2.3): scheme and host in lower case, no default
// port, an empty path as "/", percent-encodings in upper case and those of
// unreserved characters decoded; query and fragment dropped. Dot segments
// are left as they are. ok is false for anything but an absolute http(s)
// URI with a host and no user information.
func normalizeHTU(s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" {
		return "", false
	}
	origin, ok := originOf(u)
	if !ok {
		return "", false
	}
	path := normalizePercentEncoding(u.EscapedPath())
	if path == "" {
		path = "/"
	}
	return origin + path, true
}

// normalizeOrigin checks and normalises the dpop origin option.
func normalizeOrigin(s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return "", false
	}
	return originOf(u)
}

// originOf is scheme://host[:port] of an http(s) URL in lower case,
// without the scheme's default port.
func originOf(u *url.URL) (string, bool) {
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if host == "" {
		return "", false
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" && !(scheme == "http" && port == "80") && !(scheme == "https" && port == "443") {
		host += ":" + port
	}
	return scheme + "://" + host, true
}

// normalizePercentEncoding upper-cases percent-encodings and decodes
// those of unreserved characters (RFC 3986 §6.2.2.2), so that /a%7eb,
// /a%7Eb and /a~b compare equal, while /a%2Fb stays apart from /a/b.
func normalizePercentEncoding(p string) string {
	if !strings.Contains(p, "%") {
		return p
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' || i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			b.WriteByte(c)
			continue
		}
		v := unhex(p[i+1])<<4 | unhex(p[i+2])
		if isUnreserved(v) {
			b.WriteByte(v)
		} else {
			b.WriteByte('%')
			b.WriteString(strings.ToUpper(p[i+1 : i+3]))
		}
		i += 2
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
