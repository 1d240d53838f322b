// Package jpkitest generates a test hierarchy shaped like the J-LIS JPKI
// one (same certificate profile, OIDs and encodings), for tests and
// development tooling: roots for signing and user authentication, card
// certificates with the personal-data subjectAltName, CRLs, an OCSP
// responder and CMS signatures.
//
// Everything here is TEST ONLY. The roots carry "TEST" in their names and are
// not pinned, so jpki.CheckProduction refuses any configuration that trusts
// them. Private keys live in memory and are meant to be thrown away, except
// where development tooling stores a test hierarchy and rebuilds it with
// FromCAs (and CardOptions.Key); those keys are still TEST keys.
package jpkitest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/madoguchi/madoguchi/document/jpki"
)

// CA is a certificate authority of the test hierarchy.
type CA struct {
	Cert *x509.Certificate
	Key  *rsa.PrivateKey
}

// Options configures New.
type Options struct {
	// Rand is the randomness source; nil means crypto/rand.
	Rand io.Reader
	// Now is the reference time; zero means time.Now().
	Now time.Time
	// Keys is the number of 2048-bit keys generated up front and reused for
	// card certificates (key generation dominates test time); 0 means 2.
	Keys int
}

// PKI is a generated J-LIS-shaped hierarchy.
type PKI struct {
	Sign *CA // JPKI for digital signature (TEST)
	Auth *CA // JPKI for user authentication (TEST)
	Now  time.Time

	rand io.Reader
	keys []*rsa.PrivateKey
	next int
}

// Name of the test organisation; J-LIS uses "JPKI".
const testOrg = "JPKI TEST"

func rootName(ou string) pkix.Name {
	return pkix.Name{
		Country:            []string{"JP"},
		Organization:       []string{testOrg},
		OrganizationalUnit: []string{ou, "Japan Agency for Local Authority Information Systems (TEST)"},
	}
}

// New generates the two test roots (valid from a year before Now for ten
// years) and a pool of card keys.
func New(o Options) (*PKI, error) {
	p := &PKI{rand: o.Rand, Now: o.Now}
	if p.rand == nil {
		p.rand = rand.Reader
	}
	if p.Now.IsZero() {
		p.Now = time.Now()
	}
	p.Now = p.Now.UTC().Truncate(time.Second)
	n := o.Keys
	if n <= 0 {
		n = 2
	}
	for range n {
		k, err := rsa.GenerateKey(p.rand, 2048)
		if err != nil {
			return nil, err
		}
		p.keys = append(p.keys, k)
	}
	var err error
	nb, na := p.Now.AddDate(-1, 0, 0), p.Now.AddDate(9, 0, 0)
	if p.Sign, err = p.NewRoot(rootName("JPKI for digital signature"), nb, na); err != nil {
		return nil, err
	}
	if p.Auth, err = p.NewRoot(rootName("JPKI for user authentication"), nb, na); err != nil {
		return nil, err
	}
	return p, nil
}

// key returns a pooled card key, or a fresh one when the pool is empty
// (a PKI from FromCAs).
func (p *PKI) key() (*rsa.PrivateKey, error) {
	if len(p.keys) == 0 {
		return rsa.GenerateKey(p.rand, 2048)
	}
	k := p.keys[p.next%len(p.keys)]
	p.next++
	return k, nil
}

func (p *PKI) serial() (*big.Int, error) {
	return rand.Int(p.rand, new(big.Int).Lsh(big.NewInt(1), 63))
}

func ski(pub *rsa.PublicKey) []byte {
	h := sha1.Sum(x509.MarshalPKCS1PublicKey(pub)) // RFC 5280 §4.2.1.2 method 1
	return h[:]
}

