package icao

import (
	"bytes"
	"crypto"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/internal/cert"
	"github.com/madoguchi/madoguchi/document/trust"
)

// Files are the raw chip files as read by the client.
type Files struct {
	SOD []byte         // EF.SOD (011D)
	COM []byte         // EF.COM (011E), optional, not signed
	DG  map[int][]byte // data group number → file
}

// Config configures a Verifier.
type Config struct {
	Anchors *trust.Store
	Policy  trust.Policy // zero value: use trust.DefaultPolicy()
	// CRLs are DER CRLs issued by CSCAs (from the ICAO PKD or national
	// distribution points); CRLs inside EF.SOD are used as well.
	CRLs [][]byte
	// SHA1States is the operator's explicit policy: the issuing states
	// (DG1 codes, ISO 3166-1 alpha-3 such as "RUS") whose documents may use
	// SHA-1 for data-group hashes and signatures. Empty (the default): no
	// state. A document that used SHA-1 under it carries the note
	// "policy.sha1" in its evidence.
	SHA1States []string
}

// Verifier verifies eMRTD chip data against configured CSCA anchors. It is
// immutable after NewVerifier and safe for concurrent use.
type Verifier struct {
	anchors *trust.Store
	pol     cert.Policy
	crls    []*trust.CRL    // from Config; the store's own CRLs are used as well
	sha1    map[string]bool // issuing states allowed SHA-1 (Config.SHA1States)
}

// NewVerifier returns a Verifier. It fails without anchors: a missing trust
// anchor is a configuration error, never a silent pass.
func NewVerifier(c Config) (*Verifier, error) {
	if c.Anchors == nil || c.Anchors.Len() == 0 {
		return nil, trust.ErrNoAnchors
	}
	v := &Verifier{anchors: c.Anchors, pol: c.Policy, sha1: map[string]bool{}}
	if v.pol.MinRSABits == 0 {
		v.pol = trust.DefaultPolicy()
	}
	for _, st := range c.SHA1States {
		if _, ok := Alpha2(st); !ok || len(st) != 3 {
			return nil, fmt.Errorf("icao: SHA-1 policy: %q is not an issuing state code (ISO 3166-1 alpha-3)", st)
		}
		v.sha1[Alpha3(st)] = true
	}
	for i, der := range c.CRLs {
		rl, err := trust.ParseCRL(der)
		if err != nil {
			return nil, fmt.Errorf("icao: CRL %d: %w", i, err)
		}
		v.crls = append(v.crls, rl)
	}
	return v, nil
}

// CheckProduction refuses test anchors (for server startup).
func (v *Verifier) CheckProduction() error { return v.anchors.CheckProduction() }

// run accumulates checks and the first mandatory failure; pol is the
// algorithm policy for this document (the verifier's, with SHA-1 allowed
// when the operator's policy names the issuing state).
type run struct {
	ev    *document.Evidence
	first error
	pol   cert.Policy
}

func (r *run) pass(name, detail string) { r.ev.AddCheck(name, document.Pass, true, detail) }

func (r *run) fail(name string, sentinel error, detail string, args ...any) {
	d := fmt.Sprintf(detail, args...)
	r.ev.AddCheck(name, document.Fail, true, d)
	if r.first == nil {
		r.first = &document.RefusalError{Kind: document.KindICAO, Check: name, Reason: d, Err: sentinel}
	}
}

func (r *run) skip(name, detail string) { r.ev.AddCheck(name, document.Skipped, false, detail) }

func (r *run) done() (*document.Evidence, error) {
	r.ev.Finish()
	if !r.ev.Verified && r.first == nil {
		r.first = &document.RefusalError{Kind: document.KindICAO, Reason: "no mandatory check passed", Err: document.ErrNotAccepted}
	}
	if r.ev.Verified {
		return r.ev, nil
	}
	return r.ev, r.first
}

