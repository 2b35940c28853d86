package caddyjwt

import (
	"errors"
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2"
)

// Config values that name secrets or places (a secret, a store's URL or
// path, a DPoP nonce secret) may hold {env.*} and {file.*} placeholders,
// resolved once when the config loads, here and nowhere else. Unlike
// Caddy's ReplaceAll, an unset variable or a file that cannot be read is
// an error: an empty secret, or a store at "", is never what was meant.

// resolvePlaceholders resolves every placeholder of a config value; an
// unknown one is an error too.
func resolvePlaceholders(value string) (string, error) {
	return caddy.NewReplacer().ReplaceOrErr(value, true, true)
}

// resolveLoadPlaceholders resolves the {env.*} and {file.*} placeholders of
// a value that also holds placeholders filled per request, such as the
// http store's `{http.auth.jwt.sub}`, and leaves those as they are.
func resolveLoadPlaceholders(value string) (string, error) {
	global := caddy.NewReplacer()
	atLoad := caddy.NewEmptyReplacer()
	atLoad.Map(func(key string) (any, bool) {
		if strings.HasPrefix(key, "env.") || strings.HasPrefix(key, "file.") {
			return global.Get(key)
		}
		return nil, false
	})
	return atLoad.ReplaceFunc(value, func(variable string, val any) (any, error) {
		if !strings.HasPrefix(variable, "env.") && !strings.HasPrefix(variable, "file.") {
			// Filled per request: kept, braces and all.
			return "{" + variable + "}", nil
		}
		if val == nil || fmt.Sprint(val) == "" {
			return nil, fmt.Errorf("placeholder {%s} is empty", variable)
		}
		return val, nil
	})
}

// secretBytes resolves a secret's placeholders and decodes it, for `secret`
// and `dpop_nonce { secret }` alike. Errors name the placeholder, never
// the secret.
func secretBytes(cfg *SecretKey) ([]byte, error) {
	if cfg.Value == "" {
		return nil, errors.New("is empty")
	}
	resolved, err := resolvePlaceholders(cfg.Value)
	if err != nil {
		return nil, err
	}
	// Files and env vars commonly end with a newline nobody meant as key
	// material.
	resolved = strings.TrimRight(resolved, "\r\n")
	if !cfg.Base64 {
		return []byte(resolved), nil
	}
	key, err := decodeBase64Secret(resolved)
	if err != nil {
		return nil, errors.New("is not valid base64 (standard or URL alphabet)")
	}
	return key, nil
}
