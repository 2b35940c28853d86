package caddyjwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// unusableJWKs are members a provider may publish next to its signing
// keys, each of which must be skipped on its own, kid "bad".
func unusableJWKs(t *testing.T) map[string]any {
	t.Helper()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	bad := func(m map[string]any) map[string]any { m["kid"] = "bad"; return m }
	b64 := base64.RawURLEncoding.EncodeToString
	huge := oversizedRSAKey(t, 8704)
	return map[string]any{
		"unknown use":             bad(publicJWK(t, &ec.PublicKey, map[string]any{"use": "wrap"})),
		"unknown key_ops":         bad(publicJWK(t, &ec.PublicKey, map[string]any{"key_ops": []string{"verify", "frobnicate"}})),
		"use enc":                 bad(publicJWK(t, &ec.PublicKey, map[string]any{"use": "enc"})),
		"x5c that is not a cert":  bad(publicJWK(t, &ec.PublicKey, map[string]any{"x5c": []string{"bm90IGEgY2VydGlmaWNhdGU="}})),
		"x5c of the wrong type":   bad(publicJWK(t, &ec.PublicKey, map[string]any{"x5c": "not-an-array"})),
		"RSA with e=1":            bad(publicJWK(t, &rsa2048.PublicKey, map[string]any{"e": "AQ"})),
		"RSA under 2048 bits":     bad(publicJWK(t, &rsa1024.PublicKey, nil)),
		"RSA over 8192 bits":      bad(map[string]any{"kty": "RSA", "n": b64(huge.N.Bytes()), "e": "AQAB"}),
		"EC point off the curve":  bad(map[string]any{"kty": "EC", "crv": "P-256", "x": b64([]byte{1}), "y": b64([]byte{2})}),
		"Ed25519 key of 31 bytes": bad(map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(edPub[:31])}),
		"Ed25519 identity point":  bad(map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(hexKey(t, smallOrderEd25519Keys["identity"]))}),
		"unsupported curve":       bad(map[string]any{"kty": "OKP", "crv": "Ed448", "x": b64(make([]byte, 57))}),
		"oct key":                 bad(octJWK(make([]byte, 64), "bad")),
		"kid of the wrong type":   map[string]any{"kty": "EC", "kid": 7},
		"a number, not an object": 17,
	}
}

func TestFetchedSetKeepsItsUsableKeysWhenOneMemberIsUnusable(t *testing.T) {
	good, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for name, member := range unusableJWKs(t) {
		t.Run(name, func(t *testing.T) {
			body, err := json.Marshal(map[string]any{"keys": []any{member, publicJWK(t, &good.PublicKey, map[string]any{"kid": "good"})}})
			if err != nil {
				t.Fatal(err)
			}
			keys, skipped, err := parseFetchedJWKS(body, allAlgorithms, "test")
			if err != nil {
				t.Fatalf("the set was refused: %v", err)
			}
			if ids := keyIDs(keys); len(ids) != 1 || ids[0] != "good" {
				t.Fatalf("keys %v, want only the usable one", ids)
			}
			if len(skipped) != 1 || skipped[0].why == nil {
				t.Fatalf("skipped %v, want the one unusable member with a reason", skipped)
			}
		})
	}
}

func TestFetchedSetWithAllKindsOfUnusableMembersLoadsThroughTheFetcher(t *testing.T) {
	good, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	members := []any{publicJWK(t, &good.PublicKey, map[string]any{"kid": "good"})}
	for _, m := range unusableJWKs(t) {
		members = append(members, m)
	}
	body, _ := json.Marshal(map[string]any{"keys": members})
	srv := newJWKSServer(t, body)
	set := startTestKeySet(t, remoteKeySetConfig{url: srv.URL})
	eventually(t, "the usable key", func() bool {
		ids, err := keyIDsFor(t, set, "good", algES256)
		return err == nil && len(ids) == 1
	})
}

