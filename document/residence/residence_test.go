package residence_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/internal/tlv"
	"github.com/madoguchi/madoguchi/document/residence"
	"github.com/madoguchi/madoguchi/document/residence/residencetest"
)

var (
	once             sync.Once
	issuer, stranger *residencetest.Issuer
	setupErr         error
	from             = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	until            = time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC)
	now              = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
)

func issuers(t testing.TB) (*residencetest.Issuer, *residencetest.Issuer) {
	t.Helper()
	once.Do(func() {
		if issuer, setupErr = residencetest.New(rand.Reader, from, until); setupErr == nil {
			stranger, setupErr = residencetest.New(rand.Reader, from, until)
		}
	})
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	return issuer, stranger
}

func verifier(t testing.TB) *residence.Verifier {
	is, _ := issuers(t)
	v, err := residence.NewVerifier([]*x509.Certificate{is.Root()})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var front = append(append([]byte{}, residencetest.MinimalTIFF...), bytes.Repeat([]byte{0x55}, 5000)...)

func TestVerify(t *testing.T) {
	is, _ := issuers(t)
	f, err := is.Issue(residencetest.Card{Front: front, Address: "東京都港区港南５－５－３０"})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := verifier(t).Verify(f, now)
	if err != nil {
		t.Fatalf("Verify(valid card) error = %v", err)
	}
	if !ev.Verified || ev.Photo == nil || !ev.Photo.Signed {
		t.Fatalf("Verify(valid card) = verified %v photo %v, want verified with signed photo", ev.Verified, ev.Photo)
	}
	want := map[string]struct {
		v      string
		signed bool
	}{
		"card_type":        {"residence_card", true},
		"front_image_tiff": {base64.StdEncoding.EncodeToString(front), true},
		"address":          {"東京都港区港南５－５－３０", false},
		"address_written":  {"2025-04-01", false},
	}
	for name, w := range want {
		a, ok := ev.Attribute(name)
		if !ok || a.Value.Reveal() != w.v || a.Signed != w.signed {
			t.Errorf("attribute %s = %v (signed %v), want signed %v", name, ok, a.Signed, w.signed)
		}
	}
}

func TestVerifyRefusals(t *testing.T) {
	is, other := issuers(t)
	tests := []struct {
		name   string
		mutate func(t *testing.T, f *residence.Files)
		now    time.Time
		want   error
		reason string
	}{
		{"tampered front image", func(t *testing.T, f *residence.Files) {
			b := bytes.Clone(front)
			b[100] ^= 1
			f.Front = tlv.Append(nil, 0xD0, b)
		}, now, document.ErrTampered, "check code"},
		{"tampered face", func(t *testing.T, f *residence.Files) {
			b := bytes.Clone(residencetest.MinimalJ2K)
			b[5] ^= 1
			f.Face = tlv.Append(nil, 0xD1, b)
		}, now, document.ErrTampered, "check code"},
		{"zero appended to face (padding ambiguity)", func(t *testing.T, f *residence.Files) {
			f.Face = tlv.Append(nil, 0xD1, append(bytes.Clone(residencetest.MinimalJ2K), 0))
		}, now, document.ErrMalformed, "EOC marker"},
		{"unknown issuer", func(t *testing.T, f *residence.Files) {
			g, err := other.Issue(residencetest.Card{Front: front})
			if err != nil {
				t.Fatal(err)
			}
			*f = g
		}, now, document.ErrUnknownIssuer, "does not chain"},
		{"certificate expired", func(t *testing.T, f *residence.Files) {}, until.AddDate(0, 0, 1), document.ErrExpired, "outside its validity"},
		{"SHA-1 downgrade", func(t *testing.T, f *residence.Files) {
			if err := is.Resign(f, crypto.SHA1); err != nil {
				t.Fatal(err)
			}
		}, now, document.ErrWeakAlgorithm, "check code"},
		{"short check code", func(t *testing.T, f *residence.Files) {
			cert := f.Signature[4+256:]
			f.Signature = append(tlv.Append(nil, 0xDA, make([]byte, 128)), cert...)
		}, now, document.ErrMalformed, "128 bytes, key needs 256"},
		{"front image too long", func(t *testing.T, f *residence.Files) {
			f.Front = tlv.Append(nil, 0xD0, append(bytes.Clone(residencetest.MinimalTIFF), make([]byte, residence.FrontSize)...))
		}, now, document.ErrMalformed, "longer than its signed size"},
		{"truncated signature", func(t *testing.T, f *residence.Files) { f.Signature = f.Signature[:300] }, now, document.ErrMalformed, "does not decode"},
		{"length lies", func(t *testing.T, f *residence.Files) { f.Face[1] = 0x7F }, now, document.ErrMalformed, "does not decode"},
		{"garbage certificate", func(t *testing.T, f *residence.Files) {
			f.Signature = append(tlv.Append(nil, 0xDA, make([]byte, 256)), tlv.Append(nil, 0xDB, []byte{0x30, 0x03, 0x02, 0x01, 0x01})...)
		}, now, document.ErrMalformed, "does not parse"},
		{"not a residence card type", func(t *testing.T, f *residence.Files) {
			f.Common = append(tlv.Append(nil, 0xC0, []byte("13")), tlv.Append(nil, 0xC1, []byte("7"))...)
		}, now, document.ErrNotAccepted, "neither"},
		{"licence common data", func(t *testing.T, f *residence.Files) {
			f.Common = tlv.Append(nil, 0x45, make([]byte, 11))
		}, now, document.ErrNotAccepted, "driver's licence"},
		{"My Number signature as DF3", func(t *testing.T, f *residence.Files) {
			f.Signature = tlv.Append(nil, 0xFF30, make([]byte, 40))
		}, now, document.ErrNotAccepted, "My Number"},
		{"face not JPEG 2000", func(t *testing.T, f *residence.Files) {
			f.Face = tlv.Append(nil, 0xD1, []byte{0xFF, 0xD8, 0xFF})
		}, now, document.ErrMalformed, "not JPEG 2000"},
		{"missing face", func(t *testing.T, f *residence.Files) { f.Face = nil }, now, document.ErrMalformed, "DF1/EF02 missing"},
		{"oversized back", func(t *testing.T, f *residence.Files) { f.Back = make([]byte, residence.MaxBack+1) }, now, document.ErrTooLarge, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := is.Issue(residencetest.Card{Front: front, Address: "東京都港区"})
			if err != nil {
				t.Fatal(err)
			}
			tt.mutate(t, &f)
			ev, err := verifier(t).Verify(f, tt.now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify(%s) error = %v, want %v", tt.name, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Verify(%s) error = %q, want a reason containing %q", tt.name, err, tt.reason)
			}
			if strings.Contains(err.Error(), "港区") {
				t.Errorf("Verify(%s) error leaks the address", tt.name)
			}
			if ev != nil && ev.Verified {
				t.Errorf("Verify(%s) evidence verified despite error", tt.name)
			}
		})
	}
}

