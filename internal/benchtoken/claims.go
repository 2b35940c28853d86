// Package benchtoken holds the claims of the typical access token that the
// Go benchmarks and bench/load.sh (through bench/mint) both measure, so
// that the two kinds of numbers are about the same token.
package benchtoken

import (
	"fmt"
	"time"
)

// Claims are the claims of a typical access token from an identity
// provider: registered claims, a scope, a couple of profile claims and
// roles. i makes sub, jti and email distinct; the token is valid from now
// for lifetime.
func Claims(i int, now time.Time, lifetime time.Duration) map[string]any {
	return map[string]any{
		"iss":   "https://id.example.com/",
		"sub":   fmt.Sprintf("user-%06d", i),
		"aud":   []string{"api.example.com"},
		"exp":   now.Add(lifetime).Unix(),
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"jti":   fmt.Sprintf("c8f1d2a4-%08x-4e5b-9a3c-5d6e7f809a1b", i),
		"scope": "openid profile email orders:read orders:write",
		"email": fmt.Sprintf("user%d@example.com", i),
		"name":  "Ada Lovelace",
		"roles": []string{"user", "billing"},
	}
}
