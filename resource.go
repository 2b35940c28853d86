package caddyjwt

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// ProtectedResource describes the resource this handler protects, so that
// OAuth clients can find out how to get a token for it (RFC 9728): the
// handler serves its metadata document itself, and every challenge it
// sends points to that document.
type ProtectedResource struct {
	// The resource identifier: an absolute `https` (or `http`) URL without
	// query or fragment, e.g. `https://api.example.com/mcp`. Its metadata
	// is served at `/.well-known/oauth-protected-resource` with the URL's
	// path appended (RFC 9728 §3.1), here
	// `/.well-known/oauth-protected-resource/mcp`. Required.
	URI string `json:"uri,omitempty"`

	// The issuer identifiers of the authorization servers that issue
	// tokens for this resource (`authorization_servers`). Default: the
	// handler's configured `issuer`s.
	AuthorizationServers []string `json:"authorization_server,omitempty"`

	// The scopes clients may request for this resource
	// (`scopes_supported`). Default: the scopes `require_claim scope`
	// names.
	Scopes []string `json:"scopes,omitempty"`

	// A URL of human-readable documentation for developers
	// (`resource_documentation`). Default: none.
	Documentation string `json:"documentation,omitempty"`

	// A human-readable name of the resource (`resource_name`).
	// Default: none.
	Name string `json:"name,omitempty"`
}

// wellKnownResourcePath is the well-known URI suffix of RFC 9728 §3.
const wellKnownResourcePath = "/.well-known/oauth-protected-resource"

// metadataCacheControl lets clients and caches keep the document a few
// minutes: it changes only with the config.
const metadataCacheControl = "public, max-age=300"

// resourceMetadata is the compiled ProtectedResource: the document and its
// headers, made once in Provision.
type resourceMetadata struct {
	// path is the request path the document is served at, unescaped as
	// the request's URL.Path is.
	path string
	// url is the document's absolute URL, for resource_metadata in
	// challenges; safe in a quoted-string.
	url      string
	document []byte
	etag     string
}

