package caddyjwt

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// KeySources are the places keys come from. They appear at the top level of
// the handler and inside each issuer block.
type KeySources struct {
	// An HMAC secret for HS256/384/512. `{env.*}` and `{file.*}`
	// placeholders are resolved when the config loads; a secret shorter
	// than the hash (32, 48 or 64 bytes) is refused. Default: none.
	Secret *SecretKey `json:"secret,omitempty"`

	// PEM files holding RSA (2048 to 8192 bits), EC (P-256, P-384, P-521)
	// or Ed25519 public keys, or X.509 certificates. Default: none.
	PublicKeys []*PublicKeyFile `json:"public_key,omitempty"`

	// JSON Web Key Sets fetched from a URL (and refreshed) or read from a
	// file. Keys that came from a URL only verify asymmetric algorithms.
	// Default: none.
	JWKS []*JWKSSource `json:"jwks,omitempty"`
}

func (ks *KeySources) empty() bool {
	return ks.Secret == nil && len(ks.PublicKeys) == 0 && len(ks.JWKS) == 0
}

// SecretKey is an HMAC secret.
type SecretKey struct {
	// The secret, or a placeholder such as `{env.JWT_SECRET}` or
	// `{file./run/secrets/jwt}` resolved when the config loads.
	Value string `json:"value,omitempty"`

	// The resolved value is base64 (standard or URL alphabet, padded or
	// not) and decodes to the key bytes. Default: false, the value's bytes
	// are the key.
	Base64 bool `json:"base64,omitempty"`
}

// PublicKeyFile is a PEM file with one public key or certificate.
type PublicKeyFile struct {
	// Path of the PEM file.
	Path string `json:"path,omitempty"`

	// The key ID. When set, a token whose header names another `kid` is
	// never verified with this key (a token naming no `kid` may be). When
	// empty, the key verifies tokens whatever their `kid`, except tokens
	// whose `kid` some other key has exactly. Default: empty.
	KeyID string `json:"kid,omitempty"`
}

// Issuer binds key sources and audiences to one token issuer.
type Issuer struct {
	// The exact `iss` value.
	Issuer string `json:"issuer,omitempty"`

	// Keys that verify this issuer's tokens only. When none are given (and
	// `discover` is off), the handler's top-level keys are used.
	KeySources

	// Audiences accepted for this issuer's tokens, instead of the handler's
	// `audience`. Default: none, so the handler's `audience` applies.
	Audience []string `json:"audience,omitempty"`

	// Fetch the issuer's JWKS URL from `<issuer>/.well-known/openid-configuration`.
	// Default: false.
	Discover bool `json:"discover,omitempty"`
}

// hasOwnKeys reports whether the issuer is verified with keys of its own.
func (is *Issuer) hasOwnKeys() bool { return !is.KeySources.empty() || is.Discover }

// errKeysUnavailable is returned by a key source that has never loaded its
// keys (a JWKS whose provider has not answered yet). The request gets 503:
// the token may be fine, we just cannot tell yet.
var errKeysUnavailable = errors.New("signing keys are not available yet")

// maxKeysPerToken bounds how many keys a token without a usable kid is tried
// against, so that a forged kid-less token cannot make us run many
// signature checks.
const maxKeysPerToken = 4

// verificationKey is one key that can check signatures, with the algorithms
// it may be used for.
type verificationKey struct {
	// id is the key's kid, "" when it has none. A key without a kid may
	// verify any token; a key with one only tokens naming it.
	id string

	// algorithms are the algorithms this key may verify: its family,
	// narrowed by the allowlist, by the JWK "alg" and, for EC, by the curve.
	algorithms algorithmSet

	// material is a []byte (HMAC), *rsa.PublicKey, *ecdsa.PublicKey or
	// ed25519.PublicKey, as golang-jwt's signing methods expect.
	material any

	// source says where the key came from, for logs: never the key itself.
	source string

	// macs are an HMAC key's reusable keyed hash states (signature.go),
	// nil for any other key.
	macs *macPools
}

// newVerificationKey is a key with what checking a signature with it
// needs made now, at load, rather than on a request.
func newVerificationKey(id string, algorithms algorithmSet, material any, source string) *verificationKey {
	k := &verificationKey{id: id, algorithms: algorithms, material: material, source: source}
	if secret, ok := material.([]byte); ok {
		k.macs = newMACPools(secret)
	}
	return k
}

// keySource yields the keys that may verify a token. Static keys from the
// config and remote key sets (JWKS) both implement it.
type keySource interface {
	// appendKeys appends to dst the keys that may verify a token signed
	// with alg whose header names kid ("" when it names none). It returns
	// errKeysUnavailable when the source has never loaded any keys.
	appendKeys(ctx context.Context, dst []*verificationKey, kid string, alg algorithm) ([]*verificationKey, error)
}

// staticKeys are keys loaded once at provisioning: secrets and PEM files.
type staticKeys struct {
	keys []*verificationKey
}

func (s *staticKeys) appendKeys(_ context.Context, dst []*verificationKey, kid string, alg algorithm) ([]*verificationKey, error) {
	return appendMatchingKeys(dst, s.keys, kid, alg), nil
}