// Verify performs passive authentication of f and, when the chip has an
// Active Authentication key, checks aa against it. aa.Challenge must be
// the challenge the server issued for this session. The returned evidence
// is never nil; the error is non-nil exactly when the evidence is not
// verified, and is a *document.RefusalError naming the first failed check.
func (v *Verifier) Verify(f Files, aa *ActiveAuth, now time.Time) (*document.Evidence, error) {
	r := &run{ev: &document.Evidence{Kind: document.KindICAO}, pol: v.pol}
	ev := r.ev
	if f.SOD != nil {
		ev.AddDigest("EF.SOD", f.SOD)
	}
	if f.COM != nil {
		ev.AddDigest("EF.COM", f.COM)
	}
	numbers := make([]int, 0, len(f.DG))
	for n, b := range f.DG {
		numbers = append(numbers, n)
		ev.AddDigest(fmt.Sprintf("DG%d", n), b)
	}
	slices.Sort(numbers)

	// Structure.
	if f.SOD == nil {
		r.fail("sod.present", document.ErrNotAccepted, "EF.SOD missing: nothing vouches for the data groups")
		return r.done()
	}
	sod, err := ParseSOD(f.SOD)
	if err != nil {
		r.fail("sod.parse", sentinelOf(err), "%v", err)
		return r.done()
	}
	dg1, ok := f.DG[1]
	if !ok {
		r.fail("dg1.present", document.ErrNotAccepted, "DG1 (MRZ) missing")
		return r.done()
	}
	mrz, err := ParseDG1(dg1)
	if err != nil {
		r.fail("dg1.parse", sentinelOf(err), "%v", err)
		return r.done()
	}
	state := Alpha3(mrz.IssuingState)
	if !sod.ContentType.Equal(OIDLDSSecurityObject) {
		if !slices.Contains(DataContentTypeStates, state) {
			r.fail("sod.content_type", document.ErrMalformed, "EF.SOD content type %v is not ldsSecurityObject (accepted only for %s)",
				sod.ContentType, strings.Join(DataContentTypeStates, ", "))
			return r.done()
		}
		r.ev.AddCheck("sod.content_type", document.Pass, false, fmt.Sprintf(
			"known deviation accepted: eContentType id-data (%v) instead of ldsSecurityObject, as %s documents carry it; the content is an LDSSecurityObject and the signed content-type attribute matches", sod.ContentType, state))
	}
	if v.sha1[state] {
		r.pol.AllowSHA1 = true
	}
	for _, n := range numbers {
		if _, err := parseDG(n, f.DG[n]); err != nil {
			r.fail(fmt.Sprintf("dg%d.parse", n), sentinelOf(err), "%v", err)
		}
	}

	// Data-group hashes.
	_, hashFn, err := cert.NewHash(sod.HashAlgorithm, r.pol)
	if err != nil {
		r.fail("sod.hash_algorithm", policySentinel(err), "data-group hash algorithm: %v%s", err, sha1Hint(err, state))
	} else {
		for _, n := range numbers {
			name := fmt.Sprintf("dg%d.hash", n)
			want, listed := sod.Hashes[n]
			if !listed {
				r.fail(name, document.ErrTampered, "DG%d is not covered by the SOD (data injection)", n)
				continue
			}
			hashFn.Reset()
			hashFn.Write(f.DG[n])
			if subtle.ConstantTimeCompare(hashFn.Sum(nil), want) != 1 {
				r.fail(name, document.ErrTampered, "DG%d does not match its hash in the SOD", n)
				continue
			}
			r.pass(name, "")
		}
		var missing []string
		for n := range sod.Hashes {
			if _, ok := f.DG[n]; !ok {
				missing = append(missing, fmt.Sprintf("DG%d", n))
			}
		}
		if len(missing) > 0 {
			slices.Sort(missing)
			r.skip("dg.not_read", "listed in the SOD but not supplied: "+strings.Join(missing, ", "))
		}
	}

	// SOD signature and Document Signer.
	ds := v.verifySOD(r, sod, state)
	var csca *trust.Anchor
	if ds != nil {
		csca = v.verifyDS(r, sod, ds, state, now)
	}
	if uses := sha1Uses(sod, ds); len(uses) > 0 && r.pol.AllowSHA1 {
		why := "the verifier's algorithm policy"
		if v.sha1[state] {
			why = "the operator's policy for issuing state " + state
		}
		r.ev.AddCheck("policy.sha1", document.Pass, false, "SHA-1 ("+strings.Join(uses, ", ")+") accepted by "+why)
	}

	// Country.
	if ds != nil {
		a2, ok := Alpha2(mrz.IssuingState)
		switch {
		case !ok:
			r.fail("country", document.ErrNotAccepted, "issuing state %q is not a known country code", mrz.IssuingState)
		case !strings.EqualFold(ds.Country(), a2):
			r.fail("country", document.ErrTampered, "DG1 issuing state %s does not match the Document Signer country %s", mrz.IssuingState, ds.Country())
		case csca != nil && !strings.EqualFold(csca.Country(), ds.Country()):
			r.fail("country", document.ErrTampered, "Document Signer country %s differs from its CSCA's country %s", ds.Country(), csca.Country())
		default:
			r.pass("country", "DG1 issuing state "+mrz.IssuingState+" = Document Signer country "+ds.Country())
		}
	}
	paOK := len(ev.Failed()) == 0

	// Document validity.
	if exp, err := Date(mrz.DateOfExpiry, false, now); err != nil {
		r.fail("document.expiry", document.ErrMalformed, "date of expiry unreadable")
	} else {
		ev.Expiry = exp
		if now.After(exp.AddDate(0, 0, 1)) {
			r.fail("document.expiry", document.ErrExpired, "document expired on %s", exp.Format(time.DateOnly))
		} else {
			r.pass("document.expiry", "valid until "+exp.Format(time.DateOnly))
		}
	}

	// Active Authentication.
	v.activeAuth(r, f, aa)
	r.skip("chip_authentication", "DG14 Chip Authentication is not verified by this server")

	// Evidence content.
	ev.IssuingCountry = Alpha3(mrz.IssuingState)
	if csca != nil {
		ev.Issuer = issuerName(csca.Cert)
	}
	ev.DocumentNumber = document.Secret(mrz.DocumentNumber)
	attr := func(name, value string) {
		if value != "" {
			ev.Attributes = append(ev.Attributes, document.Attribute{Name: name, Value: document.Secret(value), Signed: paOK})
		}
	}
	attr("family_name", mrz.PrimaryID)
	attr("given_name", mrz.SecondaryID)
	if bd, err := Date(mrz.DateOfBirth, true, now); err == nil {
		attr("birthdate", bd.Format(time.DateOnly))
	}
	attr("nationality", Alpha3(mrz.Nationality))
	attr("gender", map[string]string{"M": "male", "F": "female"}[mrz.Sex])
	attr("document_code", mrz.DocumentCode)
	if b, ok := f.DG[11]; ok {
		if d11, err := ParseDG11(b); err == nil {
			attr("full_name", d11.FullName)
			attr("place_of_birth", d11.PlaceOfBirth)
			attr("address", d11.Address)
		}
	}
	if b, ok := f.DG[2]; ok {
		if p, err := ParseDG2(b); err != nil {
			r.skip("dg2.photo", "face image not extracted: "+err.Error())
		} else {
			p.Signed = paOK
			ev.Photo = p
		}
	}
	return r.done()
}