// NewRoot generates a self-signed root CA with the J-LIS root profile:
// keyUsage keyCertSign|cRLSign and basicConstraints cA, both critical.
func (p *PKI) NewRoot(name pkix.Name, notBefore, notAfter time.Time) (*CA, error) {
	k, err := rsa.GenerateKey(p.rand, 2048)
	if err != nil {
		return nil, err
	}
	sn, err := p.serial()
	if err != nil {
		return nil, err
	}
	tpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               name,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          ski(&k.PublicKey),
		SignatureAlgorithm:    x509.SHA256WithRSA,
	}
	der, err := x509.CreateCertificate(p.rand, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: c, Key: k}, nil
}

// SubCAOptions configures IssueCA.
type SubCAOptions struct {
	Name                pkix.Name
	NotBefore, NotAfter time.Time // zero: the issuer's validity
	NotCA               bool      // omit basicConstraints cA (a broken "CA")
	NoCertSign          bool      // omit keyCertSign
	MaxPathLen          int
	MaxPathLenZero      bool
	SignatureAlgorithm  x509.SignatureAlgorithm
	ExtraExtensions     []pkix.Extension
	KeyBits             int // 0: 2048
}

// IssueCA issues a subordinate (or link) CA certificate from parent.
func (p *PKI) IssueCA(parent *CA, o SubCAOptions) (*CA, error) {
	bits := o.KeyBits
	if bits == 0 {
		bits = 2048
	}
	k, err := rsa.GenerateKey(p.rand, bits)
	if err != nil {
		return nil, err
	}
	sn, err := p.serial()
	if err != nil {
		return nil, err
	}
	nb, na := o.NotBefore, o.NotAfter
	if nb.IsZero() {
		nb = parent.Cert.NotBefore
	}
	if na.IsZero() {
		na = parent.Cert.NotAfter
	}
	ku := x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	if o.NoCertSign {
		ku = x509.KeyUsageDigitalSignature
	}
	tpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               o.Name,
		NotBefore:             nb,
		NotAfter:              na,
		KeyUsage:              ku,
		BasicConstraintsValid: true,
		IsCA:                  !o.NotCA,
		MaxPathLen:            o.MaxPathLen,
		MaxPathLenZero:        o.MaxPathLenZero,
		SubjectKeyId:          ski(&k.PublicKey),
		SignatureAlgorithm:    o.SignatureAlgorithm,
		ExtraExtensions:       o.ExtraExtensions,
	}
	if tpl.SignatureAlgorithm == 0 {
		tpl.SignatureAlgorithm = x509.SHA256WithRSA
	}
	if o.NotCA {
		tpl.MaxPathLen, tpl.MaxPathLenZero = -1, false
	}
	der, err := x509.CreateCertificate(p.rand, tpl, parent.Cert, &k.PublicKey, parent.Key)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: c, Key: k}, nil
}

// Person is the basic-4 information J-LIS writes into a signing certificate,
// in the certificate's own encodings: DateOfBirth is the era digit and
// YYYYMMDD, Sex "1" or "2", the flags one digit per character.
type Person struct {
	Name, NameFlags       string
	Sex                   string
	DateOfBirth           string
	Address, AddressFlags string
}

// TaroYamada returns a fictitious holder for tests.
func TaroYamada() Person {
	return Person{
		Name:         "山田　太郎",
		NameFlags:    "00000",
		Sex:          "1",
		DateOfBirth:  "419900102",
		Address:      "東京都千代田区千代田１－１",
		AddressFlags: "0000000000000",
	}
}

// CardOptions configures Issue. Zero values give a valid certificate of the
// J-LIS profile for the usage.
type CardOptions struct {
	Usage  jpki.Usage // jpki.UsageSign or jpki.UsageAuth
	Person Person     // UsageSign; zero: TaroYamada
	Issuer *CA        // zero: the root for Usage

	NotBefore, NotAfter time.Time               // zero: Now-1h to Now+5y
	KeyUsage            x509.KeyUsage           // zero: the profile's
	IsCA                bool                    // a card certificate that claims to be a CA
	SignatureAlgorithm  x509.SignatureAlgorithm // zero: SHA256WithRSA
	KeyBits             int                     // non-zero: a fresh key of this size
	Key                 *rsa.PrivateKey         // non-nil: this key (a stored card key); overrides KeyBits
	SAN                 []byte                  // non-nil: this subjectAltName value instead
	CriticalSAN         bool
	ExtraExtensions     []pkix.Extension
	OCSPServer          string
	CRLDistributionDN   string // the CN of the CRL distribution point (a municipality)
}

