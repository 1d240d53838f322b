package recordpdf

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/ekyc"
)

// FontPath is where Debian's fonts-ipaexfont-gothic installs IPAexGothic
// (.ci/run installs the package).
const FontPath = "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"

func needFont(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(FontPath)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Japanese font (apt-get install fonts-ipaexfont-gothic): %v", err)
		}
		t.Skipf("no Japanese font (apt-get install fonts-ipaexfont-gothic): %v", err)
	}
	return b
}

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no %s (apt-get install poppler-utils): %v", name, err)
		}
		t.Skipf("no %s (apt-get install poppler-utils): %v", name, err)
	}
	return p
}

// TestRenderReadByPoppler renders a record and reads it back with an
// independent reader (poppler's pdftotext and pdfdetach): the Japanese
// text is there, and so is the attached JSON, byte for byte.
func TestRenderReadByPoppler(t *testing.T) {
	font := needFont(t)
	pdftotext, pdfdetach := needTool(t, "pdftotext"), needTool(t, "pdfdetach")
	rec := &ekyc.Record{ID: "rec_TEST", SessionID: "ses_TEST", TenantID: "tn_1", Reference: "cust-0042",
		CreatedAt: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC), Recorder: "madoguchi",
		Verifier: ekyc.Actor{Kind: "staff", ID: "st_1"},
		Claims: map[string]any{"family_name": "見本", "given_name": "花子", "birthdate": "1990-01-02",
			"address": map[string]any{"formatted": "東京都千代田区千代田１－１"}},
		Document: &document.IDADocumentDetails{Type: "driving_permit", DocumentNumber: "301234567890", DateOfExpiry: "2030-01-01"},
		Evidence: []ekyc.RecordEvidence{{Kind: "selfie", SHA256: strings.Repeat("ab", 32)}},
		Decision: &ekyc.Decision{Outcome: ekyc.OutcomeApproved, DecidedBy: "staff:st_1", ReviewNote: "顔写真と本人が一致",
			ReviewReasons: []string{ekyc.ReviewIdentityConfirmed}, Scores: map[string]float64{"face_match": 0.91},
			Thresholds: map[string]float64{"face_match": 0.9, "face_match_target_fmr": 1e-4}},
	}
	rec.Method.Letter, rec.Method.Code, rec.Method.Citation, rec.Method.EffectiveFrom = "ヘ", "he", "規則第6条第1項第1号ヘ", "2020-04-01"
	attachment := []byte(`{"format":"test","record":{"id":"rec_TEST"}}`)
	b, err := Render(Input{Record: rec, Tenant: "見本銀行", Rule: "7 years", ExportedAt: time.Now(),
		Proof:      audit.ProofBundle{Entries: []audit.BundleEntry{}},
		Checkpoint: audit.Checkpoint{Origin: "test/audit", Size: 12}, Attachment: attachment}, font)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %q", b[:min(len(b), 16)])
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "record.pdf")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(pdftotext, "-enc", "UTF-8", file, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{"確認記録", "見本", "花子", "東京都千代田区千代田１－１", "301234567890", "顔写真と本人が一致", "rec_TEST", "review.identity_confirmed"} {
		if !strings.Contains(text, want) {
			t.Errorf("pdftotext output lacks %q:\n%s", want, text)
		}
	}
	if out, err := exec.Command(pdfdetach, "-saveall", "-o", dir, file).CombinedOutput(); err != nil {
		t.Fatalf("pdfdetach: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "record.json"))
	if err != nil || !bytes.Equal(got, attachment) {
		t.Errorf("attached record.json = %q, %v; want the attachment byte for byte", got, err)
	}
	if _, err := Render(Input{Record: rec}, nil); err != ErrNoFont {
		t.Errorf("Render(no font) = %v, want ErrNoFont", err)
	}
	if _, err := Render(Input{Record: rec}, []byte("not a font")); err == nil {
		t.Error("Render(garbage font) = nil error")
	}
	if err := CheckFont(font); err != nil {
		t.Errorf("CheckFont(IPAexGothic) = %v", err)
	}
	if err := CheckFont([]byte("not a font")); err == nil {
		t.Error("CheckFont(garbage) = nil error")
	}
}
