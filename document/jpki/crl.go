package jpki

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// MaxCRLSize bounds an imported CRL. JPKI CRLs are partitioned per
// distribution point, so each is far smaller than this.
const MaxCRLSize = 32 << 20

var (
	oidCRLDistributionPoints = asn1.ObjectIdentifier{2, 5, 29, 31}
	oidIssuingDistPoint      = asn1.ObjectIdentifier{2, 5, 29, 28}
	oidCRLNumber             = asn1.ObjectIdentifier{2, 5, 29, 20}
	oidAuthorityKeyID        = asn1.ObjectIdentifier{2, 5, 29, 35}
)

// CRLStore is a RevocationChecker over CRLs imported by the operator. A CRL
// is accepted only if a configured CA signed it (SHA-2, RSA >= 2048), it has
// a nextUpdate, and it carries no extension this package does not
// understand. A check fails with ErrStaleCRL once the covering CRL is past
// its nextUpdate, and with ErrRevocationUnavailable when no imported CRL
// covers the certificate (partitioned CRLs cover only their distribution
// point). It is safe for concurrent use.
type CRLStore struct {
	cas []*x509.Certificate
	now func() time.Time

	mu   sync.RWMutex
	crls map[string]*storedCRL
}

type storedCRL struct {
	ca      *x509.Certificate
	list    *x509.RevocationList
	scope   [][]byte // distribution point names; nil: a full CRL
	revoked map[string]time.Time
}

var _ RevocationChecker = (*CRLStore)(nil)

// NewCRLStore returns a store that accepts CRLs signed by the given CAs
// (normally the roots of the trust store). now is its clock; nil: time.Now.
func NewCRLStore(cas []*x509.Certificate, now func() time.Time) (*CRLStore, error) {
	if len(cas) == 0 {
		return nil, fmt.Errorf("%w: CRL store without CAs", ErrDisabled)
	}
	if now == nil {
		now = time.Now
	}
	return &CRLStore{cas: cas, now: now, crls: make(map[string]*storedCRL)}, nil
}

// CRLImport is what Import did with a CRL that verified.
type CRLImport int

const (
	// CRLAdded: the first CRL of its issuer and scope.
	CRLAdded CRLImport = iota + 1
	// CRLReplaced: newer (a later thisUpdate) than the stored CRL of its
	// issuer and scope, which it replaced.
	CRLReplaced
	// CRLUnchanged: the very CRL already stored (the same bytes); nothing
	// changed.
	CRLUnchanged
)

func (c CRLImport) String() string {
	switch c {
	case CRLAdded:
		return "added"
	case CRLReplaced:
		return "replaced"
	case CRLUnchanged:
		return "unchanged"
	}
	return "invalid"
}

// Import verifies and stores one DER CRL, replacing an older CRL of the same
// issuer and scope, and says which it did. Importing the stored CRL again is
// CRLUnchanged, not an error. A CRL that is not newer than the stored one
// (an earlier thisUpdate, or the same thisUpdate with other contents) is
// refused with ErrOlderCRL and the stored one stays: an operator who
// imports an old CRL by mistake is told, and revocations the newer CRL
// lists are never dropped.
func (s *CRLStore) Import(der []byte) (CRLImport, error) {
	st, err := s.verify(der)
	if err != nil {
		return 0, err
	}
	key := crlKey(st.ca, st.scope)
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.crls[key]
	switch {
	case !ok:
		s.crls[key] = st
		return CRLAdded, nil
	case bytes.Equal(old.list.Raw, st.list.Raw):
		return CRLUnchanged, nil
	case st.list.ThisUpdate.After(old.list.ThisUpdate):
		s.crls[key] = st
		return CRLReplaced, nil
	case st.list.ThisUpdate.Equal(old.list.ThisUpdate):
		return 0, fmt.Errorf("%w: another CRL of this issuer and scope with the same thisUpdate %s is imported", ErrOlderCRL,
			old.list.ThisUpdate.UTC().Format(time.RFC3339))
	}
	return 0, fmt.Errorf("%w: its thisUpdate %s is before the imported CRL's %s; the imported one stays", ErrOlderCRL,
		st.list.ThisUpdate.UTC().Format(time.RFC3339), old.list.ThisUpdate.UTC().Format(time.RFC3339))
}

