package icao_test

import (
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/icao"
	"github.com/madoguchi/madoguchi/document/trust"
)

func readHex(t testing.TB, name string) []byte {
	t.Helper()
	s, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(s)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWorkedExamples parses the ICAO 9303 Part 10 Appendix A worked examples.
func TestWorkedExamples(t *testing.T) {
	m, err := icao.ParseDG1(readHex(t, "dg1_td2_p10.hex"))
	if err != nil {
		t.Fatalf("ParseDG1(Part 10 TD2 example) = %v", err)
	}
	want := &icao.MRZ{Format: icao.TD2, DocumentCode: "I", IssuingState: "UTO", DocumentNumber: "D23145890", Nationality: "UTO",
		DateOfBirth: "740812", Sex: "F", DateOfExpiry: "120415", PrimaryID: "ERIKSSON", SecondaryID: "ANNA MARIA"}
	if d := cmp.Diff(want, m); d != "" {
		t.Errorf("ParseDG1(Part 10 TD2 example) mismatch (-want +got):\n%s", d)
	}
	d11, err := icao.ParseDG11(readHex(t, "dg11_p10.hex"))
	if err != nil {
		t.Fatalf("ParseDG11(Part 10 example) = %v", err)
	}
	if d11.FullName != "SMITH, JOHN J" || d11.PlaceOfBirth != "ANYTOWN MN" || d11.Address != "123 MAPLE RD ANYTOWN MN" {
		t.Errorf("ParseDG11(Part 10 example) = %+v", d11)
	}
	p, err := icao.ParseDG2(readHex(t, "dg2_p10.hex"))
	if err != nil {
		t.Fatalf("ParseDG2(Part 10 example) = %v", err)
	}
	if p.Format != "jpeg" || len(p.Data) < 1000 {
		t.Errorf("ParseDG2(Part 10 example) = %s, %d bytes", p.Format, len(p.Data))
	}
	alg, err := icao.AASignatureAlgorithm(readHex(t, "dg14.hex"))
	if err != nil || alg != nil {
		t.Errorf("AASignatureAlgorithm(DG14 without AA info) = %v, %v; want nil, nil", alg, err)
	}
}

// TestRealAustrianSOD verifies a real EF.SOD's signature, Document Signer
// and chain to the Austrian CSCA from the German master list. Its data
// groups are not available, so the worked-example DG1 must fail its hash.
func TestRealAustrianSOD(t *testing.T) {
	if testing.Short() {
		t.Skip("imports the German master list")
	}
	ml, err := os.ReadFile("../trust/testdata/DE_ML_2026-05-28.ml")
	if err != nil {
		t.Fatal(err)
	}
	root, err := os.ReadFile("../trust/testdata/DE_ROOT_CA_CSCA07.cer")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	list, err := trust.ParseMasterList(ml, [][]byte{root}, at, trust.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	var anchors []*trust.Anchor
	for _, c := range list.Certificates {
		a, err := trust.NewAnchor(c.Raw, false)
		if err != nil {
			t.Fatal(err)
		}
		anchors = append(anchors, a)
	}
	v, err := icao.NewVerifier(icao.Config{Anchors: trust.NewStore(anchors...)})
	if err != nil {
		t.Fatal(err)
	}
	sod := readHex(t, "sod_at.hex")
	s, err := icao.ParseSOD(sod)
	if err != nil {
		t.Fatalf("ParseSOD(real AT SOD) = %v", err)
	}
	if len(s.Hashes) < 2 {
		t.Errorf("ParseSOD(real AT SOD) = %d hashes", len(s.Hashes))
	}
	ev, err := v.Verify(icao.Files{SOD: sod, DG: map[int][]byte{1: readHex(t, "dg1_td2_p10.hex")}}, nil, at)
	if err == nil {
		t.Fatal("Verify(real SOD, foreign DG1) = nil error, want a refusal")
	}
	got := map[string]document.Result{}
	for _, c := range ev.Checks {
		got[c.Name] = c.Result
	}
	for name, want := range map[string]document.Result{
		"sod.signature": document.Pass, "ds.chain": document.Pass, "csca.validity": document.Pass,
		"dg1.hash": document.Fail, "country": document.Fail,
	} {
		if got[name] != want {
			t.Errorf("check %s = %q, want %q (all: %v)", name, got[name], want, ev.Checks)
		}
	}
}
