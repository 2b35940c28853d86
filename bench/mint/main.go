// Command mint writes the key and tokens bench/load.sh sends: an ES256 key
// pair's public half, one token, 1,000 distinct tokens, one token with a
// bad signature and 1,000 distinct ones (forged.txt), all typical access
// tokens valid for two hours.
//
//	go run ./bench/mint <dir>
//
// With algorithms named (ES256, RS256, HS256), it writes the same for each
// into <dir>/<alg>/, as bench/cpu.sh sends them: key.pem (the public key)
// or, for HS256, secret.txt.
//
//	go run ./bench/mint <dir> ES256 RS256 HS256
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/jwtgate/caddy-jwt/internal/benchtoken"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: mint <dir> [ES256|RS256|HS256...]")
		os.Exit(2)
	}
	dir, algs := os.Args[1], os.Args[2:]
	if len(algs) == 0 {
		if err := mint(dir, "ES256"); err != nil {
			fmt.Fprintln(os.Stderr, "mint:", err)
			os.Exit(1)
		}
		return
	}
	for _, alg := range algs {
		sub := filepath.Join(dir, alg)
		if err := os.MkdirAll(sub, 0o700); err != nil {
			fmt.Fprintln(os.Stderr, "mint:", err)
			os.Exit(1)
		}
		if err := mint(sub, alg); err != nil {
			fmt.Fprintln(os.Stderr, "mint:", alg+":", err)
			os.Exit(1)
		}
	}
}

// signer makes a key for alg, writes what verifies it into dir and
// returns the signing method and key.
func signer(dir, alg string) (jwt.SigningMethod, any, error) {
	var pub any
	var method jwt.SigningMethod
	var key any
	switch alg {
	case "ES256":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		method, key, pub = jwt.SigningMethodES256, k, &k.PublicKey
	case "RS256":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, nil, err
		}
		method, key, pub = jwt.SigningMethodRS256, k, &k.PublicKey
	case "HS256":
		secret := make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, nil, err
		}
		text := fmt.Sprintf("%x", secret)
		return jwt.SigningMethodHS256, []byte(text), os.WriteFile(filepath.Join(dir, "secret.txt"), []byte(text+"\n"), 0o600)
	default:
		return nil, nil, fmt.Errorf("unknown algorithm %q", alg)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, nil, err
	}
	return method, key, os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600)
}

func mint(dir, alg string) error {
	method, key, err := signer(dir, alg)
	if err != nil {
		return err
	}
	tokens := make([]string, 1000)
	for i := range tokens {
		if tokens[i], err = sign(method, key, i); err != nil {
			return err
		}
	}
	// One signature character changed: right shape, right key, wrong
	// signature. forged.txt holds 1,000 such tokens, all different.
	forged := make([]string, len(tokens))
	for i, tok := range tokens {
		forged[i] = corruptSignature(tok)
	}
	for name, content := range map[string]string{
		"token.txt":  tokens[0] + "\n",
		"tokens.txt": strings.Join(tokens, "\n") + "\n",
		"bad.txt":    forged[0] + "\n",
		"forged.txt": strings.Join(forged, "\n") + "\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return err
		}
	}
	return nil
}

func corruptSignature(tok string) string {
	i := strings.LastIndexByte(tok, '.') + 10
	c := "A"
	if tok[i] == 'A' {
		c = "B"
	}
	return tok[:i] + c + tok[i+1:]
}

// sign makes a typical access token, the one the Go benchmarks measure.
func sign(method jwt.SigningMethod, key any, i int) (string, error) {
	tok := jwt.NewWithClaims(method, jwt.MapClaims(benchtoken.Claims(i, time.Now(), 2*time.Hour)))
	tok.Header["typ"] = "JWT"
	return tok.SignedString(key)
}
