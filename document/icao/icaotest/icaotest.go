// Package icaotest builds synthetic eMRTD chip files (DG1, DG2, DG11, DG14,
// DG15, EF.SOD) signed by a test CSCA/Document Signer PKI, with an Active
// Authentication key that can answer challenges. For tests only: every key
// here is generated on the fly and every anchor it yields is a test anchor.
package icaotest

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/big"
	"time"

	"github.com/madoguchi/madoguchi/document/icao"
	"github.com/madoguchi/madoguchi/document/internal/cert/certtest"
	"github.com/madoguchi/madoguchi/document/internal/cms/cmstest"
	"github.com/madoguchi/madoguchi/document/internal/tlv"
	"github.com/madoguchi/madoguchi/document/trust"
)

// MRZ of the ICAO 9303 Part 4 specimen with a far expiry (2034-04-15) so
// the synthetic passport is valid; check digits recomputed.
func MRZ(issuing string, expiry string) string {
	l1 := fmt.Sprintf("P<%-3sERIKSSON<<ANNA<MARIA", issuing)
	for len(l1) < 44 {
		l1 += "<"
	}
	cd := func(s string) string { c, _ := icao.CheckDigit(s); return string(c) }
	num, dob, pn := "L898902C3", "740812", "ZE184226B<<<<<"
	nat := fmt.Sprintf("%-3s", issuing)
	nat = replaceSpaces(nat)
	l2 := num + cd(num) + nat + dob + cd(dob) + "F" + expiry + cd(expiry) + pn + cd(pn)
	comp := l2[0:10] + l2[13:20] + l2[21:43]
	return replaceSpaces(l1) + l2 + cd(comp)
}

func replaceSpaces(s string) string {
	return string(bytes.ReplaceAll([]byte(s), []byte(" "), []byte("<")))
}

// PKI is a test CSCA with one Document Signer.
type PKI struct {
	CSCA *certtest.Cert
	DS   *certtest.Cert
}

// NewPKI issues a CSCA (country c, key csca) and a Document Signer (key ds)
// valid over [from, to].
func NewPKI(country string, csca, ds *certtest.Key, from, to time.Time) (*PKI, error) {
	ca, err := certtest.Issue(certtest.Template{Serial: 1, Subject: pkix.Name{Country: []string{country}, Organization: []string{"Utopia Test Government"}, CommonName: "Test CSCA"},
		NotBefore: from.AddDate(-1, 0, 0), NotAfter: to.AddDate(5, 0, 0), IsCA: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, SKI: []byte("test-csca-" + country)}, csca, nil)
	if err != nil {
		return nil, err
	}
	d, err := certtest.Issue(certtest.Template{Serial: 4242, Subject: pkix.Name{Country: []string{country}, Organization: []string{"Utopia Test Government"}, CommonName: "Test Document Signer"},
		NotBefore: from, NotAfter: to, KeyUsage: x509.KeyUsageDigitalSignature, SKI: []byte("test-ds-" + country)}, ds, ca)
	if err != nil {
		return nil, err
	}
	return &PKI{CSCA: ca, DS: d}, nil
}

// Anchors returns a trust store holding the CSCA as a test anchor.
func (p *PKI) Anchors() (*trust.Store, error) {
	a, err := trust.NewAnchor(p.CSCA.DER, true)
	if err != nil {
		return nil, err
	}
	return trust.NewStore(a), nil
}

// AAKey is an Active Authentication key: RSA (ISO 9796-2, SHA-1 trailer
// 0xBC) or ECDSA (plain signature).
type AAKey struct {
	RSA *rsa.PrivateKey
	EC  *certtest.Key
	// RSAHash selects the ISO 9796-2 hash: SHA-1 (trailer 0xBC, the
	// default) or SHA-224/256/384/512 (two-byte trailer 0x38CC/34CC/36CC/35CC).
	RSAHash crypto.Hash
}

// SPKI returns the DG15 SubjectPublicKeyInfo.
func (k *AAKey) SPKI() ([]byte, error) {
	if k.RSA != nil {
		return x509.MarshalPKIXPublicKey(&k.RSA.PublicKey)
	}
	return k.EC.SPKI()
}

