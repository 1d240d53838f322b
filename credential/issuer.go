package credential

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"

	"github.com/madoguchi/madoguchi/internal/keyfile"
)

// IssuerKey signs credentials and status lists (ES256). Its kid is the
// first 8 bytes of SHA-256 over the public key's SubjectPublicKeyInfo, as
// HCERT derives it from a certificate.
type IssuerKey struct {
	signer crypto.Signer // *ecdsa.PrivateKey, or a key held in an HSM
	pub    *ecdsa.PublicKey
	kid    [kidLen]byte
}

// ErrKeyFileMode: a key file is not a regular file, or group or others
// can read or write it.
var ErrKeyFileMode = errors.New("credential: key file permissions too open (want 0600)")

// NewIssuerKey wraps a P-256 private key.
func NewIssuerKey(k *ecdsa.PrivateKey) (*IssuerKey, error) {
	if k == nil {
		return nil, errors.New("credential: the issuer key must be ECDSA P-256")
	}
	return NewIssuerSigner(k)
}

// NewIssuerSigner wraps an ECDSA P-256 signer whose private key may live
// elsewhere (a PKCS#11 token: internal/hsm). Its Sign must return an
// ASN.1 signature over a SHA-256 digest, as crypto/ecdsa's does.
func NewIssuerSigner(s crypto.Signer) (*IssuerKey, error) {
	pub, ok := s.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("credential: the issuer key must be ECDSA P-256 (ES256), not %T", s.Public())
	}
	kid, err := KeyID(pub)
	if err != nil {
		return nil, err
	}
	return &IssuerKey{signer: s, pub: pub, kid: kid}, nil
}

// KeyID derives a public key's kid.
func KeyID(pub *ecdsa.PublicKey) ([kidLen]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return [kidLen]byte{}, err
	}
	h := sha256.Sum256(der)
	return [kidLen]byte(h[:kidLen]), nil
}

// Kid returns the key id, base64url.
func (k *IssuerKey) Kid() string { return base64.RawURLEncoding.EncodeToString(k.kid[:]) }

// Public returns the verifying key.
func (k *IssuerKey) Public() *ecdsa.PublicKey { return k.pub }

// LogValue redacts the key.
func (k *IssuerKey) LogValue() slog.Value { return slog.StringValue("es256:" + k.Kid()) }

// LoadIssuerKey reads a PEM P-256 private key, PKCS#8 "PRIVATE KEY" (or
// SEC 1 "EC PRIVATE KEY"), from a regular file that group and others can
// neither read nor write (else ErrKeyFileMode), at most keyfile.MaxPEMSize
// bytes. A missing file is fs.ErrNotExist (production refuses to start
// without one).
func LoadIssuerKey(path string) (*IssuerKey, error) {
	k, err := keyfile.LoadPrivateKey[*ecdsa.PrivateKey](path)
	if err != nil {
		return nil, issuerKeyErr(err)
	}
	return NewIssuerKey(k)
}

// LoadOrCreateDevIssuerKey loads path or, if it does not exist, generates
// a key there (0600, folder 0700): development data directories only. Of
// several processes starting at once, one creates the key and all use it.
func LoadOrCreateDevIssuerKey(path string) (k *IssuerKey, created bool, err error) {
	priv, created, err := keyfile.LoadOrCreatePrivateKey(path, func() (*ecdsa.PrivateKey, error) {
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	})
	if err != nil {
		return nil, false, issuerKeyErr(err)
	}
	k, err = NewIssuerKey(priv)
	return k, created && err == nil, err
}

// issuerKeyErr prefixes a key file error; a mode error is ErrKeyFileMode.
func issuerKeyErr(err error) error {
	if errors.Is(err, keyfile.ErrMode) {
		return fmt.Errorf("%w: %w", ErrKeyFileMode, err)
	}
	return fmt.Errorf("credential: issuer key: %w", err)
}

// PublicKeyJSON is an issuer key as the API and the branch cache carry it.
type PublicKeyJSON struct {
	Kid  string `json:"kid"`
	SPKI []byte `json:"spki"` // DER SubjectPublicKeyInfo, base64
}

// ExportKey returns the key's public form.
func ExportKey(pub *ecdsa.PublicKey) (PublicKeyJSON, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return PublicKeyJSON{}, err
	}
	kid, err := KeyID(pub)
	if err != nil {
		return PublicKeyJSON{}, err
	}
	return PublicKeyJSON{Kid: base64.RawURLEncoding.EncodeToString(kid[:]), SPKI: der}, nil
}

// ImportKeys builds a KeySet, checking each kid against its key.
func ImportKeys(keys []PublicKeyJSON) (KeySet, error) {
	ks := KeySet{}
	for _, j := range keys {
		pk, err := x509.ParsePKIXPublicKey(j.SPKI)
		if err != nil {
			return nil, fmt.Errorf("%w: issuer key: %v", ErrMalformed, err)
		}
		ec, ok := pk.(*ecdsa.PublicKey)
		if !ok || ec.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: issuer key is not P-256", ErrMalformed)
		}
		kid, err := KeyID(ec)
		if err != nil {
			return nil, err
		}
		if base64.RawURLEncoding.EncodeToString(kid[:]) != j.Kid {
			return nil, fmt.Errorf("%w: issuer key id does not match its key", ErrMalformed)
		}
		ks[kid] = ec
	}
	return ks, nil
}

var b32enc = base32.StdEncoding.WithPadding(base32.NoPadding)

func b32(b []byte) string { return b32enc.EncodeToString(b) }
