package mynumber_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/internal/tlv"
	"github.com/madoguchi/madoguchi/document/mynumber"
	"github.com/madoguchi/madoguchi/document/mynumber/mynumbertest"
)

// plantedMyNumber is the 個人番号 written to the test cards; no output may
// ever contain it.
const plantedMyNumber = "987654321098"

var (
	once          sync.Once
	issuer, other *mynumbertest.Issuer
	setupErr      error
)

func issuers(t testing.TB) (*mynumbertest.Issuer, *mynumbertest.Issuer) {
	t.Helper()
	once.Do(func() {
		if issuer, setupErr = mynumbertest.New(rand.Reader); setupErr == nil {
			other, setupErr = mynumbertest.New(rand.Reader)
		}
	})
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	return issuer, other
}

var now = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

func card() mynumbertest.Card {
	return mynumbertest.Card{
		MyNumber: plantedMyNumber, Name: "山田　太郎", Address: "東京都千代田区千代田１－１",
		Birth: time.Date(1990, 1, 2, 0, 0, 0, 0, time.UTC), Expiry: time.Date(2034, 3, 31, 0, 0, 0, 0, time.UTC), Sex: "1",
	}
}

func verifier(t testing.TB) *mynumber.Verifier {
	is, _ := issuers(t)
	v, err := mynumber.NewVerifier([]mynumber.Anchor{is.Anchor()})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func issue(t testing.TB, c mynumbertest.Card) mynumber.Files {
	is, _ := issuers(t)
	f, err := is.Issue(c)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestVerifyBothAPs(t *testing.T) {
	f := issue(t, card())
	ev, err := verifier(t).Verify(&f, now)
	if err != nil {
		t.Fatalf("Verify(valid card) error = %v", err)
	}
	got := map[string]string{}
	for _, a := range ev.Attributes {
		if strings.HasSuffix(a.Name, "_png") {
			continue
		}
		got[a.Name] = fmt.Sprintf("%s signed=%v", a.Value.Reveal(), a.Signed)
	}
	want := map[string]string{
		"name": "山田　太郎 signed=true", "address": "東京都千代田区千代田１－１ signed=true",
		"birthdate": "1990-01-02 signed=true", "gender": "male signed=true", "expiry_date": "2034-03-31 signed=false",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("attributes mismatch (-want +got):\n%s", diff)
	}
	claims := ev.SignedClaims()
	if claims["name"] != "山田　太郎" || claims["birthdate"] != "1990-01-02" || claims["gender"] != "male" || claims["address"] == nil {
		t.Errorf("SignedClaims() = %v, want name, birthdate, gender and address", claims)
	}
	if !ev.Verified || ev.DocumentNumber != "" || ev.Photo == nil || !ev.Photo.Signed {
		t.Errorf("Verify(valid card) = verified %v, number %q, photo %v; want verified, no number, signed photo", ev.Verified, ev.DocumentNumber.Reveal(), ev.Photo)
	}
}

func TestVerifyOneAP(t *testing.T) {
	full := issue(t, card())
	textOnly := mynumber.Files{Basic4: full.Basic4, TextSignature: full.TextSignature, TextCert: full.TextCert}
	if ev, err := verifier(t).Verify(&textOnly, now); err != nil || !ev.Verified || ev.Photo != nil {
		t.Errorf("Verify(text AP only) = %v, %v; want verified without photo", ev, err)
	}
	visOnly := mynumber.Files{Visual: full.Visual, VisualCert: full.VisualCert}
	ev, err := verifier(t).Verify(&visOnly, now)
	if err != nil || !ev.Verified || ev.Photo == nil {
		t.Fatalf("Verify(visual AP only) = %v, %v; want verified with photo", ev, err)
	}
	if _, ok := ev.Attribute("name"); ok {
		t.Errorf("Verify(visual AP only) has a text name; the visual AP holds only images")
	}
}

// TestMyNumberNeverLeaks plants a known 12-digit number (and the card's own
// hash of it) and checks every output: evidence JSON (redacted and
// revealed), fmt verbs, slog (JSON and text handlers), error strings of all
// refusal paths, and the caller's buffers, which must be zeroised.
func TestMyNumberNeverLeaks(t *testing.T) {
	f := issue(t, card())
	ef01 := f.MyNumber
	ef05 := f.MyNumberImage
	h := sha256.Sum256(ef01)
	forbidden := []string{
		plantedMyNumber,
		hex.EncodeToString(h[:]), strings.ToUpper(hex.EncodeToString(h[:])),
		base64.StdEncoding.EncodeToString(h[:]),
		base64.StdEncoding.EncodeToString([]byte(plantedMyNumber)),
		hex.EncodeToString([]byte(plantedMyNumber)),
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	textLogger := slog.New(slog.NewTextHandler(&logs, nil))

	ev, err := verifier(t).Verify(&f, now)
	if err != nil {
		t.Fatal(err)
	}
	if f.MyNumber != nil || f.MyNumberImage != nil {
		t.Errorf("Verify left Files.MyNumber/MyNumberImage set")
	}
	if !bytes.Equal(ef01, make([]byte, len(ef01))) || !bytes.Equal(ef05, make([]byte, len(ef05))) {
		t.Errorf("Verify did not zeroise the caller's My Number buffers")
	}
	var outputs []string
	j, _ := json.Marshal(ev)
	r, _ := ev.RevealedJSON()
	outputs = append(outputs, string(j), string(r), fmt.Sprintf("%v %+v %#v", ev, ev, ev))
	logger.Info("verified", "evidence", ev, "files", f)
	textLogger.Info("verified", "evidence", ev)

	// Every refusal path with the number planted again.
	for _, mutate := range []func(*mynumber.Files){
		func(g *mynumber.Files) { g.Basic4 = g.Basic4[:10] },
		func(g *mynumber.Files) { g.TextSignature[len(g.TextSignature)-1] ^= 1 },
		func(g *mynumber.Files) { g.Visual[len(g.Visual)-300] ^= 1 },
		func(g *mynumber.Files) { g.TextCert = g.VisualCert },
		func(g *mynumber.Files) { g.Basic4 = g.MyNumber },
		func(g *mynumber.Files) { g.TextSignature = append([]byte{}, g.MyNumber...) },
	} {
		g := issue(t, card())
		mutate(&g)
		ev, err := verifier(t).Verify(&g, now)
		if err == nil {
			t.Fatalf("mutation accepted")
		}
		outputs = append(outputs, err.Error(), fmt.Sprintf("%v", ev))
		logger.Error("refused", "err", err, "evidence", ev)
	}
	outputs = append(outputs, logs.String())
	for _, out := range outputs {
		for _, s := range forbidden {
			if strings.Contains(out, s) {
				t.Fatalf("output leaks the My Number (or its hash %q): %.200s", s, out)
			}
		}
	}
}

func TestVerifyRefusals(t *testing.T) {
	is, stranger := issuers(t)
	tests := []struct {
		name   string
		mutate func(t *testing.T, f *mynumber.Files)
		want   error
		reason string
	}{
		{"tampered name", func(t *testing.T, f *mynumber.Files) {
			f.Basic4 = bytes.Replace(f.Basic4, []byte("太郎"), []byte("次郎"), 1)
		}, document.ErrTampered, "differs from the signed hash"},
		{"tampered name with DF32 recomputed", func(t *testing.T, f *mynumber.Files) {
			f.Basic4 = bytes.Replace(f.Basic4, []byte("太郎"), []byte("次郎"), 1)
			h := sha256.Sum256(f.Basic4)
			f.TextSignature = bytes.Replace(f.TextSignature, findValue(t, f.TextSignature, 0xDF32), h[:], 1)
		}, document.ErrTampered, "signature DF33"},
		{"tampered face photo", func(t *testing.T, f *mynumber.Files) {
			f.Visual = bytes.Replace(f.Visual, mynumbertest.MinimalJ2K, []byte{0xFF, 0x4F, 0xFF, 0x51, 0, 0, 0, 1}, 1)
		}, document.ErrTampered, "signature DF28"},
		{"unknown issuer", func(t *testing.T, f *mynumber.Files) {
			g, err := stranger.Issue(card())
			if err != nil {
				t.Fatal(err)
			}
			*f = g
		}, document.ErrUnknownIssuer, "not a configured J-LIS key"},
		{"certificate forged under our reference", func(t *testing.T, f *mynumber.Files) {
			c, err := is.ForeignCert(stranger)
			if err != nil {
				t.Fatal(err)
			}
			f.TextCert = c
		}, document.ErrTampered, "CV certificate signature"},
		{"SHA-1 downgrade", func(t *testing.T, f *mynumber.Files) {
			s, err := is.TextSignature(plantedMyNumber, f.Basic4, crypto.SHA1)
			if err != nil {
				t.Fatal(err)
			}
			f.TextSignature = s
		}, document.ErrWeakAlgorithm, "SHA-1"},
		{"short signature", func(t *testing.T, f *mynumber.Files) {
			sig := findValue(t, f.TextSignature, 0xDF33)
			signed := tlv.Append(tlv.Append(nil, 0xDF31, findValue(t, f.TextSignature, 0xDF31)), 0xDF32, findValue(t, f.TextSignature, 0xDF32))
			f.TextSignature = tlv.Append(nil, 0xFF30, tlv.Append(signed, 0xDF33, sig[:128]))
		}, document.ErrMalformed, "128 bytes, key needs 256"},
		{"SHA-1 sized hashes", func(t *testing.T, f *mynumber.Files) {
			var b []byte
			b = tlv.Append(b, 0xDF31, make([]byte, 20))
			b = tlv.Append(b, 0xDF32, make([]byte, 20))
			f.TextSignature = tlv.Append(nil, 0xFF30, tlv.Append(b, 0xDF33, make([]byte, 256)))
		}, document.ErrWeakAlgorithm, "want SHA-256"},
		{"truncated", func(t *testing.T, f *mynumber.Files) { f.Visual = f.Visual[:len(f.Visual)/2] }, document.ErrMalformed, "does not decode"},
		{"length lies", func(t *testing.T, f *mynumber.Files) { f.TextCert[3] = 0xFF }, document.ErrMalformed, "does not decode"},
		{"missing EF03", func(t *testing.T, f *mynumber.Files) { f.TextSignature = nil }, document.ErrMalformed, "textap/EF03 missing"},
		{"licence file as basic-4", func(t *testing.T, f *mynumber.Files) {
			f.Basic4 = tlv.Append(nil, 0x45, make([]byte, 11))
		}, document.ErrNotAccepted, "driver's licence"},
		{"residence signature as EF03", func(t *testing.T, f *mynumber.Files) {
			f.TextSignature = tlv.Append(nil, 0xDA, make([]byte, 256))
		}, document.ErrNotAccepted, "residence card"},
		{"text and visual from different cards", func(t *testing.T, f *mynumber.Files) {
			c := card()
			c.Birth = c.Birth.AddDate(1, 0, 0)
			g, err := is.Issue(c)
			if err != nil {
				t.Fatal(err)
			}
			f.Visual, f.VisualCert = g.Visual, g.VisualCert
		}, document.ErrNotAccepted, "disagree"},
		{"oversized", func(t *testing.T, f *mynumber.Files) { f.Visual = make([]byte, mynumber.MaxVisual+1) }, document.ErrTooLarge, "limit"},
		{"nothing", func(t *testing.T, f *mynumber.Files) { *f = mynumber.Files{MyNumber: f.MyNumber} }, document.ErrNotAccepted, "no 券面事項"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := issue(t, card())
			tt.mutate(t, &f)
			ev, err := verifier(t).Verify(&f, now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify(%s) error = %v, want %v", tt.name, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Verify(%s) error = %q, want a reason containing %q", tt.name, err, tt.reason)
			}
			if strings.Contains(err.Error(), plantedMyNumber) || strings.Contains(err.Error(), "山田") {
				t.Errorf("Verify(%s) error leaks personal data: %q", tt.name, err)
			}
			if ev != nil && (ev.Verified || len(ev.Attributes) != 0) {
				t.Errorf("Verify(%s) returned verified=%v with %d attributes on refusal", tt.name, ev.Verified, len(ev.Attributes))
			}
		})
	}
}

func TestVerifyExpired(t *testing.T) {
	f := issue(t, card())
	_, err := verifier(t).Verify(&f, time.Date(2034, 4, 2, 0, 0, 0, 0, time.UTC))
	if !errors.Is(err, document.ErrExpired) {
		t.Errorf("Verify(after expiry) error = %v, want ErrExpired", err)
	}
}

func findValue(t *testing.T, file []byte, tag tlv.Tag) []byte {
	t.Helper()
	c0 := bytes.Clone(file)
	c0[0] = 0xBF // the shared decoder refuses a first tag byte of 0xFF
	o, err := tlv.Parse(c0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := o.Find(tag)
	if err != nil {
		t.Fatal(err)
	}
	return c.Value
}

func TestAnchorsPEM(t *testing.T) {
	is, _ := issuers(t)
	p, err := mynumber.MarshalAnchorPEM(is.Anchor())
	if err != nil {
		t.Fatal(err)
	}
	as, err := mynumber.ParseAnchorsPEM(p)
	if err != nil || len(as) != 1 || as[0].Ref != is.Anchor().Ref || !as[0].Test {
		t.Fatalf("ParseAnchorsPEM(MarshalAnchorPEM(test anchor)) = %v, %v", as, err)
	}
	v, err := mynumber.NewVerifier(as)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.CheckProduction(); !errors.Is(err, document.ErrTestAnchor) {
		t.Errorf("CheckProduction(test anchor) = %v, want ErrTestAnchor", err)
	}
	prod := is.Anchor()
	prod.Test = false
	pv, _ := mynumber.NewVerifier([]mynumber.Anchor{prod})
	if err := pv.CheckProduction(); err != nil {
		t.Errorf("CheckProduction(production anchor) = %v, want nil", err)
	}
	for _, bad := range []string{
		"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
		strings.Replace(string(p), "Key-Reference", "X-Ref", 1),
		string(p) + "garbage",
	} {
		if _, err := mynumber.ParseAnchorsPEM([]byte(bad)); !errors.Is(err, mynumber.ErrAnchor) {
			t.Errorf("ParseAnchorsPEM(%.40q) error = %v, want ErrAnchor", bad, err)
		}
	}
	if _, err := mynumber.NewVerifier(nil); !errors.Is(err, mynumber.ErrAnchor) {
		t.Errorf("NewVerifier(nil) = %v, want ErrAnchor", err)
	}
}

func FuzzVerify(f *testing.F) {
	files := issue(f, card())
	v := verifier(f)
	f.Add(0, files.Basic4)
	f.Add(1, files.TextSignature)
	f.Add(2, files.TextCert)
	f.Add(3, files.Visual)
	f.Fuzz(func(t *testing.T, which int, b []byte) {
		g := files
		g.MyNumber, g.MyNumberImage = nil, nil
		switch which % 4 {
		case 0:
			g.Basic4 = b
		case 1:
			g.TextSignature = b
		case 2:
			g.TextCert = b
		default:
			g.Visual = b
		}
		ev, err := v.Verify(&g, now)
		if (err == nil) != (ev != nil && ev.Verified) {
			t.Fatalf("Verify: error %v but verified=%v", err, ev != nil && ev.Verified)
		}
	})
}