func TestSkippedKeysAreLoggedOncePerChangeWithKidAndReasonButNoMaterial(t *testing.T) {
	good, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	enc, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	goodJWK := publicJWK(t, &good.PublicKey, map[string]any{"kid": "good"})
	encJWK := publicJWK(t, &enc.PublicKey, map[string]any{"kid": "enc-1", "use": "enc"})
	// No ETag: every refresh gets the whole set again, as from a provider
	// that does not do conditional requests.
	var body atomic.Value
	var hits atomic.Int64
	body.Store(jwksBody(t, goodJWK, encJWK))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write(body.Load().([]byte))
	}))
	t.Cleanup(srv.Close)

	core, logs := observer.New(zap.DebugLevel)
	set := startRemoteKeySet(remoteKeySetConfig{url: srv.URL, refresh: time.Second, unknownKIDWait: time.Hour, timeout: 5 * time.Second, allowed: allAlgorithms}, zap.New(core))
	t.Cleanup(func() { set.Destruct() })
	notUsed := func() []observer.LoggedEntry { return logs.FilterMessage("jwks key not used").AllUntimed() }

	// Refreshes are jittered around 1s; three fetches prove repetition.
	eventually(t, "three fetches of the same set", func() bool { return hits.Load() >= 3 })
	if got := notUsed(); len(got) != 1 {
		t.Fatalf("%d lines for one unused key over %d fetches, want 1", len(got), hits.Load())
	}
	line := notUsed()[0].ContextMap()
	if line["kid"] != "enc-1" || !strings.Contains(line["why"].(string), "sig") {
		t.Fatalf("line %v, want kid enc-1 and why", line)
	}
	for _, material := range []string{encJWK["x"].(string), encJWK["y"].(string)} {
		for _, e := range logs.AllUntimed() {
			for _, v := range e.ContextMap() {
				if s, ok := v.(string); ok && strings.Contains(s, material) {
					t.Fatalf("key material in the log: %v", e.ContextMap())
				}
			}
		}
	}

	// A change of the set logs what is skipped now.
	body.Store(jwksBody(t, goodJWK, publicJWK(t, &enc.PublicKey, map[string]any{"kid": "enc-2", "use": "enc"})))
	eventually(t, "a line for the new unused key", func() bool { return len(notUsed()) == 2 })
	if kid := notUsed()[1].ContextMap()["kid"]; kid != "enc-2" {
		t.Fatalf("second line for %v, want enc-2", kid)
	}
}

// tlsTrustingFetcher is a fetcher whose transport trusts srv's certificate.
func tlsTrustingFetcher(cfg remoteKeySetConfig, srv *httptest.Server) *jwksFetcher {
	f := newJWKSFetcher(cfg)
	f.transport.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	return f
}

func TestJWKSAndDiscoveryFetchesNeverFollowARedirectFromHTTPSToHTTP(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	body := jwksBody(t, publicJWK(t, &ec.PublicKey, map[string]any{"kid": "a"}))
	var plainHits atomic.Int64
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		plainHits.Add(1)
		w.Write(body)
	}))
	t.Cleanup(plain.Close)

	var secure *httptest.Server
	secure = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/downgrade":
			http.Redirect(w, r, plain.URL+"/jwks", http.StatusFound)
		case "/moved":
			http.Redirect(w, r, secure.URL+"/jwks", http.StatusMovedPermanently)
		case "/loop":
			http.Redirect(w, r, secure.URL+"/loop", http.StatusFound)
		case "/jwks":
			w.Write(body)
		case "/.well-known/openid-configuration":
			http.Redirect(w, r, plain.URL+"/.well-known/openid-configuration", http.StatusFound)
		}
	}))
	t.Cleanup(secure.Close)

	fetch := func(cfg remoteKeySetConfig) (fetchResult, error) {
		cfg.timeout, cfg.allowed = 5*time.Second, allAlgorithms
		f := tlsTrustingFetcher(cfg, secure)
		defer f.close()
		return f.fetch(context.Background(), false)
	}
	if res, err := fetch(remoteKeySetConfig{url: secure.URL + "/moved"}); err != nil || len(res.keys) != 1 {
		t.Fatalf("https to https redirect: %v, %d keys; want it followed", err, len(res.keys))
	}
	if _, err := fetch(remoteKeySetConfig{url: secure.URL + "/downgrade"}); !errors.Is(err, errRedirectDowngrade) && (err == nil || !strings.Contains(err.Error(), errRedirectDowngrade.Error())) {
		t.Fatalf("https to http redirect: err = %v, want it refused", err)
	}
	if _, err := fetch(remoteKeySetConfig{issuer: secure.URL}); err == nil || !strings.Contains(err.Error(), errRedirectDowngrade.Error()) {
		t.Fatalf("discovery redirected from https to http: err = %v, want it refused", err)
	}
	if plainHits.Load() != 0 {
		t.Fatalf("the http server was asked %d times", plainHits.Load())
	}
	if _, err := fetch(remoteKeySetConfig{url: secure.URL + "/loop"}); err == nil || !strings.Contains(err.Error(), "redirects") {
		t.Fatalf("redirect loop: err = %v, want it stopped", err)
	}
}

func TestRedactURLHidesUserInfoQueryValuesAndFragment(t *testing.T) {
	for in, want := range map[string]string{
		"https://idp.example/jwks":                         "https://idp.example/jwks",
		"https://alice:hunter2@idp.example/jwks":           "https://redacted@idp.example/jwks",
		"https://tok3n@idp.example/jwks":                   "https://redacted@idp.example/jwks",
		"https://idp.example/jwks?token=s3cret&v=2":        "https://idp.example/jwks?token=redacted&v=redacted",
		"https://idp.example/jwks?s3cret":                  "https://idp.example/jwks?redacted",
		"https://idp.example/jwks#s3cret":                  "https://idp.example/jwks",
		"redis://:pa55@127.0.0.1:6379/0":                   "redis://redacted@127.0.0.1:6379/0",
		"http://auth/check/{http.auth.jwt.sub}?key=s3cret": "http://auth/check/%7Bhttp.auth.jwt.sub%7D?key=redacted",
		"https://idp.example/%zz?token=s3cret":             "(a URL that does not parse)",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
