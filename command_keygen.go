package caddyjwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	jwtSubcommands = append(jwtSubcommands, newKeygenCommand)
}

// Modes of the files keygen writes: private material is readable by its
// owner only, so that a shared machine does not leak it.
const (
	privateFileMode fs.FileMode = 0o600
	publicFileMode  fs.FileMode = 0o644
)

func newKeygenCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keygen --alg <alg> [--out-dir <dir>] [--kid <kid>] [--rsa-bits <n>]",
		Short: "Generates a signing key pair, or an HMAC secret",
		Long: `
Generates a key for signing tokens and the key the jwt handler verifies
them with.

For ES256, ES384, ES512, RS*, PS*, EdDSA and Ed25519 it writes two PEM files:
<name>.key.pem (the PKCS#8 private key, mode 0600) and <name>.pub.pem (the
public key, for the public_key directive or 'caddy jwt jwks').

For HS256, HS384 and HS512 it writes <name>.secret (mode 0600): a random
secret of the hash's length, base64-encoded, for
'secret {file.<name>.secret} base64'. The secret is never printed.

<name> is the --kid when given, else the algorithm in lower case.
Existing files are never overwritten.

--alg
    ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512, EdDSA,
    Ed25519 (RFC 9864's name for EdDSA over Ed25519: the same key), HS256,
    HS384 or HS512.

--out-dir
    Directory to write into, created if missing. Default: the current one.

--kid
    Key ID: names the files, and is printed in the suggested configuration.

--rsa-bits
    RSA modulus size for RS* and PS*, from 2048 to 8192 (what the jwt
    handler accepts). Default: 2048.
`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().String("alg", "", "Signature algorithm the key is for (required)")
	cmd.Flags().String("out-dir", ".", "Directory to write the key files into")
	cmd.Flags().String("kid", "", "Key ID; also names the files")
	cmd.Flags().Int("rsa-bits", minRSABits, "RSA modulus size in bits (RS*, PS*)")
	cmd.RunE = jwtCommandFunc(func(fl caddycmd.Flags) (int, error) {
		return cmdKeygen(fl, cmd.OutOrStdout())
	})
	return cmd
}

func cmdKeygen(fl caddycmd.Flags, out io.Writer) (int, error) {
	alg := parseAlgorithmFlag(fl.String("alg"))
	if alg == algNone {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("--alg must be one of %s", allAlgorithms)
	}
	kid := fl.String("kid")
	name := strings.ToLower(alg.String())
	if kid != "" {
		if !fileNameSafe(kid) {
			return caddy.ExitCodeFailedStartup, fmt.Errorf("--kid %q cannot name a file: use letters, digits, '.', '_' and '-'", kid)
		}
		name = kid
	}
	files, err := generateKeyFiles(alg, fl.Int("rsa-bits"), fl.String("out-dir"), name)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	for _, f := range files {
		fmt.Fprintf(out, "wrote %s (mode %04o)\n", f.path, f.mode)
	}
	fmt.Fprintln(out, "\nIn the jwt block of your Caddyfile:")
	if alg.isHMAC() {
		fmt.Fprintf(out, "\tsecret {file.%s} base64\n\talgorithms %s\n", files[0].path, alg)
		fmt.Fprintf(out, "\nSign a test token:\n\tcaddy jwt sign --key %s --secret-base64 --alg %s --sub alice\n", files[0].path, alg)
		return 0, nil
	}
	kidArg, kidFlag := "", ""
	if kid != "" {
		kidArg, kidFlag = " "+kid, " --kid "+kid
	}
	fmt.Fprintf(out, "\tpublic_key %s%s\n\talgorithms %s\n", files[1].path, kidArg, alg)
	fmt.Fprintf(out, "\nSign a test token:\n\tcaddy jwt sign --key %s --alg %s%s --sub alice\n", files[0].path, alg, kidFlag)
	return 0, nil
}

// keyFile is one file keygen writes.
type keyFile struct {
	path    string
	mode    fs.FileMode
	content []byte
}

// generateKeyFiles makes a key for alg and writes it into dir: the private
// (or secret) file first, then the public one. Nothing is written if any
// of the files already exists.
func generateKeyFiles(alg algorithm, rsaBits int, dir, name string) ([]keyFile, error) {
	files, err := newKeyFiles(alg, rsaBits, dir, name)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if _, err := os.Lstat(f.path); err == nil {
			return nil, fmt.Errorf("%s already exists; refusing to overwrite a key", f.path)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for i, f := range files {
		if err := writeNewFile(f); err != nil {
			for _, written := range files[:i] {
				os.Remove(written.path)
			}
			return nil, err
		}
	}
	return files, nil
}

func newKeyFiles(alg algorithm, rsaBits int, dir, name string) ([]keyFile, error) {
	if alg.isHMAC() {
		secret := make([]byte, minHMACSecretBytes[alg])
		rand.Read(secret)
		encoded := base64.StdEncoding.EncodeToString(secret) + "\n"
		return []keyFile{{path: filepath.Join(dir, name+".secret"), mode: privateFileMode, content: []byte(encoded)}}, nil
	}
	priv, err := generatePrivateKey(alg, rsaBits)
	if err != nil {
		return nil, err
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return nil, err
	}
	return []keyFile{
		{path: filepath.Join(dir, name+".key.pem"), mode: privateFileMode, content: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER})},
		{path: filepath.Join(dir, name+".pub.pem"), mode: publicFileMode, content: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})},
	}, nil
}

// generatePrivateKey makes a private key of the family and size alg needs.
func generatePrivateKey(alg algorithm, rsaBits int) (crypto.Signer, error) {
	switch {
	case rsaAlgorithms.has(alg):
		if err := checkRSAKeySize(rsaBits); err != nil {
			return nil, fmt.Errorf("--rsa-bits: %v", err)
		}
		return rsa.GenerateKey(rand.Reader, rsaBits)
	case alg == algES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case alg == algES384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case alg == algES512:
		return ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case eddsaAlgorithms.has(alg):
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
	return nil, fmt.Errorf("no key type for %s", alg)
}

// writeNewFile creates f with its mode, failing if it exists: O_EXCL makes
// the no-overwrite promise hold even against a file created meanwhile.
func writeNewFile(f keyFile) error {
	file, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.mode)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already exists; refusing to overwrite a key", f.path)
	}
	if err != nil {
		return err
	}
	// The umask may have narrowed the mode; make it exactly what we say.
	if err := file.Chmod(f.mode); err != nil {
		file.Close()
		return err
	}
	if _, err := file.Write(f.content); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}

func fileNameSafe(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
