package caddyjwt

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtgate/caddy-jwt/internal/jws"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func cachedHandler(t testing.TB, entries int) *Handler {
	t.Helper()
	return mustProvision(t, &Handler{
		KeySources:   KeySources{Secret: &SecretKey{Value: testSecret}},
		Cache:        entries,
		ClaimHeaders: []*ClaimHeader{{Path: "sub", Header: "X-User-Id"}},
	})
}

func hsToken(t testing.TB, claims jwt.MapClaims) string {
	return sign(t, jwt.SigningMethodHS256, []byte(testSecret), claims, nil)
}

func claimsFor(sub string, exp time.Time) jwt.MapClaims {
	return jwt.MapClaims{"sub": sub, "iat": time.Now().Unix(), "exp": exp.Unix()}
}

func mustVerify(t testing.TB, h *Handler, raw string, now time.Time) *verifiedToken {
	t.Helper()
	tok, _, rsn := h.verifyToken(context.Background(), raw, now)
	if rsn != reasonAllowed {
		t.Fatalf("verify: %q", rsn)
	}
	return tok
}

func TestRepeatedTokenIsServedFromTheCache(t *testing.T) {
	h := cachedHandler(t, 0)
	raw := hsToken(t, validClaims())
	hits, misses := testutil.ToFloat64(cacheHits), testutil.ToFloat64(cacheMisses)

	first := mustVerify(t, h, raw, time.Now())
	second := mustVerify(t, h, raw, time.Now())
	if first != second {
		t.Error("the second request verified the token again instead of using the cached result")
	}
	if got := testutil.ToFloat64(cacheMisses) - misses; got != 1 {
		t.Errorf("cache misses counted: %v, want 1", got)
	}
	if got := testutil.ToFloat64(cacheHits) - hits; got != 1 {
		t.Errorf("cache hits counted: %v, want 1", got)
	}
}

func TestCacheOffVerifiesEveryRequest(t *testing.T) {
	h := cachedHandler(t, -1)
	if h.cache != nil {
		t.Fatal("cache off still made a cache")
	}
	raw := hsToken(t, validClaims())
	first, second := mustVerify(t, h, raw, time.Now()), mustVerify(t, h, raw, time.Now())
	if first == second {
		t.Error("with the cache off, a token was not verified again")
	}
}

