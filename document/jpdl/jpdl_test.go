package jpdl_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/internal/tlv"
	"github.com/madoguchi/madoguchi/document/jpdl"
	"github.com/madoguchi/madoguchi/document/jpdl/jpdltest"
)

var (
	once             sync.Once
	issuer, stranger *jpdltest.Issuer
	setupErr         error
)

func issuers(t testing.TB) (*jpdltest.Issuer, *jpdltest.Issuer) {
	t.Helper()
	once.Do(func() {
		issuer, setupErr = jpdltest.New(rand.Reader, "東京都公安委員会 test")
		if setupErr == nil {
			stranger, setupErr = jpdltest.New(rand.Reader, "unknown issuer")
		}
	})
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	return issuer, stranger
}

var now = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

func d(y, m, day int) time.Time { return time.Date(y, time.Month(m), day, 0, 0, 0, 0, time.UTC) }

func licence() jpdltest.Licence {
	return jpdltest.Licence{
		Name: "山田　太郎", Kana: "ヤマダ　タロウ", Address: "東京都千代田区霞が関２丁目１番２号",
		Honseki: "東京都千代田区", PSC: "東京都公安委員会", Colour: "優良",
		Conditions: []string{"眼鏡等"},
		Birth:      d(1990, 1, 2), Issued: d(2024, 2, 15), Expiry: d(2029, 3, 15),
		Number: "301234567890",
	}
}