// Sign answers an INTERNAL AUTHENTICATE with challenge.
func (k *AAKey) Sign(challenge []byte) ([]byte, error) {
	if k.EC != nil {
		h := k.EC.Hash.New()
		h.Write(challenge)
		return k.EC.EC.SignPlain(h.Sum(nil))
	}
	n := k.RSA.N
	size := (n.BitLen() + 7) / 8
	h := k.RSAHash
	trailer := []byte{0xBC}
	switch h {
	case 0, crypto.SHA1:
		h = crypto.SHA1
	default:
		id := map[crypto.Hash]byte{crypto.SHA224: 0x38, crypto.SHA256: 0x34, crypto.SHA384: 0x36, crypto.SHA512: 0x35}[h]
		trailer = []byte{id, 0xCC}
	}
	m1 := make([]byte, size-1-h.Size()-len(trailer))
	if _, err := rand.Read(m1); err != nil {
		return nil, err
	}
	d := h.New()
	d.Write(m1)
	d.Write(challenge)
	f := append(append(append([]byte{0x6A}, m1...), d.Sum(nil)...), trailer...)
	s := new(big.Int).Exp(new(big.Int).SetBytes(f), k.RSA.D, n)
	return s.FillBytes(make([]byte, size)), nil
}

// Options shape a passport.
type Options struct {
	MRZ        string
	Hash       crypto.Hash // data-group hashes; default SHA-256
	AA         *AAKey      // nil: no DG15
	AAOnDG14   bool        // write an ActiveAuthenticationInfo in DG14 (ECDSA)
	OmitInSOD  []int       // data groups left out of the SOD (injection tests)
	WithDG11   bool
	NoDSInSOD  bool
	ExtraCerts [][]byte
	CRLs       [][]byte
	// ContentType replaces the EF.SOD eContentType (and the signed
	// content-type attribute), e.g. icao.OIDData as Chinese passports do.
	ContentType asn1.ObjectIdentifier
}

// Build returns the chip files of a passport signed by p.DS.
func (p *PKI) Build(o Options) (icao.Files, error) {
	if o.Hash == 0 {
		o.Hash = crypto.SHA256
	}
	if o.MRZ == "" {
		o.MRZ = MRZ("UTO", "340415")
	}
	dgs := map[int][]byte{1: tlv.Append(nil, 0x61, tlv.Append(nil, 0x5F1F, []byte(o.MRZ)))}
	dg2, err := DG2()
	if err != nil {
		return icao.Files{}, err
	}
	dgs[2] = dg2
	if o.WithDG11 {
		v := tlv.Append(nil, 0x5C, []byte{0x5F, 0x0E, 0x5F, 0x11, 0x5F, 0x42})
		v = tlv.Append(v, 0x5F0E, []byte("ERIKSSON<<ANNA<MARIA"))
		v = tlv.Append(v, 0x5F11, []byte("ZENITH,UTOPIA"))
		v = tlv.Append(v, 0x5F42, []byte("123 MAPLE RD<ANYTOWN<UTOPIA"))
		dgs[11] = tlv.Append(nil, 0x6B, v)
	}
	if o.AA != nil {
		spki, err := o.AA.SPKI()
		if err != nil {
			return icao.Files{}, err
		}
		dgs[15] = tlv.Append(nil, 0x6F, spki)
		if o.AAOnDG14 && o.AA.EC != nil {
			info, _ := asn1.Marshal(struct {
				P asn1.ObjectIdentifier
				V int
				A asn1.ObjectIdentifier
			}{asn1.ObjectIdentifier{2, 23, 136, 1, 1, 5}, 1, ecdsaOID(o.AA.EC.Hash)})
			dgs[14] = tlv.Append(nil, 0x6E, tlv.Append(nil, 0x31, info))
		}
	}
	sod, err := p.SOD(dgs, o)
	if err != nil {
		return icao.Files{}, err
	}
	return icao.Files{SOD: sod, DG: dgs}, nil
}

func ecdsaOID(h crypto.Hash) asn1.ObjectIdentifier {
	switch h {
	case crypto.SHA384:
		return asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	case crypto.SHA512:
		return asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	}
	return asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
}