func TestAnchors(t *testing.T) {
	v := verifier(t)
	if err := v.CheckProduction(); !errors.Is(err, document.ErrTestAnchor) {
		t.Errorf("CheckProduction(test root) = %v, want ErrTestAnchor", err)
	}
	if _, err := residence.NewVerifier(nil); !errors.Is(err, residence.ErrAnchor) {
		t.Errorf("NewVerifier(nil) = %v, want ErrAnchor", err)
	}
}

func FuzzVerify(f *testing.F) {
	is, _ := issuers(f)
	files, err := is.Issue(residencetest.Card{Front: front, Address: "東京都"})
	if err != nil {
		f.Fatal(err)
	}
	v := verifier(f)
	f.Add(0, files.Common)
	f.Add(1, files.Front)
	f.Add(2, files.Face)
	f.Add(3, files.Back)
	f.Add(4, files.Signature)
	f.Fuzz(func(t *testing.T, which int, b []byte) {
		g := files
		switch which % 5 {
		case 0:
			g.Common = b
		case 1:
			g.Front = b
		case 2:
			g.Face = b
		case 3:
			g.Back = b
		default:
			g.Signature = b
		}
		ev, err := v.Verify(g, now)
		if (err == nil) != (ev != nil && ev.Verified) {
			t.Fatalf("Verify: error %v but verified=%v", err, ev != nil && ev.Verified)
		}
	})
}
