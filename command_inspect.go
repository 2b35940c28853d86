package caddyjwt

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	jwtSubcommands = append(jwtSubcommands, newInspectCommand)
}

func newInspectCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inspect [--key <pem-file>] [--secret <file>] [--jwks <url-or-file>] [--iss <iss>] [--aud <aud>]... <token|->",
		Short: "Shows a token's header and claims, and verifies it if given keys",
		Long: `
Decodes a token and prints its header and claims, with the time claims
(iat, nbf, exp) in UTC and as unix times. The signature itself is never
printed.

Without keys, the output says NOT VERIFIED: anyone can write any claims
into a token; only a verified signature makes them mean something.

With --key, --secret or --jwks, the token is verified as the jwt handler
would (signature, algorithm, kid, exp/nbf/iat with --leeway, and --iss and
--aud when given), the result is printed, and the exit status is non-zero
when the token would be refused, with the reason.

The token is the argument, or read from standard input when it is - or
missing. A leading "Bearer " is ignored.

--key
    PEM public key (or certificate, or private key) to verify with.

--secret
    File holding the HMAC secret (base64 with --secret-base64).

--jwks
    JWKS URL or file to verify with.
`,
		Args: cobra.MaximumNArgs(1),
	}
	f := cmd.Flags()
	f.String("key", "", "PEM key file to verify with")
	f.String("secret", "", "HMAC secret file to verify with")
	f.Bool("secret-base64", false, "The secret file holds base64")
	f.String("jwks", "", "JWKS URL or file to verify with")
	f.String("iss", "", "Require this issuer")
	f.StringArray("aud", nil, "Require one of these audiences; repeatable")
	f.Duration("leeway", defaultLeeway, "Clock skew tolerated for exp, nbf and iat")
	cmd.RunE = jwtCommandFunc(func(fl caddycmd.Flags) (int, error) {
		return cmdInspect(fl, cmd.InOrStdin(), cmd.OutOrStdout())
	})
	return cmd
}

func cmdInspect(fl caddycmd.Flags, in io.Reader, out io.Writer) (int, error) {
	raw, err := readTokenArgument(fl.Args(), in)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	decoded, err := decodeUnverified(raw)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	verifier, err := inspectVerifier(fl)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	now := time.Now()

	if verifier == nil {
		fmt.Fprintln(out, "NOT VERIFIED: the signature was not checked (give --key, --secret or --jwks); nothing below can be trusted.")
		decoded.print(out, now)
		return 0, nil
	}
	token, rsn := verifier.verify(context.Background(), raw, now)
	if rsn != reasonAllowed {
		fmt.Fprintf(out, "VERIFICATION FAILED: %s%s\n", rsn, failureDetail(rsn, decoded, verifier, now))
		decoded.print(out, now)
		return caddy.ExitCodeFailedStartup, fmt.Errorf("token refused: %s (result %s)", rsn, rsn.info().metric)
	}
	fmt.Fprintf(out, "VERIFIED: %s signature%s and claims hold at %s\n", token.algorithm, kidNote(token.keyID), now.UTC().Format(inspectTimeLayout))
	decoded.print(out, now)
	return 0, nil
}

// readTokenArgument takes the token from the argument or standard input,
// trimmed, without a "Bearer " prefix.
func readTokenArgument(args []string, in io.Reader) (string, error) {
	var raw string
	if len(args) == 1 && args[0] != "-" {
		raw = args[0]
	} else {
		data, err := io.ReadAll(io.LimitReader(in, 1<<20))
		if err != nil {
			return "", err
		}
		raw = string(data)
	}
	raw = strings.TrimSpace(raw)
	if len(raw) > 7 && strings.EqualFold(raw[:7], "bearer ") {
		raw = strings.TrimSpace(raw[7:])
	}
	if raw == "" {
		return "", errors.New("no token given")
	}
	return raw, nil
}

// unverifiedToken is a token decoded without any check.
type unverifiedToken struct {
	header         map[string]any
	claims         map[string]any
	signatureBytes int
}