func issuerName(c *cert.Certificate) string {
	parts := slices.Clone(c.Subject.Organization)
	if c.Subject.CommonName != "" {
		parts = append(parts, c.Subject.CommonName)
	}
	return strings.Join(parts, " / ")
}

// verifySOD checks the SOD's signed attributes and signature and returns
// the Document Signer certificate, or nil after recording the failure.
func (v *Verifier) verifySOD(r *run, sod *SOD, state string) *cert.Certificate {
	sd := sod.SignedData
	if len(sd.SignerInfos) != 1 {
		r.fail("sod.signature", document.ErrMalformed, "%d signer infos, want 1", len(sd.SignerInfos))
		return nil
	}
	si := &sd.SignerInfos[0]
	var ds *cert.Certificate
	for _, raw := range sd.Certificates {
		c, err := cert.Parse(raw)
		if err != nil {
			continue
		}
		if (si.SubjectKeyID != nil && bytes.Equal(si.SubjectKeyID, c.SubjectKeyID)) ||
			(si.SerialNumber != nil && si.SerialNumber.Cmp(c.SerialNumber) == 0 && sameIssuer(si.IssuerName, c)) {
			ds = c
			break
		}
	}
	if ds == nil {
		r.fail("ds.present", document.ErrUnknownIssuer, "the Document Signer certificate is not in EF.SOD")
		return nil
	}
	if si.SignedAttrsDER == nil {
		r.fail("sod.signature", document.ErrMalformed, "SOD has no signed attributes")
		return nil
	}
	if ct, err := si.ContentType(); err != nil || !ct.Equal(sod.ContentType) {
		r.fail("sod.signature", document.ErrTampered, "content-type attribute does not name the EF.SOD content type %v", sod.ContentType)
		return nil
	}
	md, err := si.MessageDigest()
	if err != nil {
		r.fail("sod.signature", document.ErrMalformed, "message-digest attribute: %v", err)
		return nil
	}
	_, h, err := cert.NewHash(si.DigestAlgorithm, r.pol)
	if err != nil {
		r.fail("sod.signature", policySentinel(err), "SOD digest algorithm: %v%s", err, sha1Hint(err, state))
		return nil
	}
	h.Write(sd.EContent)
	if subtle.ConstantTimeCompare(h.Sum(nil), md) != 1 {
		r.fail("sod.signature", document.ErrTampered, "LDS security object does not match its signed digest")
		return nil
	}
	if err := ds.PublicKey.Verify(si.SignatureAlgorithm, si.DigestAlgorithm, si.SignedAttrsDER, si.Signature, r.pol); err != nil {
		r.fail("sod.signature", policySentinel(err), "SOD signature by the Document Signer does not verify: %v%s", err, sha1Hint(err, state))
		return nil
	}
	r.pass("sod.signature", "signed by the Document Signer ("+ds.PublicKey.Algorithm()+")")
	return ds
}

