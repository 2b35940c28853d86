package caddyjwt

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/golang-jwt/jwt/v5"
	"github.com/spf13/cobra"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	jwtSubcommands = append(jwtSubcommands, newSignCommand)
}

// maxSignLifetime is the longest --exp sign accepts without --allow-long:
// test tokens outlive their tests, and a long-lived one that leaks stays
// useful to whoever finds it.
const maxSignLifetime = 24 * time.Hour

func newSignCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sign --key <file> [--alg <alg>] [--kid <kid>] [--sub <sub>] [--iss <iss>] [--aud <aud>]... [--exp <duration>] [--nbf <time>] [--claim <name>=<value>]... [--claims-json <file>] [--typ <typ>]",
		Short: "Signs a token and prints it",
		Long: `
Signs a JSON Web Token and prints it on standard output, for testing a
jwt handler and for services that mint tokens from scripts.

The token always gets iat (now), exp (now + --exp) and a random jti,
unless --claim or --claims-json set them.

--key
    A PEM private key (PKCS#8, PKCS#1 or SEC 1, as written by
    'caddy jwt keygen'), or for HS* a file holding the secret.

--secret-base64
    The secret file holds base64 (as keygen writes it), not raw bytes.

--alg
    Default: ES256/ES384/ES512 by the EC key's curve, EdDSA for Ed25519
    (--alg Ed25519 gives RFC 9864's name), RS256 for RSA, HS256 for a
    secret.

--exp
    Lifetime, e.g. 15m (the default), 2h or 1d (units as in a Caddyfile:
    ns, us, ms, s, m, h, d). Longer than 24h is refused unless
    --allow-long is given. A negative lifetime signs a token that has
    already expired, for testing how it is refused: --exp -1h expired an
    hour ago.

--nbf
    Not-before: an offset from now (e.g. 5m, -1m), an RFC 3339 time or a
    unix time. Default: no nbf.

--aud
    Audience; repeat for several (aud becomes an array).

--claim name=value
    Any claim; repeatable. The value is read as JSON when it is JSON
    (3, true, ["a","b"], {"k":1}, "007"), else as a string.

--claims-json
    A file (or - for standard input) with a JSON object of claims,
    applied before --claim and the flags above.

--typ
    The JOSE header typ, e.g. at+jwt. Default: JWT.
`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.String("key", "", "PEM private key file, or secret file for HS* (required)")
	f.Bool("secret-base64", false, "The secret file holds base64")
	f.String("alg", "", "Signature algorithm (default: from the key)")
	f.String("kid", "", "Key ID for the header")
	f.String("sub", "", "Subject claim")
	f.String("iss", "", "Issuer claim")
	f.StringArray("aud", nil, "Audience claim; repeatable")
	f.String("exp", "15m", "Lifetime of the token, e.g. 15m, 2h, 1d; negative for an expired one")
	f.Bool("allow-long", false, "Allow --exp longer than 24h")
	f.String("nbf", "", "Not-before: offset from now, RFC 3339 or unix time")
	f.StringArray("claim", nil, "Claim as name=value; repeatable")
	f.String("claims-json", "", "File (or -) with a JSON object of claims")
	f.String("typ", "JWT", "JOSE header typ")
	cmd.RunE = jwtCommandFunc(func(fl caddycmd.Flags) (int, error) {
		return cmdSign(fl, cmd.InOrStdin(), cmd.OutOrStdout())
	})
	return cmd
}

