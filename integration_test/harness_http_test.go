package integration_test

// The harness's recording upstream and its HTTP client, which never follows
// redirects.

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// ---------------------------------------------------------------------------
// Recording upstream

// recordedRequest is what one request looked like when it reached the
// upstream.
type recordedRequest struct {
	Method string
	URI    string // the request-target as received, path and query
	Host   string
	Header http.Header
	Body   []byte
}

// Cookie returns the named cookie's value as the upstream received it.
func (r recordedRequest) Cookie(name string) (string, bool) {
	req := &http.Request{Header: r.Header}
	c, err := req.Cookie(name)
	if err != nil {
		return "", false
	}
	return c.Value, true
}

// upstream is a real HTTP server on loopback that answers 200 "upstream ok"
// and records every request that reaches it.
type upstream struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []recordedRequest
}

// newUpstream starts a recording upstream, stopped when the test ends.
func newUpstream(t testing.TB) *upstream {
	t.Helper()
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	u.mu.Lock()
	u.got = append(u.got, recordedRequest{
		Method: r.Method,
		URI:    r.RequestURI,
		Host:   r.Host,
		Header: r.Header.Clone(),
		Body:   body,
	})
	u.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "upstream ok")
}

// Addr is the upstream's host:port, for `reverse_proxy`.
func (u *upstream) Addr() string { return u.srv.Listener.Addr().String() }

// Count is how many requests reached the upstream.
func (u *upstream) Count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.got)
}

// Requests returns a copy of every request that reached the upstream.
func (u *upstream) Requests() []recordedRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]recordedRequest(nil), u.got...)
}

// Last returns the latest request that reached the upstream, failing the
// test if none did.
func (u *upstream) Last(t testing.TB) recordedRequest {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.got) == 0 {
		t.Fatal("no request reached the upstream")
	}
	return u.got[len(u.got)-1]
}

// ---------------------------------------------------------------------------
// HTTP client

// response is an answer with its body read.
type response struct {
	*http.Response
	Body string
}

var testClient = &http.Client{
	// Generous: a request through a race-built Caddy on a starved machine
	// can take seconds, and one taking too long fails its test.
	Timeout: 30 * time.Second,
	// Redirects are part of what is tested: never follow them.
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// send makes a request and reads the whole response. header values are
// added in order; use "Cookie" for cookies.
func send(t testing.TB, method, url string, header http.Header, body io.Reader) response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return response{Response: resp, Body: string(b)}
}

// get is send with GET and no body.
func get(t testing.TB, url string, header http.Header) response {
	t.Helper()
	return send(t, http.MethodGet, url, header, nil)
}

// bearer is an Authorization header carrying token.
func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}