var hashOIDs = map[crypto.Hash]asn1.ObjectIdentifier{crypto.SHA1: {1, 3, 14, 3, 2, 26}, crypto.SHA256: {2, 16, 840, 1, 101, 3, 4, 2, 1}, crypto.SHA384: {2, 16, 840, 1, 101, 3, 4, 2, 2}, crypto.SHA512: {2, 16, 840, 1, 101, 3, 4, 2, 3}}

// SOD builds EF.SOD over dgs.
func (p *PKI) SOD(dgs map[int][]byte, o Options) ([]byte, error) {
	type dgHash struct {
		N int
		H []byte
	}
	var hashes []dgHash
	for n := 1; n <= 16; n++ {
		b, ok := dgs[n]
		if !ok || contains(o.OmitInSOD, n) {
			continue
		}
		h := o.Hash.New()
		h.Write(b)
		hashes = append(hashes, dgHash{n, h.Sum(nil)})
	}
	lso, err := asn1.Marshal(struct {
		V int
		A pkix.AlgorithmIdentifier
		H []dgHash
	}{0, pkix.AlgorithmIdentifier{Algorithm: hashOIDs[o.Hash]}, hashes})
	if err != nil {
		return nil, err
	}
	certs := append([][]byte{p.DS.DER}, o.ExtraCerts...)
	if o.NoDSInSOD {
		certs = o.ExtraCerts
	}
	k := p.DS.Key
	ct := icao.OIDLDSSecurityObject
	if o.ContentType != nil {
		ct = o.ContentType
	}
	cmsDER, err := cmstest.Build(cmstest.SignedData{EContentType: ct, EContent: lso, Certificates: certs, CRLs: o.CRLs,
		Signers: []cmstest.Signer{{IssuerName: p.CSCA.Subject, Serial: p.DS.Serial, Hash: k.Hash, DigestAlg: k.DigestAlgorithm(), SigAlg: k.SignatureAlgorithm(), Sign: k.Sign}}})
	if err != nil {
		return nil, err
	}
	return tlv.Append(nil, 0x77, cmsDER), nil
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// JPEG returns a small real JPEG image.
func JPEG() ([]byte, error) {
	img := image.NewGray(image.Rect(0, 0, 16, 16))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	img.Set(3, 3, color.Gray{Y: 255})
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// DG2 returns a DG2 with one ISO/IEC 19794-5 facial record holding JPEG().
func DG2() ([]byte, error) {
	img, err := JPEG()
	if err != nil {
		return nil, err
	}
	rec := make([]byte, 20+12)
	binary.BigEndian.PutUint32(rec[0:4], uint32(len(rec)+len(img)))
	rec[20] = 1 // full frontal
	rec[21] = 0 // JPEG
	binary.BigEndian.PutUint16(rec[22:24], 16)
	binary.BigEndian.PutUint16(rec[24:26], 16)
	rec = append(rec, img...)
	hdr := []byte("FAC\x00010\x00")
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(14+len(rec)))
	hdr = binary.BigEndian.AppendUint16(hdr, 1)
	bdb := append(hdr, rec...)
	header := tlv.Append(nil, 0x80, []byte{1, 1})
	inst := tlv.Append(tlv.Append(nil, 0xA1, header), 0x5F2E, bdb)
	group := tlv.Append(tlv.Append(nil, 0x02, []byte{1}), 0x7F60, inst)
	return tlv.Append(nil, 0x75, tlv.Append(nil, 0x7F61, group)), nil
}

// NewECAA returns an ECDSA AA key on curve.
func NewECAA(curve string, h crypto.Hash) (*AAKey, error) {
	k, err := certtest.NewEC(curve, h, false)
	if err != nil {
		return nil, err
	}
	return &AAKey{EC: k}, nil
}

// NewRSAAA returns an RSA AA key.
func NewRSAAA(bits int) (*AAKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, err
	}
	return &AAKey{RSA: k}, nil
}

// NewECKey returns an ECDSA CSCA or DS key on the named curve ("P-256",
// "brainpoolP256r1" …); explicit writes SpecifiedECDomain parameters.
func NewECKey(curve string, h crypto.Hash, explicit bool) (*certtest.Key, error) {
	return certtest.NewEC(curve, h, explicit)
}

// NewRSAKey returns an RSA CSCA or DS key; pss selects RSASSA-PSS.
func NewRSAKey(bits int, pss bool) (*certtest.Key, error) { return certtest.NewRSA(bits, pss) }
