// Command mint writes the key and tokens bench/load.sh sends: an ES256 key
// pair's public half, one token, 1,000 distinct tokens and one token with
// a bad signature, all typical access tokens valid for two hours.
//
//	go run ./bench/mint <dir>
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
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
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: mint <dir>")
		os.Exit(2)
	}
	if err := mint(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "mint:", err)
		os.Exit(1)
	}
}

func mint(dir string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	tokens := make([]string, 1000)
	for i := range tokens {
		if tokens[i], err = sign(key, i); err != nil {
			return err
		}
	}
	// One signature character changed: right shape, right key, wrong
	// signature, so every request pays a full verification.
	i := strings.LastIndexByte(tokens[0], '.') + 10
	c := "A"
	if tokens[0][i] == 'A' {
		c = "B"
	}
	bad := tokens[0][:i] + c + tokens[0][i+1:]
	for name, content := range map[string]string{
		"token.txt":  tokens[0] + "\n",
		"tokens.txt": strings.Join(tokens, "\n") + "\n",
		"bad.txt":    bad + "\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// sign makes a typical access token, the one the Go benchmarks measure.
func sign(key *ecdsa.PrivateKey, i int) (string, error) {
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims(benchtoken.Claims(i, time.Now(), 2*time.Hour)))
	tok.Header["typ"] = "JWT"
	return tok.SignedString(key)
}
