package chip_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/chip"
	"github.com/madoguchi/madoguchi/document/icao/icaotest"
	"github.com/madoguchi/madoguchi/document/jpdl/jpdltest"
	"github.com/madoguchi/madoguchi/document/mynumber"
	"github.com/madoguchi/madoguchi/document/mynumber/mynumbertest"
	"github.com/madoguchi/madoguchi/document/residence/residencetest"
	"github.com/madoguchi/madoguchi/ekyc"
)

// The eKYC service calls a *chip.Verifier for method ヘ.
var _ ekyc.ChipVerifier = (*chip.Verifier)(nil)

var testNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

const testMyNumber = "123456789018"

// issuers is one test issuer per kind, with a chip read of each.
type issuers struct {
	icaoPKI *icaotest.PKI
	aa      *icaotest.AAKey
	jpdl    *jpdltest.Issuer
	myna    *mynumbertest.Issuer
	res     *residencetest.Issuer
	cfg     chip.Config
	state   string // MRZ issuing state of the passports
}

var (
	fixOnce  sync.Once
	fixture  *issuers
	fixError error
)

// testIssuers builds the issuers once per test binary (RSA keys are slow).
func testIssuers(t testing.TB) *issuers {
	t.Helper()
	fixOnce.Do(func() { fixture, fixError = newIssuers("UTO", "UT") })
	if fixError != nil {
		t.Fatal(fixError)
	}
	return fixture
}

// newIssuers builds test issuers; the CSCA is of country (alpha-2), the
// passports of state (MRZ code).
func newIssuers(state, country string) (*issuers, error) {
	is := &issuers{state: state}
	csca, err := icaotest.NewECKey("P-256", crypto.SHA256, false)
	if err != nil {
		return nil, err
	}
	ds, err := icaotest.NewECKey("P-256", crypto.SHA256, false)
	if err != nil {
		return nil, err
	}
	if is.icaoPKI, err = icaotest.NewPKI(country, csca, ds, testNow.AddDate(-1, 0, 0), testNow.AddDate(1, 0, 0)); err != nil {
		return nil, err
	}
	if is.aa, err = icaotest.NewECAA("P-256", crypto.SHA256); err != nil {
		return nil, err
	}
	if is.jpdl, err = jpdltest.New(rand.Reader, "テスト公安委員会"); err != nil {
		return nil, err
	}
	if is.myna, err = mynumbertest.New(rand.Reader); err != nil {
		return nil, err
	}
	if is.res, err = residencetest.New(rand.Reader, testNow.AddDate(-2, 0, 0), testNow.AddDate(5, 0, 0)); err != nil {
		return nil, err
	}
	st, err := is.icaoPKI.Anchors()
	if err != nil {
		return nil, err
	}
	is.cfg = chip.Config{
		ICAO: st, JPDL: []*x509.Certificate{is.jpdl.Certificate()}, MyNumber: []mynumber.Anchor{is.myna.Anchor()},
		Residence: []*x509.Certificate{is.res.Root()}, Now: func() time.Time { return testNow },
	}
	return is, nil
}

// read mints one chip read of kind k, keyed by the client's file names.
func (is *issuers) read(t testing.TB, k document.Kind, challenge []byte) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	switch k {
	case document.KindICAO:
		f, err := is.icaoPKI.Build(icaotest.Options{MRZ: icaotest.MRZ(is.state, "340415"), AA: is.aa, AAOnDG14: true, WithDG11: true})
		if err != nil {
			t.Fatal(err)
		}
		m["EF.SOD.bin"] = f.SOD
		for n, b := range f.DG {
			m["DG"+strconv.Itoa(n)+".bin"] = b
		}
		if challenge != nil {
			resp, err := is.aa.Sign(challenge[:chip.ChallengeSize])
			if err != nil {
				t.Fatal(err)
			}
			m["aa.bin"] = resp
		}
	case document.KindJPDL:
		f, err := is.jpdl.Issue(jpdltest.Licence{Name: "山田　太郎", Address: "東京都千代田区", Honseki: "東京都", PSC: "東京都公安委員会",
			Birth: time.Date(1990, 1, 2, 0, 0, 0, 0, time.UTC), Issued: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
			Expiry: time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC), Number: "301234567890"})
		if err != nil {
			t.Fatal(err)
		}
		m = map[string][]byte{"MF_EF01.bin": f.Common, "DF1_EF01.bin": f.Matters, "df1_ef02": f.Honseki, "df1_ef07.dat": f.Signature, "df2_ef01": f.Photo}
	case document.KindMyNumber:
		f, err := is.myna.Issue(mynumbertest.Card{MyNumber: testMyNumber, Name: "山田　花子", Address: "大阪府大阪市", Sex: "2",
			Birth: time.Date(1985, 5, 5, 0, 0, 0, 0, time.UTC), Expiry: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		m = map[string][]byte{"textap_ef01": f.MyNumber, "textap_ef02": f.Basic4, "textap_ef03": f.TextSignature, "textap_ef04": f.TextCert,
			"visualap_ef02": f.Visual, "visualap_ef04": f.VisualCert}
	case document.KindResidence:
		f, err := is.res.Issue(residencetest.Card{Address: "東京都港区"})
		if err != nil {
			t.Fatal(err)
		}
		m = map[string][]byte{"mf_ef01": f.Common, "df1_ef01": f.Front, "df1_ef02": f.Face, "df2_ef01": f.Back, "df3_ef01": f.Signature}
	}
	return m
}

