package caddyjwt

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// discoveryURL is where an OpenID Provider publishes its configuration
// (OpenID Connect Discovery 1.0 §4): the issuer, without a trailing slash,
// followed by /.well-known/openid-configuration.
func discoveryURL(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
}

// checkDiscoverableIssuer refuses at load an issuer that cannot have a
// discovery document: OpenID Connect Core §2 makes iss a URL with a scheme
// and host and no query or fragment.
func checkDiscoverableIssuer(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("jwt: issuer %q: discover needs an http(s) issuer URL without query or fragment", issuer)
	}
	return nil
}

// discoveryDocument is the part of the provider configuration we read.
type discoveryDocument struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
}

// discoverJWKSURL reads the issuer's discovery document and returns its
// jwks_uri. The document must name exactly the configured issuer (OpenID
// Connect Discovery 1.0 §4.3): otherwise whoever serves it could hand us
// another issuer's keys, or their own, for tokens claiming this issuer.
func discoverJWKSURL(ctx context.Context, client *http.Client, issuer string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// The URLs go into logs: without credentials.
	docURL := redactURL(discoveryURL(issuer))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, discoveryURL(issuer), nil)
	if err != nil {
		return "", fmt.Errorf("discovery %s: not a valid request", docURL)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("discovery %s: %v", docURL, withoutURL(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("discovery %s: status %d", docURL, resp.StatusCode)
	}
	var doc discoveryDocument
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return "", fmt.Errorf("discovery %s: not a provider configuration: %v", docURL, err)
	}
	if doc.Issuer != issuer {
		return "", fmt.Errorf("discovery %s: the document is for issuer %q, not %q: its keys are not used", docURL, capLogValue(doc.Issuer), issuer)
	}
	u, err := url.Parse(doc.JWKSURI)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("discovery %s: jwks_uri %q is not an http(s) URL", docURL, redactURL(doc.JWKSURI))
	}
	// An https issuer's keys must not come over plain http, where anyone
	// on the path could replace them.
	if strings.HasPrefix(issuer, "https://") && u.Scheme != "https" {
		return "", fmt.Errorf("discovery %s: jwks_uri %q is not https", docURL, redactURL(doc.JWKSURI))
	}
	return doc.JWKSURI, nil
}
