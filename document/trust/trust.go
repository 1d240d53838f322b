// Package trust holds the trust anchors document verifiers chain to: ICAO
// Country Signing CA (CSCA) certificates imported from signed ICAO master
// lists, stored under <data>/trust/icao/{production,test}/.
//
// Invariants:
//   - A master list is imported only after its own CMS signature verifies
//     with a Master List Signer certificate that chains to a root the
//     operator named (--signer-root); there is no unverified import.
//   - Anchors are deduplicated by the SHA-256 of their DER; each is written
//     atomically (temporary file, fsync, rename), so a crash leaves either
//     the old or the new file, never a partial one.
//   - Every anchor is marked production or test by the directory it lives
//     in; CheckProduction refuses a store holding any test anchor, and an
//     empty store (a missing trust anchor is a startup error).
package trust

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/internal/cert"
)

// Errors. ErrTestAnchor wraps document.ErrTestAnchor.
var (
	ErrNoAnchors  = errors.New("trust: no trust anchors configured")
	ErrTestAnchor = fmt.Errorf("trust: %w", document.ErrTestAnchor)
	ErrMasterList = errors.New("trust: master list refused")
)

// Anchor is one trusted CSCA certificate.
type Anchor struct {
	Cert        *cert.Certificate
	Fingerprint [32]byte // SHA-256 of the DER
	Test        bool     // a test anchor, refused in production
}

// NewAnchor parses a DER certificate as an anchor.
func NewAnchor(der []byte, test bool) (*Anchor, error) {
	c, err := cert.Parse(der)
	if err != nil {
		return nil, err
	}
	return &Anchor{Cert: c, Fingerprint: sha256.Sum256(der), Test: test}, nil
}

// Country is the anchor's subject country (ISO 3166-1 alpha-2).
func (a *Anchor) Country() string { return a.Cert.Country() }

// Subject is the anchor's subject DN in RFC 4514 form.
func (a *Anchor) Subject() string { return a.Cert.Subject.String() }

// ID is the hex SHA-256 fingerprint.
func (a *Anchor) ID() string { return hex.EncodeToString(a.Fingerprint[:]) }

// String is one reviewer-readable line: country, subject, validity, key.
func (a *Anchor) String() string {
	mark := ""
	if a.Test {
		mark = " [test]"
	}
	return fmt.Sprintf("%s\t%s\t%s..%s\t%s%s", a.Country(), a.Subject(),
		a.Cert.NotBefore.UTC().Format(time.DateOnly), a.Cert.NotAfter.UTC().Format(time.DateOnly),
		a.Cert.PublicKey.Algorithm(), mark)
}

// Store is an immutable set of anchors.
type Store struct {
	anchors []*Anchor
	crls    []*CRL
	policy  OperatorPolicy
}

// Policy is the operator's policy loaded with the store (Load reads
// policy.json beside the anchors).
func (s *Store) Policy() OperatorPolicy { return s.policy }

// SHA1States are the issuing states the operator's policy allows SHA-1 for.
func (s *Store) SHA1States() []string { return slices.Clone(s.policy.AllowSHA1) }

// WithPolicy returns a store with the same anchors and CRLs and policy p.
func (s *Store) WithPolicy(p OperatorPolicy) (*Store, error) {
	p, err := p.Normalize()
	if err != nil {
		return nil, err
	}
	return &Store{anchors: s.anchors, crls: s.crls, policy: p}, nil
}

// NewStore returns a store with the given anchors, deduplicated.
func NewStore(anchors ...*Anchor) *Store {
	s := &Store{}
	seen := map[[32]byte]bool{}
	for _, a := range anchors {
		if !seen[a.Fingerprint] {
			seen[a.Fingerprint] = true
			s.anchors = append(s.anchors, a)
		}
	}
	slices.SortFunc(s.anchors, func(a, b *Anchor) int {
		if c := strings.Compare(a.Country(), b.Country()); c != 0 {
			return c
		}
		if c := a.Cert.NotBefore.Compare(b.Cert.NotBefore); c != 0 {
			return c
		}
		return bytes.Compare(a.Fingerprint[:], b.Fingerprint[:])
	})
	return s
}

// Anchors returns the anchors sorted by country, then validity start.
func (s *Store) Anchors() []*Anchor { return slices.Clone(s.anchors) }

// Len is the number of anchors.
func (s *Store) Len() int { return len(s.anchors) }

// Issuers returns the anchors that may have issued c: same subject DN as
// c's issuer DN, and, where both are present, matching key identifiers.
func (s *Store) Issuers(c *cert.Certificate) []*Anchor {
	var out []*Anchor
	for _, a := range s.anchors {
		if !bytes.Equal(a.Cert.RawSubject, c.RawIssuer) && !equalNames(a, c) {
			continue
		}
		if len(c.AuthorityKeyID) > 0 && len(a.Cert.SubjectKeyID) > 0 && !bytes.Equal(c.AuthorityKeyID, a.Cert.SubjectKeyID) {
			continue
		}
		out = append(out, a)
	}
	return out
}

// equalNames compares parsed names when the raw encodings differ (some DS
// certificates re-encode the issuer with other string types).
func equalNames(a *Anchor, c *cert.Certificate) bool {
	as, cs := a.Cert.Subject.String(), c.Issuer.String()
	return as != "" && as == cs
}

// CheckProduction is called by the server at startup: it fails if the
// store is empty or holds any test anchor.
func (s *Store) CheckProduction() error {
	if len(s.anchors) == 0 {
		return ErrNoAnchors
	}
	n := 0
	for _, a := range s.anchors {
		if a.Test {
			n++
		}
	}
	if n > 0 {
		return fmt.Errorf("%w: %d test anchor(s) configured", ErrTestAnchor, n)
	}
	return nil
}