func challenge(t testing.TB) []byte {
	t.Helper()
	c := make([]byte, 32) // the eKYC session nonce
	if _, err := rand.Read(c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestVerifyAllKinds(t *testing.T) {
	is := testIssuers(t)
	v, err := chip.New(is.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := v.Enabled(), document.Kinds(); !slicesEqual(got, want) {
		t.Errorf("Enabled() = %v, want %v", got, want)
	}
	for _, k := range document.Kinds() {
		t.Run(string(k), func(t *testing.T) {
			c := challenge(t)
			files := is.read(t, k, c)
			ev, err := v.Verify(context.Background(), k, files, c)
			if err != nil {
				t.Fatalf("Verify(%s) = %v, want verified", k, err)
			}
			if !ev.Verified || ev.Kind != k {
				t.Fatalf("Verify(%s) = kind %s verified %v, want kind %s verified", k, ev.Kind, ev.Verified, k)
			}
			if ev.Photo == nil || len(ev.Photo.Data) == 0 {
				t.Errorf("Verify(%s) evidence has no photo", k)
			}
			if k == document.KindICAO {
				if r := checkResult(ev, "aa"); r != document.Pass {
					t.Errorf("Verify(icao) check aa = %q, want pass", r)
				}
			}
		})
	}
}

func checkResult(ev *document.Evidence, name string) document.Result {
	for _, c := range ev.Checks {
		if c.Name == name {
			return c.Result
		}
	}
	return ""
}

func slicesEqual(a, b []document.Kind) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestMyNumberNeverLeaves: the number's files are zeroised and nothing
// returned carries the number.
func TestMyNumberNeverLeaves(t *testing.T) {
	is := testIssuers(t)
	v, err := chip.New(is.cfg)
	if err != nil {
		t.Fatal(err)
	}
	files := is.read(t, document.KindMyNumber, nil)
	numberFile := files["textap_ef01"]
	ev, err := v.Verify(context.Background(), document.KindMyNumber, files, nil)
	if err != nil {
		t.Fatalf("Verify(mynumber) = %v", err)
	}
	if !bytes.Equal(numberFile, make([]byte, len(numberFile))) {
		t.Error("Verify(mynumber) left the My Number file's bytes in place, want them zeroised")
	}
	j, _ := json.Marshal(ev)
	r, _ := ev.RevealedJSON()
	for _, out := range [][]byte{j, r} {
		if bytes.Contains(out, []byte(testMyNumber)) {
			t.Error("Verify(mynumber) evidence contains the My Number")
		}
	}
}

func TestVerifyRefusals(t *testing.T) {
	is := testIssuers(t)
	v, err := chip.New(is.cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Another issuer of each Japanese kind, and another CSCA, that this
	// verifier does not trust.
	stranger, err := newIssuers("D", "DE")
	if err != nil {
		t.Fatal(err)
	}
	c := challenge(t)
	tests := []struct {
		name   string
		kind   document.Kind
		files  func() map[string][]byte
		chal   []byte
		want   error
		reason string // part of the reviewer-readable reason
	}{
		{"unknown issuer jpdl", document.KindJPDL, func() map[string][]byte { return stranger.read(t, document.KindJPDL, nil) }, nil, document.ErrUnknownIssuer, ""},
		{"unknown issuer mynumber", document.KindMyNumber, func() map[string][]byte { return stranger.read(t, document.KindMyNumber, nil) }, nil, document.ErrUnknownIssuer, ""},
		{"unknown issuer residence", document.KindResidence, func() map[string][]byte { return stranger.read(t, document.KindResidence, nil) }, nil, document.ErrUnknownIssuer, ""},
		{"unknown issuer icao", document.KindICAO, func() map[string][]byte { return stranger.read(t, document.KindICAO, c) }, c, document.ErrUnknownIssuer, ""},
		{"mixed kinds", document.KindJPDL, func() map[string][]byte {
			m := is.read(t, document.KindJPDL, nil)
			m["textap_ef02"] = is.read(t, document.KindMyNumber, nil)["textap_ef02"]
			return m
		}, nil, document.ErrNotAccepted, "mixed bundle"},
		{"passport file in a licence", document.KindJPDL, func() map[string][]byte {
			m := is.read(t, document.KindJPDL, nil)
			m["dg1"] = []byte{0x61, 0}
			return m
		}, nil, document.ErrNotAccepted, "mixed bundle"},
		{"file of no kind", document.KindResidence, func() map[string][]byte {
			m := is.read(t, document.KindResidence, nil)
			m["selfie.jpg"] = []byte{0xFF, 0xD8}
			return m
		}, nil, document.ErrNotAccepted, "not a residence chip file"},
		{"same file twice", document.KindJPDL, func() map[string][]byte {
			m := is.read(t, document.KindJPDL, nil)
			m["DF1_EF07.BIN"] = m["df1_ef07.dat"]
			return m
		}, nil, document.ErrNotAccepted, "given twice"},
		{"no files", document.KindJPDL, func() map[string][]byte { return nil }, nil, document.ErrNotAccepted, "no chip files"},
		{"missing signature jpdl", document.KindJPDL, func() map[string][]byte {
			m := is.read(t, document.KindJPDL, nil)
			delete(m, "df1_ef07.dat")
			return m
		}, nil, document.ErrMalformed, ""},
		{"missing SOD", document.KindICAO, func() map[string][]byte {
			m := is.read(t, document.KindICAO, c)
			delete(m, "EF.SOD.bin")
			return m
		}, c, document.ErrNotAccepted, "EF.SOD missing"},
		{"missing check code residence", document.KindResidence, func() map[string][]byte {
			m := is.read(t, document.KindResidence, nil)
			delete(m, "df3_ef01")
			return m
		}, nil, document.ErrMalformed, ""},
		{"tampered licence", document.KindJPDL, func() map[string][]byte {
			m := is.read(t, document.KindJPDL, nil)
			m["df2_ef01"] = flipLast(m["df2_ef01"], 0xFF) // the photo
			return m
		}, nil, document.ErrTampered, ""},
		{"tampered basic-4", document.KindMyNumber, func() map[string][]byte {
			m := is.read(t, document.KindMyNumber, nil)
			m["textap_ef02"] = bytes.Replace(m["textap_ef02"], []byte("大阪"), []byte("京都"), 1)
			return m
		}, nil, document.ErrTampered, ""},
		{"tampered face residence", document.KindResidence, func() map[string][]byte {
			m := is.read(t, document.KindResidence, nil)
			f := bytes.Clone(m["df1_ef02"])
			f[len(f)-3] ^= 1
			m["df1_ef02"] = f
			return m
		}, nil, document.ErrTampered, ""},
		{"tampered DG1", document.KindICAO, func() map[string][]byte {
			m := is.read(t, document.KindICAO, c)
			m["DG1.bin"] = bytes.Replace(m["DG1.bin"], []byte("ERIKSSON"), []byte("ERIKSSOM"), 1)
			return m
		}, c, document.ErrTampered, ""},
		{"AA answered another challenge", document.KindICAO, func() map[string][]byte { return is.read(t, document.KindICAO, challenge(t)) }, c, document.ErrChallenge, ""},
		{"AA without a usable challenge", document.KindICAO, func() map[string][]byte { return is.read(t, document.KindICAO, c) }, c[:4], document.ErrChallenge, "challenge"},
		{"oversized file", document.KindResidence, func() map[string][]byte {
			m := is.read(t, document.KindResidence, nil)
			m["df1_ef01"] = make([]byte, chip.MaxFile+1)
			return m
		}, nil, document.ErrTooLarge, "df1_ef01"},
		{"oversized bundle", document.KindICAO, func() map[string][]byte {
			m := is.read(t, document.KindICAO, c)
			for _, n := range []string{"dg3", "dg4", "dg5"} {
				m[n] = make([]byte, chip.MaxICAOFile)
			}
			return m
		}, c, document.ErrTooLarge, "total"},
		{"too many files", document.KindICAO, func() map[string][]byte {
			m := is.read(t, document.KindICAO, c)
			for i := range chip.MaxFiles {
				m["x"+strconv.Itoa(i)] = []byte{1}
			}
			return m
		}, c, document.ErrTooLarge, "files"},
		{"not a kind", document.Kind("library-card"), func() map[string][]byte { return is.read(t, document.KindJPDL, nil) }, nil, document.ErrNotAccepted, "not a document kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := v.Verify(context.Background(), tt.kind, tt.files(), tt.chal)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify(%s) = %v, want %v", tt.name, err, tt.want)
			}
			if ev != nil && ev.Verified {
				t.Errorf("Verify(%s) returned verified evidence with an error", tt.name)
			}
			var re *document.RefusalError
			if !errors.As(err, &re) || re.Reason == "" && re.Check == "" {
				t.Errorf("Verify(%s) = %v, want a *document.RefusalError with a reason", tt.name, err)
			}
			if tt.reason != "" && !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Verify(%s) = %q, want a reason mentioning %q", tt.name, err, tt.reason)
			}
		})
	}
}