func verifier(t testing.TB) *jpdl.Verifier {
	is, _ := issuers(t)
	v, err := jpdl.NewVerifier([]*x509.Certificate{is.Certificate()})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func attrs(ev *document.Evidence) map[string]string {
	m := map[string]string{}
	for _, a := range ev.Attributes {
		s := a.Value.Reveal()
		if !a.Signed {
			s += " (unsigned)"
		}
		m[a.Name] = s
	}
	return m
}

func TestVerify(t *testing.T) {
	is, _ := issuers(t)
	f, err := is.Issue(licence())
	if err != nil {
		t.Fatal(err)
	}
	ev, err := verifier(t).Verify(f, now)
	if err != nil {
		t.Fatalf("Verify(valid licence) error = %v", err)
	}
	if !ev.Verified || ev.Kind != document.KindJPDL || ev.Issuer != "東京都公安委員会" {
		t.Errorf("Verify(valid licence) = verified %v kind %v issuer %q, want true jpdl 東京都公安委員会", ev.Verified, ev.Kind, ev.Issuer)
	}
	if got := ev.DocumentNumber.Reveal(); got != "301234567890" {
		t.Errorf("DocumentNumber = %q, want 301234567890", got)
	}
	if !ev.Expiry.Equal(time.Date(2029, 3, 15, 0, 0, 0, 0, time.FixedZone("JST", 9*3600))) {
		t.Errorf("Expiry = %v, want 2029-03-15 JST", ev.Expiry)
	}
	want := map[string]string{
		"name": "山田　太郎", "name_kana": "ヤマダ　タロウ", "birthdate": "1990-01-02",
		"address": "東京都千代田区霞が関２丁目１番２号", "honseki": "東京都千代田区",
		"issue_date": "2024-02-15", "expiry_date": "2029-03-15", "conditions": "眼鏡等",
		"licence_colour": "優良", "issuing_authority": "東京都公安委員会",
	}
	if diff := cmp.Diff(want, attrs(ev)); diff != "" {
		t.Errorf("attributes mismatch (-want +got):\n%s", diff)
	}
	if ev.Photo == nil || !ev.Photo.Signed || !bytes.Equal(ev.Photo.Data, jpdltest.MinimalJ2K) {
		t.Errorf("Photo = %v, want the signed minimal codestream", ev.Photo)
	}
	if len(ev.Digests) != 5 {
		t.Errorf("Digests has %d files, want 5", len(ev.Digests))
	}
}

func TestVerifyChanges(t *testing.T) {
	is, _ := issuers(t)
	l := licence()
	l.Changes = []jpdltest.Change{
		{Date: d(2025, 4, 1), Item: "address", Value: "大阪府大阪市北区１番", PSC: "大阪府公安委員会"},
		{Date: d(2025, 6, 1), Item: "honseki", Value: "大阪府大阪市", PSC: "大阪府公安委員会"},
		{Date: d(2025, 7, 1), Item: "conditions_removed", Value: "眼鏡等", PSC: "大阪府公安委員会"},
	}
	f, err := is.Issue(l)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := verifier(t).Verify(f, now)
	if err != nil {
		t.Fatalf("Verify(changed licence) error = %v", err)
	}
	if c := ev.SignedClaims(); c["address"] != nil || c["name"] != "山田　太郎" {
		t.Errorf("SignedClaims() = %v, want the name and no address (changed after issue)", c)
	}
	got := attrs(ev)
	for name, want := range map[string]string{
		"address":             "大阪府大阪市北区１番 (unsigned)",
		"address.at_issue":    "東京都千代田区霞が関２丁目１番２号",
		"honseki":             "大阪府大阪市 (unsigned)",
		"honseki.at_issue":    "東京都千代田区",
		"conditions":          "眼鏡等 (unsigned)",
		"conditions.at_issue": "眼鏡等",
		"conditions_removed":  "眼鏡等 (unsigned)",
		"name":                "山田　太郎",
	} {
		if got[name] != want {
			t.Errorf("attribute %s = %q, want %q", name, got[name], want)
		}
	}
}

type mutation func(t *testing.T, f *jpdl.Files)

func setTLV(t *testing.T, file []byte, tag tlv.Tag, v []byte) []byte {
	t.Helper()
	var out []byte
	rest := file
	found := false
	for len(rest) > 0 && rest[0] != 0xFF {
		o, r, err := tlv.Next(rest)
		if err != nil {
			t.Fatal(err)
		}
		if o.Tag == tag {
			out = tlv.Append(out, tag, v)
			found = true
		} else {
			out = append(out, o.Raw...)
		}
		rest = r
	}
	if !found {
		out = tlv.Append(out, tag, v)
	}
	return append(out, rest...)
}

func TestVerifyRefusals(t *testing.T) {
	is, other := issuers(t)
	l := licence()
	tests := []struct {
		name   string
		mutate mutation
		want   error
		reason string
	}{
		{"tampered name", func(t *testing.T, f *jpdl.Files) {
			f.Matters = setTLV(t, f.Matters, 0x12, []byte{0x3B, 0x33, 0x45, 0x44, 0x21, 0x21, 0x3C, 0x21}) // 山田　次
		}, document.ErrTampered, "does not verify"},
		{"tampered photo", func(t *testing.T, f *jpdl.Files) {
			f.Photo = setTLV(t, f.Photo, 0x5F40, append(append([]byte{}, jpdltest.MinimalJ2K...), 0x00))
		}, document.ErrTampered, "does not verify"},
		{"tampered 本籍", func(t *testing.T, f *jpdl.Files) {
			f.Honseki = setTLV(t, f.Honseki, 0x31, []byte{0x45, 0x6C})
		}, document.ErrTampered, "does not verify"},
		{"wrong key id", func(t *testing.T, f *jpdl.Files) {
			f.Signature = setTLV(t, f.Signature, 0xB5, []byte{1, 2, 3, 4})
		}, document.ErrUnknownIssuer, "no configured 公安委員会 key"},
		{"serial mismatch", func(t *testing.T, f *jpdl.Files) {
			f.Signature = setTLV(t, f.Signature, 0xB2, []byte{9, 9, 9})
		}, document.ErrUnknownIssuer, "serial number differs"},
		{"unknown issuer", func(t *testing.T, f *jpdl.Files) {
			g, err := other.Issue(l)
			if err != nil {
				t.Fatal(err)
			}
			*f = g
		}, document.ErrUnknownIssuer, "no configured"},
		{"unknown issuer claiming the known key id", func(t *testing.T, f *jpdl.Files) {
			g, err := other.Issue(l)
			if err != nil {
				t.Fatal(err)
			}
			g.Signature = setTLV(t, g.Signature, 0xB5, is.Certificate().SubjectKeyId)
			g.Signature = setTLV(t, g.Signature, 0xB2, is.Certificate().SerialNumber.Bytes())
			*f = g
		}, document.ErrTampered, "does not verify"},
		{"SHA-1 downgrade", func(t *testing.T, f *jpdl.Files) {
			if err := is.Resign(f, crypto.SHA1); err != nil {
				t.Fatal(err)
			}
		}, document.ErrWeakAlgorithm, "SHA-1"},
		{"short signature", func(t *testing.T, f *jpdl.Files) {
			f.Signature = setTLV(t, f.Signature, 0xB1, make([]byte, 255))
		}, document.ErrMalformed, "255 bytes, key needs 256"},
		{"truncated matters", func(t *testing.T, f *jpdl.Files) { f.Matters = f.Matters[:40] }, document.ErrMalformed, "does not decode"},
		{"length lies", func(t *testing.T, f *jpdl.Files) {
			f.Honseki = append([]byte{0x31, 0x82, 0x7F, 0xFF}, f.Honseki[2:]...)
		}, document.ErrMalformed, "does not decode"},
		{"data after padding", func(t *testing.T, f *jpdl.Files) {
			f.Matters = append(f.Matters, 0x12, 0x00)
		}, document.ErrMalformed, "after 0xFF padding"},
		{"missing photo", func(t *testing.T, f *jpdl.Files) { f.Photo = nil }, document.ErrMalformed, "DF2/EF01 (photo"},
		{"missing 本籍", func(t *testing.T, f *jpdl.Files) { f.Honseki = nil }, document.ErrMalformed, "DF1/EF02"},
		{"photo not JPEG 2000", func(t *testing.T, f *jpdl.Files) {
			f.Photo = setTLV(t, f.Photo, 0x5F40, []byte{0xFF, 0xD8, 0xFF, 0xE0})
		}, document.ErrMalformed, "not JPEG 2000"},
		{"oversized photo", func(t *testing.T, f *jpdl.Files) { f.Photo = make([]byte, jpdl.MaxPhoto+1) }, document.ErrTooLarge, "limit"},
		{"My Number signature in EF07", func(t *testing.T, f *jpdl.Files) {
			inner := append(tlv.Append(nil, 0xDF31, make([]byte, 32)), tlv.Append(nil, 0xDF32, make([]byte, 32))...)
			f.Signature = tlv.Append(nil, 0xFF30, append(inner, tlv.Append(nil, 0xDF33, make([]byte, 256))...))
		}, document.ErrNotAccepted, "My Number"},
		{"residence card image as photo", func(t *testing.T, f *jpdl.Files) {
			f.Photo = tlv.Append(nil, 0xD1, jpdltest.MinimalJ2K)
		}, document.ErrNotAccepted, "residence card"},
		{"residence common data as MF/EF01", func(t *testing.T, f *jpdl.Files) {
			f.Common = append(tlv.Append(nil, 0xC0, []byte("03")), tlv.Append(nil, 0xC1, []byte("1"))...)
		}, document.ErrNotAccepted, "residence card"},
		{"not a licence common data", func(t *testing.T, f *jpdl.Files) {
			f.Common = tlv.Append(nil, 0x46, []byte{1, 2})
		}, document.ErrNotAccepted, "lacks the licence common data"},
		{"bad date", func(t *testing.T, f *jpdl.Files) {
			f.Matters = setTLV(t, f.Matters, 0x16, []byte("4021399"))
		}, document.ErrMalformed, "tag 16"},
		{"bad JIS text", func(t *testing.T, f *jpdl.Files) {
			f.Matters = setTLV(t, f.Matters, 0x17, []byte{0x0A, 0x0A})
		}, document.ErrMalformed, "not JIS X 0208"},
		{"incomplete change record", func(t *testing.T, f *jpdl.Files) {
			f.Changes = append(tlv.Append(nil, 0x51, []byte{2}), tlv.Append(nil, 0x52, []byte("5070401"))...)
		}, document.ErrMalformed, "incomplete"},
		{"honseki change in EF04", func(t *testing.T, f *jpdl.Files) {
			rec := tlv.Append(nil, 0x51, []byte{2})
			rec = tlv.Append(rec, 0x52, []byte("5070401"))
			rec = tlv.Append(rec, 0x5B, []byte{0x45, 0x6C})
			f.Changes = tlv.Append(rec, 0x5A, []byte{0x45, 0x6C})
		}, document.ErrMalformed, "belongs in this file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := is.Issue(l)
			if err != nil {
				t.Fatal(err)
			}
			tt.mutate(t, &f)
			ev, err := verifier(t).Verify(f, now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify(%s) error = %v, want %v", tt.name, err, tt.want)
			}
			var re *document.RefusalError
			if !errors.As(err, &re) {
				t.Fatalf("Verify(%s) error %T is not a *document.RefusalError", tt.name, err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Verify(%s) error = %q, want a reason containing %q", tt.name, err, tt.reason)
			}
			for _, secret := range []string{l.Number, "山田", "霞が関"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("Verify(%s) error %q leaks personal data", tt.name, err)
				}
			}
			if ev != nil && ev.Verified {
				t.Errorf("Verify(%s) evidence.Verified = true with error", tt.name)
			}
		})
	}
}

