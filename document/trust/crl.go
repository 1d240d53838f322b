package trust

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/internal/atomicfile"
)

// MaxCRL bounds one CRL file.
const MaxCRL = 4 << 20

// ErrCRL is returned for a CRL that does not parse or that no anchor signed.
var ErrCRL = errors.New("trust: CRL refused")

// CRL is a certificate revocation list issued by a CSCA.
type CRL struct {
	Raw  []byte
	List *x509.RevocationList
	alg  pkix.AlgorithmIdentifier // outer signatureAlgorithm with parameters
}

// ParseCRL decodes a DER CRL.
func ParseCRL(der []byte) (*CRL, error) {
	if len(der) > MaxCRL {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrCRL, len(der), MaxCRL)
	}
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCRL, err)
	}
	// crypto/x509 reduces the algorithm to an enum that loses PSS
	// parameters and brainpool combinations: keep the AlgorithmIdentifier.
	var outer struct {
		TBS asn1.RawValue
		Alg pkix.AlgorithmIdentifier
		Sig asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &outer); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCRL, err)
	}
	return &CRL{Raw: der, List: rl, alg: outer.Alg}, nil
}

// CheckSignatureFrom verifies that a's key signed the CRL.
func (c *CRL) CheckSignatureFrom(a *Anchor, pol Policy) error {
	if !bytes.Equal(c.List.RawIssuer, a.Cert.RawSubject) {
		return fmt.Errorf("%w: issuer is not %s", ErrCRL, a.Subject())
	}
	return a.Cert.PublicKey.Verify(c.alg, c.alg, c.List.RawTBSRevocationList, c.List.Signature, pol)
}

// Revoked reports whether serial is on the list, and when it was revoked.
func (c *CRL) Revoked(serial *big.Int) (time.Time, bool) {
	for _, e := range c.List.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(serial) == 0 {
			return e.RevocationTime, true
		}
	}
	return time.Time{}, false
}

// ID is the hex SHA-256 of the DER.
func (c *CRL) ID() string {
	s := sha256.Sum256(c.Raw)
	return hex.EncodeToString(s[:])
}

// issuerAnchor finds the anchor that signed c.
func (s *Store) issuerAnchor(c *CRL, pol Policy) (*Anchor, error) {
	for _, a := range s.anchors {
		if bytes.Equal(c.List.RawIssuer, a.Cert.RawSubject) && c.CheckSignatureFrom(a, pol) == nil {
			return a, nil
		}
	}
	return nil, fmt.Errorf("%w: not signed by any configured CSCA", ErrCRL)
}

// WithCRLs returns a store with the same anchors and crls added. Every CRL
// must be signed by one of the anchors.
func (s *Store) WithCRLs(crls []*CRL, pol Policy) (*Store, error) {
	out := &Store{anchors: s.anchors, crls: append([]*CRL(nil), s.crls...), policy: s.policy}
	for _, c := range crls {
		if _, err := s.issuerAnchor(c, pol); err != nil {
			return nil, err
		}
		out.crls = append(out.crls, c)
	}
	return out, nil
}

// CRLsFor returns the stored CRLs whose issuer name is a's subject (their
// signatures were checked when they entered the store).
func (s *Store) CRLsFor(a *Anchor) []*CRL {
	var out []*CRL
	for _, c := range s.crls {
		if bytes.Equal(c.List.RawIssuer, a.Cert.RawSubject) {
			out = append(out, c)
		}
	}
	return out
}

// CRLs returns all stored CRLs.
func (s *Store) CRLs() []*CRL { return append([]*CRL(nil), s.crls...) }

const dirCRL = "crl"

// SaveCRLs writes CRLs under dir/crl/<sha256>.crl, each atomically,
// skipping those present; it returns how many it added. Callers verify the
// CRLs first (Store.WithCRLs).
func SaveCRLs(dir string, crls []*CRL) (int, error) {
	d := filepath.Join(dir, dirCRL)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return 0, err
	}
	added := 0
	for _, c := range crls {
		name := filepath.Join(d, c.ID()+".crl")
		if _, err := os.Stat(name); err == nil {
			continue
		}
		if err := atomicfile.Write(name, c.Raw, 0o600); err != nil {
			return added, err
		}
		added++
	}
	return added, nil
}

// loadCRLs reads dir/crl and verifies each CRL against the store.
func (s *Store) loadCRLs(dir string, pol Policy) (*Store, error) {
	entries, err := os.ReadDir(filepath.Join(dir, dirCRL))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return s, nil
		}
		return nil, err
	}
	var crls []*CRL
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".crl") {
			continue
		}
		path := filepath.Join(dir, dirCRL, e.Name())
		der, err := readLimited(path, MaxCRL)
		if err != nil {
			return nil, err
		}
		c, err := ParseCRL(der)
		if err != nil {
			return nil, fmt.Errorf("trust: %s: %w", path, err)
		}
		crls = append(crls, c)
	}
	st, err := s.WithCRLs(crls, pol)
	if err != nil {
		return nil, fmt.Errorf("trust: %s: %w", filepath.Join(dir, dirCRL), err)
	}
	return st, nil
}
