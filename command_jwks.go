package caddyjwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	jwtSubcommands = append(jwtSubcommands, newJWKSCommand)
}

func newJWKSCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jwks --pub <pem-file> [--kid <kid>] [--alg <alg>] [--pub ...]",
		Short: "Writes a JWKS document from PEM public keys",
		Long: `
Turns PEM public keys (or X.509 certificates) into a JSON Web Key Set
(RFC 7517) on standard output, ready to be published with file_server and
read by the jwt handler's jwks directive (or any other verifier).

Each key gets kid, use "sig" and alg.

--pub
    A PEM public key file; repeat for several keys.

--kid
    The key ID of the --pub at the same position. Default: the key's
    RFC 7638 thumbprint, which is stable and unique per key.

--alg
    The algorithm of the --pub at the same position. Default: ES256,
    ES384 or ES512 by the EC key's curve, EdDSA for Ed25519, RS256 for
    RSA. A key is used only with its alg, so give PS256 for RSA-PSS.

Private keys are refused: a JWKS is public.
`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringArray("pub", nil, "PEM public key file; repeatable (required)")
	cmd.Flags().StringArray("kid", nil, "Key ID of the --pub at the same position")
	cmd.Flags().StringArray("alg", nil, "Algorithm of the --pub at the same position")
	cmd.RunE = jwtCommandFunc(func(fl caddycmd.Flags) (int, error) {
		return cmdJWKS(fl, cmd.OutOrStdout())
	})
	return cmd
}

func cmdJWKS(fl caddycmd.Flags, out io.Writer) (int, error) {
	pubs, kids, algs := mustStringArray(fl, "pub"), mustStringArray(fl, "kid"), mustStringArray(fl, "alg")
	if len(pubs) == 0 {
		return caddy.ExitCodeFailedStartup, errors.New("--pub is required")
	}
	if len(kids) > len(pubs) || len(algs) > len(pubs) {
		return caddy.ExitCodeFailedStartup, errors.New("more --kid or --alg than --pub: each belongs to the --pub at its position")
	}
	set := jsonWebKeySet{Keys: []jsonWebKey{}}
	seen := make(map[string]string)
	for i, path := range pubs {
		data, err := os.ReadFile(path)
		if err != nil {
			return caddy.ExitCodeFailedStartup, err
		}
		pub, err := parsePublicKeyPEM(data)
		if err != nil {
			return caddy.ExitCodeFailedStartup, fmt.Errorf("%s: %v", path, err)
		}
		var kid, alg string
		if i < len(kids) {
			kid = kids[i]
		}
		if i < len(algs) {
			alg = algs[i]
		}
		jwk, err := newJSONWebKey(pub, kid, alg)
		if err != nil {
			return caddy.ExitCodeFailedStartup, fmt.Errorf("%s: %v", path, err)
		}
		// Verifiers pick the key by kid; two keys with one kid would make
		// that choice arbitrary.
		if other, dup := seen[jwk.KeyID]; dup {
			return caddy.ExitCodeFailedStartup, fmt.Errorf("%s and %s both have kid %q", other, path, jwk.KeyID)
		}
		seen[jwk.KeyID] = path
		set.Keys = append(set.Keys, jwk)
	}
	doc, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	fmt.Fprintf(out, "%s\n", doc)
	return 0, nil
}

// jsonWebKeySet is a JWK Set (RFC 7517 §5).
type jsonWebKeySet struct {
	Keys []jsonWebKey `json:"keys"`
}

// jsonWebKey is a public JWK (RFC 7517 §4) of the key types RFC 7518 §6
// and RFC 8037 define for signatures. Private members are never written.
type jsonWebKey struct {
	KeyType   string `json:"kty"`
	KeyID     string `json:"kid,omitempty"`
	Use       string `json:"use,omitempty"`
	Algorithm string `json:"alg,omitempty"`
	Curve     string `json:"crv,omitempty"`
	N         string `json:"n,omitempty"`
	E         string `json:"e,omitempty"`
	X         string `json:"x,omitempty"`
	Y         string `json:"y,omitempty"`
}