func cmdSign(fl caddycmd.Flags, in io.Reader, out io.Writer) (int, error) {
	keyPath := fl.String("key")
	if keyPath == "" {
		return caddy.ExitCodeFailedStartup, errors.New("--key is required")
	}
	key, err := loadSigningKey(keyPath, fl.Bool("secret-base64"))
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	alg, err := key.algorithmFor(fl.String("alg"))
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}

	now := time.Now()
	claims := jwt.MapClaims{}
	if path := fl.String("claims-json"); path != "" {
		if err := readClaimsJSON(path, in, claims); err != nil {
			return caddy.ExitCodeFailedStartup, err
		}
	}
	for _, kv := range mustStringArray(fl, "claim") {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return caddy.ExitCodeFailedStartup, fmt.Errorf("--claim %q: want name=value", kv)
		}
		claims[name] = claimValue(value)
	}
	setIfGiven(claims, "sub", fl.String("sub"))
	setIfGiven(claims, "iss", fl.String("iss"))
	switch aud := mustStringArray(fl, "aud"); len(aud) {
	case 0:
	case 1:
		claims["aud"] = aud[0]
	default:
		claims["aud"] = aud
	}
	if _, ok := claims["iat"]; !ok {
		claims["iat"] = numericDate(now)
	}
	if _, ok := claims["exp"]; !ok || fl.Changed("exp") {
		lifetime, err := parseSignLifetime(fl.String("exp"))
		if err != nil {
			return caddy.ExitCodeFailedStartup, err
		}
		claims["exp"] = numericDate(now.Add(lifetime))
	}
	if nbf := fl.String("nbf"); nbf != "" {
		t, err := parseTimeFlag(nbf, now)
		if err != nil {
			return caddy.ExitCodeFailedStartup, fmt.Errorf("--nbf: %v", err)
		}
		claims["nbf"] = numericDate(t)
	}
	if _, ok := claims["jti"]; !ok {
		claims["jti"] = randomTokenID()
	}
	if err := checkSignLifetime(claims, now, fl.Bool("allow-long")); err != nil {
		return caddy.ExitCodeFailedStartup, err
	}

	token := jwt.NewWithClaims(signingMethods[alg], claims)
	// The method names its own alg; Ed25519 shares EdDSA's method.
	token.Header["alg"] = alg.String()
	if typ := fl.String("typ"); typ != "" {
		token.Header["typ"] = typ
	} else {
		delete(token.Header, "typ")
	}
	if kid := fl.String("kid"); kid != "" {
		token.Header["kid"] = kid
	}
	signed, err := token.SignedString(key.material)
	if err != nil {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("signing: %v", err)
	}
	fmt.Fprintln(out, signed)
	return 0, nil
}

// checkSignLifetime refuses tokens that live longer than maxSignLifetime,
// whether the lifetime came from --exp or from the claims given.
func checkSignLifetime(claims jwt.MapClaims, now time.Time, allowLong bool) error {
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return errors.New("exp must be a number (seconds since 1970)")
	}
	start := now
	if iat, err := claims.GetIssuedAt(); err == nil && iat != nil {
		start = iat.Time
	}
	if lifetime := exp.Sub(start); lifetime > maxSignLifetime && !allowLong {
		return fmt.Errorf("the token would live %s, longer than %s; pass --allow-long if you mean it", lifetime.Round(time.Second), maxSignLifetime)
	}
	return nil
}

// parseSignLifetime reads --exp with Caddy's own duration syntax, which
// adds d (days) to Go's units. Zero is refused: such a token would expire
// as it is made, which is never what a test of either kind wants.
func parseSignLifetime(s string) (time.Duration, error) {
	d, err := caddy.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("--exp %q is not a duration such as 15m, 2h or 1d (negative, e.g. -1h, for a token that has already expired)", s)
	}
	if d == 0 {
		return 0, fmt.Errorf("--exp %s: a token must live for some time; give a lifetime such as 15m, or a negative one, e.g. -1h, for an already expired token", s)
	}
	return d, nil
}

// claimValue reads a --claim value as JSON when it is JSON, so that numbers,
// booleans, arrays and objects keep their type; anything else is a string.
func claimValue(s string) any {
	var v any
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(&v); err == nil && !dec.More() {
		return v
	}
	return s
}

func readClaimsJSON(path string, stdin io.Reader, claims jwt.MapClaims) error {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(io.LimitReader(stdin, 1<<20))
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return fmt.Errorf("--claims-json: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return fmt.Errorf("--claims-json %s: want a JSON object: %v", path, err)
	}
	return nil
}

// parseTimeFlag reads a time as an offset from now ("5m", "-1m"), an RFC
// 3339 time or a unix time.
func parseTimeFlag(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	var unix int64
	if _, err := fmt.Sscanf(s, "%d", &unix); err == nil && fmt.Sprint(unix) == s {
		return time.Unix(unix, 0), nil
	}
	return time.Time{}, fmt.Errorf("%q is not an offset (5m), an RFC 3339 time or a unix time", s)
}

