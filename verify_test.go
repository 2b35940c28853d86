package caddyjwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/golang-jwt/jwt/v5"
)

const testSecret = "an-hmac-secret-of-at-least-32-bytes!"

// provisionForTest provisions h the way Caddy would and cleans it up after.
func provisionForTest(t testing.TB, h *Handler) error {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(func() { _ = h.Cleanup(); cancel() })
	if err := h.Provision(ctx); err != nil {
		return err
	}
	return h.Validate()
}

func mustProvision(t testing.TB, h *Handler) *Handler {
	t.Helper()
	if err := provisionForTest(t, h); err != nil {
		t.Fatalf("provision: %v", err)
	}
	return h
}

// writePublicKeyPEM writes pub as a PKIX PEM file and returns its path.
func writePublicKeyPEM(t testing.TB, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func sign(t testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validClaims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"sub": "alice", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
}

// rawToken builds a token from arbitrary header and claims JSON and a
// signature, for shapes no library would produce.
func rawToken(header, claims string, sig []byte) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims)) + "." + enc.EncodeToString(sig)
}

func TestVerifyRegisteredClaims(t *testing.T) {
	h := mustProvision(t, &Handler{KeySources: KeySources{Secret: &SecretKey{Value: testSecret}}})
	key := []byte(testSecret)
	now := time.Now()
	tests := []struct {
		name   string
		claims jwt.MapClaims
		want   reason
	}{
		{"valid token passes", validClaims(), reasonAllowed},
		{"missing exp is refused", jwt.MapClaims{"sub": "a"}, reasonNoExpiry},
		{"exp of zero is long expired", jwt.MapClaims{"exp": 0}, reasonExpired},
		{"expired beyond leeway", jwt.MapClaims{"exp": now.Add(-time.Minute).Unix()}, reasonExpired},
		{"expired within leeway passes", jwt.MapClaims{"exp": now.Add(-10 * time.Second).Unix()}, reasonAllowed},
		{"nbf in the future", jwt.MapClaims{"exp": now.Add(time.Hour).Unix(), "nbf": now.Add(time.Minute).Unix()}, reasonNotYetValid},
		{"iat in the future", jwt.MapClaims{"exp": now.Add(time.Hour).Unix(), "iat": now.Add(time.Minute).Unix()}, reasonIssuedInFuture},
		{"exp as a string", jwt.MapClaims{"exp": "tomorrow"}, reasonBadClaims},
		{"sub as a number", jwt.MapClaims{"exp": now.Add(time.Hour).Unix(), "sub": 42}, reasonBadClaims},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := h.verifier.verify(context.Background(), sign(t, jwt.SigningMethodHS256, key, tt.claims, nil), time.Now())
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestVerifyRefusesAlgorithmConfusion(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemPath := writePublicKeyPEM(t, &rsaKey.PublicKey)
	pemBytes, _ := os.ReadFile(pemPath)
	h := mustProvision(t, &Handler{KeySources: KeySources{PublicKeys: []*PublicKeyFile{{Path: pemPath}}}})

	// The classic attack: sign HS256 with the RSA public key as the secret.
	forged := sign(t, jwt.SigningMethodHS256, pemBytes, validClaims(), nil)
	if _, got := h.verifier.verify(context.Background(), forged, time.Now()); got != reasonBadAlgorithm {
		t.Errorf("HS256 signed with the public key: got %q, want %q", got, reasonBadAlgorithm)
	}
	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		tok := rawToken(`{"alg":"`+alg+`"}`, `{"exp":9999999999}`, nil)
		if _, got := h.verifier.verify(context.Background(), tok+"x", time.Now()); got != reasonBadAlgorithm {
			t.Errorf("alg %s: got %q", alg, got)
		}
	}
	good := sign(t, jwt.SigningMethodRS256, rsaKey, validClaims(), nil)
	if _, got := h.verifier.verify(context.Background(), good, time.Now()); got != reasonAllowed {
		t.Errorf("RS256 with the configured key: got %q", got)
	}
}

func TestSecretNeverVerifiesAsymmetricTokensWhenBothConfigured(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	h := mustProvision(t, &Handler{KeySources: KeySources{
		Secret:     &SecretKey{Value: testSecret},
		PublicKeys: []*PublicKeyFile{{Path: writePublicKeyPEM(t, &ecKey.PublicKey)}},
	}})
	if got := h.verifier.algorithms.String(); got != "HS256,ES256" {
		t.Errorf("default allowlist = %s, want HS256,ES256 (what the keys can verify)", got)
	}
	hs := sign(t, jwt.SigningMethodHS256, []byte(testSecret), validClaims(), nil)
	es := sign(t, jwt.SigningMethodES256, ecKey, validClaims(), nil)
	for name, tok := range map[string]string{"HS256": hs, "ES256": es} {
		if _, got := h.verifier.verify(context.Background(), tok, time.Now()); got != reasonAllowed {
			t.Errorf("%s: got %q", name, got)
		}
	}
	// ES384 is not offered by a P-256 key, even though it is ECDSA.
	es384Key, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, got := h.verifier.verify(context.Background(), sign(t, jwt.SigningMethodES384, es384Key, validClaims(), nil), time.Now()); got != reasonBadAlgorithm {
		t.Errorf("ES384: got %q, want %q", got, reasonBadAlgorithm)
	}
}

func TestKeyIDSelectsTheKey(t *testing.T) {
	keyA, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keyB, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	h := mustProvision(t, &Handler{KeySources: KeySources{PublicKeys: []*PublicKeyFile{
		{Path: writePublicKeyPEM(t, &keyA.PublicKey), KeyID: "a"},
		{Path: writePublicKeyPEM(t, &keyB.PublicKey), KeyID: "b"},
	}}})
	tests := []struct {
		name string
		key  *ecdsa.PrivateKey
		kid  any
		want reason
	}{
		{"kid b signed by b", keyB, "b", reasonAllowed},
		{"kid a signed by b is not tried with b", keyB, "a", reasonBadSignature},
		{"unknown kid", keyA, "c", reasonUnknownKey},
		{"path traversal kid", keyA, "../../etc/passwd", reasonUnknownKey},
		{"no kid tries the keys in config order", keyB, nil, reasonAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := map[string]any{}
			if tt.kid != nil {
				header["kid"] = tt.kid
			}
			_, got := h.verifier.verify(context.Background(), sign(t, jwt.SigningMethodES256, tt.key, validClaims(), header), time.Now())
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestKeyWithoutKIDVerifiesTokensWithoutKID(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	h := mustProvision(t, &Handler{KeySources: KeySources{PublicKeys: []*PublicKeyFile{{Path: writePublicKeyPEM(t, &key.PublicKey)}}}})
	for _, header := range []map[string]any{nil, {"kid": "whatever-the-issuer-calls-it"}} {
		if _, got := h.verifier.verify(context.Background(), sign(t, jwt.SigningMethodES256, key, validClaims(), header), time.Now()); got != reasonAllowed {
			t.Errorf("header %v: got %q", header, got)
		}
	}
}

func TestIssuerKeysAreIsolated(t *testing.T) {
	keyA, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keyB, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	h := mustProvision(t, &Handler{Issuers: []*Issuer{
		{Issuer: "https://a.example", KeySources: KeySources{PublicKeys: []*PublicKeyFile{{Path: writePublicKeyPEM(t, &keyA.PublicKey)}}}},
		{Issuer: "https://b.example", KeySources: KeySources{PublicKeys: []*PublicKeyFile{{Path: writePublicKeyPEM(t, &keyB.PublicKey)}}}, Audience: []string{"api-b"}},
	}})
	claims := func(iss string, extra jwt.MapClaims) jwt.MapClaims {
		c := validClaims()
		c["iss"] = iss
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	tests := []struct {
		name string
		tok  string
		want reason
	}{
		{"issuer A with A's key", sign(t, jwt.SigningMethodES256, keyA, claims("https://a.example", nil), nil), reasonAllowed},
		{"issuer A claimed, signed with B's key", sign(t, jwt.SigningMethodES256, keyB, claims("https://a.example", nil), nil), reasonBadSignature},
		{"issuer B needs its audience", sign(t, jwt.SigningMethodES256, keyB, claims("https://b.example", nil), nil), reasonBadAudience},
		{"issuer B with its audience in an array", sign(t, jwt.SigningMethodES256, keyB, claims("https://b.example", jwt.MapClaims{"aud": []string{"x", "api-b"}}), nil), reasonAllowed},
		{"unknown issuer", sign(t, jwt.SigningMethodES256, keyA, claims("https://c.example", nil), nil), reasonBadIssuer},
		{"no issuer", sign(t, jwt.SigningMethodES256, keyA, validClaims(), nil), reasonBadIssuer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, got := h.verifier.verify(context.Background(), tt.tok, time.Now()); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHeaderChecks(t *testing.T) {
	h := mustProvision(t, &Handler{
		KeySources:  KeySources{Secret: &SecretKey{Value: testSecret}},
		TokenType:   []string{"at+jwt"},
		MaxLifetime: caddy.Duration(time.Hour),
	})
	key := []byte(testSecret)
	now := time.Now()
	long := jwt.MapClaims{"iat": now.Unix(), "exp": now.Add(2 * time.Hour).Unix()}
	tests := []struct {
		name string
		tok  string
		want reason
	}{
		{"typ at+jwt", sign(t, jwt.SigningMethodHS256, key, validClaims(), map[string]any{"typ": "at+jwt"}), reasonAllowed},
		{"typ with application/ prefix", sign(t, jwt.SigningMethodHS256, key, validClaims(), map[string]any{"typ": "application/AT+JWT"}), reasonAllowed},
		{"typ JWT refused", sign(t, jwt.SigningMethodHS256, key, validClaims(), nil), reasonBadType},
		{"critical extension refused", sign(t, jwt.SigningMethodHS256, key, validClaims(), map[string]any{"typ": "at+jwt", "crit": []string{"exp"}}), reasonMalformed},
		{"lifetime over max_lifetime", sign(t, jwt.SigningMethodHS256, key, long, map[string]any{"typ": "at+jwt"}), reasonLifetimeTooLong},
		{"no iat under max_lifetime", sign(t, jwt.SigningMethodHS256, key, jwt.MapClaims{"exp": now.Add(time.Minute).Unix()}, map[string]any{"typ": "at+jwt"}), reasonNoIssuedAt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, got := h.verifier.verify(context.Background(), tt.tok, time.Now()); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMalformedTokens(t *testing.T) {
	h := mustProvision(t, &Handler{KeySources: KeySources{Secret: &SecretKey{Value: testSecret}}, MaxTokenSize: 512})
	valid := sign(t, jwt.SigningMethodHS256, []byte(testSecret), validClaims(), nil)
	parts := strings.Split(valid, ".")
	tests := map[string]struct {
		tok  string
		want reason
	}{
		"two segments":             {parts[0] + "." + parts[1], reasonMalformed},
		"empty signature":          {parts[0] + "." + parts[1] + ".", reasonMalformed},
		"five segments (JWE)":      {valid + ".a.b", reasonMalformed},
		"padding":                  {parts[0] + "=." + parts[1] + "." + parts[2], reasonMalformed},
		"standard base64 alphabet": {parts[0] + "." + parts[1] + "+/." + parts[2], reasonMalformed},
		"header is not JSON":       {base64.RawURLEncoding.EncodeToString([]byte("nope")) + "." + parts[1] + "." + parts[2], reasonMalformed},
		"claims are an array":      {rawToken(`{"alg":"HS256"}`, `[1,2]`, []byte("x")), reasonMalformed},
		"trailing JSON":            {rawToken(`{"alg":"HS256"}{}`, `{}`, []byte("x")), reasonMalformed},
		"too large":                {strings.Repeat("a", 513), reasonTooLarge},
		"tampered payload":         {parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin","exp":9999999999}`)) + "." + parts[2], reasonBadSignature},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if _, got := h.verifier.verify(context.Background(), tt.tok, time.Now()); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestProvisionRefusesUnsafeConfig(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	smallRSA, _ := rsa.GenerateKey(rand.Reader, 1024)
	privDER, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	privPath := filepath.Join(t.TempDir(), "private.pem")
	_ = os.WriteFile(privPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), 0o600)
	// What ssh-keygen writes as <name>.pub.
	sshPubPath := filepath.Join(t.TempDir(), "jwtRS256.key.pub")
	_ = os.WriteFile(sshPubPath, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHX5Iuj4hvaBqsXcJDhp8QMBcx7uRx1AUmaDJYEG0PnO user@host\n"), 0o644)
	tests := []struct {
		name    string
		h       Handler
		wantErr string
	}{
		{"no keys", Handler{}, "no keys configured"},
		{"short secret", Handler{KeySources: KeySources{Secret: &SecretKey{Value: "short"}}}, "secret is 5 bytes; HS256 needs at least 32"},
		{"secret from unset variable", Handler{KeySources: KeySources{Secret: &SecretKey{Value: "{env.CADDY_JWT_TEST_UNSET}"}}}, "secret"},
		{"HS512 asked for with a 32-byte secret", Handler{KeySources: KeySources{Secret: &SecretKey{Value: testSecret}}, Algorithms: []string{"HS512"}}, "HS512 needs at least 64"},
		{"none in algorithms", Handler{KeySources: KeySources{Secret: &SecretKey{Value: testSecret}}, Algorithms: []string{"HS256", "none"}}, "never accepted"},
		{"HMAC listed with only asymmetric keys", Handler{KeySources: KeySources{PublicKeys: []*PublicKeyFile{{Path: writePublicKeyPEM(t, &rsaKey.PublicKey)}}}, Algorithms: []string{"RS256", "HS256"}}, "no configured key can verify it"},
		{"secret with only asymmetric algorithms", Handler{KeySources: KeySources{Secret: &SecretKey{Value: testSecret}}, Algorithms: []string{"RS256"}}, "has no HS256"},
		{"private key as public_key", Handler{KeySources: KeySources{PublicKeys: []*PublicKeyFile{{Path: privPath}}}}, "give the public key instead"},
		{"OpenSSH public key as public_key", Handler{KeySources: KeySources{PublicKeys: []*PublicKeyFile{{Path: sshPubPath}}}}, "OpenSSH public key, not PEM; convert it with `ssh-keygen -e -m PKCS8"},
		{"RSA below 2048 bits", Handler{KeySources: KeySources{PublicKeys: []*PublicKeyFile{{Path: writePublicKeyPEM(t, &smallRSA.PublicKey)}}}}, "at least 2048"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := provisionForTest(t, &tt.h)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestSecretFromEnvAndBase64(t *testing.T) {
	raw := []byte(strings.Repeat("k", 48))
	t.Setenv("CADDY_JWT_TEST_SECRET", base64.StdEncoding.EncodeToString(raw))
	h := mustProvision(t, &Handler{KeySources: KeySources{Secret: &SecretKey{Value: "{env.CADDY_JWT_TEST_SECRET}", Base64: true}}})
	if got := h.verifier.algorithms.String(); got != "HS256,HS384" {
		t.Errorf("a 48-byte secret offers %s, want HS256,HS384", got)
	}
	if _, got := h.verifier.verify(context.Background(), sign(t, jwt.SigningMethodHS384, raw, validClaims(), nil), time.Now()); got != reasonAllowed {
		t.Errorf("HS384 with the decoded secret: got %q", got)
	}
}

func TestClaimNumbersKeepTheirText(t *testing.T) {
	h := mustProvision(t, &Handler{KeySources: KeySources{Secret: &SecretKey{Value: testSecret}}})
	c := validClaims()
	c["big"] = json.Number("12345678901234567890")
	tok, rsn := h.verifier.verify(context.Background(), sign(t, jwt.SigningMethodHS256, []byte(testSecret), c, nil), time.Now())
	if rsn != reasonAllowed {
		t.Fatal(rsn)
	}
	if got := formatClaim(tok.decodedClaims()["big"]); got != "12345678901234567890" {
		t.Errorf("big number formatted as %q", got)
	}
}
func TestHeaderMembersAreReadExactly(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	tests := []struct {
		name, header string
		ok           bool
		alg, kid     string
	}{
		{"plain", `{"alg":"ES256","kid":"k1","typ":"JWT"}`, true, "ES256", "k1"},
		{"names are case-sensitive", `{"ALG":"none","alg":"ES256"}`, true, "ES256", ""},
		{"alg named twice", `{"alg":"ES256","alg":"none"}`, false, "", ""},
		{"crit in any form", `{"alg":"ES256","crit":null}`, false, "", ""},
		{"kid must be a string", `{"alg":"ES256","kid":7}`, false, "", ""},
		{"trailing data", `{"alg":"ES256"}{}`, false, "", ""},
		{"escaped name", `{"\u0061lg":"ES256"}`, true, "ES256", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, ok := decodeHeader(enc([]byte(tt.header)))
			if ok != tt.ok || ok && (h.alg != tt.alg || h.kid != tt.kid) {
				t.Errorf("got %+v %v", h, ok)
			}
		})
	}
}

func TestSignatureWithLineBreakIsMalformed(t *testing.T) {
	h := cachedHandler(t, -1)
	raw := hsToken(t, validClaims())
	i := strings.LastIndexByte(raw, '.') + 5
	if _, rsn := h.verifier.verify(t.Context(), raw[:i]+"\n"+raw[i:], time.Now()); rsn != reasonMalformed {
		t.Errorf("got %q, want %q", rsn, reasonMalformed)
	}
}
