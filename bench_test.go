package caddyjwt

// Benchmarks of the request path, run through a real caddyhttp handler
// chain (the jwt handler followed by static_response, provisioned from JSON
// with a caddy.Context and a per-request replacer as Caddy's server makes
// them), next to the raw signature check of the same token: the floor no
// verifier can go under. bench/gobench.sh runs them and prints the ratios
// that the README's Performance section quotes.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/golang-jwt/jwt/v5"

	"github.com/jwtgate/caddy-jwt/internal/benchtoken"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// benchFamily is one algorithm family: its signing key, the key config the
// handler gets, and the raw verify of a token as the floor.
type benchFamily struct {
	name   string
	method jwt.SigningMethod
	signer any
	// keyConfig is the handler's key source as JSON members.
	keyConfig string
	// rawVerify checks the token's signature with the standard library
	// only: hash the signing input, verify. Signature decoding (and, for
	// ECDSA, the r||s to ASN.1 conversion) is done once, outside the loop,
	// so the floor is as low as it can be.
	rawVerify func(token string) func() bool
}

func benchFamilies(b testing.TB) []benchFamily {
	dir := b.TempDir()
	writePEM := func(name string, pub any) string {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			b.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
			b.Fatal(err)
		}
		return path
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	edPub, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	keyPath := func(name string, pub any) string {
		p, _ := json.Marshal(writePEM(name, pub))
		return `"public_key":[{"path":` + string(p) + `}]`
	}
	return []benchFamily{
		{
			name: "HS256", method: jwt.SigningMethodHS256, signer: secret,
			keyConfig: `"secret":{"value":"` + base64.StdEncoding.EncodeToString(secret) + `","base64":true}`,
			rawVerify: func(token string) func() bool {
				input, sig := splitForRawVerify(token)
				return func() bool {
					mac := hmac.New(sha256.New, secret)
					mac.Write([]byte(input))
					return hmac.Equal(mac.Sum(nil), sig)
				}
			},
		},
		{
			name: "RS256", method: jwt.SigningMethodRS256, signer: rsaKey,
			keyConfig: keyPath("rsa.pem", &rsaKey.PublicKey),
			rawVerify: func(token string) func() bool {
				input, sig := splitForRawVerify(token)
				return func() bool {
					sum := sha256.Sum256([]byte(input))
					return rsa.VerifyPKCS1v15(&rsaKey.PublicKey, crypto.SHA256, sum[:], sig) == nil
				}
			},
		},
		{
			name: "ES256", method: jwt.SigningMethodES256, signer: ecKey,
			keyConfig: keyPath("ec.pem", &ecKey.PublicKey),
			rawVerify: func(token string) func() bool {
				input, sig := splitForRawVerify(token)
				asn1Sig := ecdsaASN1(b, sig)
				return func() bool {
					sum := sha256.Sum256([]byte(input))
					return ecdsa.VerifyASN1(&ecKey.PublicKey, sum[:], asn1Sig)
				}
			},
		},
		{
			name: "EdDSA", method: jwt.SigningMethodEdDSA, signer: edKey,
			keyConfig: keyPath("ed.pem", edPub),
			rawVerify: func(token string) func() bool {
				input, sig := splitForRawVerify(token)
				return func() bool {
					return ed25519.Verify(edPub, []byte(input), sig)
				}
			},
		},
	}
}

func splitForRawVerify(token string) (signingInput string, sig []byte) {
	i := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
	if err != nil {
		panic(err)
	}
	return token[:i], sig
}

// ecdsaASN1 converts a JWS ECDSA signature (r||s, RFC 7518 §3.4) to the
// ASN.1 form crypto/ecdsa verifies.
func ecdsaASN1(b testing.TB, rs []byte) []byte {
	r := new(big.Int).SetBytes(rs[:len(rs)/2])
	s := new(big.Int).SetBytes(rs[len(rs)/2:])
	der, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
	if err != nil {
		b.Fatal(err)
	}
	return der
}

// typicalClaims are the claims of the typical access token every
// benchmark signs, the same as bench/load.sh sends.
func typicalClaims(i int) jwt.MapClaims {
	return benchtoken.Claims(i, time.Now(), time.Hour)
}

