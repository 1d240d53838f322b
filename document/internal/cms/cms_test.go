package cms_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/madoguchi/madoguchi/document/internal/cms"
	"github.com/madoguchi/madoguchi/document/internal/cms/cmstest"
	"github.com/madoguchi/madoguchi/document/internal/tlv"
)

var (
	oidSHA256      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidECDSASHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidLDSSecurity = asn1.ObjectIdentifier{2, 23, 136, 1, 1, 1}
)

type fixture struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

func newFixture(t testing.TB) fixture {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(0x1234567), Subject: pkix.Name{Country: []string{"UT"}, CommonName: "Test DS"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{key, cert}
}

func (f fixture) signer() cmstest.Signer {
	return cmstest.Signer{
		IssuerName: f.cert.RawIssuer, Serial: f.cert.SerialNumber, Hash: crypto.SHA256,
		DigestAlg: pkix.AlgorithmIdentifier{Algorithm: oidSHA256},
		SigAlg:    pkix.AlgorithmIdentifier{Algorithm: oidECDSASHA256},
		Sign: func(msg []byte) ([]byte, error) {
			d := sha256.Sum256(msg)
			return ecdsa.SignASN1(rand.Reader, f.key, d[:])
		},
	}
}

func (f fixture) build(t testing.TB, mod func(*cmstest.SignedData)) []byte {
	t.Helper()
	sd := cmstest.SignedData{
		EContentType: oidLDSSecurity, EContent: []byte("lds security object"),
		Certificates: [][]byte{f.cert.Raw}, Signers: []cmstest.Signer{f.signer()},
	}
	if mod != nil {
		mod(&sd)
	}
	der, err := cmstest.Build(sd)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestParseRoundTrip(t *testing.T) {
	f := newFixture(t)
	der := f.build(t, nil)
	sd, err := cms.Parse(der)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if sd.Version != 3 || !sd.EContentType.Equal(oidLDSSecurity) || string(sd.EContent) != "lds security object" {
		t.Errorf("Parse() = version %d type %v content %q, want 3 %v %q", sd.Version, sd.EContentType, sd.EContent, oidLDSSecurity, "lds security object")
	}
	if len(sd.Certificates) != 1 || !bytes.Equal(sd.Certificates[0], f.cert.Raw) {
		t.Fatalf("Parse().Certificates = %d, want the DS certificate", len(sd.Certificates))
	}
	if len(sd.SignerInfos) != 1 {
		t.Fatalf("Parse().SignerInfos = %d, want 1", len(sd.SignerInfos))
	}
	si := sd.SignerInfos[0]
	if !bytes.Equal(si.IssuerName, f.cert.RawIssuer) || si.SerialNumber.Cmp(f.cert.SerialNumber) != 0 || si.SubjectKeyID != nil {
		t.Errorf("SignerInfo sid = %x/%v/%x, want issuer and serial of the DS", si.IssuerName, si.SerialNumber, si.SubjectKeyID)
	}
	if !si.DigestAlgorithm.Algorithm.Equal(oidSHA256) || !si.SignatureAlgorithm.Algorithm.Equal(oidECDSASHA256) {
		t.Errorf("SignerInfo algorithms = %v/%v", si.DigestAlgorithm.Algorithm, si.SignatureAlgorithm.Algorithm)
	}
	md, err := si.MessageDigest()
	want := sha256.Sum256(sd.EContent)
	if err != nil || !bytes.Equal(md, want[:]) {
		t.Errorf("MessageDigest() = %x, %v, want %x", md, err, want)
	}
	ct, err := si.ContentType()
	if err != nil || !ct.Equal(oidLDSSecurity) {
		t.Errorf("ContentType() = %v, %v, want %v", ct, err, oidLDSSecurity)
	}
	// SignedAttrsDER are exactly the bytes the signature covers.
	if si.SignedAttrsDER[0] != 0x31 {
		t.Errorf("SignedAttrsDER[0] = %#x, want 0x31", si.SignedAttrsDER[0])
	}
	h := sha256.Sum256(si.SignedAttrsDER)
	if !ecdsa.VerifyASN1(&f.key.PublicKey, h[:], si.Signature) {
		t.Error("signature over SignedAttrsDER does not verify")
	}
}

func TestParseVariants(t *testing.T) {
	f := newFixture(t)
	t.Run("subject key identifier, detached", func(t *testing.T) {
		der := f.build(t, func(sd *cmstest.SignedData) {
			s := f.signer()
			s.SKI = []byte{1, 2, 3, 4}
			s.Digest = make([]byte, 32)
			sd.Signers = []cmstest.Signer{s}
			sd.EContent = nil
			sd.Certificates = nil
		})
		sd, err := cms.Parse(der)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if sd.EContent != nil || len(sd.Certificates) != 0 || !bytes.Equal(sd.SignerInfos[0].SubjectKeyID, []byte{1, 2, 3, 4}) || sd.SignerInfos[0].SerialNumber != nil {
			t.Errorf("Parse() = content %x certs %d ski %x, want detached, none, 01020304", sd.EContent, len(sd.Certificates), sd.SignerInfos[0].SubjectKeyID)
		}
	})
	t.Run("no signed attributes", func(t *testing.T) {
		der := f.build(t, func(sd *cmstest.SignedData) {
			s := f.signer()
			s.NoSignedAttrs = true
			sd.Signers = []cmstest.Signer{s}
		})
		sd, err := cms.Parse(der)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		si := sd.SignerInfos[0]
		if si.SignedAttrsDER != nil {
			t.Errorf("SignedAttrsDER = %x, want nil", si.SignedAttrsDER)
		}
		if _, err := si.MessageDigest(); !errors.Is(err, cms.ErrNoAttribute) {
			t.Errorf("MessageDigest() error = %v, want ErrNoAttribute", err)
		}
		if _, err := si.ContentType(); !errors.Is(err, cms.ErrNoAttribute) {
			t.Errorf("ContentType() error = %v, want ErrNoAttribute", err)
		}
	})
	t.Run("duplicate message digest", func(t *testing.T) {
		dup, _ := asn1.Marshal(struct {
			T asn1.ObjectIdentifier
			V []asn1.RawValue `asn1:"set"`
		}{cms.OIDMessageDigest, []asn1.RawValue{{Tag: 4, Bytes: make([]byte, 32)}}})
		der := f.build(t, func(sd *cmstest.SignedData) {
			s := f.signer()
			s.ExtraAttrs = [][]byte{dup}
			sd.Signers = []cmstest.Signer{s}
		})
		sd, err := cms.Parse(der)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if _, err := sd.SignerInfos[0].MessageDigest(); !errors.Is(err, cms.ErrMalformed) {
			t.Errorf("MessageDigest() with two message-digest attributes error = %v, want ErrMalformed", err)
		}
	})
}

// indefinite re-encodes a DER element in BER with indefinite lengths on every
// constructed element and splits primitive OCTET STRINGs into chunks.
func indefinite(t *testing.T, der []byte) []byte {
	t.Helper()
	o, err := tlv.Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	hdr := tlv.Append(nil, o.Tag, nil)
	tag := hdr[:len(hdr)-1] // the tag bytes without the length
	switch {
	case o.Tag == 0x04 && len(o.Value) > 4:
		out := []byte{0x24, 0x80}
		for v := o.Value; len(v) > 0; {
			n := min(len(v), 7)
			out = tlv.Append(out, 0x04, v[:n])
			v = v[n:]
		}
		return append(out, 0, 0)
	case o.Tag.Constructed():
		kids, err := o.Children()
		if err != nil {
			return o.Raw
		}
		out := append(append([]byte{}, tag...), 0x80)
		for _, k := range kids {
			out = append(out, indefinite(t, k.Raw)...)
		}
		return append(out, 0, 0)
	}
	return o.Raw
}

func TestParseBER(t *testing.T) {
	f := newFixture(t)
	der := f.build(t, nil)
	want, err := cms.Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	ber := indefinite(t, der)
	if bytes.Equal(ber, der) {
		t.Fatal("test helper produced DER")
	}
	got, err := cms.Parse(ber)
	if err != nil {
		t.Fatalf("Parse(BER): %v", err)
	}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 })); d != "" {
		t.Errorf("Parse(BER) differs from Parse(DER) (-DER +BER):\n%s", d)
	}
}