func TestVerifyExpired(t *testing.T) {
	is, _ := issuers(t)
	f, err := is.Issue(licence())
	if err != nil {
		t.Fatal(err)
	}
	ev, err := verifier(t).Verify(f, time.Date(2029, 3, 17, 0, 0, 0, 0, time.UTC))
	if !errors.Is(err, document.ErrExpired) {
		t.Fatalf("Verify(after expiry) error = %v, want ErrExpired", err)
	}
	if ev == nil || ev.Verified || len(ev.Failed()) != 1 || ev.Failed()[0].Name != "document.expiry" {
		t.Errorf("Verify(after expiry) failed checks = %v, want document.expiry", ev.Failed())
	}
}

func TestAnchors(t *testing.T) {
	is, _ := issuers(t)
	v := verifier(t)
	if err := v.CheckProduction(); !errors.Is(err, document.ErrTestAnchor) {
		t.Errorf("CheckProduction(test anchor) = %v, want ErrTestAnchor", err)
	}
	if _, err := jpdl.NewVerifier(nil); !errors.Is(err, jpdl.ErrAnchor) {
		t.Errorf("NewVerifier(nil) = %v, want ErrAnchor", err)
	}
	if _, err := jpdl.NewVerifier([]*x509.Certificate{is.Certificate(), is.Certificate()}); !errors.Is(err, jpdl.ErrAnchor) {
		t.Errorf("NewVerifier(duplicate) = %v, want ErrAnchor", err)
	}
	// A production-looking certificate passes CheckProduction; a short key is refused.
	for _, tc := range []struct {
		bits    int
		wantErr bool
	}{{2048, false}, {1024, true}} {
		k, err := rsa.GenerateKey(rand.Reader, tc.bits)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "公安委員会"},
			NotBefore: d(2020, 1, 1), NotAfter: d(2040, 1, 1), SubjectKeyId: []byte{1, 2, 3}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		pv, err := jpdl.NewVerifier([]*x509.Certificate{c})
		if (err != nil) != tc.wantErr {
			t.Fatalf("NewVerifier(RSA-%d) error = %v, want error %v", tc.bits, err, tc.wantErr)
		}
		if err == nil {
			if err := pv.CheckProduction(); err != nil {
				t.Errorf("CheckProduction(production anchor) = %v, want nil", err)
			}
		}
	}
}

