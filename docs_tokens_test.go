package caddyjwt

import (
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// compactJWT matches a whole compact JWS as docs write one: three
// base64url segments, the header starting with `{"` encoded (eyJ).
var compactJWT = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)

// demoSecret matches the public default of an example's secret,
// `{$JWT_SECRET:<default>}`.
var demoSecret = regexp.MustCompile(`\{\$JWT_SECRET:([^}]+)\}`)

// TestTokensInTheDocsAreDemoTokens: a token pasted into the docs is read
// by everyone, so every whole token in the repository's Markdown must be
// signed with one of the public demo secrets the examples ship (a real
// token, or one signed with a real key, fails here).
func TestTokensInTheDocsAreDemoTokens(t *testing.T) {
	var secrets [][]byte
	var docs []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // a temporary file of another test, gone meanwhile
		}
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == ".git") {
			return filepath.SkipDir
		}
		switch {
		case strings.HasPrefix(path, "examples"+string(filepath.Separator)) && strings.HasPrefix(d.Name(), "Caddyfile"):
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range demoSecret.FindAllSubmatch(data, -1) {
				secrets = append(secrets, m[1])
			}
		case strings.HasSuffix(path, ".md"):
			docs = append(docs, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(secrets) == 0 {
		t.Fatal("no demo secret found in examples/*/Caddyfile")
	}
	found := 0
	for _, path := range docs {
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, token := range compactJWT.FindAllString(string(data), -1) {
			found++
			if !signedWithOneOf(token, secrets) {
				t.Errorf("%s holds a token that no public demo secret of the examples signed: %.20s…", path, token)
			}
		}
	}
	if found == 0 {
		t.Fatal("no token found in the docs: the pattern no longer matches the demo tokens")
	}
}

func signedWithOneOf(token string, secrets [][]byte) bool {
	dot := strings.LastIndexByte(token, '.')
	signingInput, sig := token[:dot], token[dot+1:]
	for _, secret := range secrets {
		if base64.RawURLEncoding.EncodeToString(hmacSigner(secret)(signingInput)) == sig {
			return true
		}
	}
	return false
}