func TestParseErrors(t *testing.T) {
	f := newFixture(t)
	good := f.build(t, nil)
	data, _ := asn1.Marshal(struct {
		T asn1.ObjectIdentifier
		C asn1.RawValue
	}{cms.OIDData, asn1.RawValue{Class: 2, Tag: 0, IsCompound: true, Bytes: []byte{4, 0}}})
	deep := bytes.Repeat([]byte{0x30, 0x80}, 100)
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, cms.ErrMalformed},
		{"not a sequence", []byte{0x04, 0x00}, cms.ErrMalformed},
		{"id-data", data, cms.ErrNotSignedData},
		{"trailing", append(append([]byte{}, good...), 0), cms.ErrMalformed},
		{"too large", make([]byte, cms.MaxSize+1), cms.ErrTooLarge},
		{"deep BER nesting", deep, cms.ErrMalformed},
		{"length lies", append([]byte{0x30, 0x84, 0x7F, 0xFF, 0xFF, 0xFF}, good[4:]...), cms.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cms.Parse(tt.in)
			if !errors.Is(err, tt.want) {
				t.Errorf("Parse(%s) error = %v, want %v", tt.name, err, tt.want)
			}
		})
	}
	// Every truncation fails cleanly.
	for i := range len(good) {
		if _, err := cms.Parse(good[:i]); err == nil {
			t.Fatalf("Parse(good[:%d]) error = nil, want an error", i)
		}
	}
	// Every single-byte corruption either parses or fails cleanly; none panics.
	for i := range len(good) {
		b := append([]byte{}, good...)
		b[i] ^= 0xFF
		_, _ = cms.Parse(b)
	}
}

