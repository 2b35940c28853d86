package integration_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestCaddyJWTMistakesGetOnePlainErrorLineAndExitNonZero: every mistake a
// user can make with `caddy jwt` exits non-zero with one plain-text
// "Error: …" line on standard error that says what to do: no JSON log
// lines, no usage dump, no library noise (a stopped Redis made go-redis
// print its dial errors first).
func TestCaddyJWTMistakesGetOnePlainErrorLineAndExitNonZero(t *testing.T) {
	t.Parallel()
	requireCaddy(t)
	dir := t.TempDir()
	mustCaddyJWT(t, "keygen", "--alg", "ES256", "--out-dir", dir)
	priv := filepath.Join(dir, "es256.key.pem")
	stoppedRedis := "redis://127.0.0.1:" + strconv.Itoa(freePort(t)) + "/0"
	revocations := filepath.Join(dir, "revoked.json")

	for _, tc := range []struct {
		name string
		args []string
		want string // in the error line
	}{
		{"mistyped subcommand", []string{"signn"}, `unknown subcommand "signn" for "caddy jwt"; did you mean sign?`},
		{"unknown subcommand", []string{"mint"}, `unknown subcommand "mint"`},
		{"unknown flag", []string{"sign", "--key", priv, "--expiry", "1h"}, "unknown flag: --expiry"},
		{"missing key file", []string{"sign", "--key", "nope.pem"}, "open nope.pem: no such file or directory"},
		{"duration without a unit", []string{"sign", "--key", priv, "--exp", "15"}, `--exp "15" is not a duration such as 15m, 2h or 1d`},
		{"unknown algorithm", []string{"keygen", "--alg", "ES999", "--out-dir", dir}, "--alg must be one of"},
		{"garbage token", []string{"inspect", "not-a-token"}, "a JWS has three dot-separated parts; this has 1"},
		{"jwks without keys", []string{"jwks"}, "--pub is required"},
		{"revoke in the past", []string{"revoke", "--location", revocations, "--jti", "j1", "--exp", "1767225600"}, "--exp 1767225600 is in the past (2026-01-01T00:00:00Z)"},
		{"revoke with Redis down", []string{"revoke", "--store", "redis", "--location", stoppedRedis, "--sub", "alice", "--logout"}, "redis at 127.0.0.1:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := caddyJWT(t, tc.args...)
			if res.ExitCode == 0 {
				t.Fatalf("exit 0, want non-zero; output:\n%s", res.Output())
			}
			lines := strings.Split(strings.TrimRight(res.Stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "Error: ") {
				t.Fatalf("stderr is not one \"Error: …\" line:\n%s", res.Stderr)
			}
			if !strings.Contains(lines[0], tc.want) {
				t.Errorf("error line %q does not say %q", lines[0], tc.want)
			}
		})
	}
	if _, err := os.Stat(revocations); err == nil {
		t.Error("revoke with an exp in the past wrote the revocation file")
	}
}

// TestCaddyJWTWithoutSubcommandPrintsItsHelp: a bare `caddy jwt` is a
// question, not a mistake.
func TestCaddyJWTWithoutSubcommandPrintsItsHelp(t *testing.T) {
	t.Parallel()
	res := caddyJWT(t)
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, "Available Commands:") {
		t.Fatalf("caddy jwt: exit %d\n%s", res.ExitCode, res.Output())
	}
}

// TestSignTakesCaddyDurationsAnyCaseAlgorithmsAndExpiredLifetimes: --exp
// reads durations as a Caddyfile does (1d), --alg any case, and a negative
// --exp signs an already expired token that the handler refuses as
// expired, as tests of a protected service need.
func TestSignTakesCaddyDurationsAnyCaseAlgorithmsAndExpiredLifetimes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mustCaddyJWT(t, "keygen", "--alg", "es256", "--kid", "k1", "--out-dir", dir)
	priv, pub := filepath.Join(dir, "k1.key.pem"), filepath.Join(dir, "k1.pub.pem")

	day := strings.TrimSpace(mustCaddyJWT(t, "sign", "--key", priv, "--alg", "es256", "--kid", "k1", "--exp", "1d", "--sub", "alice"))
	if res := caddyJWT(t, "inspect", "--key", pub, day); res.ExitCode != 0 || !strings.HasPrefix(res.Stdout, "VERIFIED: ES256 signature") {
		t.Errorf("a token signed with --alg es256 --exp 1d: exit %d, %q", res.ExitCode, firstLine(res.Stdout))
	}
	expired := strings.TrimSpace(mustCaddyJWT(t, "sign", "--key", priv, "--kid", "k1", "--exp", "-1h", "--sub", "alice"))
	res := caddyJWT(t, "inspect", "--key", pub, expired)
	if res.ExitCode == 0 || !strings.HasPrefix(res.Stdout, "VERIFICATION FAILED: the token is expired") {
		t.Errorf("a token signed with --exp -1h: exit %d, %q", res.ExitCode, firstLine(res.Stdout))
	}
}
