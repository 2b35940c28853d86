package caddyjwt

// Benchmarks of the request path, run through a real caddyhttp handler
// chain (the jwt handler followed by static_response, provisioned from JSON
// with a caddy.Context and a per-request replacer as Caddy's server makes
// them), next to the raw signature check of the same token: the floor no
// verifier can go under. bench/gobench.sh runs them and prints the ratios
// that the README's Performance section quotes.

import (
	"net/http"
	"runtime"
	"strings"
	"testing"
)

// missPoolSize is how many distinct tokens the cache-miss benchmark cycles
// through, against a cache of a quarter of that: with round-robin use, every
// lookup misses, and every miss pays the insert and an eviction.
const missPoolSize, missCacheEntries = 64, 16

// BenchmarkServeHTTP measures one request through the handler chain, per
// algorithm family: cached (the same valid token again), miss (a valid token
// the cache does not hold: verify, insert, evict), uncached (cache off),
// malformed (header cut short), bad_signature (one signature byte
// changed, the same token again) and forged (distinct tokens with a bad
// signature). no_plugin is the same chain without the jwt handler.
func BenchmarkServeHTTP(b *testing.B) {
	b.Run("no_plugin", func(b *testing.B) {
		runBenchRequests(b, newBenchChain(b, ""), []*benchRequest{newBenchRequest(signedLookingToken)}, http.StatusOK)
	})
	for _, fam := range benchFamilies(b) {
		good := signBench(b, fam, typicalClaims(0))
		pool := make([]*benchRequest, missPoolSize)
		for i := range pool {
			pool[i] = newBenchRequest(signBench(b, fam, typicalClaims(i+1)))
		}
		cached := newBenchChain(b, benchHandlerJSON(fam, 0))
		b.Run(fam.name+"/cached", func(b *testing.B) {
			runBenchRequests(b, cached, []*benchRequest{newBenchRequest(good)}, http.StatusOK)
		})
		b.Run(fam.name+"/miss", func(b *testing.B) {
			runBenchRequests(b, newBenchChain(b, benchHandlerJSON(fam, missCacheEntries)), pool, http.StatusOK)
		})
		uncached := newBenchChain(b, benchHandlerJSON(fam, -1))
		b.Run(fam.name+"/uncached", func(b *testing.B) {
			runBenchRequests(b, uncached, []*benchRequest{newBenchRequest(good)}, http.StatusOK)
		})
		b.Run(fam.name+"/malformed", func(b *testing.B) {
			runBenchRequests(b, cached, []*benchRequest{newBenchRequest(good[5:])}, http.StatusUnauthorized)
		})
		b.Run(fam.name+"/bad_signature", func(b *testing.B) {
			runBenchRequests(b, cached, []*benchRequest{newBenchRequest(corruptSignature(good))}, http.StatusUnauthorized)
		})
		forged := make([]*benchRequest, forgedPoolSize)
		for i := range forged {
			forged[i] = newBenchRequest(corruptSignature(signBench(b, fam, typicalClaims(i+1))))
		}
		b.Run(fam.name+"/forged", func(b *testing.B) {
			runBenchRequests(b, cached, forged, http.StatusUnauthorized)
		})
	}
}

// forgedPoolSize is how many distinct tokens with a bad signature the
// forged benchmark cycles through: more than the cache remembers, so that
// every one is checked in full, as a stream of forgeries would be.
const forgedPoolSize = 4 * forgedTokenSlots

// signedLookingToken gives the baseline request an Authorization header of
// a realistic size, so that both chains parse the same request.
var signedLookingToken = strings.Repeat("x", 600)

// corruptSignature changes one byte in the middle of the signature, keeping
// it valid base64url of the right length.
func corruptSignature(token string) string {
	i := strings.LastIndexByte(token, '.') + (len(token)-strings.LastIndexByte(token, '.'))/2
	c := byte('A')
	if token[i] == 'A' {
		c = 'B'
	}
	return token[:i] + string(c) + token[i+1:]
}

// BenchmarkRawVerify is the floor: the standard library's signature check
// of the same typical token, with nothing around it.
func BenchmarkRawVerify(b *testing.B) {
	for _, fam := range benchFamilies(b) {
		verify := fam.rawVerify(signBench(b, fam, typicalClaims(0)))
		b.Run(fam.name, func(b *testing.B) {
			if !verify() {
				b.Fatal("raw verify failed")
			}
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
}

// BenchmarkCacheMemory fills a default-sized cache (10,000 entries) with
// typical ES256 tokens through the handler and reports the heap it holds.
func BenchmarkCacheMemory(b *testing.B) {
	fam := benchFamilies(b)[2]
	const n = defaultCacheEntries
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = signBench(b, fam, typicalClaims(i))
	}
	b.ResetTimer()
	var held uint64
	var estimated int64
	for b.Loop() {
		var before, after runtime.MemStats
		c := newBenchChain(b, benchHandlerJSON(fam, 0))
		runtime.GC()
		runtime.ReadMemStats(&before)
		for _, tok := range tokens {
			// A new request each time, garbage once served: what stays
			// is what the cache holds.
			if got := statusOf(newBenchRequest(tok).serve(c)); got != http.StatusOK {
				b.Fatalf("status %d", got)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if got := c.jwt.cache.len(); got != n {
			b.Fatalf("cache holds %d tokens, want %d", got, n)
		}
		held = after.HeapAlloc - before.HeapAlloc
		estimated = c.jwt.cache.bytes.Load()
		runtime.KeepAlive(c)
		c.cancel()
	}
	b.ReportMetric(float64(held), "heap-bytes/10k-tokens")
	b.ReportMetric(float64(held)/n, "heap-bytes/token")
	// What the cache counts against its memory bound, to compare.
	b.ReportMetric(float64(estimated)/n, "estimated-bytes/token")
}
