package integration_test

// The redis store over TLS with a private CA, and with mutual TLS: the CA,
// the server's and the client's certificates are made by the test.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisTestCA is a certificate authority made for one test.
type redisTestCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newRedisTestCA(t testing.TB, name string) *redisTestCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &redisTestCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue makes a certificate for dnsName (server) or a client certificate,
// and returns the paths of its PEM certificate and key.
func (ca *redisTestCA) issue(t testing.TB, dnsName string, client bool) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	usage := x509.ExtKeyUsageServerAuth
	if client {
		usage = x509.ExtKeyUsageClientAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: dnsName},
		DNSNames:     []string{dnsName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath = writeFile(t, dnsName+".crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	keyPath = writeFile(t, dnsName+".key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	return certPath, keyPath
}

// TestRedisOverTLSWithAPrivateCAAndClientCertificates: a TLS-only Redis
// that requires client certificates. With the right CA, client certificate
// and server name, revocations written with `caddy jwt revoke` over the
// same TLS are honoured; with a wrong CA, or without a client certificate,
// every request fails closed (503) and the log says why.
func TestRedisOverTLSWithAPrivateCAAndClientCertificates(t *testing.T) {
	t.Parallel()
	requireCaddy(t)
	ca := newRedisTestCA(t, "fleet test CA")
	r := startTLSRedis(t, ca)
	caPath, clientCert, clientKey := r.caPath, r.clientCert, r.clientKey
	wrongCAPath := writeFile(t, "wrong-ca.pem", newRedisTestCA(t, "some other CA").pem)

	key := newKey(t, "ES256")
	up := newUpstream(t)
	loc := "rediss://127.0.0.1:" + strconv.Itoa(r.port)
	c := startRedisTLSSite(t, key, up, r, wrongCAPath)
	// Turning verification off works, and is said loudly.
	waitForLog(t, c, `"level":"error"`, "certificate verification is OFF")
	check(t, c, up, http.MethodGet, "/skip-verify", bearer(sign(t, key, validClaims("sub", "tls-user", "jti", "tls-0"))), accepted)

	tok := sign(t, key, validClaims("sub", "tls-user", "jti", "tls-1"))
	check(t, c, up, http.MethodGet, "/good", bearer(tok), accepted)
	revokeCLI(t, "--store", "redis", "--location", loc, "--tls-ca", caPath, "--tls-client-cert", clientCert,
		"--tls-client-key", clientKey, "--tls-server-name", "redis.test",
		"--jti", "tls-1", "--exp", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
	waitFor(t, "the revoked token refused over TLS", func() bool {
		return get(t, c.URL("/good"), bearer(tok)).StatusCode == http.StatusUnauthorized
	})
	check(t, c, up, http.MethodGet, "/good", bearer(tok), expectation{status: http.StatusUnauthorized, challenge: invalidToken(revokedDescription)})

	fine := sign(t, key, validClaims("sub", "tls-user", "jti", "tls-2"))
	for _, path := range []string{"/wrong-ca", "/no-client-cert"} {
		resp := check(t, c, up, http.MethodGet, path, bearer(fine), expectation{status: http.StatusServiceUnavailable})
		if resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s: 503 without Retry-After", path)
		}
	}
	waitFor(t, "a log line naming the unknown CA", func() bool {
		for _, line := range strings.Split(c.Logs(), "\n") {
			if strings.Contains(line, "revocation store unavailable; request refused") &&
				strings.Contains(line, "certificate signed by unknown authority") {
				return true
			}
		}
		return false
	})
	if strings.Contains(c.Logs(), "tls-test-password") {
		t.Error("the log shows the password of a redis location")
	}
}

// redisTLSServer is a redis-server that speaks only TLS and requires a
// client certificate of the test CA, with the files a client needs.
type redisTLSServer struct {
	port                          int
	caPath, clientCert, clientKey string
}

// startTLSRedis starts a redis-server on TLS only, with a certificate of ca
// that names redis.test, requiring client certificates of ca.
func startTLSRedis(t *testing.T, ca *redisTestCA) redisTLSServer {
	server := redisTool(t, "redis-server")
	caPath := writeFile(t, "ca.pem", ca.pem)
	// The server's certificate names redis.test, not 127.0.0.1: the
	// client must be told the server name.
	serverCert, serverKey := ca.issue(t, "redis.test", false)
	clientCert, clientKey := ca.issue(t, "caddy-client", true)

	port := freePort(t)
	pair, err := tls.LoadX509KeyPair(clientCert, clientKey)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	ping := func() error {
		c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), DisableIdentity: true, MaxRetries: -1,
			TLSConfig: &tls.Config{RootCAs: roots, ServerName: "redis.test", Certificates: []tls.Certificate{pair}}})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return c.Ping(ctx).Err()
	}
	startRedisNode(t, server, 0, []string{
		"tls-port " + strconv.Itoa(port), "tls-cert-file " + serverCert, "tls-key-file " + serverKey,
		"tls-ca-cert-file " + caPath, "tls-auth-clients yes",
	}, ping)
	return redisTLSServer{port: port, caPath: caPath, clientCert: clientCert, clientKey: clientKey}
}

// startRedisTLSSite starts a site with one route per way of reaching r:
// verified with a client certificate, with the wrong CA, without a client
// certificate, and without verification.
func startRedisTLSSite(t *testing.T, key *testKey, up *upstream, r redisTLSServer, wrongCAPath string) *caddyProcess {
	port, caPath, clientCert, clientKey := r.port, r.caPath, r.clientCert, r.clientKey
	loc := "rediss://127.0.0.1:" + strconv.Itoa(port)
	route := func(path, tlsLines string) string {
		loc := loc
		if path == "/wrong-ca" {
			// A password, which no log line may show.
			loc = "rediss://:tls-test-password@127.0.0.1:" + strconv.Itoa(port)
		}
		return fmt.Sprintf(`	handle %s {
		jwt {
			%s
			revocation redis %s {
				cache 50ms
				%s
			}
		}
		reverse_proxy %s
	}
`, path, key.keyDirective(t), loc, tlsLines, up.Addr())
	}
	return startCaddy(t, caddyfileFor(
		route("/good", fmt.Sprintf("tls_ca %s\n\t\t\t\ttls_client_auth %s %s\n\t\t\t\ttls_server_name redis.test", caPath, clientCert, clientKey))+
			route("/wrong-ca", fmt.Sprintf("tls_ca %s\n\t\t\t\ttls_client_auth %s %s\n\t\t\t\ttls_server_name redis.test", wrongCAPath, clientCert, clientKey))+
			route("/no-client-cert", fmt.Sprintf("tls_ca %s\n\t\t\t\ttls_server_name redis.test", caPath))+
			route("/skip-verify", fmt.Sprintf("tls_insecure_skip_verify\n\t\t\t\ttls_client_auth %s %s", clientCert, clientKey))))
}