// numericDate is a NumericDate (RFC 7519 §2) in whole seconds, as a
// json.Number: the type golang-jwt reads back, and what --claim produces.
func numericDate(t time.Time) json.Number {
	return json.Number(strconv.FormatInt(t.Unix(), 10))
}

func setIfGiven(claims jwt.MapClaims, name, value string) {
	if value != "" {
		claims[name] = value
	}
}

func mustStringArray(fl caddycmd.Flags, name string) []string {
	v, _ := fl.GetStringArray(name)
	return v
}

// randomTokenID is a jti with 128 random bits: unique without coordination,
// so that any token sign makes can be revoked on its own.
func randomTokenID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// signingKey is a key sign and inspect read from a file: a private key, or
// an HMAC secret.
type signingKey struct {
	// material is what golang-jwt signs with: *rsa.PrivateKey,
	// *ecdsa.PrivateKey, ed25519.PrivateKey, or []byte for a secret.
	material any
	// algorithms are those the key can sign: its family, or for a secret
	// the HS* its length allows.
	algorithms algorithmSet
	path       string
}

// loadSigningKey reads a PEM private key, or, when the file holds no PEM,
// an HMAC secret (trailing newlines dropped, base64-decoded if asked).
func loadSigningKey(path string, secretBase64 bool) (*signingKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if block, _ := pem.Decode(data); block != nil {
		priv, err := parsePrivateKeyPEM(block)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		algs, err := algorithmsForKey(priv.Public())
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		return &signingKey{material: priv, algorithms: algs, path: path}, nil
	}
	secret := bytes.TrimRight(data, "\r\n")
	if secretBase64 {
		if secret, err = decodeBase64Secret(string(secret)); err != nil {
			return nil, fmt.Errorf("%s: --secret-base64 given, but the file is not base64", path)
		}
	}
	algs := hmacAlgorithmsForLength(len(secret))
	if algs == 0 {
		// Adding --secret-base64 never lengthens a secret, so the hint is
		// how to make a proper one, as the handler's own error says.
		return nil, fmt.Errorf("%s: not a PEM key, and as an HMAC secret it is %d bytes; HS256 needs at least 32: use a random one, e.g. from `openssl rand -hex 32` or `caddy jwt keygen --alg HS256`", path, len(secret))
	}
	return &signingKey{material: secret, algorithms: algs, path: path}, nil
}

// parsePrivateKeyPEM reads PKCS#8, PKCS#1 (RSA) and SEC 1 (EC) private keys.
func parsePrivateKeyPEM(block *pem.Block) (crypto.Signer, error) {
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE":
		return nil, fmt.Errorf("holds a %s; signing needs the private key", block.Type)
	default:
		return nil, fmt.Errorf("unsupported PEM block %q", block.Type)
	}
	if err != nil {
		return nil, err
	}
	switch k := key.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		return k.(crypto.Signer), nil
	}
	return nil, fmt.Errorf("unsupported private key type %T", key)
}

// algorithmFor picks the algorithm to sign with: the one asked for, which
// must suit the key, or the key's natural one.
func (k *signingKey) algorithmFor(name string) (algorithm, error) {
	if name == "" {
		switch {
		case k.algorithms.has(algHS256):
			return algHS256, nil
		case k.algorithms.has(algRS256):
			return algRS256, nil
		}
		return parseAlgorithm(k.algorithms.names()[0]), nil
	}
	alg := parseAlgorithmFlag(name)
	if alg == algNone {
		return algNone, fmt.Errorf("--alg %q: want one of %s", name, allAlgorithms)
	}
	if !k.algorithms.has(alg) {
		if alg.isHMAC() && k.algorithms&hmacAlgorithms != 0 {
			return algNone, fmt.Errorf("%s: the secret is too short for %s (RFC 7518 §3.2 needs %d bytes)", k.path, alg, minHMACSecretBytes[alg])
		}
		return algNone, fmt.Errorf("%s: the key signs %s, not %s", k.path, k.algorithms, alg)
	}
	return alg, nil
}
