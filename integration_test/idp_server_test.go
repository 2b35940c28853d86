package integration_test

// A real identity provider's endpoints on loopback: a JWKS and a discovery
// document whose keys the test changes, with their hits counted.

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/MicahParks/jwkset"
)

// idpKey is a signing key published under a kid.
type idpKey struct {
	key *testKey
	kid string
}

// jwkFor is the public JWK of k, with kid, alg and use sig.
func jwkFor(t testing.TB, k idpKey) jwkset.JWKMarshal {
	t.Helper()
	jwk, err := jwkset.NewJWKFromKey(k.key.Public, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
		KID: k.kid, ALG: jwkset.ALG(k.key.Alg), USE: jwkset.UseSig,
	}})
	if err != nil {
		t.Fatal(err)
	}
	return jwk.Marshal()
}

func jwksJSON(t testing.TB, keys ...idpKey) []byte {
	t.Helper()
	set := jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{}}
	for _, k := range keys {
		set.Keys = append(set.Keys, jwkFor(t, k))
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// idpServer is an identity provider on loopback: a JWKS at /jwks (with an
// ETag, answering If-None-Match with 304) and an OpenID discovery document.
// It counts every request.
type idpServer struct {
	t    testing.TB
	addr string
	srv  *http.Server

	mu        sync.Mutex
	jwks      []byte
	docIssuer string // "" means the server's own URL, as it should be

	jwksHits, notModified, discoveryHits atomic.Int64
}

// newIDPServer makes a provider on a free port, listening when started is
// true; otherwise it is down until start.
func newIDPServer(t testing.TB, started bool, keys ...idpKey) *idpServer {
	t.Helper()
	s := &idpServer{t: t, addr: "127.0.0.1:" + strconv.Itoa(freePort(t)), jwks: jwksJSON(t, keys...)}
	mux := http.NewServeMux()
	mux.HandleFunc("/jwks", s.serveJWKS)
	mux.HandleFunc("/.well-known/openid-configuration", s.serveDiscovery)
	s.srv = &http.Server{Handler: mux}
	t.Cleanup(func() { s.srv.Close() })
	if started {
		s.start()
	}
	return s
}

func (s *idpServer) start() {
	s.t.Helper()
	l, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatalf("identity provider: %v", err)
	}
	go s.srv.Serve(l)
}

func (s *idpServer) URL() string     { return "http://" + s.addr }
func (s *idpServer) JWKSURL() string { return s.URL() + "/jwks" }

func (s *idpServer) setKeys(keys ...idpKey) {
	b := jwksJSON(s.t, keys...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jwks = b
}

// setRawKeys publishes JWK objects as given, for keys jwkset would not
// write (oct, use enc).
func (s *idpServer) setRawKeys(keys ...map[string]any) {
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		s.t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jwks = b
}

func (s *idpServer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	s.jwksHits.Add(1)
	s.mu.Lock()
	body := s.jwks
	s.mu.Unlock()
	etag := fmt.Sprintf(`"%x"`, sha256.Sum256(body))
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		s.notModified.Add(1)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Write(body)
}

func (s *idpServer) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	s.discoveryHits.Add(1)
	s.mu.Lock()
	issuer := s.docIssuer
	s.mu.Unlock()
	if issuer == "" {
		issuer = s.URL()
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"issuer": issuer, "jwks_uri": s.JWKSURL()})
}

// signKID signs claims with k, naming its kid.
func signKID(t testing.TB, k idpKey, c claims) string {
	t.Helper()
	return signToken(t, k.key, c, map[string]any{"kid": k.kid})
}
