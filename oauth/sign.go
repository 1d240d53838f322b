package oauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/madoguchi/madoguchi/internal/keyfile"
)

// Signer signs the server's JWTs (ID tokens, JARM responses, JWT
// introspection responses) with ES256. It is a single-purpose key: the eKYC
// result key is a different one.
type Signer struct {
	key *ecdsa.PrivateKey
	kid string
	jwk map[string]string
}

// NewSigner wraps a P-256 private key.
func NewSigner(k *ecdsa.PrivateKey) (*Signer, error) {
	if k == nil || k.Curve != elliptic.P256() {
		return nil, errors.New("oauth: signing key must be ECDSA P-256")
	}
	b, err := k.PublicKey.Bytes()
	if err != nil || len(b) != 65 {
		return nil, errors.New("oauth: signing key: bad public point")
	}
	x, y := b64.EncodeToString(b[1:33]), b64.EncodeToString(b[33:])
	d := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	kid := b64.EncodeToString(d[:])
	return &Signer{key: k, kid: kid, jwk: map[string]string{
		"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "use": "sig", "alg": "ES256",
	}}, nil
}

// LoadOrCreateSigner reads a PEM P-256 private key, SEC 1 "EC PRIVATE KEY"
// or PKCS#8 "PRIVATE KEY", from a regular file that group and others can
// neither read nor write, at most keyfile.MaxPEMSize bytes. In development
// (create true) a missing file is created (0600, folder 0700) with a fresh
// key and created reports it; of several processes starting at once one
// creates the key and all use it. Without create a missing key is an error
// (fs.ErrNotExist).
func LoadOrCreateSigner(path string, create bool) (s *Signer, created bool, err error) {
	var k *ecdsa.PrivateKey
	if create {
		k, created, err = keyfile.LoadOrCreatePrivateKey(path, func() (*ecdsa.PrivateKey, error) {
			return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		})
	} else {
		k, err = keyfile.LoadPrivateKey[*ecdsa.PrivateKey](path)
	}
	if err != nil {
		return nil, false, fmt.Errorf("oauth: signing key: %w", err)
	}
	s, err = NewSigner(k)
	return s, created && err == nil, err
}

// KeyID is the key's RFC 7638 thumbprint.
func (s *Signer) KeyID() string { return s.kid }

// LogValue shows only the key id.
func (s *Signer) LogValue() slog.Value { return slog.StringValue("es256:" + s.kid) }

// JWKS returns the public key set for jwks_uri.
func (s *Signer) JWKS() map[string]any { return map[string]any{"keys": []any{s.jwk}} }

var b64 = base64.RawURLEncoding

// Sign returns a compact JWS of claims with the given typ.
func (s *Signer) Sign(typ string, claims any) (string, error) {
	h, err := json.Marshal(map[string]string{"alg": "ES256", "kid": s.kid, "typ": typ})
	if err != nil {
		return "", err
	}
	p, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(p)
	d := sha256.Sum256([]byte(input))
	r, sv, err := ecdsa.Sign(rand.Reader, s.key, d[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	sv.FillBytes(sig[32:])
	return input + "." + b64.EncodeToString(sig), nil
}