func FuzzVerify(f *testing.F) {
	is, _ := issuers(f)
	l := licence()
	l.Changes = []jpdltest.Change{{Date: d(2025, 4, 1), Item: "address", Value: "大阪府", PSC: "大阪府公安委員会"}}
	files, err := is.Issue(l)
	if err != nil {
		f.Fatal(err)
	}
	v := verifier(f)
	f.Add(0, files.Matters)
	f.Add(1, files.Honseki)
	f.Add(2, files.Signature)
	f.Add(3, files.Photo)
	f.Add(4, files.Changes)
	f.Add(5, files.Common)
	f.Fuzz(func(t *testing.T, which int, b []byte) {
		g := files
		switch which % 6 {
		case 0:
			g.Matters = b
		case 1:
			g.Honseki = b
		case 2:
			g.Signature = b
		case 3:
			g.Photo = b
		case 4:
			g.Changes = b
		default:
			g.Common = b
		}
		ev, err := v.Verify(g, now)
		if err == nil && (ev == nil || !ev.Verified) {
			t.Fatalf("Verify returned no error but unverified evidence")
		}
		if err != nil && ev != nil && ev.Verified {
			t.Fatalf("Verify returned error %v with verified evidence", err)
		}
	})
}

func TestVerifyGaiji(t *testing.T) {
	is, _ := issuers(t)
	f, err := is.Issue(licence())
	if err != nil {
		t.Fatal(err)
	}
	// 山 + 外字1 + 太郎, re-signed by the issuer: the signature is valid, but
	// the name is not complete text, so it must not be reported signed.
	f.Matters = setTLV(t, f.Matters, 0x12, []byte{0x3B, 0x33, 0xFF, 0xF1, 0x42, 0x40, 0x4F, 0x3A})
	if err := is.Resign(&f, crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	ev, err := verifier(t).Verify(f, now)
	if err != nil {
		t.Fatalf("Verify(name with 外字) error = %v", err)
	}
	a, ok := ev.Attribute("name")
	if !ok || a.Signed || a.Value.Reveal() != "山〓太郎" {
		t.Errorf("name attribute = %q signed %v, want 山〓太郎 unsigned", a.Value.Reveal(), a.Signed)
	}
	if _, ok := ev.SignedClaims()["name"]; ok {
		t.Errorf("SignedClaims() includes a name with 外字")
	}
	if !ev.Verified {
		t.Errorf("Verify(name with 外字) not verified; the signature is valid")
	}
}