// verifyDS checks the Document Signer's validity, key usage, chain to a
// CSCA anchor and revocation, and returns the anchor.
func (v *Verifier) verifyDS(r *run, sod *SOD, ds *cert.Certificate, state string, now time.Time) *trust.Anchor {
	if ds.ValidAt(now) {
		r.pass("ds.validity", "")
	} else {
		r.fail("ds.validity", document.ErrExpired, "Document Signer certificate valid %s to %s",
			ds.NotBefore.UTC().Format(time.DateOnly), ds.NotAfter.UTC().Format(time.DateOnly))
	}
	switch {
	case len(ds.UnhandledCritical) > 0:
		r.fail("ds.key_usage", document.ErrNotAccepted, "Document Signer has unknown critical extensions %v", ds.UnhandledCritical)
	case ds.HasKeyUsage && ds.KeyUsage&x509.KeyUsageDigitalSignature == 0:
		r.fail("ds.key_usage", document.ErrNotAccepted, "Document Signer key usage lacks digitalSignature")
	case ds.IsCA:
		r.fail("ds.key_usage", document.ErrNotAccepted, "Document Signer is a CA certificate")
	default:
		r.pass("ds.key_usage", "")
	}
	// Several anchors may hold the same CSCA key (a self-signed certificate
	// and link certificates with other validity periods): prefer one that
	// is valid now.
	var anchor *trust.Anchor
	var lastErr error
	for _, a := range v.anchors.Issuers(ds) {
		if err := ds.CheckSignatureFrom(a.Cert, r.pol); err != nil {
			lastErr = err
			continue
		}
		if anchor == nil || (!anchor.Cert.ValidAt(now) && a.Cert.ValidAt(now)) {
			anchor = a
		}
	}
	if anchor == nil {
		if lastErr != nil {
			r.fail("ds.chain", policySentinel(lastErr), "no configured CSCA of %s verifies the Document Signer: %v%s", ds.Country(), lastErr, sha1Hint(lastErr, state))
		} else {
			r.fail("ds.chain", document.ErrUnknownIssuer, "no configured CSCA issued this Document Signer (country %s)", ds.Country())
		}
		return nil
	}
	detail := "CSCA " + anchor.Subject() + " (" + anchor.Cert.PublicKey.Algorithm() + ")"
	if anchor.Test {
		detail += " [test anchor]"
	}
	r.pass("ds.chain", detail)
	switch {
	case !anchor.Cert.ValidAt(now):
		r.fail("csca.validity", document.ErrExpired, "CSCA valid %s to %s",
			anchor.Cert.NotBefore.UTC().Format(time.DateOnly), anchor.Cert.NotAfter.UTC().Format(time.DateOnly))
	case anchor.Cert.HasKeyUsage && anchor.Cert.KeyUsage&x509.KeyUsageCertSign == 0:
		r.fail("csca.validity", document.ErrNotAccepted, "CSCA key usage lacks keyCertSign")
	default:
		r.pass("csca.validity", "")
	}
	v.checkCRL(r, sod, ds, anchor, now)
	return anchor
}