func signBench(b testing.TB, fam benchFamily, claims jwt.MapClaims) string {
	tok := jwt.NewWithClaims(fam.method, claims)
	tok.Header["typ"] = "JWT"
	s, err := tok.SignedString(fam.signer)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// benchChain is a provisioned route: the jwt handler (or nothing, for the
// no-plugin baseline) followed by static_response.
type benchChain struct {
	handler caddyhttp.Handler
	jwt     *Handler
	cancel  context.CancelFunc
}

// newBenchChain provisions the route from JSON, as Caddy does from a config.
// handlerJSON is "" for the no-plugin baseline.
func newBenchChain(b testing.TB, handlerJSON string) *benchChain {
	handlers := []json.RawMessage{}
	if handlerJSON != "" {
		handlers = append(handlers, json.RawMessage(handlerJSON))
	}
	handlers = append(handlers, json.RawMessage(`{"handler":"static_response","status_code":200,"body":"ok"}`))
	routes := caddyhttp.RouteList{{HandlersRaw: handlers}}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	if err := routes.Provision(ctx); err != nil {
		cancel()
		b.Fatal(err)
	}
	c := &benchChain{handler: routes.Compile(caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })), cancel: cancel}
	if handlerJSON != "" {
		c.jwt = routes[0].Handlers[0].(*Handler)
		// Rejections are logged at info, as in production, but encoded to
		// nowhere: the benchmark measures building the log entry, not the
		// terminal.
		c.jwt.logger = zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(io.Discard), zapcore.InfoLevel))
		// Every rejection line is written: the cost of a refused request
		// before the per-reason sampling of a flood holds lines back.
		c.jwt.rejectionLog = nil
	}
	b.Cleanup(cancel)
	return c
}

// benchHandlerJSON is a typical handler config: keys, an audience, the user
// claim and two claim headers.
func benchHandlerJSON(fam benchFamily, cache int) string {
	return fmt.Sprintf(`{"handler":"jwt",%s,"algorithms":[%q],"audience":["api.example.com"],`+
		`"claim_header":[{"path":"sub","header":"X-User-Id"},{"path":"email","header":"X-User-Email"}],"cache":%d}`,
		fam.keyConfig, fam.method.Alg(), cache)
}

// discardWriter is a ResponseWriter that keeps nothing but its header map,
// which is cleared for reuse.
type discardWriter struct{ header http.Header }

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// benchRequest serves one request through the chain the way Caddy's server
// does: a fresh request with its own header map, a new replacer, and the
// context caddyhttp.PrepareRequest builds. The no-plugin baseline pays the
// same, so the difference between the two is the handler's own cost.
type benchRequest struct {
	base *http.Request
	w    discardWriter
}

func newBenchRequest(token string) *benchRequest {
	r := httptest.NewRequest(http.MethodGet, "http://api.example.com/orders/42", nil)
	r.Header.Set("Accept", "application/json")
	r.Header.Set("User-Agent", "bench/1.0")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return &benchRequest{base: r, w: discardWriter{header: make(http.Header)}}
}

func (br *benchRequest) serve(c *benchChain) error {
	return c.handler.ServeHTTP(&br.w, br.prepared())
}

func (br *benchRequest) prepared() *http.Request {
	r := new(http.Request)
	*r = *br.base
	r.Header = br.base.Header.Clone()
	clear(br.w.header)
	return caddyhttp.PrepareRequest(r, caddy.NewReplacer(), &br.w, nil)
}

func statusOf(err error) int {
	if err == nil {
		return http.StatusOK
	}
	if he, ok := err.(caddyhttp.HandlerError); ok {
		return he.StatusCode
	}
	return -1
}

func runBenchRequests(b *testing.B, c *benchChain, reqs []*benchRequest, wantStatus int) {
	b.Helper()
	for _, br := range reqs {
		if got := statusOf(br.serve(c)); got != wantStatus {
			b.Fatalf("status %d, want %d", got, wantStatus)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPUClock()
	for i := 0; b.Loop(); i++ {
		if err := reqs[i%len(reqs)].serve(c); statusOf(err) != wantStatus {
			b.Fatalf("status %d, want %d", statusOf(err), wantStatus)
		}
	}
	cpu.report(b)
}

// cpuClock measures the CPU time this process spends, GC included. On a
// machine shared with other work, wall-clock ns/op mostly measures how
// often the benchmark waited for a core; CPU time per op is what the code
// costs, and the ratios in the README are taken from it.
type cpuClock struct{ start time.Duration }

func startCPUClock() cpuClock { return cpuClock{start: processCPUTime()} }

func (c cpuClock) report(b *testing.B) {
	b.ReportMetric(float64(processCPUTime()-c.start)/float64(b.N), "cpu-ns/op")
}

func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

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