// protectedResourceDocument is the metadata of RFC 9728 §2, in its field
// order. resource_signing_alg_values_supported is left out on purpose:
// it names the algorithms the resource signs its responses with, and this
// handler signs none (the algorithms it accepts in tokens are the
// authorization server's business, listed in its own metadata).
type protectedResourceDocument struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers,omitempty"`
	ScopesSupported        []string `json:"scopes_supported,omitempty"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	ResourceName           string   `json:"resource_name,omitempty"`
	ResourceDocumentation  string   `json:"resource_documentation,omitempty"`
	DPoPBoundRequired      bool     `json:"dpop_bound_access_tokens_required,omitempty"`
}

// provisionResource compiles the resource metadata, nil without a
// `resource`.
func (h *Handler) provisionResource() (*resourceMetadata, error) {
	pr := h.Resource
	if pr == nil {
		return nil, nil
	}
	id, err := parseResourceURI(pr.URI)
	if err != nil {
		return nil, err
	}
	doc := protectedResourceDocument{
		Resource:               pr.URI,
		AuthorizationServers:   pr.AuthorizationServers,
		ScopesSupported:        pr.Scopes,
		BearerMethodsSupported: bearerMethods(h.sources),
		ResourceName:           pr.Name,
		ResourceDocumentation:  pr.Documentation,
		DPoPBoundRequired:      h.dpopRequired(),
	}
	for _, as := range doc.AuthorizationServers {
		if err := checkAbsoluteURL(as); err != nil {
			return nil, fmt.Errorf("jwt: resource: authorization_server %q: %v", as, err)
		}
	}
	if len(doc.AuthorizationServers) == 0 {
		for _, is := range h.Issuers {
			doc.AuthorizationServers = append(doc.AuthorizationServers, is.Issuer)
		}
	}
	if len(doc.AuthorizationServers) == 0 {
		h.logger.Warn("resource has no authorization_server and no issuer is configured: clients reading its metadata cannot find where to get a token",
			zapString("resource", pr.URI))
	}
	if doc.ResourceDocumentation != "" {
		if err := checkAbsoluteURL(doc.ResourceDocumentation); err != nil {
			return nil, fmt.Errorf("jwt: resource: documentation %q: %v", doc.ResourceDocumentation, err)
		}
	}
	if len(doc.ScopesSupported) == 0 && h.challenge.params.stepUp.scope != "" {
		doc.ScopesSupported = strings.Fields(h.challenge.params.stepUp.scope)
	}
	document, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("jwt: resource: encoding the metadata: %v", err)
	}
	sum := sha256.Sum256(document)
	escaped := metadataPath(id)
	path, err := url.PathUnescape(escaped)
	if err != nil {
		return nil, fmt.Errorf("jwt: resource %q: %v", pr.URI, err)
	}
	return &resourceMetadata{
		path:     path,
		url:      quotedStringSafe(id.Scheme + "://" + id.Host + escaped),
		document: document,
		etag:     `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`,
	}, nil
}

// parseResourceURI checks a resource identifier as RFC 9728 §1.2 and
// RFC 8707 §2 define it: an absolute URL with a host, no fragment; a
// query is refused too, as it would make the metadata path ambiguous.
func parseResourceURI(uri string) (*url.URL, error) {
	if uri == "" {
		return nil, fmt.Errorf("jwt: resource: the resource URI is required")
	}
	id, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("jwt: resource %q: %v", uri, err)
	}
	if err := checkAbsoluteURL(uri); err != nil {
		return nil, fmt.Errorf("jwt: resource %q: %v", uri, err)
	}
	if id.RawQuery != "" || id.ForceQuery {
		return nil, fmt.Errorf("jwt: resource %q: a resource identifier has no query", uri)
	}
	return id, nil
}

// checkAbsoluteURL accepts http and https URLs with a host, without
// credentials or fragment.
func checkAbsoluteURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("must be an https (or http) URL")
	case u.Host == "":
		return fmt.Errorf("has no host")
	case u.User != nil:
		return fmt.Errorf("must not carry credentials")
	case u.Fragment != "" || strings.Contains(s, "#"):
		return fmt.Errorf("must not have a fragment")
	}
	return nil
}

// metadataPath is where RFC 9728 §3.1 puts the metadata of a resource:
// the well-known path, then the resource's own path, with a lone "/"
// after the host dropped.
func metadataPath(id *url.URL) string {
	p := id.EscapedPath()
	if p == "/" {
		p = ""
	}
	return wellKnownResourcePath + p
}

// bearerMethods names the token locations in RFC 6750's terms (§2):
// "header" for `Authorization: Bearer`, "query" for `access_token` in the
// query. Cookies and other headers have no RFC 6750 name; the body method
// is never read. An empty list says so (RFC 9728 §2).
func bearerMethods(sources []tokenSource) []string {
	methods := []string{}
	for i := range sources {
		s := &sources[i]
		switch {
		case s.kind == fromHeader && s.name == "Authorization" && s.scheme == "bearer":
			methods = appendNew(methods, []string{"header"})
		case s.kind == fromQuery && s.name == "access_token":
			methods = appendNew(methods, []string{"query"})
		}
	}
	return methods
}

// serve answers a request for the metadata document: GET and HEAD get it
// (conditional requests honoured), anyone may read it across origins
// (RFC 9728 §3: browser-based clients fetch it), a CORS preflight is
// answered here, and other methods are refused.
func (m *resourceMetadata) serve(w http.ResponseWriter, r *http.Request) error {
	hdr := w.Header()
	hdr.Set("Access-Control-Allow-Origin", "*")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		hdr.Set("Content-Type", "application/json")
		hdr.Set("Cache-Control", metadataCacheControl)
		hdr.Set("ETag", m.etag)
		hdr.Set("X-Content-Type-Options", "nosniff")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(m.document))
		return nil
	case http.MethodOptions:
		hdr.Set("Allow", "GET, HEAD, OPTIONS")
		if isCORSPreflight(r) {
			hdr.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
			// Clients add headers such as MCP-Protocol-Version; the
			// document carries no secret, so any may be sent.
			hdr.Set("Access-Control-Allow-Headers", "*")
			hdr.Set("Access-Control-Max-Age", "86400")
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	hdr.Set("Allow", "GET, HEAD, OPTIONS")
	return caddyhttp.Error(http.StatusMethodNotAllowed, errMetadataMethod)
}

var errMetadataMethod = errors.New("the resource metadata is read with GET")

// dpopRequired reports whether this handler accepts only DPoP-bound
// tokens (`dpop required`), which the metadata then says
// (`dpop_bound_access_tokens_required`, RFC 9728 §2).
func (h *Handler) dpopRequired() bool { return h.dpop != nil && h.dpop.mode == dpopRequired }