func flipLast(b []byte, pad byte) []byte {
	b = bytes.Clone(b)
	i := len(b) - 1
	for i > 0 && b[i] == pad {
		i--
	}
	b[i] ^= 1
	return b
}

// TestDisabledKinds: a kind without anchors fails closed, whatever the files.
func TestDisabledKinds(t *testing.T) {
	is := testIssuers(t)
	v, err := chip.New(chip.Config{JPDL: is.cfg.JPDL, Now: is.cfg.Now})
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Enabled(); !slicesEqual(got, []document.Kind{document.KindJPDL}) {
		t.Errorf("Enabled() = %v, want [jpdl]", got)
	}
	for _, k := range []document.Kind{document.KindICAO, document.KindMyNumber, document.KindResidence} {
		c := challenge(t)
		ev, err := v.Verify(context.Background(), k, is.read(t, k, c), c)
		if ev != nil || !errors.Is(err, chip.ErrNoAnchors) || !errors.Is(err, document.ErrNotAccepted) {
			t.Errorf("Verify(%s, no anchors) = %v, %v; want nil evidence and ErrNoAnchors (ErrNotAccepted)", k, ev, err)
		}
	}
	empty, err := chip.New(chip.Config{})
	if err != nil {
		t.Fatalf("New(no anchors) = %v, want a verifier with every kind disabled", err)
	}
	if got := empty.Enabled(); len(got) != 0 {
		t.Errorf("New(no anchors).Enabled() = %v, want none", got)
	}
	if err := empty.CheckProduction(); err != nil {
		t.Errorf("New(no anchors).CheckProduction() = %v, want nil (nothing is trusted)", err)
	}
}

