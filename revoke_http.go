package caddyjwt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// The http store's limits. A request waits on the lookup, so the timeout
// is short; the body is not used, so little of it is read.
const (
	httpStoreTimeout   = 2 * time.Second
	httpStoreBodyLimit = 4096

	// notBeforeHeader optionally carries the subject's last logout, in
	// Unix seconds, in a 200 answer.
	notBeforeHeader = "Token-Not-Before"
)

func init() {
	caddy.RegisterModule(new(HTTPStore))
}

// HTTPStore asks the operator's auth service about each token (cached for
// the revocation block's `cache`): GET the location, with placeholders such
// as {http.auth.jwt.sub} filled from the token and the request. The answer:
//
//	200  the subject's current version in version_header (absent: none),
//	     and its last logout in Token-Not-Before (absent: none)
//	404  no record: nothing is revoked
//	410  this token is revoked (for a URL that names its jti)
//
// Anything else, or no answer within the timeout, is a store error.
type HTTPStore struct {
	// The URL to ask, http:// or https://. Claim placeholders
	// (`{http.auth.jwt.*}`) and other request placeholders are filled per
	// request and URL-escaped; `{env.*}` is resolved once when the config
	// loads, unescaped, so that it can name the host. Required.
	Location string `json:"location,omitempty"`

	// The response header carrying the subject's current token version.
	// Default: `Token-Version`.
	VersionHeader string `json:"version_header,omitempty"`

	template      []urlSegment
	versionHeader string
	client        *http.Client
}

// defaultVersionHeader is where the auth service puts the version.
const defaultVersionHeader = "Token-Version"

// CaddyModule returns the Caddy module information.
func (*HTTPStore) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.jwt.revocation.http",
		New: func() caddy.Module { return new(HTTPStore) },
	}
}

// urlSegment is a piece of the location: literal text, or a placeholder
// filled per request.
type urlSegment struct {
	literal     string
	placeholder string
	claim       *claimPath // set for {http.auth.jwt.*}
}

// Provision compiles the URL template and makes the HTTP client.
func (s *HTTPStore) Provision(caddy.Context) error {
	if s.VersionHeader == "" {
		s.VersionHeader = defaultVersionHeader
	}
	if err := s.Validate(); err != nil {
		return err
	}
	// {env.*} and {file.*} are resolved now, unescaped, so that they can
	// name the host; the claim placeholders are filled per request.
	location, err := resolveLoadPlaceholders(s.Location)
	if err != nil {
		return fmt.Errorf("jwt: revocation http: %v", err)
	}
	template, err := parseURLTemplate(location)
	if err != nil {
		return fmt.Errorf("jwt: revocation http: %v", err)
	}
	s.template = template
	s.versionHeader = http.CanonicalHeaderKey(s.VersionHeader)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64
	transport.ResponseHeaderTimeout = httpStoreTimeout
	transport.DialContext = (&net.Dialer{Timeout: httpStoreTimeout}).DialContext
	s.client = &http.Client{
		Transport: transport,
		Timeout:   httpStoreTimeout,
		// A redirect is not an answer we know how to read.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return nil
}

// Validate checks the version header's name.
func (s *HTTPStore) Validate() error {
	if s.VersionHeader != "" && !validHeaderName(s.VersionHeader) {
		return fmt.Errorf("jwt: revocation version_header %q is not a valid header name", s.VersionHeader)
	}
	return nil
}

// Cleanup closes idle connections to the auth service.
func (s *HTTPStore) Cleanup() error {
	if s.client != nil {
		s.client.CloseIdleConnections()
	}
	return nil
}

// parseURLTemplate splits location into literal text and placeholders, and
// checks that it is an http(s) URL.
func parseURLTemplate(location string) ([]urlSegment, error) {
	var (
		segs     []urlSegment
		skeleton strings.Builder
	)
	rest := location
	for rest != "" {
		open := strings.IndexByte(rest, '{')
		closing := -1
		if open >= 0 {
			closing = strings.IndexByte(rest[open:], '}')
		}
		if open < 0 || closing < 0 {
			segs = append(segs, urlSegment{literal: rest})
			skeleton.WriteString(rest)
			break
		}
		if open > 0 {
			segs = append(segs, urlSegment{literal: rest[:open]})
			skeleton.WriteString(rest[:open])
		}
		key := rest[open+1 : open+closing]
		seg := urlSegment{placeholder: key}
		if path, ok := strings.CutPrefix(key, claimPlaceholderPrefix); ok {
			p := compileClaimPath(path)
			seg.claim = &p
		}
		segs = append(segs, seg)
		skeleton.WriteString("x")
		rest = rest[open+closing+1:]
	}
	u, err := url.Parse(skeleton.String())
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("the location must be an http:// or https:// URL")
	}
	if hasDotSegment(skeleton.String()) {
		return nil, errors.New(`the location's path must not have "." or ".." segments`)
	}
	return segs, nil
}