func TestCachedTokenExpiresAndIsNotYetValidOnTime(t *testing.T) {
	h := cachedHandler(t, 0) // default leeway 30s
	now := time.Now()
	exp := now.Add(time.Minute)
	raw := hsToken(t, jwt.MapClaims{"sub": "a", "exp": exp.Unix(), "nbf": now.Unix()})
	mustVerify(t, h, raw, now)

	tests := []struct {
		name string
		at   time.Time
		want reason
	}{
		{"still valid", now.Add(30 * time.Second), reasonAllowed},
		{"past exp but within leeway", exp.Add(20 * time.Second), reasonAllowed},
		{"past exp and leeway", exp.Add(31 * time.Second), reasonExpired},
		{"before nbf beyond leeway (clock went back)", now.Add(-time.Minute), reasonNotYetValid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, got := h.verifyToken(context.Background(), raw, tt.at); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if h.cache.len() != 1 {
		t.Errorf("cache holds %d entries, want the one token", h.cache.len())
	}
}

func TestTokensDifferingInOneByteNeverShareAnEntry(t *testing.T) {
	h := cachedHandler(t, 0)
	raw := hsToken(t, validClaims())
	mustVerify(t, h, raw, time.Now())

	sigStart := strings.LastIndexByte(raw, '.') + 1
	forged := raw[:sigStart] + flipChar(raw[sigStart]) + raw[sigStart+1:]
	if _, _, rsn := h.verifyToken(context.Background(), forged, time.Now()); rsn != reasonBadSignature {
		t.Errorf("token with a changed signature: got %q, want %q", rsn, reasonBadSignature)
	}
	if _, _, rsn := h.verifyToken(context.Background(), raw+"A", time.Now()); rsn == reasonAllowed {
		t.Error("token with an extra character passed")
	}
}

func TestClaimsEncodedAnotherWayAreNotServedFromTheCache(t *testing.T) {
	h := cachedHandler(t, 0)
	// Claims whose JSON length is not a multiple of 3, so that the last
	// character of their segment has unused bits.
	claims := validClaims()
	for pad := ""; ; pad += "x" {
		claims["pad"] = pad
		b, _ := json.Marshal(claims)
		if len(b)%3 != 0 {
			break
		}
	}
	raw := hsToken(t, claims)
	mustVerify(t, h, raw, time.Now())

	// Same decoded claims, different token text: the signature covers the
	// text, so this token is not the one that was verified.
	payloadEnd := strings.LastIndexByte(raw, '.')
	last := strings.IndexByte(jws.Base64URLAlphabet, raw[payloadEnd-1])
	variant := raw[:payloadEnd-1] + string(jws.Base64URLAlphabet[last^1]) + raw[payloadEnd:]
	if _, _, rsn := h.verifyToken(context.Background(), variant, time.Now()); rsn == reasonAllowed {
		t.Error("a token differing only in unused bits of its claims segment passed")
	}
	// The full comparison itself, which decides on a hash collision.
	hash := h.cache.hash(raw)
	e := h.cache.shard(hash).entries[hash]
	if e == nil || !e.matches(raw) {
		t.Fatal("the cached entry does not match its own token")
	}
	for _, other := range []string{variant, raw + "A", raw[1:], "x" + raw, raw[:payloadEnd+1] + flipChar(raw[payloadEnd+1]) + raw[payloadEnd+2:]} {
		if e.matches(other) {
			t.Errorf("the entry matches another token: %.20q…", other)
		}
	}
}

func flipChar(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestInvalidTokensNeitherEnterNorEvictTheCache(t *testing.T) {
	h := cachedHandler(t, 64)
	valid := make([]string, 64)
	for i := range valid {
		valid[i] = hsToken(t, claimsFor(fmt.Sprint("user", i), time.Now().Add(time.Hour)))
		mustVerify(t, h, valid[i], time.Now())
	}
	expired := hsToken(t, claimsFor("old", time.Now().Add(-time.Hour)))
	wrongKey := sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("k", 32)), validClaims(), nil)
	for i := range 1000 {
		for _, bad := range []string{fmt.Sprintf("garbage.%d.x", i), expired, wrongKey, valid[i%64] + "x"} {
			if _, _, rsn := h.verifyToken(context.Background(), bad, time.Now()); rsn == reasonAllowed {
				t.Fatalf("an invalid token passed")
			}
		}
	}
	if got := h.cache.len(); got != 64 {
		t.Fatalf("cache holds %d entries, want the 64 valid tokens", got)
	}
	hits := testutil.ToFloat64(cacheHits)
	for _, raw := range valid {
		mustVerify(t, h, raw, time.Now())
	}
	if got := testutil.ToFloat64(cacheHits) - hits; got != 64 {
		t.Errorf("%v of the 64 valid tokens were still cached after the flood, want all", got)
	}
}

func TestKeyChangeDropsTheCache(t *testing.T) {
	h := cachedHandler(t, 0)
	raw := hsToken(t, validClaims())
	before := mustVerify(t, h, raw, time.Now())

	h.verifier.keysChanged() // what a JWKS source calls on rotation or removal

	if got := h.cache.len(); got != 0 {
		t.Fatalf("cache holds %d entries after a key change, want none", got)
	}
	if after := mustVerify(t, h, raw, time.Now()); after == before {
		t.Error("token was not verified again after the key change")
	}
}

// fakeVerified is a token as the verifier would hand it to the cache,
// without a signature that means anything: for tests of the cache alone.
func fakeVerified(name string, claims map[string]any) (string, *verifiedToken) {
	claimsJSON := `{"sub":"` + name + `"}`
	enc := base64.RawURLEncoding.EncodeToString
	raw := enc([]byte(`{"alg":"HS256"}`)) + "." + enc([]byte(claimsJSON)) + "." + enc([]byte("sig of "+name))
	size := 0
	if claims == nil {
		claims = map[string]any{"sub": name}
	} else {
		// The heap the claims parser would count for such claims.
		j, _ := json.Marshal(claims)
		_, size, _ = jws.ParseObjectSize(string(j))
	}
	headerEnd := strings.IndexByte(raw, '.')
	payloadEnd := strings.LastIndexByte(raw, '.')
	return raw, &verifiedToken{
		claims: claims, claimsJSON: claimsJSON, claimsSize: size, subject: name, expiresAt: time.Now().Add(time.Hour),
		headerEnd: headerEnd, payloadEnd: payloadEnd,
	}
}

func TestVerificationRacingAKeyChangeIsNotCached(t *testing.T) {
	c := newTokenCache(0)
	raw, tok := fakeVerified("a", nil)
	generation := c.generation.Load() // taken before the verification started
	c.clear()                         // keys changed while it ran
	c.put(raw, c.hash(raw), tok, nil, generation)
	if c.len() != 0 {
		t.Error("a token verified with keys that changed meanwhile was cached")
	}
	c.put(raw, c.hash(raw), tok, nil, c.generation.Load())
	if e := c.get(raw, c.hash(raw)); e == nil || e.token != tok {
		t.Error("a token verified with current keys was not cached")
	}
}

func TestCacheIsBoundedInEntries(t *testing.T) {
	h := cachedHandler(t, 100)
	for i := range 400 {
		mustVerify(t, h, hsToken(t, claimsFor(fmt.Sprint("user", i), time.Now().Add(time.Hour))), time.Now())
	}
	if got := h.cache.len(); got != 100 {
		t.Errorf("cache holds %d entries, want its 100", got)
	}
}

func TestCacheIsBoundedInMemory(t *testing.T) {
	c := newTokenCache(100)
	// Claims that decode to many small values cost far more than their
	// text: each such token is about 4 entries' worth of the budget.
	claims := map[string]any{}
	for i := range 200 {
		claims[fmt.Sprint("c", i)] = "v"
	}
	raw, tok := fakeVerified("token00", claims)
	cost := entryCost(&cacheEntry{token: tok, header: raw[:10], signature: raw[:10]})
	if cost < 3*cacheBytesPerEntry {
		t.Fatalf("test token costs %d bytes, too little to test the bound", cost)
	}
	for i := range 100 {
		raw, tok := fakeVerified(fmt.Sprintf("token%02d", i), claims)
		c.put(raw, c.hash(raw), tok, nil, c.generation.Load())
	}
	if c.bytes.Load() > c.maxBytes {
		t.Errorf("cache holds %d bytes, over its budget of %d", c.bytes.Load(), c.maxBytes)
	}
	if got, most := c.len(), int(c.maxBytes)/cost; got > most || got == 0 {
		t.Errorf("cache holds %d large entries, want between 1 and %d", got, most)
	}
}

func TestTokensInUseSurviveEviction(t *testing.T) {
	c := newTokenCache(64) // one shard of 64
	raws := make([]string, 65)
	for i := range raws {
		var tok *verifiedToken
		raws[i], tok = fakeVerified(fmt.Sprint("t", i), nil)
		if i < 64 {
			c.put(raws[i], c.hash(raws[i]), tok, nil, c.generation.Load())
		}
	}
	e := c.get(raws[0], c.hash(raws[0]))
	if e == nil {
		t.Fatal("t0 not cached")
	}
	e.markUsed() // what the handler does for a token still within its dates
	// One more token: the oldest entry not used since goes, not t0.
	_, tok := fakeVerified("t64", nil)
	c.put(raws[64], c.hash(raws[64]), tok, nil, c.generation.Load())
	if c.get(raws[0], c.hash(raws[0])) == nil {
		t.Error("the token in use was evicted")
	}
	if c.get(raws[1], c.hash(raws[1])) != nil {
		t.Error("the oldest unused token was kept")
	}
	if c.len() != 64 {
		t.Errorf("cache holds %d entries, want 64", c.len())
	}
}

func TestCacheUnderConcurrentUse(t *testing.T) {
	h := cachedHandler(t, 200)
	tokens := make([]string, 50)
	for i := range tokens {
		tokens[i] = hsToken(t, claimsFor(fmt.Sprint("user", i), time.Now().Add(time.Hour)))
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				raw := tokens[(g*7+i)%len(tokens)]
				tok, _, rsn := h.verifyToken(context.Background(), raw, time.Now())
				if rsn != reasonAllowed || tok.subject != fmt.Sprint("user", (g*7+i)%len(tokens)) {
					t.Errorf("got %q for %s", rsn, tok.subject)
					return
				}
				if g == 0 && i%100 == 0 {
					h.verifier.keysChanged()
				}
			}
		})
	}
	wg.Wait()
}

func TestCachedClaimHeadersAreNotSharedBetweenRequests(t *testing.T) {
	h := cachedHandler(t, 0)
	raw := hsToken(t, validClaims()) // sub alice
	var got []string
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		got = append(got, r.Header.Get("X-User-Id"))
		// A later handler editing the value in place, as Caddy's header
		// replace does, must not change what the next request gets.
		r.Header["X-User-Id"][0] = "changed"
		return nil
	})
	for range 2 {
		br := newBenchRequest(raw)
		if err := h.ServeHTTP(&br.w, br.prepared(), next); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 2 || got[0] != "alice" || got[1] != "alice" {
		t.Errorf("X-User-Id seen by the next handler: %q, want alice twice", got)
	}
}
