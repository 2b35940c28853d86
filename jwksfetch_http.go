package caddyjwt

// One fetch of a remote key set over HTTP: discovery of the URL, the
// conditional request, the provider's max-age and the body limit. When
// fetches happen is jwksfetch.go's concern.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// jwksFetcher performs the fetches of one key set: conditional requests
// (ETag), the provider's max-age, a body limit, a redirect policy, and
// discovery of the URL. jwkset reads each JWK of the response. Only the
// set's fetch goroutine uses it.
type jwksFetcher struct {
	cfg       remoteKeySetConfig
	transport *http.Transport
	// jwksURL is the URL fetched: the configured one, or the discovered
	// one ("" until discovery succeeds).
	jwksURL string
	// etag is the ETag of the set in use, sent as If-None-Match.
	etag string
}

// fetchResult is the outcome of one successful fetch.
type fetchResult struct {
	notModified bool
	// keys are the usable keys of the set, skipped the members that are
	// not used.
	keys    []*verificationKey
	skipped []skippedKey
	maxAge  time.Duration
}

func newJWKSFetcher(cfg remoteKeySetConfig) *jwksFetcher {
	// A transport of its own, so that Destruct can close its idle
	// connections: a reload must not leave keep-alive goroutines behind.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	return &jwksFetcher{cfg: cfg, transport: transport, jwksURL: cfg.url}
}

func (f *jwksFetcher) close() { f.transport.CloseIdleConnections() }

// client is the HTTP client of one fetch through rt.
func (f *jwksFetcher) client(rt *jwksTransport) *http.Client {
	return &http.Client{Transport: rt, CheckRedirect: checkFetchRedirect}
}

// fetch gets the set once. haveKeys says whether a set is in use, so that
// the request may be conditional.
func (f *jwksFetcher) fetch(ctx context.Context, haveKeys bool) (fetchResult, error) {
	if f.jwksURL == "" {
		u, err := discoverJWKSURL(ctx, f.client(&jwksTransport{base: f.transport}), f.cfg.issuer, f.cfg.timeout)
		if err != nil {
			return fetchResult{}, err
		}
		f.jwksURL = u
	}
	rt := &jwksTransport{base: f.transport}
	if haveKeys {
		rt.ifNoneMatch = f.etag
	}
	body, err := f.get(ctx, rt)
	if err == nil && rt.ifNoneMatch != "" && rt.status == http.StatusNotModified {
		// It confirms the set in use.
		return fetchResult{notModified: true, maxAge: rt.maxAge}, nil
	}
	if err != nil {
		if f.cfg.issuer != "" {
			// The provider may have moved its keys: ask again next time.
			f.jwksURL = ""
		}
		return fetchResult{}, fetchFailure(err, rt.status, f.cfg.timeout)
	}
	keys, skipped, err := parseFetchedJWKS(body, f.cfg.allowed, "jwks "+f.cfg.label())
	if err != nil {
		return fetchResult{}, fmt.Errorf("the response is not a usable JWK Set: %v", err)
	}
	if len(keys) > 0 {
		// Only a set that will be installed may be confirmed by a 304.
		f.etag = rt.etag
	}
	return fetchResult{keys: keys, skipped: skipped, maxAge: rt.maxAge}, nil
}

// get requests the JWKS URL and reads the body of a 200. A 304 to a
// conditional request returns no body and no error. Errors are as the
// client gives them; fetchFailure words them for the log.
func (f *jwksFetcher) get(ctx context.Context, rt *jwksTransport) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.jwksURL, nil)
	if err != nil {
		return nil, errors.New("the JWKS URL does not make a valid request")
	}
	resp, err := f.client(rt).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && rt.ifNoneMatch != "":
		return nil, nil
	case resp.StatusCode != http.StatusOK:
		return nil, errUnexpectedStatus
	}
	return io.ReadAll(resp.Body)
}

// errUnexpectedStatus is a JWKS response other than 200 (or 304 to a
// conditional request); the transport recorded which.
var errUnexpectedStatus = errors.New("unexpected status")

// fetchFailure says in one sentence why a fetch failed, without the URL,
// which may carry a credential and is the log line's jwks field anyway;
// status is the response's, 0 if none came.
func fetchFailure(err error, status int, timeout time.Duration) error {
	var urlErr *url.Error
	switch {
	case errors.Is(err, errJWKSTooLarge):
		return errJWKSTooLarge
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &urlErr) && urlErr.Timeout():
		return fmt.Errorf("no answer within the timeout of %s", timeout)
	case errors.Is(err, errRedirectDowngrade):
		return errRedirectDowngrade
	case errors.As(err, &urlErr):
		return fmt.Errorf("cannot reach the server: %v", urlErr.Err)
	case errors.Is(err, errUnexpectedStatus):
		return fmt.Errorf("the server answered %d %s, not 200 with a JWK Set", status, http.StatusText(status))
	}
	return fmt.Errorf("reading the response: %v", withoutURL(err))
}

// jwksTransport sends the conditional request, records what the response
// says about caching, and limits the body.
type jwksTransport struct {
	base        http.RoundTripper
	ifNoneMatch string

	// Recorded from the last response (the final one after redirects).
	status int
	etag   string
	maxAge time.Duration
}

func (t *jwksTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	if t.ifNoneMatch != "" {
		req.Header.Set("If-None-Match", t.ifNoneMatch)
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	t.status = resp.StatusCode
	t.etag = resp.Header.Get("ETag")
	t.maxAge = cacheMaxAge(resp.Header)
	resp.Body = &limitedBody{ReadCloser: resp.Body, limit: maxJWKSBytes}
	return resp, nil
}

// cacheMaxAge reads how long a response may be reused (RFC 9111 §5.2.2.1),
// less its Age (§5.1). no-store and no-cache mean not at all.
func cacheMaxAge(h http.Header) time.Duration {
	var maxAge time.Duration
	for _, directive := range strings.Split(h.Get("Cache-Control"), ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(directive), "=")
		switch strings.ToLower(name) {
		case "no-store", "no-cache":
			return 0
		case "max-age":
			if secs, err := strconv.ParseInt(strings.Trim(value, `"`), 10, 64); err == nil && secs > 0 {
				maxAge = time.Duration(min(secs, int64(maxAgeCeiling/time.Second))) * time.Second
			}
		}
	}
	if age, err := strconv.ParseInt(h.Get("Age"), 10, 64); err == nil && age > 0 {
		maxAge -= time.Duration(min(age, int64(maxAgeCeiling/time.Second))) * time.Second
	}
	return max(maxAge, 0)
}

// limitedBody fails a read once more than limit bytes have come.
type limitedBody struct {
	io.ReadCloser
	limit, read int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.read += int64(n)
	if over := b.read - b.limit; over > 0 {
		// Hand on only what is within the limit, so that a value ending
		// just past it cannot decode.
		return n - int(min(over, int64(n))), errJWKSTooLarge
	}
	return n, err
}
