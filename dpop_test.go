package caddyjwt

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestHTUIsComparedAfterNormalisation(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://API.Example.com/orders", "https://api.example.com/orders"},
		{"HTTPS://api.example.com:443/orders?x=1#f", "https://api.example.com/orders"},
		{"http://api.example.com:80", "http://api.example.com/"},
		{"http://api.example.com:8080/a", "http://api.example.com:8080/a"},
		{"https://api.example.com/a%7eb/%2f/%41", "https://api.example.com/a~b/%2F/A"},
		{"https://[::1]:8443/x", "https://[::1]:8443/x"},
	} {
		got, ok := normalizeHTU(tc.in)
		if !ok || got != tc.want {
			t.Errorf("normalizeHTU(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
	for _, bad := range []string{"/orders", "ftp://example.com/x", "https://user@example.com/x", "https:///x", "mailto:a@b", "%zz"} {
		if got, ok := normalizeHTU(bad); ok {
			t.Errorf("normalizeHTU(%q) = %q, accepted", bad, got)
		}
	}
}

func TestNonceOfThePreviousWindowPassesWithTheCurrentOneHandedOut(t *testing.T) {
	n, err := newNonceIssuer(&DPoPNonceConfig{Rotate: caddy.Duration(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	nonce := n.at(now).current
	w := httptest.NewRecorder()
	if rsn := n.check(w, nonce, now); rsn != reasonAllowed || w.Header().Get("DPoP-Nonce") != "" {
		t.Errorf("the current nonce: %v with DPoP-Nonce %q, want it accepted without a new one", rsn, w.Header().Get("DPoP-Nonce"))
	}
	later := now.Add(time.Minute)
	w = httptest.NewRecorder()
	if rsn := n.check(w, nonce, later); rsn != reasonAllowed || w.Header().Get("DPoP-Nonce") != n.at(later).current {
		t.Errorf("a nonce one window old: %v with DPoP-Nonce %q, want it accepted with the current nonce", rsn, w.Header().Get("DPoP-Nonce"))
	}
	w = httptest.NewRecorder()
	if rsn := n.check(w, nonce, now.Add(2*time.Minute)); rsn != reasonDPoPNonceRequired || w.Header().Get("DPoP-Nonce") == "" {
		t.Errorf("a nonce two windows old: %v, want use_dpop_nonce with a fresh one", rsn)
	}
	other, _ := newNonceIssuer(&DPoPNonceConfig{})
	if rsn := other.check(httptest.NewRecorder(), nonce, now); rsn != reasonDPoPNonceRequired {
		t.Error("another key's nonce was accepted")
	}
}

func TestMemoryReplayStoreRefusesWhenFullRatherThanForget(t *testing.T) {
	s := newMemoryReplayStore(replayShards) // one entry per shard
	ctx := context.Background()
	soon := time.Now().Add(time.Hour)
	accepted := 0
	for i := 0; i < 64; i++ {
		first, err := s.firstUse(ctx, "proof-"+string(rune('a'+i)), soon)
		switch {
		case err == nil && first:
			accepted++
		case !errors.Is(err, errReplayStoreFull):
			t.Fatalf("firstUse: %v, %v", first, err)
		}
	}
	if accepted > replayShards || s.len() != accepted {
		t.Errorf("accepted %d proofs into a store of %d (holding %d)", accepted, replayShards, s.len())
	}
	// A proof seen is refused as a replay, whatever the store's fill.
	s2 := newMemoryReplayStore(100)
	if first, _ := s2.firstUse(ctx, "k", soon); !first {
		t.Fatal("a new proof was refused")
	}
	if first, err := s2.firstUse(ctx, "k", soon); first || err != nil {
		t.Errorf("the same proof again: %v, %v; want a replay", first, err)
	}
	// Expired entries make room.
	s3 := newMemoryReplayStore(replayShards)
	past := time.Now().Add(-time.Second)
	for i := 0; i < 64; i++ {
		if _, err := s3.firstUse(ctx, "old-"+string(rune('a'+i)), past); err != nil {
			t.Fatalf("expired entries did not make room: %v", err)
		}
	}
}

func TestTokenBindingIsReadFromCnf(t *testing.T) {
	jkt := strings.Repeat("A", 43)
	for _, tc := range []struct {
		name      string
		claims    map[string]any
		ok, bound bool
	}{
		{"no cnf", map[string]any{}, true, false},
		{"jkt", map[string]any{"cnf": map[string]any{"jkt": jkt}}, true, true},
		{"x5t#S256", map[string]any{"cnf": map[string]any{"x5t#S256": jkt}}, true, false},
		{"cnf a string", map[string]any{"cnf": "x"}, false, false},
		{"jkt a number", map[string]any{"cnf": map[string]any{"jkt": 1}}, false, false},
		{"jkt too short", map[string]any{"cnf": map[string]any{"jkt": "abc"}}, false, false},
		{"only a confirmation method not checked here", map[string]any{"cnf": map[string]any{"jwk": map[string]any{}}}, false, false},
	} {
		claimsJSON, err := json.Marshal(tc.claims)
		if err != nil {
			t.Fatal(err)
		}
		var index [maxIndexedClaims]indexedClaim
		registered, _, rsn := (&verifiedToken{claimsJSON: string(claimsJSON)}).readRegisteredClaims(&index)
		if rsn != reasonAllowed {
			t.Fatalf("%s: claims refused: %s", tc.name, rsn)
		}
		b, ok := readTokenBinding(registered.cnf, "token")
		if ok != tc.ok || (b.keyThumbprint != "") != tc.bound {
			t.Errorf("%s: ok %v bound %v, want %v %v", tc.name, ok, b.keyThumbprint != "", tc.ok, tc.bound)
		}
	}
}

func TestCaddyfileDPoPGrammar(t *testing.T) {
	var h Handler
	err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`jwt {
	dpop required {
		algorithms ES256 EdDSA
		leeway 5s
		max_age 2m
		origin https://api.example.com
		replay redis redis://127.0.0.1:6379 {
			prefix p:
			on_error allow
		}
	}
	dpop_nonce {
		secret {env.NONCE} base64
		rotate 10m
	}
}`))
	if err != nil {
		t.Fatal(err)
	}
	d, n := h.DPoP, h.DPoPNonce
	if d.Mode != "required" || len(d.Algorithms) != 2 || time.Duration(*d.Leeway) != 5*time.Second || time.Duration(d.MaxAge) != 2*time.Minute ||
		d.Origin != "https://api.example.com" || d.Replay.Store != "redis" || d.Replay.Prefix != "p:" || d.Replay.OnError != "allow" {
		t.Errorf("dpop parsed as %+v, replay %+v", d, d.Replay)
	}
	if n.Secret.Value != "{env.NONCE}" || !n.Secret.Base64 || time.Duration(n.Rotate) != 10*time.Minute {
		t.Errorf("dpop_nonce parsed as %+v", n)
	}
	for _, bad := range []string{
		"dpop sometimes", "dpop allowed extra", "dpop {\n\t\treplay disk /x\n\t}", "dpop {\n\t\treplay memory 0\n\t}",
		"dpop {\n\t\treplay memory {\n\t\t\tprefix x\n\t\t}\n\t}", "dpop {\n\t\tcolour blue\n\t}", "dpop_nonce now",
	} {
		var h Handler
		if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("jwt {\n\t" + bad + "\n}")); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}

// JSON configs get the same checks as the Caddyfile, in Provision.
func TestDPoPProvisionRefusesConfigsThatCannotWork(t *testing.T) {
	secret := &SecretKey{Value: strings.Repeat("s", 32)}
	for _, tc := range []struct {
		name string
		h    Handler
		want string
	}{
		{"unknown mode", Handler{DPoP: &DPoPConfig{Mode: "sometimes"}}, "dpop must be off, allowed or required"},
		{"HMAC proofs", Handler{DPoP: &DPoPConfig{Algorithms: []string{"HS256"}}}, "symmetric"},
		{"none", Handler{DPoP: &DPoPConfig{Algorithms: []string{"none"}}}, "never accepted"},
		{"origin with a path", Handler{DPoP: &DPoPConfig{Origin: "https://api.example.com/v1"}}, "dpop origin"},
		{"nonces with DPoP off", Handler{DPoP: &DPoPConfig{Mode: "off"}, DPoPNonce: &DPoPNonceConfig{}}, "dpop_nonce needs"},
		{"short nonce secret", Handler{DPoPNonce: &DPoPNonceConfig{Secret: &SecretKey{Value: "short"}}}, "at least 32"},
		{"unknown replay store", Handler{DPoP: &DPoPConfig{Replay: &DPoPReplayConfig{Store: "disk"}}}, "unknown store"},
		{"redis without URL", Handler{DPoP: &DPoPConfig{Replay: &DPoPReplayConfig{Store: "redis"}}}, "needs a redis:// URL"},
		{"Ed25519 is EdDSA, and RSA is not it", Handler{DPoP: &DPoPConfig{Algorithms: []string{"Ed25519", "RS255"}}}, "unknown algorithm \"RS255\""},
		{"negative max_age", Handler{DPoP: &DPoPConfig{MaxAge: caddy.Duration(-time.Second)}}, "max_age must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h
			h.Secret = secret
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			err := h.Provision(ctx)
			_ = h.Cleanup()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Provision error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// Two requests racing with the same proof: exactly one passes.
func TestMemoryReplayStoreAcceptsAProofOnceUnderConcurrency(t *testing.T) {
	s := newMemoryReplayStore(1000)
	expires := time.Now().Add(time.Minute)
	var wg sync.WaitGroup
	var firsts atomic.Int32
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				if first, err := s.firstUse(context.Background(), "proof-"+strconv.Itoa(j), expires); err == nil && first {
					firsts.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if got := firsts.Load(); got != 20 {
		t.Errorf("%d first uses of 20 proofs sent 32 times each", got)
	}
}