// curveNames are the JWK crv values of the curves verification accepts.
var curveNames = map[elliptic.Curve]string{elliptic.P256(): "P-256", elliptic.P384(): "P-384", elliptic.P521(): "P-521"}

// newJSONWebKey describes pub as a JWK for signatures. An empty kid becomes
// the key's RFC 7638 thumbprint; an empty alg the key's natural one.
func newJSONWebKey(pub any, kid, algName string) (jsonWebKey, error) {
	algs, err := algorithmsForKey(pub)
	if err != nil {
		return jsonWebKey{}, err
	}
	var jwk jsonWebKey
	b64 := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case *rsa.PublicKey:
		jwk = jsonWebKey{KeyType: "RSA", N: b64(k.N.Bytes()), E: b64(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		point, err := k.Bytes()
		if err != nil {
			return jsonWebKey{}, err
		}
		// Uncompressed point: 0x04 || X || Y, each padded to the curve
		// size, as RFC 7518 §6.2.1.2 wants the coordinates.
		size := (len(point) - 1) / 2
		jwk = jsonWebKey{KeyType: "EC", Curve: curveNames[k.Curve], X: b64(point[1 : 1+size]), Y: b64(point[1+size:])}
	case ed25519.PublicKey:
		jwk = jsonWebKey{KeyType: "OKP", Curve: "Ed25519", X: b64(k)}
	}
	alg := parseAlgorithmFlag(algName)
	switch {
	case algName == "" && algs.has(algRS256):
		alg = algRS256
	case algName == "":
		alg = parseAlgorithm(algs.names()[0])
	case alg == algNone || !algs.has(alg):
		return jsonWebKey{}, fmt.Errorf("--alg %q does not suit this key, which verifies %s", algName, algs)
	}
	jwk.Use, jwk.Algorithm, jwk.KeyID = "sig", alg.String(), kid
	if kid == "" {
		jwk.KeyID = jwk.thumbprint()
	}
	return jwk, nil
}

// thumbprint is the RFC 7638 JWK thumbprint (SHA-256): the hash of the
// key's required members in lexicographic order, without whitespace.
func (jwk jsonWebKey) thumbprint() string {
	var canonical string
	switch jwk.KeyType {
	case "RSA":
		canonical = fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`, jwk.E, jwk.N)
	case "EC":
		canonical = fmt.Sprintf(`{"crv":%q,"kty":"EC","x":%q,"y":%q}`, jwk.Curve, jwk.X, jwk.Y)
	case "OKP":
		canonical = fmt.Sprintf(`{"crv":%q,"kty":"OKP","x":%q}`, jwk.Curve, jwk.X)
	}
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// inspectJWKSTimeout bounds the one fetch `inspect --jwks <url>` makes.
const inspectJWKSTimeout = 10 * time.Second

// loadJWKSKeys reads a JWKS from an http(s) URL or a file for inspect,
// through the handler's own code: a fetched set with the fetcher (body
// limit, only asymmetric signature keys, each only with its own alg), a
// file as the handler loads one at provisioning.
func loadJWKSKeys(location string) ([]*verificationKey, error) {
	src := &JWKSSource{URL: location}
	if !src.isURL() {
		return loadJWKSFile(location, allAlgorithms)
	}
	fetcher := newJWKSFetcher(remoteKeySetConfig{url: location, timeout: inspectJWKSTimeout, allowed: allAlgorithms})
	defer fetcher.close()
	ctx, cancel := context.WithTimeout(context.Background(), inspectJWKSTimeout)
	defer cancel()
	res, err := fetcher.fetch(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("jwks %s: %v", location, err)
	}
	if len(res.keys) == 0 {
		return nil, fmt.Errorf("jwks %s: %v", location, errJWKSNoUsableKey)
	}
	return res.keys, nil
}