// verify checks a CRL as Import accepts it and returns it ready to store.
func (s *CRLStore) verify(der []byte) (*storedCRL, error) {
	if len(der) > MaxCRLSize {
		return nil, fmt.Errorf("%w: CRL of %d bytes (max %d)", ErrTooLarge, len(der), MaxCRLSize)
	}
	list, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCRL, err)
	}
	switch list.SignatureAlgorithm {
	case x509.SHA256WithRSA, x509.SHA384WithRSA, x509.SHA512WithRSA:
	default:
		return nil, fmt.Errorf("%w: CRL signed with %v", ErrWeakAlgorithm, list.SignatureAlgorithm)
	}
	var ca *x509.Certificate
	for _, c := range s.cas {
		if !bytes.Equal(c.RawSubject, list.RawIssuer) {
			continue
		}
		if len(list.AuthorityKeyId) > 0 && len(c.SubjectKeyId) > 0 && !bytes.Equal(list.AuthorityKeyId, c.SubjectKeyId) {
			continue
		}
		if list.CheckSignatureFrom(c) == nil {
			ca = c
			break
		}
	}
	if ca == nil {
		return nil, fmt.Errorf("%w: CRL not signed by a configured CA", ErrCRL)
	}
	if err := checkAlgorithms(ca); err != nil {
		return nil, err
	}
	if list.NextUpdate.IsZero() || !list.NextUpdate.After(list.ThisUpdate) {
		return nil, fmt.Errorf("%w: CRL without a usable nextUpdate", ErrCRL)
	}
	st := &storedCRL{ca: ca, list: list, revoked: make(map[string]time.Time, len(list.RevokedCertificateEntries))}
	for _, e := range list.Extensions {
		switch {
		case e.Id.Equal(oidIssuingDistPoint):
			if st.scope, err = parseIDP(e.Value); err != nil {
				return nil, err
			}
		case e.Id.Equal(oidCRLNumber), e.Id.Equal(oidAuthorityKeyID):
		case e.Critical:
			return nil, fmt.Errorf("%w: CRL has unsupported critical extension %s (delta CRLs are not supported)", ErrCRL, e.Id)
		}
	}
	for _, e := range list.RevokedCertificateEntries {
		for _, x := range e.Extensions {
			if x.Critical {
				return nil, fmt.Errorf("%w: CRL entry has critical extension %s", ErrCRL, x.Id)
			}
		}
		st.revoked[string(e.SerialNumber.Bytes())+"/"+e.SerialNumber.String()] = e.RevocationTime
	}
	return st, nil
}