func TestParseMasterList(t *testing.T) {
	b, err := os.ReadFile("../../trust/testdata/DE_ML_2026-05-28.ml")
	if err != nil {
		t.Fatal(err)
	}
	sd, err := cms.Parse(b)
	if err != nil {
		t.Fatalf("Parse(DE master list): %v", err)
	}
	oidML := asn1.ObjectIdentifier{2, 23, 136, 1, 1, 2}
	if !sd.EContentType.Equal(oidML) || len(sd.SignerInfos) != 1 || len(sd.Certificates) == 0 {
		t.Errorf("Parse(DE master list) = type %v, %d signers, %d certs; want %v, 1, >0", sd.EContentType, len(sd.SignerInfos), len(sd.Certificates), oidML)
	}
	md, err := sd.SignerInfos[0].MessageDigest()
	want := sha256.Sum256(sd.EContent)
	if err != nil || !bytes.Equal(md, want[:]) {
		t.Errorf("MessageDigest() = %x, %v, want SHA-256 of the list %x", md, err, want)
	}
}

func FuzzParse(f *testing.F) {
	fx := newFixture(f)
	good := fx.build(f, nil)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{0x30, 0x80, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02, 0xA0, 0x80, 0x30, 0x80, 0, 0, 0, 0, 0, 0})
	f.Add(bytes.Repeat([]byte{0x30, 0x80}, 40))
	f.Fuzz(func(t *testing.T, b []byte) {
		sd, err := cms.Parse(b)
		if err != nil {
			return
		}
		for i := range sd.SignerInfos {
			_, _ = sd.SignerInfos[i].MessageDigest()
			_, _ = sd.SignerInfos[i].ContentType()
		}
	})
}

func FuzzBERToDER(f *testing.F) {
	f.Add([]byte{0x30, 0x80, 0x24, 0x80, 0x04, 0x01, 0xAA, 0x00, 0x00, 0x00, 0x00})
	f.Add([]byte{0x30, 0x81, 0x01, 0x05})
	f.Fuzz(func(t *testing.T, b []byte) {
		der, err := cms.BERToDER(b)
		if err != nil {
			return
		}
		again, err := cms.BERToDER(der)
		if err != nil || !bytes.Equal(again, der) {
			t.Fatalf("BERToDER not idempotent: %x -> %x -> %x, %v", b, der, again, err)
		}
	})
}