// appendMatchingKeys selects from keys, in order, those that may verify a
// token with this kid and alg. When some key carries exactly the token's
// kid, only keys with that kid are used; otherwise keys without a kid are.
// A token never gets a key whose kid names a different key.
func appendMatchingKeys(dst, keys []*verificationKey, kid string, alg algorithm) []*verificationKey {
	if kid != "" {
		found := false
		for _, k := range keys {
			if k.id == kid && k.algorithms.has(alg) {
				dst = append(dst, k)
				found = true
			}
		}
		if found {
			return dst
		}
	}
	for _, k := range keys {
		if (k.id == "" || kid == "") && k.algorithms.has(alg) {
			dst = append(dst, k)
		}
	}
	return dst
}

// loadSecret turns a configured HMAC secret into a key, once, at load:
// secretBytes resolves its placeholders ({env.JWT_SECRET},
// {file./run/secrets/jwt}); an unset variable is an error rather than an
// empty key.
func loadSecret(cfg *SecretKey, allowed algorithmSet) (*verificationKey, error) {
	key, err := secretBytes(cfg)
	if err != nil {
		return nil, fmt.Errorf("jwt: secret %v", err)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("jwt: secret is empty after placeholder resolution")
	}
	algs := hmacAlgorithms & allowed
	if algs == 0 {
		return nil, fmt.Errorf("jwt: secret given but algorithms (%s) has no HS256, HS384 or HS512", allowed)
	}
	// RFC 7518 §3.2: the key must be at least as long as the hash output.
	for _, a := range []algorithm{algHS256, algHS384, algHS512} {
		need := minHMACSecretBytes[a]
		if !algs.has(a) || len(key) >= need {
			continue
		}
		if allowed == allAlgorithms && a != algHS256 {
			// Not asked for explicitly: just do not offer the longer hashes.
			algs &^= 1 << a
			continue
		}
		// Tutorials sign with secrets such as "secret": say what to do,
		// not only what is wrong.
		return nil, fmt.Errorf("jwt: secret is %d bytes; %s needs at least %d (RFC 7518 §3.2), since a short secret can be guessed from any token it signed: "+
			"use a random one, e.g. from `openssl rand -hex %d`, and sign the tokens with that same secret", len(key), a, need, need)
	}
	return newVerificationKey("", algs, key, "secret"), nil
}

func decodeBase64Secret(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("invalid base64")
}

// loadPublicKeyFile reads a PEM file holding an RSA, EC or Ed25519 public
// key (PKIX or PKCS#1) or an X.509 certificate.
func loadPublicKeyFile(cfg *PublicKeyFile, allowed algorithmSet) (*verificationKey, error) {
	pemBytes, err := os.ReadFile(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("jwt: public_key %s: %v", cfg.Path, err)
	}
	pub, err := parsePublicKeyPEM(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("jwt: public_key %s: %v", cfg.Path, err)
	}
	algs, err := algorithmsForKey(pub)
	if err != nil {
		return nil, fmt.Errorf("jwt: public_key %s: %v", cfg.Path, err)
	}
	if algs&allowed == 0 {
		return nil, fmt.Errorf("jwt: public_key %s can verify %s, but algorithms allows only %s", cfg.Path, algs, allowed)
	}
	return newVerificationKey(cfg.KeyID, algs&allowed, pub, "public_key "+cfg.Path), nil
}

// parsePublicKeyPEM returns the first public key found in PEM data.
func parsePublicKeyPEM(data []byte) (any, error) {
	// ssh-keygen, which some tutorials use to make RS256 keys, writes its
	// public key in OpenSSH format; say how to convert it.
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("ssh-")) {
		return nil, errors.New("this is an OpenSSH public key, not PEM; convert it with `ssh-keygen -e -m PKCS8 -f <file>`")
	}
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM public key or certificate found")
		}
		data = rest
		switch block.Type {
		case "PUBLIC KEY":
			return x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			return x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, err
			}
			return cert.PublicKey, nil
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			// A private key in the edge's config is a leak waiting to
			// happen; the edge only ever needs the public half.
			return nil, fmt.Errorf("found a %s; give the public key instead (`openssl pkey -in <file> -pubout` prints it; caddy jwt keygen writes both)", block.Type)
		}
	}
}

// algorithmsForKey returns the algorithms a public key can verify. EC keys
// are bound to the one algorithm of their curve (RFC 7518 §3.4).
func algorithmsForKey(pub any) (algorithmSet, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if err := checkRSAPublicKey(k); err != nil {
			return 0, err
		}
		return rsaAlgorithms, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return setOf(algES256), nil
		case elliptic.P384():
			return setOf(algES384), nil
		case elliptic.P521():
			return setOf(algES512), nil
		}
		return 0, fmt.Errorf("unsupported elliptic curve %s", k.Curve.Params().Name)
	case ed25519.PublicKey:
		if err := checkEd25519PublicKey(k); err != nil {
			return 0, err
		}
		return eddsaAlgorithms, nil
	}
	return 0, fmt.Errorf("unsupported key type %T", pub)
}

// allAlgorithms is the allowlist when `algorithms` is not configured: every
// algorithm the configured keys can verify.
const allAlgorithms = algorithmSet(1<<algCount - 2)