func crlKey(ca *x509.Certificate, scope [][]byte) string {
	h := sha256.New()
	h.Write(ca.RawSubject)
	h.Write(ca.RawSubjectPublicKeyInfo)
	for _, n := range scope {
		h.Write(n)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// parseIDP returns the distribution point names of an issuingDistributionPoint
// and refuses scopes this store cannot apply correctly.
func parseIDP(v []byte) ([][]byte, error) {
	var seq asn1.RawValue
	if rest, err := asn1.Unmarshal(v, &seq); err != nil || len(rest) != 0 || seq.Tag != asn1.TagSequence {
		return nil, fmt.Errorf("%w: malformed issuingDistributionPoint", ErrCRL)
	}
	var scope [][]byte
	for b := seq.Bytes; len(b) > 0; {
		var f asn1.RawValue
		var err error
		if b, err = asn1.Unmarshal(b, &f); err != nil || f.Class != asn1.ClassContextSpecific {
			return nil, fmt.Errorf("%w: malformed issuingDistributionPoint", ErrCRL)
		}
		switch f.Tag {
		case 0: // distributionPoint
			if scope, err = fullNames(f.Bytes); err != nil {
				return nil, err
			}
		case 1: // onlyContainsUserCerts: still covers card certificates
		default:
			return nil, fmt.Errorf("%w: issuingDistributionPoint field [%d] not supported", ErrCRL, f.Tag)
		}
	}
	if len(scope) == 0 {
		return nil, fmt.Errorf("%w: issuingDistributionPoint without a distribution point name", ErrCRL)
	}
	return scope, nil
}

// fullNames splits a DistributionPointName's fullName [0] into its
// GeneralName encodings.
func fullNames(dpn []byte) ([][]byte, error) {
	var choice asn1.RawValue
	if rest, err := asn1.Unmarshal(dpn, &choice); err != nil || len(rest) != 0 || choice.Class != asn1.ClassContextSpecific || choice.Tag != 0 {
		return nil, fmt.Errorf("%w: distribution point is not a fullName", ErrCRL)
	}
	var out [][]byte
	for b := choice.Bytes; len(b) > 0; {
		var gn asn1.RawValue
		var err error
		if b, err = asn1.Unmarshal(b, &gn); err != nil {
			return nil, fmt.Errorf("%w: malformed GeneralName", ErrCRL)
		}
		out = append(out, gn.FullBytes)
	}
	return out, nil
}

// certDPNames returns the distribution point names of a certificate.
func certDPNames(c *x509.Certificate) ([][]byte, error) {
	v, ok := extensionValue(c, oidCRLDistributionPoints)
	if !ok {
		return nil, nil
	}
	var dps []asn1.RawValue
	if rest, err := asn1.Unmarshal(v, &dps); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%w: malformed cRLDistributionPoints", ErrCertificate)
	}
	var out [][]byte
	for _, dp := range dps {
		for b := dp.Bytes; len(b) > 0; {
			var f asn1.RawValue
			var err error
			if b, err = asn1.Unmarshal(b, &f); err != nil {
				return nil, fmt.Errorf("%w: malformed cRLDistributionPoints", ErrCertificate)
			}
			if f.Class == asn1.ClassContextSpecific && f.Tag == 0 {
				names, err := fullNames(f.Bytes)
				if err != nil {
					return nil, err
				}
				out = append(out, names...)
			}
		}
	}
	return out, nil
}

func covers(scope, names [][]byte) bool {
	if scope == nil {
		return true
	}
	for _, s := range scope {
		for _, n := range names {
			if bytes.Equal(s, n) {
				return true
			}
		}
	}
	return false
}

// CheckRevocation implements RevocationChecker.
func (s *CRLStore) CheckRevocation(ctx context.Context, cert, issuer *x509.Certificate) (*RevocationEvidence, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	names, err := certDPNames(cert)
	if err != nil {
		return nil, err
	}
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	var stale bool
	var best *storedCRL
	for _, st := range s.crls {
		if !bytes.Equal(st.ca.RawSubject, issuer.RawSubject) || !bytes.Equal(st.ca.RawSubjectPublicKeyInfo, issuer.RawSubjectPublicKeyInfo) {
			continue
		}
		if !covers(st.scope, names) {
			continue
		}
		if now.After(st.list.NextUpdate) || now.Before(st.list.ThisUpdate) {
			stale = true
			continue
		}
		if t, ok := st.revoked[string(cert.SerialNumber.Bytes())+"/"+cert.SerialNumber.String()]; ok {
			return &RevocationEvidence{Method: "crl", Status: StatusRevoked, ThisUpdate: st.list.ThisUpdate, NextUpdate: st.list.NextUpdate, RevokedAt: t, Raw: st.list.Raw},
				fmt.Errorf("%w: listed in CRL of %s", ErrRevoked, st.list.ThisUpdate.UTC().Format(time.RFC3339))
		}
		if best == nil || st.list.ThisUpdate.After(best.list.ThisUpdate) {
			best = st
		}
	}
	if best == nil {
		if stale {
			return nil, ErrStaleCRL
		}
		return nil, fmt.Errorf("%w: no imported CRL covers this certificate", ErrRevocationUnavailable)
	}
	return &RevocationEvidence{Method: "crl", Status: StatusGood, ThisUpdate: best.list.ThisUpdate, NextUpdate: best.list.NextUpdate, Raw: best.list.Raw}, nil
}

// NextUpdate returns the earliest nextUpdate of the stored CRLs and how
// many are stored (zero time and 0 when none): past that time some
// certificates' status is unavailable (ErrStaleCRL) until a newer CRL is
// imported.
func (s *CRLStore) NextUpdate() (time.Time, int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var first time.Time
	for _, c := range s.crls {
		if first.IsZero() || c.list.NextUpdate.Before(first) {
			first = c.list.NextUpdate
		}
	}
	return first, len(s.crls)
}