// Card is an issued card certificate and its private key.
type Card struct {
	Cert *x509.Certificate
	Key  *rsa.PrivateKey
}

// DER returns the certificate.
func (c *Card) DER() []byte { return c.Cert.Raw }

// SignRaw signs msg the way the card's SIGN command does after the client
// hashed it: RSA PKCS#1 v1.5 over SHA-256.
func (c *Card) SignRaw(msg []byte) ([]byte, error) {
	h := sha256.Sum256(msg)
	return rsa.SignPKCS1v15(nil, c.Key, crypto.SHA256, h[:])
}

var (
	oidSAN           = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidCRLDP         = asn1.ObjectIdentifier{2, 5, 29, 31}
	oidCertPolicies  = asn1.ObjectIdentifier{2, 5, 29, 32}
	oidPolicySign    = asn1.ObjectIdentifier{1, 2, 392, 200149, 8, 5, 1, 1, 10}
	oidPolicyAuth    = asn1.ObjectIdentifier{1, 2, 392, 200149, 8, 5, 1, 3, 10}
	oidOU            = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidCN            = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidC             = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidO             = asn1.ObjectIdentifier{2, 5, 4, 10}
	errMissingIssuer = errors.New("jpkitest: no issuer for usage")
)

// SAN encodes the J-LIS personal-data subjectAltName: one otherName per
// attribute, each value a [0] EXPLICIT UTF8String.
func SAN(p Person) ([]byte, error) {
	var names []asn1.RawValue
	for _, a := range []struct {
		oid asn1.ObjectIdentifier
		v   string
	}{
		{jpki.OIDName, p.Name}, {jpki.OIDDateOfBirth, p.DateOfBirth}, {jpki.OIDSex, p.Sex},
		{jpki.OIDAddress, p.Address}, {jpki.OIDNameSubstitute, p.NameFlags}, {jpki.OIDAddressSubstitute, p.AddressFlags},
	} {
		n, err := OtherName(a.oid, a.v)
		if err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return asn1.Marshal(names)
}

// OtherName encodes one otherName general name with a UTF8String value.
func OtherName(oid asn1.ObjectIdentifier, v string) (asn1.RawValue, error) {
	s, err := asn1.MarshalWithParams(v, "utf8")
	if err != nil {
		return asn1.RawValue{}, err
	}
	o, err := asn1.Marshal(oid)
	if err != nil {
		return asn1.RawValue{}, err
	}
	val, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: s})
	if err != nil {
		return asn1.RawValue{}, err
	}
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: append(o, val...)}, nil
}

// crlDPName is the directoryName of a JPKI CRL distribution point:
// C=JP, O=JPKI, OU=<usage>, OU=CRL Distribution Points, CN=<municipality>.
func crlDPName(issuer *CA, cn string) pkix.RDNSequence {
	ou := "JPKI for digital signature"
	if len(issuer.Cert.Subject.OrganizationalUnit) > 0 {
		ou = issuer.Cert.Subject.OrganizationalUnit[0]
	}
	return pkix.RDNSequence{
		{{Type: oidC, Value: "JP"}},
		{{Type: oidO, Value: testOrg}},
		{{Type: oidOU, Value: ou}},
		{{Type: oidOU, Value: "CRL Distribution Points"}},
		{{Type: oidCN, Value: cn}},
	}
}