// hasDotSegment reports whether the path of the http(s) URL u has a "."
// or ".." segment (RFC 3986 §3.3), which servers and proxies resolve
// (§5.2.4) before routing: /users/{sub}/status with a sub of ".." would
// ask /status instead.
func hasDotSegment(u string) bool {
	_, rest, _ := strings.Cut(u, "://")
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		return false
	}
	path := rest[slash:]
	if end := strings.IndexAny(path, "?#"); end >= 0 {
		path = path[:end]
	}
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// CacheKey implements RevocationStore: the URL to ask, which is also what
// the answer is cached under.
func (s *HTTPStore) CacheKey(q RevocationQuery) (string, bool) {
	var repl *caddy.Replacer
	if q.Request != nil {
		repl, _ = q.Request.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	}
	var b strings.Builder
	for i := range s.template {
		seg := &s.template[i]
		if seg.placeholder == "" {
			b.WriteString(seg.literal)
			continue
		}
		var val string
		if seg.claim != nil {
			if v, ok := seg.claim.lookup(q.Claims); ok {
				val = formatClaim(v)
			}
		} else if repl != nil {
			val, _ = repl.GetString(seg.placeholder)
		}
		b.WriteString(escapeURLValue(val))
	}
	return b.String(), true
}

// escapeURLValue escapes a value so that it stays one path segment or one
// query value: a subject like "a/../admin?x=1" cannot change what is asked.
func escapeURLValue(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// Lookup implements RevocationStore.
func (s *HTTPStore) Lookup(ctx context.Context, q RevocationQuery) (RevocationFacts, error) {
	var f RevocationFacts
	key, _ := s.CacheKey(q)
	// Escaping keeps "/", "?", "#" and "%" of a value from changing the
	// URL, but "." and ".." are path segments as they are. The location's
	// own path has none (parseURLTemplate), so one here came from a value:
	// such a token cannot be looked up, and is refused whatever on_error
	// says, since letting it through unchecked would be the attacker's
	// choice.
	if hasDotSegment(key) {
		return f, ErrRevocationQueryRefused
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, key, nil)
	if err != nil {
		return f, errors.New("http: the location does not make a valid URL")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		// The url.Error would repeat the URL, which names the subject
		// and may carry an API key.
		return f, fmt.Errorf("http: %v", withoutURL(err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, httpStoreBodyLimit))

	switch resp.StatusCode {
	case http.StatusOK:
		if f.Version, f.HasVersion, err = headerInt(resp.Header, s.versionHeader); err != nil {
			return f, err
		}
		notBefore, ok, err := headerInt(resp.Header, notBeforeHeader)
		if err != nil {
			return f, err
		}
		if ok {
			f.NotBefore = time.Unix(notBefore, 0)
		}
	case http.StatusNotFound:
	case http.StatusGone:
		f.TokenDenied = true
	default:
		return f, fmt.Errorf("http: the auth service answered %d", resp.StatusCode)
	}
	return f, nil
}

// headerInt reads an optional integer header.
func headerInt(h http.Header, name string) (int64, bool, error) {
	v := strings.TrimSpace(h.Get(name))
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("http: the auth service's %s header is not an integer", name)
	}
	return n, true, nil
}

// Interface guards
var (
	_ RevocationStore    = (*HTTPStore)(nil)
	_ caddy.Provisioner  = (*HTTPStore)(nil)
	_ caddy.Validator    = (*HTTPStore)(nil)
	_ caddy.CleanerUpper = (*HTTPStore)(nil)
)
