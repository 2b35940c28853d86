package caddyjwt

// Benchmarks of DPoP: a request with a cached DPoP-bound token and a fresh
// proof (verified, checked and remembered), next to a cached Bearer request
// with the same token claims and to one raw ES256 verify, all in one run;
// and the memory the replay cache holds per 100,000 proofs.
//
//	go test -run '^$' -bench 'BenchmarkDPoP' -benchmem .

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// benchDPoPClient is a client's ES256 DPoP key and what its proofs carry.
type benchDPoPClient struct {
	key *ecdsa.PrivateKey
	jwk map[string]any
	jkt string
}

func newBenchDPoPClient(b testing.TB) *benchDPoPClient {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	point, _ := key.PublicKey.Bytes()
	x, y := base64.RawURLEncoding.EncodeToString(point[1:33]), base64.RawURLEncoding.EncodeToString(point[33:])
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	return &benchDPoPClient{key: key, jwk: map[string]any{"kty": "EC", "crv": "P-256", "x": x, "y": y},
		jkt: base64.RawURLEncoding.EncodeToString(sum[:])}
}

// proof is a fresh proof for GET url with token.
func (c *benchDPoPClient) proof(b testing.TB, url, token string, i int) string {
	ath := sha256.Sum256([]byte(token))
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"jti": fmt.Sprintf("proof-%d-%d", time.Now().UnixNano(), i),
		"htm": "GET", "htu": url, "iat": time.Now().Unix(),
		"ath": base64.RawURLEncoding.EncodeToString(ath[:]),
	})
	tok.Header = map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": c.jwk}
	s, err := tok.SignedString(c.key)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkDPoP: bearer_cached and dpop_cached serve the same typical
// ES256 token through the handler chain, cached; dpop_cached adds the
// proof, freshly signed outside the timed part for every request (each
// proof passes once). raw_es256_verify is one signature check of the
// standard library, which a proof costs at the least.
func BenchmarkDPoP(b *testing.B) {
	fam := benchFamilies(b)[2]
	client := newBenchDPoPClient(b)
	const url = "http://api.example.com/orders/42"

	b.Run("bearer_cached", func(b *testing.B) {
		c := newBenchChain(b, benchHandlerJSON(fam, 0))
		runBenchRequests(b, c, []*benchRequest{newBenchRequest(signBench(b, fam, typicalClaims(0)))}, http.StatusOK)
	})

	b.Run("dpop_cached", func(b *testing.B) {
		c := newBenchChain(b, benchHandlerJSON(fam, 0))
		claims := typicalClaims(0)
		claims["cnf"] = map[string]any{"jkt": client.jkt}
		token := signBench(b, fam, claims)
		request := func(i int) *benchRequest {
			r := httptest.NewRequest(http.MethodGet, url, nil)
			r.Header.Set("Accept", "application/json")
			r.Header.Set("User-Agent", "bench/1.0")
			r.Header.Set("Authorization", "DPoP "+token)
			r.Header.Set("DPoP", client.proof(b, url, token, i))
			return &benchRequest{base: r, w: discardWriter{header: make(http.Header)}}
		}
		if got := statusOf(request(-1).serve(c)); got != http.StatusOK {
			b.Fatalf("status %d, want 200", got)
		}
		b.ReportAllocs()
		var cpu time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			br := request(i)
			b.StartTimer()
			start := processCPUTime()
			if got := statusOf(br.serve(c)); got != http.StatusOK {
				b.Fatalf("status %d, want 200", got)
			}
			cpu += processCPUTime() - start
		}
		b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
	})

	b.Run("raw_es256_verify", func(b *testing.B) {
		verify := fam.rawVerify(signBench(b, fam, typicalClaims(0)))
		b.ReportAllocs()
		cpu := startCPUClock()
		for b.Loop() {
			if !verify() {
				b.Fatal("raw verify failed")
			}
		}
		cpu.report(b)
	})
}

// BenchmarkDPoPReplayMemory fills the in-memory replay cache with 100,000
// proofs (keys as the handler makes them: thumbprint and a UUID jti) and
// reports the heap it holds.
func BenchmarkDPoPReplayMemory(b *testing.B) {
	const n = 100000
	client := newBenchDPoPClient(b)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = client.jkt + " " + fmt.Sprintf("c8f1d2a4-%08x-4e5b-9a3c-5d6e7f809a1b", i)
	}
	expires := time.Now().Add(time.Hour)
	var held uint64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := newMemoryReplayStore(defaultReplayEntries)
		for _, k := range keys {
			if first, err := s.firstUse(context.Background(), k, expires); !first || err != nil {
				b.Fatalf("firstUse = %v, %v", first, err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if s.len() != n {
			b.Fatalf("the store holds %d proofs, want %d", s.len(), n)
		}
		held = after.HeapAlloc - before.HeapAlloc
		runtime.KeepAlive(s)
	}
	b.ReportMetric(float64(held), "heap-bytes/100k-proofs")
	b.ReportMetric(float64(held)/n, "heap-bytes/proof")
}