// DistributionPointName returns the DER GeneralNames ([0] fullName content)
// naming the CRL distribution point cn under issuer.
func DistributionPointName(issuer *CA, cn string) ([]byte, error) {
	dn, err := asn1.Marshal(crlDPName(issuer, cn))
	if err != nil {
		return nil, err
	}
	// directoryName is [4] EXPLICIT Name.
	return asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: dn})
}

func crlDPExtension(issuer *CA, cn string) (pkix.Extension, error) {
	gn, err := DistributionPointName(issuer, cn)
	if err != nil {
		return pkix.Extension{}, err
	}
	full, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: gn})  // fullName [0]
	dpn, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: full}) // distributionPoint [0]
	dp, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: dpn})
	v, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: dp})
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: oidCRLDP, Value: v}, nil
}

func policyExtension(u jpki.Usage) pkix.Extension {
	oid := oidPolicySign
	if u == jpki.UsageAuth {
		oid = oidPolicyAuth
	}
	type info struct{ ID asn1.ObjectIdentifier }
	v, _ := asn1.Marshal([]info{{oid}})
	return pkix.Extension{Id: oidCertPolicies, Critical: true, Value: v}
}

// Issue issues a card certificate.
func (p *PKI) Issue(o CardOptions) (*Card, error) {
	issuer := o.Issuer
	if issuer == nil {
		switch o.Usage {
		case jpki.UsageSign:
			issuer = p.Sign
		case jpki.UsageAuth:
			issuer = p.Auth
		default:
			return nil, errMissingIssuer
		}
	}
	var key *rsa.PrivateKey
	switch {
	case o.Key != nil:
		key = o.Key
	case o.KeyBits != 0:
		var err error
		if key, err = rsa.GenerateKey(p.rand, o.KeyBits); err != nil {
			return nil, err
		}
	default:
		var err error
		if key, err = p.key(); err != nil {
			return nil, err
		}
	}
	sn, err := p.serial()
	if err != nil {
		return nil, err
	}
	nb, na := o.NotBefore, o.NotAfter
	if nb.IsZero() {
		nb = p.Now.Add(-time.Hour)
	}
	if na.IsZero() {
		na = p.Now.AddDate(5, 0, 0)
	}
	ku := o.KeyUsage
	if ku == 0 {
		ku = x509.KeyUsageDigitalSignature
		if o.Usage == jpki.UsageSign {
			ku |= x509.KeyUsageContentCommitment
		}
	}
	alg := o.SignatureAlgorithm
	if alg == 0 {
		alg = x509.SHA256WithRSA
	}
	dpCN := o.CRLDistributionDN
	if dpCN == "" {
		dpCN = "Chiyoda-ku"
	}
	tpl := &x509.Certificate{
		SerialNumber: sn,
		Subject: pkix.Name{
			Country:    []string{"JP"},
			Locality:   []string{"Tokyo-to", "Chiyoda-ku"},
			CommonName: fmt.Sprintf("%016X", sn),
		},
		NotBefore:             nb,
		NotAfter:              na,
		KeyUsage:              ku,
		BasicConstraintsValid: o.IsCA,
		IsCA:                  o.IsCA,
		SignatureAlgorithm:    alg,
		AuthorityKeyId:        issuer.Cert.SubjectKeyId,
		SubjectKeyId:          ski(&key.PublicKey),
	}
	if o.Usage == jpki.UsageAuth {
		tpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	if o.OCSPServer != "" {
		tpl.OCSPServer = []string{o.OCSPServer}
	}
	dp, err := crlDPExtension(issuer, dpCN)
	if err != nil {
		return nil, err
	}
	tpl.ExtraExtensions = append(tpl.ExtraExtensions, policyExtension(o.Usage), dp)
	san := o.SAN
	if san == nil && o.Usage == jpki.UsageSign {
		person := o.Person
		if person == (Person{}) {
			person = TaroYamada()
		}
		if san, err = SAN(person); err != nil {
			return nil, err
		}
	}
	if san != nil {
		tpl.ExtraExtensions = append(tpl.ExtraExtensions, pkix.Extension{Id: oidSAN, Critical: o.CriticalSAN, Value: san})
	}
	tpl.ExtraExtensions = append(tpl.ExtraExtensions, o.ExtraExtensions...)
	der, err := x509.CreateCertificate(p.rand, tpl, issuer.Cert, &key.PublicKey, issuer.Key)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Card{Cert: c, Key: key}, nil
}

// Verifier returns a verifier trusting the PKI's signing and
// authentication roots, with a CRLStore of their current CRLs (returned
// too, for tests that import more) and spender for challenge nonces; now
// is the clock of both (nil: the wall clock).
func (p *PKI) Verifier(spender jpki.NonceSpender, now func() time.Time) (*jpki.Verifier, *jpki.CRLStore, error) {
	crl, err := p.CRLStore(now)
	if err != nil {
		return nil, nil, err
	}
	v, err := jpki.NewVerifier(jpki.Config{
		Anchors:    jpki.NewAnchors([]*x509.Certificate{p.Sign.Cert}, []*x509.Certificate{p.Auth.Cert}),
		Revocation: crl, Spender: spender, Now: now,
	})
	return v, crl, err
}

// CRLStore returns a CRL store over both test roots holding a current CRL
// of each (CRLOptions{Revoked: revoked}), with now as its clock (nil: the
// wall clock).
func (p *PKI) CRLStore(now func() time.Time, revoked ...*x509.Certificate) (*jpki.CRLStore, error) {
	st, err := jpki.NewCRLStore([]*x509.Certificate{p.Sign.Cert, p.Auth.Cert}, now)
	if err != nil {
		return nil, err
	}
	for _, ca := range []*CA{p.Sign, p.Auth} {
		der, err := p.CRL(ca, CRLOptions{Revoked: revoked})
		if err != nil {
			return nil, err
		}
		if _, err := st.Import(der); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// CRLOptions configures CRL.
type CRLOptions struct {
	ThisUpdate, NextUpdate time.Time // zero: Now-1h, Now+24h
	Revoked                []*x509.Certificate
	RevokedAt              time.Time // zero: ThisUpdate
	// DistributionPoint, if set, makes a partitioned CRL covering only the
	// certificates whose CRL distribution point has this CN.
	DistributionPoint  string
	SignatureAlgorithm x509.SignatureAlgorithm
	Number             int64 // zero: 1
	ExtraExtensions    []pkix.Extension
}

// CRL issues a DER CRL signed by ca.
func (p *PKI) CRL(ca *CA, o CRLOptions) ([]byte, error) {
	tu, nu := o.ThisUpdate, o.NextUpdate
	if tu.IsZero() {
		tu = p.Now.Add(-time.Hour)
	}
	if nu.IsZero() {
		nu = p.Now.Add(24 * time.Hour)
	}
	at := o.RevokedAt
	if at.IsZero() {
		at = tu
	}
	num := o.Number
	if num == 0 {
		num = 1
	}
	tpl := &x509.RevocationList{
		ThisUpdate:         tu,
		NextUpdate:         nu,
		Number:             big.NewInt(num),
		SignatureAlgorithm: o.SignatureAlgorithm,
		ExtraExtensions:    o.ExtraExtensions,
	}
	for _, c := range o.Revoked {
		tpl.RevokedCertificateEntries = append(tpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: at})
	}
	if o.DistributionPoint != "" {
		gn, err := DistributionPointName(ca, o.DistributionPoint)
		if err != nil {
			return nil, err
		}
		full, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: gn})
		dp, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: full})
		v, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: dp})
		if err != nil {
			return nil, err
		}
		tpl.ExtraExtensions = append(tpl.ExtraExtensions, pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 28}, Critical: true, Value: v})
	}
	return x509.CreateRevocationList(p.rand, tpl, ca.Cert, ca.Key)
}