func decodeUnverified(raw string) (*unverifiedToken, error) {
	parts := strings.Split(raw, ".")
	switch {
	case len(parts) == 5:
		return nil, errors.New("this is a JWE (an encrypted token, five parts): it cannot be read without the decryption key")
	case len(parts) != 3:
		return nil, fmt.Errorf("a JWS has three dot-separated parts; this has %d", len(parts))
	}
	t := &unverifiedToken{}
	if err := decodeJSONSegment(parts[0], &t.header); err != nil {
		return nil, fmt.Errorf("header: %v", err)
	}
	if err := decodeJSONSegment(parts[1], &t.claims); err != nil {
		return nil, fmt.Errorf("claims: %v", err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, errors.New("signature: not base64url")
	}
	t.signatureBytes = len(sig)
	return t, nil
}

func decodeJSONSegment(seg string, out *map[string]any) error {
	data, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return errors.New("not base64url (RFC 7515 §2, unpadded)")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil || *out == nil {
		return errors.New("not a JSON object")
	}
	return nil
}

// timeClaims are the claims printed as times, in the order they matter.
var timeClaims = []string{"iat", "nbf", "exp", "auth_time"}

const inspectTimeLayout = "2006-01-02 15:04:05 UTC"

func (t *unverifiedToken) print(out io.Writer, now time.Time) {
	header, _ := json.MarshalIndent(t.header, "", "  ")
	claims, _ := json.MarshalIndent(t.claims, "", "  ")
	fmt.Fprintf(out, "\nHeader:\n%s\n\nClaims:\n%s\n", header, claims)

	var times strings.Builder
	for _, name := range timeClaims {
		if at, ok := t.claimTime(name); ok {
			fmt.Fprintf(&times, "  %-9s %s  (unix %d, %s)\n", name, at.UTC().Format(inspectTimeLayout), at.Unix(), relativeTime(at, now))
		}
	}
	if times.Len() > 0 {
		fmt.Fprintf(out, "\nTimes (now %s):\n%s", now.UTC().Format(inspectTimeLayout), times.String())
	}
	if _, ok := t.claims["exp"]; !ok {
		fmt.Fprintln(out, "  no exp: the jwt handler refuses tokens without an expiry")
	}
	// The signature is a credential's proof: its length is all that is
	// useful to see, and all we show.
	fmt.Fprintf(out, "\nSignature: %d bytes (not shown)\n", t.signatureBytes)
}

func (t *unverifiedToken) claimTime(name string) (time.Time, bool) {
	n, ok := t.claims[name].(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// relativeTime says how far at is from now, in seconds up to two days and
// in days beyond, where hours stop being readable.
func relativeTime(at, now time.Time) string {
	d := at.Sub(now).Round(time.Second)
	span := d.Abs().String()
	if d.Abs() >= 48*time.Hour {
		span = fmt.Sprintf("%d days", d.Abs()/(24*time.Hour))
	}
	switch {
	case d > 0:
		return "in " + span
	case d < 0:
		return span + " ago"
	}
	return "now"
}

func kidNote(kid string) string {
	if kid == "" {
		return ""
	}
	return fmt.Sprintf(" (kid %q)", kid)
}

// failureDetail adds what an operator needs to see next to a refusal: the
// time that failed, or the key that was looked for.
func failureDetail(rsn reason, t *unverifiedToken, v *tokenVerifier, now time.Time) string {
	var claim string
	switch rsn {
	case reasonExpired:
		claim = "exp"
	case reasonNotYetValid:
		claim = "nbf"
	case reasonIssuedInFuture:
		claim = "iat"
	case reasonUnknownKey, reasonBadAlgorithm:
		kid, _ := t.header["kid"].(string)
		alg, _ := t.header["alg"].(string)
		return fmt.Sprintf(" (alg %q, kid %q; the keys given verify %s)", alg, kid, v.algorithms)
	default:
		return ""
	}
	at, ok := t.claimTime(claim)
	if !ok {
		return ""
	}
	return fmt.Sprintf(" (%s %s, %s; leeway %s)", claim, at.UTC().Format(inspectTimeLayout), relativeTime(at, now), v.leeway)
}

// inspectVerifier builds a verifier from the keys on the command line with
// newTokenVerifier, as the handler builds its own, so that inspect refuses
// what the handler refuses and for the same reason. It is nil when no keys
// were given.
func inspectVerifier(fl caddycmd.Flags) (*tokenVerifier, error) {
	var keys []*verificationKey
	if path := fl.String("key"); path != "" {
		k, err := loadInspectKey(path)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if path := fl.String("secret"); path != "" {
		k, err := loadSigningKey(path, fl.Bool("secret-base64"))
		if err != nil {
			return nil, err
		}
		if k.algorithms&hmacAlgorithms == 0 {
			return nil, fmt.Errorf("--secret %s holds a PEM key; give it with --key", path)
		}
		keys = append(keys, newVerificationKey("", k.algorithms, k.material, "secret"))
	}
	if loc := fl.String("jwks"); loc != "" {
		remote, err := loadJWKSKeys(loc)
		if err != nil {
			return nil, err
		}
		keys = append(keys, remote...)
	}
	if len(keys) == 0 {
		return nil, nil
	}

	leeway, _ := fl.GetDuration("leeway")
	var algs algorithmSet
	for _, k := range keys {
		algs |= k.algorithms
	}
	// A token given on the command line may be as large as the user likes.
	v, err := newTokenVerifier(verifierRules{maxTokenSize: 1 << 20, algorithms: algs, leeway: leeway}, nil)
	if err != nil {
		return nil, err
	}
	if _, err := v.addScope(fl.String("iss"), mustStringArray(fl, "aud"), []keySource{&staticKeys{keys: keys}}); err != nil {
		return nil, err
	}
	return v, nil
}

// loadInspectKey reads a public key, certificate or private key PEM file:
// for checking a token locally, the private key file is as good as its
// public half.
func loadInspectKey(path string) (*verificationKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pub, err := parsePublicKeyPEM(data)
	if err != nil {
		block, _ := pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("--key %s: %v", path, err)
		}
		priv, privErr := parsePrivateKeyPEM(block)
		if privErr != nil {
			return nil, fmt.Errorf("--key %s: %v", path, err)
		}
		pub = priv.Public()
	}
	algs, err := algorithmsForKey(pub)
	if err != nil {
		return nil, fmt.Errorf("--key %s: %v", path, err)
	}
	return newVerificationKey("", algs, pub, "key "+path), nil
}
