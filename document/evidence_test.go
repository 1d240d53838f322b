package document

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const secretValue = "TR0123456"

func sampleEvidence() *Evidence {
	e := &Evidence{
		Kind: KindICAO, Issuer: "Utopia MFA", IssuingCountry: "UTO",
		DocumentNumber: Secret(secretValue),
		Expiry:         time.Date(2031, 4, 15, 0, 0, 0, 0, time.UTC),
		Attributes: []Attribute{
			{Name: "family_name", Value: "ERIKSSON", Signed: true},
			{Name: "given_name", Value: "ANNA MARIA", Signed: true},
			{Name: "address", Value: "UNSIGNED STREET 1", Signed: false},
		},
		Photo: &Photo{Format: "jpeg", Data: []byte("\xff\xd8FACE-BYTES"), Signed: true},
	}
	e.AddCheck("sod.signature", Pass, true, "")
	e.AddCheck("crl", Skipped, false, "no CRL given")
	e.AddDigest("EF.SOD", []byte("sod"))
	e.Finish()
	return e
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret(secretValue)
	for _, verb := range []string{"%v", "%s", "%q", "%x", "%X", "%d", "%#v", "%+v", "%10s"} {
		if got := fmt.Sprintf(verb, s); strings.Contains(got, secretValue) || strings.Contains(got, "5452") {
			t.Errorf("Sprintf(%q, secret) = %q, want redacted", verb, got)
		}
	}
	if got := s.Reveal(); got != secretValue {
		t.Errorf("Reveal() = %q, want %q", got, secretValue)
	}
}

func TestEvidenceRedaction(t *testing.T) {
	e := sampleEvidence()
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("verified", "evidence", e, "dn", e.DocumentNumber, "photo", e.Photo)
	js, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{
		"slog": logBuf.String(), "json": string(js), "fmt": fmt.Sprintf("%v %+v", e, *e),
	} {
		for _, pii := range []string{secretValue, "ERIKSSON", "ANNA", "UNSIGNED STREET", "FACE-BYTES", "RkFDRS1CWVRFUw"} {
			if strings.Contains(out, pii) {
				t.Errorf("%s output contains personal data %q: %s", name, pii, out)
			}
		}
	}
	rev, err := e.RevealedJSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{secretValue, "ERIKSSON", `"data":"/9hGQUNFLUJZVEVT"`} {
		if !strings.Contains(string(rev), want) {
			t.Errorf("RevealedJSON() = %s, want it to contain %q", rev, want)
		}
	}
}

func TestFinish(t *testing.T) {
	tests := []struct {
		name   string
		checks []Check
		want   bool
	}{
		{"no checks", nil, false},
		{"only optional", []Check{{Name: "a", Result: Pass}}, false},
		{"all pass", []Check{{Name: "a", Result: Pass, Mandatory: true}, {Name: "b", Result: Skipped}}, true},
		{"one fails", []Check{{Name: "a", Result: Pass, Mandatory: true}, {Name: "b", Result: Fail, Mandatory: true}}, false},
		{"mandatory skipped", []Check{{Name: "a", Result: Skipped, Mandatory: true}}, false},
		{"optional fails", []Check{{Name: "a", Result: Pass, Mandatory: true}, {Name: "b", Result: Fail}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Evidence{Checks: tt.checks}
			e.Finish()
			if e.Verified != tt.want {
				t.Errorf("Finish(%v): Verified = %v, want %v", tt.checks, e.Verified, tt.want)
			}
		})
	}
}

func TestIDAEvidence(t *testing.T) {
	at := time.Date(2026, 5, 1, 10, 20, 11, 0, time.FixedZone("JST", 9*3600))
	e := sampleEvidence()
	got, err := e.IDAEvidence("chk-ic-1", at)
	if err != nil {
		t.Fatalf("IDAEvidence: %v", err)
	}
	want := IDAEvidence{
		Type:         "document",
		CheckDetails: []IDACheckDetail{{CheckMethod: "vcrypt", CheckID: "chk-ic-1", Time: "2026-05-01T10:20:11+09:00"}},
		DocumentDetails: IDADocumentDetails{Type: "passport", DocumentNumber: secretValue, DateOfExpiry: "2031-04-15",
			Issuer: &IDAIssuer{Name: "Utopia MFA", CountryCode: "UTO"}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("IDAEvidence() mismatch (-want +got):\n%s", d)
	}

	mn := sampleEvidence()
	mn.Kind = KindMyNumber
	got, err = mn.IDAEvidence("x", at)
	if err != nil || got.DocumentDetails.DocumentNumber != "" || got.DocumentDetails.Type != "idcard" {
		t.Errorf("IDAEvidence(mynumber) = %+v, %v; want idcard without document_number", got.DocumentDetails, err)
	}

	bad := sampleEvidence()
	bad.AddCheck("dg.hash.DG1", Fail, true, "hash mismatch")
	bad.Finish()
	if _, err := bad.IDAEvidence("x", at); !errors.Is(err, ErrNotVerified) {
		t.Errorf("IDAEvidence(unverified) error = %v, want ErrNotVerified", err)
	}
	unk := sampleEvidence()
	unk.Kind = "library-card"
	if _, err := unk.IDAEvidence("x", at); !errors.Is(err, ErrNotAccepted) {
		t.Errorf("IDAEvidence(unknown kind) error = %v, want ErrNotAccepted", err)
	}
}

func TestSignedClaims(t *testing.T) {
	got := sampleEvidence().SignedClaims()
	want := map[string]any{"family_name": "ERIKSSON", "given_name": "ANNA MARIA"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("SignedClaims() mismatch (-want +got):\n%s", d)
	}
}

func TestRefusalError(t *testing.T) {
	err := fmt.Errorf("verify: %w", Refuse(KindICAO, "sod.signature", ErrTampered, "signature by %s does not verify", "DS"))
	if !errors.Is(err, ErrTampered) {
		t.Errorf("errors.Is(%v, ErrTampered) = false, want true", err)
	}
	var re *RefusalError
	if !errors.As(err, &re) || re.Check != "sod.signature" {
		t.Fatalf("errors.As(%v) = %v, want RefusalError for sod.signature", err, re)
	}
	if got, want := re.Error(), "document (icao): sod.signature: signature by DS does not verify: document: data does not match its signature"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