// checkCRL looks for a CRL from the anchor among the configured ones, the
// store's and those in EF.SOD; only CRLs whose signature verifies with the
// anchor's key count.
func (v *Verifier) checkCRL(r *run, sod *SOD, ds *cert.Certificate, anchor *trust.Anchor, now time.Time) {
	crls := append(slices.Clone(v.crls), v.anchors.CRLsFor(anchor)...)
	for _, der := range sod.SignedData.CRLs {
		if rl, err := trust.ParseCRL(der); err == nil {
			crls = append(crls, rl)
		}
	}
	used, stale := false, false
	for _, rl := range crls {
		if rl.CheckSignatureFrom(anchor, r.pol) != nil {
			continue // another CSCA's, or another key of the same CSCA name
		}
		if at, revoked := rl.Revoked(ds.SerialNumber); revoked {
			r.fail("ds.crl", document.ErrRevoked, "Document Signer revoked on %s", at.UTC().Format(time.DateOnly))
			return
		}
		if !rl.List.NextUpdate.IsZero() && now.After(rl.List.NextUpdate) {
			stale = true
			continue
		}
		used = true
	}
	switch {
	case used:
		r.pass("ds.crl", "not revoked")
	case stale:
		r.skip("ds.crl", "the CRLs from this CSCA are past their next update; revocation not checked")
	default:
		r.skip("ds.crl", "no CRL from this CSCA was given; revocation not checked")
	}
}

// activeAuth records the "aa" check.
func (v *Verifier) activeAuth(r *run, f Files, aa *ActiveAuth) {
	dg15, ok := f.DG[15]
	if !ok {
		r.skip("aa", "the chip has no Active Authentication key (DG15): chip presence not proven, a copied chip is not excluded")
		return
	}
	spki, err := ParseDG15(dg15)
	if err != nil {
		r.fail("aa", document.ErrMalformed, "DG15: %v", err)
		return
	}
	if aa == nil {
		r.fail("aa", document.ErrChallenge, "the chip has an Active Authentication key but no response to a server challenge was given")
		return
	}
	var alg asn1.ObjectIdentifier
	if dg14, ok := f.DG[14]; ok {
		if o, err := AASignatureAlgorithm(dg14); err == nil {
			alg = o
		}
	}
	if err := VerifyActiveAuth(spki, alg, *aa, r.pol); err != nil {
		r.fail("aa", document.ErrChallenge, "%v", err)
		return
	}
	r.pass("aa", "the chip signed this session's challenge")
}

// sha1Hint tells the operator how SHA-1 could be accepted for state when
// err is a refusal of SHA-1 (and adds nothing otherwise).
func sha1Hint(err error, state string) string {
	if !errors.Is(err, cert.ErrWeakSHA1) {
		return ""
	}
	return fmt.Sprintf(" (SHA-1 is accepted only for issuing states the operator allows: madoguchi trust policy --allow-sha1 %s)", state)
}

// sha1Uses names the parts of the document's signature chain that use
// SHA-1: the data-group hashes, the SOD digest or signature, the Document
// Signer certificate's signature.
func sha1Uses(sod *SOD, ds *cert.Certificate) []string {
	var out []string
	if h, err := cert.HashByOID(sod.HashAlgorithm.Algorithm); err == nil && h == crypto.SHA1 {
		out = append(out, "data-group hashes")
	}
	if si := sod.SignedData.SignerInfos; len(si) == 1 {
		if h, err := cert.HashByOID(si[0].DigestAlgorithm.Algorithm); err == nil && h == crypto.SHA1 {
			out = append(out, "SOD digest")
		}
		if h, err := cert.SignatureHash(si[0].SignatureAlgorithm, si[0].DigestAlgorithm); err == nil && h == crypto.SHA1 {
			out = append(out, "SOD signature")
		}
	}
	if ds != nil {
		if h, err := cert.SignatureHash(ds.SignatureAlgorithm, pkix.AlgorithmIdentifier{}); err == nil && h == crypto.SHA1 {
			out = append(out, "Document Signer certificate")
		}
	}
	return out
}

func sentinelOf(err error) error {
	if errors.Is(err, document.ErrTooLarge) {
		return document.ErrTooLarge
	}
	return document.ErrMalformed
}

func policySentinel(err error) error {
	switch {
	case errors.Is(err, cert.ErrWeak):
		return document.ErrWeakAlgorithm
	case errors.Is(err, cert.ErrUnsupported):
		return document.ErrUnsupported
	}
	return document.ErrTampered
}

// sameIssuer compares a SignerInfo's issuer Name with a certificate's: by
// bytes, or, since some issuers re-encode the DN with other string types in
// the SignerInfo, by parsed value.
func sameIssuer(raw []byte, c *cert.Certificate) bool {
	if bytes.Equal(raw, c.RawIssuer) {
		return true
	}
	var rdn pkix.RDNSequence
	if rest, err := asn1.Unmarshal(raw, &rdn); err != nil || len(rest) != 0 {
		return false
	}
	var n pkix.Name
	n.FillFromRDNSequence(&rdn)
	return n.String() != "" && n.String() == c.Issuer.String()
}
