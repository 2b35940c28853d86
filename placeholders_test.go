package caddyjwt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigPlaceholdersResolveAtLoadAndRefuseWhatIsUnset(t *testing.T) {
	t.Setenv("JWT_TEST_HOST", "auth.internal")
	t.Setenv("JWT_TEST_EMPTY", "")
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, []byte("from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	got, err := resolveLoadPlaceholders("https://{env.JWT_TEST_HOST}/users/{http.auth.jwt.sub}/tokens/{http.auth.jwt.jti}")
	if err != nil || got != "https://auth.internal/users/{http.auth.jwt.sub}/tokens/{http.auth.jwt.jti}" {
		t.Errorf("a URL with load and request placeholders: %q, %v", got, err)
	}
	for _, value := range []string{"https://{env.JWT_TEST_UNSET}/x", "https://{env.JWT_TEST_EMPTY}/x", "{file." + filepath.Join(dir, "missing") + "}"} {
		if got, err := resolveLoadPlaceholders(value); err == nil {
			t.Errorf("%s resolved to %q; want an error", value, got)
		}
		if got, err := resolvePlaceholders(value); err == nil {
			t.Errorf("%s resolved to %q; want an error", value, got)
		}
	}
	if _, err := resolvePlaceholders("redis://{http.auth.jwt.sub}"); err == nil {
		t.Error("a request placeholder in a value resolved at load was accepted")
	}

	key, err := secretBytes(&SecretKey{Value: "{file." + file + "}"})
	if err != nil || string(key) != "from-a-file" {
		t.Errorf("secret from a file: %q, %v; want its content without the newline", key, err)
	}
	if _, err := secretBytes(&SecretKey{Value: "{env.JWT_TEST_UNSET}"}); err == nil || !strings.Contains(err.Error(), "JWT_TEST_UNSET") {
		t.Errorf("an unset secret variable: %v; want an error naming it", err)
	}
}
