package integration_test

// Certificate-bound tokens (RFC 8705 §3) through the real Caddy: `tls
// internal` with `client_auth` trusting a CA made here; a token whose cnf
// names the client certificate's SHA-256 thumbprint passes with that
// certificate only, never with another, none, or a forwarded copy.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCA issues client certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "caddy-jwt test client CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key}
}

func (ca *testCA) pemFile(t *testing.T) string {
	return writeFile(t, "client-ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}))
}

// issue makes a client certificate and returns it with its RFC 8705
// thumbprint, what a bound token's cnf.x5t#S256 holds.
func (ca *testCA) issue(t *testing.T, name string) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, b64(sum[:])
}

// tlsClient trusts Caddy's internal CA and presents cert, if any.
func tlsClient(t *testing.T, c *caddyProcess, cert *tls.Certificate) *http.Client {
	t.Helper()
	root, err := os.ReadFile(filepath.Join(c.Dir(), "data", "caddy", "pki", "authorities", "local", "root.crt"))
	if err != nil {
		t.Fatalf("reading Caddy's internal root: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(root)
	cfg := &tls.Config{RootCAs: pool}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

func TestCertificateBoundTokenPassesOnlyWithItsClientCertificate(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	issuer := newKey(t, "ES256")
	up := newUpstream(t)
	jwt := `
	jwt {
		` + issuer.keyDirective(t) + `
		claim_header sub X-User
		client_certificate_header X-Client-Cert
	}
	reverse_proxy ` + up.Addr()
	c := startTLSSite(t, ca, jwt)
	// Plain HTTP, as behind a proxy that terminates TLS: one Caddy trusts
	// the test client as that proxy, the other trusts another network.
	proxied := startCaddy(t, caddyfileFor(jwt, "servers {\n\t\ttrusted_proxies static 127.0.0.1/32\n\t}"))
	untrusted := startCaddy(t, caddyfileFor(jwt, "servers {\n\t\ttrusted_proxies static 10.0.0.0/8\n\t}"))

	cert, thumbprint := ca.issue(t, "orders-service")
	otherCert, _ := ca.issue(t, "another-service")
	token := sign(t, issuer, validClaims("cnf", map[string]any{"x5t#S256": thumbprint}))
	url := strings.Replace(c.URL("/orders"), "http://127.0.0.1", "https://localhost", 1)
	realm := strings.NewReplacer(`realm="127.0.0.1"`, `realm="localhost"`)

	for _, tc := range []struct {
		name        string
		cert        *tls.Certificate
		token       string
		description string
	}{
		{"its certificate", &cert, token, ""},
		{"another certificate", &otherCert, token, "the token is bound to another TLS client certificate"},
		{"no certificate", nil, token, "the token is bound to a TLS client certificate, and none was presented"},
		{"an unbound token with a certificate", &otherCert, sign(t, issuer, validClaims()), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			challenge := "" // passed on
			if tc.description != "" {
				challenge = realm.Replace(invalidToken(tc.description))
			}
			checkOverTLS(t, c, up, url, tc.cert, tc.token, challenge)
		})
	}

	// The certificate a trusted proxy forwards counts, as URL-escaped PEM
	// or base64 DER; from a client that is not a trusted proxy, the same
	// header is ignored.
	pemCert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}))
	otherPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: otherCert.Certificate[0]}))
	for _, tc := range []struct {
		name        string
		c           *caddyProcess
		forwarded   string
		description string
	}{
		{"trusted proxy, escaped PEM", proxied, url2header(pemCert), ""},
		{"trusted proxy, base64 DER", proxied, base64.StdEncoding.EncodeToString(cert.Certificate[0]), ""},
		{"trusted proxy, another certificate", proxied, url2header(otherPEM), "the token is bound to another TLS client certificate"},
		{"trusted proxy, garbage", proxied, "not a certificate", "the token is bound to a TLS client certificate, and none was presented"},
		{"untrusted client", untrusted, url2header(pemCert), "the token is bound to a TLS client certificate, and none was presented"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := bearer(token)
			h.Set("X-Client-Cert", tc.forwarded)
			want := expectation{http.StatusOK, ""}
			if tc.description != "" {
				want = expectation{http.StatusUnauthorized, invalidToken(tc.description)}
			}
			check(t, tc.c, up, http.MethodGet, "/orders", h, want)
		})
	}
}

// startTLSSite starts the site on https://localhost, which asks for a client
// certificate of ca and verifies it if given, with the jwt routes.
func startTLSSite(t *testing.T, ca *testCA, jwt string) *caddyProcess {
	return startCaddy(t, `{
	{{base}}
	skip_install_trust
	auto_https disable_redirects
}

# With client_auth, Caddy requires SNI to match the host, and clients send
# no SNI for an IP address: the site is localhost.
https://localhost:{{http}} {
	tls internal {
		client_auth {
			mode verify_if_given
			trust_pool file `+ca.pemFile(t)+`
		}
	}`+jwt+`
}
`)
}

// checkOverTLS sends token to url over TLS with cert, if any: passed on
// when challenge is empty, else refused with that challenge.
func checkOverTLS(t *testing.T, c *caddyProcess, up *upstream, url string, cert *tls.Certificate, token, challenge string) {
	before := up.Count()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := tlsClient(t, c, cert).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if challenge == "" {
		if resp.StatusCode != http.StatusOK || up.Count() != before+1 {
			t.Fatalf("status %d (%q), want 200 and the upstream reached", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		return
	}
	if got := resp.Header.Values("WWW-Authenticate"); resp.StatusCode != http.StatusUnauthorized || len(got) != 1 || got[0] != challenge {
		t.Errorf("status %d, WWW-Authenticate %q; want 401 %q", resp.StatusCode, got, challenge)
	}
	if up.Count() != before {
		t.Error("a refused request reached the upstream")
	}
}

// url2header puts a PEM certificate on one header line, as proxies that
// forward certificates do (URL-escaped newlines).
func url2header(pemText string) string {
	out := make([]byte, 0, len(pemText))
	for i := 0; i < len(pemText); i++ {
		if pemText[i] == '\n' {
			out = append(out, "%0A"...)
			continue
		}
		out = append(out, pemText[i])
	}
	return string(out)
}