func TestCheckProduction(t *testing.T) {
	is := testIssuers(t)
	v, err := chip.New(is.cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = v.CheckProduction()
	if !errors.Is(err, document.ErrTestAnchor) {
		t.Fatalf("CheckProduction(test anchors) = %v, want ErrTestAnchor", err)
	}
	for _, k := range document.Kinds() {
		if !strings.Contains(err.Error(), string(k)+" trust anchors") {
			t.Errorf("CheckProduction() = %q, want it to name %s", err, k)
		}
	}
	// One test anchor among production ones is enough to refuse.
	for _, k := range document.Kinds() {
		cfg := chip.Config{}
		switch k {
		case document.KindICAO:
			cfg.ICAO = is.cfg.ICAO
		case document.KindJPDL:
			cfg.JPDL = is.cfg.JPDL
		case document.KindMyNumber:
			cfg.MyNumber = is.cfg.MyNumber
		case document.KindResidence:
			cfg.Residence = is.cfg.Residence
		}
		v, err := chip.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.CheckProduction(); !errors.Is(err, document.ErrTestAnchor) {
			t.Errorf("CheckProduction(only a %s test anchor) = %v, want ErrTestAnchor", k, err)
		}
	}
}

func TestVerifyCanceled(t *testing.T) {
	is := testIssuers(t)
	v, err := chip.New(is.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := v.Verify(ctx, document.KindJPDL, is.read(t, document.KindJPDL, nil), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify(canceled) = %v, want context.Canceled", err)
	}
}

// TestVerifyConcurrent: one Verifier serves reads of every kind at once
// (run under -race in CI).
func TestVerifyConcurrent(t *testing.T) {
	is := testIssuers(t)
	v, err := chip.New(is.cfg)
	if err != nil {
		t.Fatal(err)
	}
	type read struct {
		kind  document.Kind
		files map[string][]byte
		chal  []byte
	}
	var reads []read
	for _, k := range document.Kinds() {
		for range 2 {
			c := challenge(t)
			reads = append(reads, read{k, is.read(t, k, c), c})
		}
	}
	errs := make(chan error, len(reads))
	var wg sync.WaitGroup
	for _, r := range reads {
		wg.Go(func() {
			_, err := v.Verify(context.Background(), r.kind, r.files, r.chal)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Verify = %v", err)
		}
	}
}
