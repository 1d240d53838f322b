package icao_test

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/icao"
	"github.com/madoguchi/madoguchi/document/icao/icaotest"
	"github.com/madoguchi/madoguchi/document/internal/cert/certtest"
	"github.com/madoguchi/madoguchi/document/trust"
)

var now = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	name    string
	country string
	mrz     string
	csca    func() (*certtest.Key, error)
	ds      func() (*certtest.Key, error)
	pki     *icaotest.PKI
}

var (
	fixturesOnce sync.Once
	fixtures     []*fixture
	fixturesErr  error
	rsaAA        *icaotest.AAKey
	ecAA         *icaotest.AAKey
)

func setup(t testing.TB) []*fixture {
	t.Helper()
	fixturesOnce.Do(func() {
		fixtures = []*fixture{
			{name: "RSA CSCA, P-256 DS", country: "UT", mrz: icaotest.MRZ("UTO", "340415"),
				csca: func() (*certtest.Key, error) { return certtest.NewRSA(2048, false) },
				ds:   func() (*certtest.Key, error) { return certtest.NewEC("P-256", crypto.SHA256, false) }},
			{name: "Japan-like explicit P-384", country: "JP", mrz: icaotest.MRZ("JPN", "340415"),
				csca: func() (*certtest.Key, error) { return certtest.NewEC("P-384", crypto.SHA384, true) },
				ds:   func() (*certtest.Key, error) { return certtest.NewEC("P-384", crypto.SHA384, true) }},
			{name: "brainpool", country: "DE", mrz: icaotest.MRZ("D", "340415"),
				csca: func() (*certtest.Key, error) { return certtest.NewEC("brainpoolP384r1", crypto.SHA384, false) },
				ds:   func() (*certtest.Key, error) { return certtest.NewEC("brainpoolP256r1", crypto.SHA256, false) }},
			{name: "RSA-PSS", country: "UT", mrz: icaotest.MRZ("UTO", "340415"),
				csca: func() (*certtest.Key, error) { return certtest.NewRSA(2048, true) },
				ds:   func() (*certtest.Key, error) { return certtest.NewRSA(2048, true) }},
		}
		for _, f := range fixtures {
			ck, err := f.csca()
			if err != nil {
				fixturesErr = err
				return
			}
			dk, err := f.ds()
			if err != nil {
				fixturesErr = err
				return
			}
			if f.pki, err = icaotest.NewPKI(f.country, ck, dk, now.AddDate(-1, 0, 0), now.AddDate(9, 0, 0)); err != nil {
				fixturesErr = err
				return
			}
		}
		if rsaAA, fixturesErr = icaotest.NewRSAAA(1024); fixturesErr != nil {
			return
		}
		ecAA, fixturesErr = icaotest.NewECAA("brainpoolP256r1", crypto.SHA256)
	})
	if fixturesErr != nil {
		t.Fatal(fixturesErr)
	}
	return fixtures
}

func verifier(t testing.TB, pkis ...*icaotest.PKI) *icao.Verifier {
	t.Helper()
	var anchors []*trust.Anchor
	for _, p := range pkis {
		a, err := trust.NewAnchor(p.CSCA.DER, true)
		if err != nil {
			t.Fatal(err)
		}
		anchors = append(anchors, a)
	}
	v, err := icao.NewVerifier(icao.Config{Anchors: trust.NewStore(anchors...)})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func challenge(t testing.TB) []byte {
	c := make([]byte, icao.ChallengeSize)
	if _, err := rand.Read(c); err != nil {
		t.Fatal(err)
	}
	return c
}

func answer(t testing.TB, k *icaotest.AAKey, c []byte) *icao.ActiveAuth {
	t.Helper()
	sig, err := k.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	return &icao.ActiveAuth{Challenge: c, Signature: sig}
}

func checkResult(ev *document.Evidence, name string) document.Result {
	for _, c := range ev.Checks {
		if c.Name == name {
			return c.Result
		}
	}
	return ""
}

func TestVerifyPassports(t *testing.T) {
	for _, f := range setup(t) {
		for _, aaKind := range []string{"rsa", "ecdsa", "none"} {
			t.Run(f.name+"/aa="+aaKind, func(t *testing.T) {
				o := icaotest.Options{MRZ: f.mrz, WithDG11: true}
				switch aaKind {
				case "rsa":
					o.AA = rsaAA
				case "ecdsa":
					o.AA, o.AAOnDG14 = ecAA, true
				}
				files, err := f.pki.Build(o)
				if err != nil {
					t.Fatal(err)
				}
				var aa *icao.ActiveAuth
				if o.AA != nil {
					aa = answer(t, o.AA, challenge(t))
				}
				ev, err := verifier(t, f.pki).Verify(files, aa, now)
				if err != nil {
					t.Fatalf("Verify(%s) = %v; checks %+v", f.name, err, ev.Checks)
				}
				if !ev.Verified || ev.Kind != document.KindICAO || ev.Photo == nil || ev.Photo.Format != "jpeg" || !ev.Photo.Signed {
					t.Errorf("Verify(%s) = verified %v kind %s photo %v", f.name, ev.Verified, ev.Kind, ev.Photo)
				}
				wantAA := document.Pass
				if aaKind == "none" {
					wantAA = document.Skipped
				}
				if got := checkResult(ev, "aa"); got != wantAA {
					t.Errorf("check aa = %q, want %q", got, wantAA)
				}
				name, _ := ev.Attribute("family_name")
				bd, _ := ev.Attribute("birthdate")
				addr, _ := ev.Attribute("address")
				if name.Value.Reveal() != "ERIKSSON" || !name.Signed || bd.Value.Reveal() != "1974-08-12" || addr.Value.Reveal() != "123 MAPLE RD ANYTOWN UTOPIA" {
					t.Errorf("attributes = %q signed %v, %q, %q", name.Value.Reveal(), name.Signed, bd.Value.Reveal(), addr.Value.Reveal())
				}
				if ev.DocumentNumber.Reveal() != "L898902C3" || ev.Expiry.Format(time.DateOnly) != "2034-04-15" || ev.Issuer != "Utopia Test Government / Test CSCA" {
					t.Errorf("document = %q %v %q", ev.DocumentNumber.Reveal(), ev.Expiry, ev.Issuer)
				}
				if len(ev.Digests) < 3 {
					t.Errorf("Digests = %d entries, want one per file", len(ev.Digests))
				}
				js, _ := json.Marshal(ev)
				if strings.Contains(string(js), "ERIKSSON") || strings.Contains(string(js), "L898902C3") {
					t.Errorf("JSON of evidence leaks personal data: %s", js)
				}
			})
		}
	}
}

func TestVerifyRefusals(t *testing.T) {
	fx := setup(t)
	base, jp := fx[0], fx[1]
	mustBuild := func(p *icaotest.PKI, o icaotest.Options) icao.Files {
		t.Helper()
		f, err := p.Build(o)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	otherDS, _ := certtest.NewEC("P-256", crypto.SHA256, false)
	expiredPKI, err := icaotest.NewPKI("UT", base.pki.CSCA.Key, otherDS, now.AddDate(-10, 0, 0), now.AddDate(0, 0, -1))
	if err != nil {
		t.Fatal(err)
	}
	expiredPKI.CSCA = base.pki.CSCA
	// DS certificate of the base PKI, but the SOD signed by another key.
	forged := &icaotest.PKI{CSCA: base.pki.CSCA, DS: &certtest.Cert{DER: base.pki.DS.DER, Subject: base.pki.DS.Subject, Serial: base.pki.DS.Serial, Key: otherDS}}

	// A CRL from the base CSCA revoking its DS.
	cscaX, err := x509.ParseCertificate(base.pki.CSCA.DER)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(1), ThisUpdate: now.Add(-time.Hour), NextUpdate: now.AddDate(0, 1, 0),
		RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: base.pki.DS.Serial, RevocationTime: now.AddDate(0, 0, -2)}},
	}, cscaX, base.pki.CSCA.Key.RSA)
	if err != nil {
		t.Fatal(err)
	}

	c := challenge(t)
	tests := []struct {
		name  string
		files func() icao.Files
		aa    func() *icao.ActiveAuth
		v     func() *icao.Verifier
		check string
		want  error
	}{
		{"tampered DG1", func() icao.Files {
			f := mustBuild(base.pki, icaotest.Options{MRZ: base.mrz})
			f.DG[1] = []byte(strings.Replace(string(f.DG[1]), "ERIKSSON", "ERIKSSOM", 1))
			return f
		}, nil, nil, "dg1.hash", document.ErrTampered},
		{"tampered photo", func() icao.Files {
			f := mustBuild(base.pki, icaotest.Options{MRZ: base.mrz})
			f.DG[2][len(f.DG[2])-3] ^= 1
			return f
		}, nil, nil, "dg2.hash", document.ErrTampered},
		{"DG missing from SOD", func() icao.Files {
			return mustBuild(base.pki, icaotest.Options{MRZ: base.mrz, WithDG11: true, OmitInSOD: []int{11}})
		}, nil, nil, "dg11.hash", document.ErrTampered},
		{"wrong DS signature", func() icao.Files { return mustBuild(forged, icaotest.Options{MRZ: base.mrz}) }, nil, nil, "sod.signature", document.ErrTampered},
		{"expired DS", func() icao.Files { return mustBuild(expiredPKI, icaotest.Options{MRZ: base.mrz}) }, nil, nil, "ds.validity", document.ErrExpired},
		{"DS not chaining", func() icao.Files { return mustBuild(base.pki, icaotest.Options{MRZ: base.mrz}) }, nil,
			func() *icao.Verifier { return verifier(t, jp.pki) }, "ds.chain", document.ErrUnknownIssuer},
		{"country mismatch", func() icao.Files {
			return mustBuild(base.pki, icaotest.Options{MRZ: icaotest.MRZ("JPN", "340415")})
		}, nil, nil, "country", document.ErrTampered},
		{"AA replay with another challenge", func() icao.Files {
			return mustBuild(base.pki, icaotest.Options{MRZ: base.mrz, AA: rsaAA})
		}, func() *icao.ActiveAuth {
			old := answer(t, rsaAA, challenge(t))
			return &icao.ActiveAuth{Challenge: c, Signature: old.Signature}
		}, nil, "aa", document.ErrChallenge},
		{"ECDSA AA replay", func() icao.Files {
			return mustBuild(base.pki, icaotest.Options{MRZ: base.mrz, AA: ecAA, AAOnDG14: true})
		}, func() *icao.ActiveAuth {
			old := answer(t, ecAA, challenge(t))
			return &icao.ActiveAuth{Challenge: c, Signature: old.Signature}
		}, nil, "aa", document.ErrChallenge},
		{"AA key but no response", func() icao.Files {
			return mustBuild(base.pki, icaotest.Options{MRZ: base.mrz, AA: rsaAA})
		}, nil, nil, "aa", document.ErrChallenge},
		{"AA response of the wrong length", func() icao.Files {
			return mustBuild(base.pki, icaotest.Options{MRZ: base.mrz, AA: rsaAA})
		}, func() *icao.ActiveAuth {
			a := answer(t, rsaAA, c)
			a.Signature = a.Signature[1:]
			return a
		}, nil, "aa", document.ErrChallenge},
		{"SHA-1 data-group hashes", func() icao.Files {
			return mustBuild(base.pki, icaotest.Options{MRZ: base.mrz, Hash: crypto.SHA1})
		}, nil, nil, "sod.hash_algorithm", document.ErrWeakAlgorithm},
		{"revoked DS", func() icao.Files {
			return mustBuild(base.pki, icaotest.Options{MRZ: base.mrz, CRLs: [][]byte{crl}})
		}, nil, nil, "ds.crl", document.ErrRevoked},
		{"expired passport", func() icao.Files {
			return mustBuild(base.pki, icaotest.Options{MRZ: icaotest.MRZ("UTO", "250101")})
		}, nil, nil, "document.expiry", document.ErrExpired},
		{"no DS in SOD", func() icao.Files {
			return mustBuild(base.pki, icaotest.Options{MRZ: base.mrz, NoDSInSOD: true})
		}, nil, nil, "ds.present", document.ErrUnknownIssuer},
		{"no SOD", func() icao.Files {
			f := mustBuild(base.pki, icaotest.Options{MRZ: base.mrz})
			f.SOD = nil
			return f
		}, nil, nil, "sod.present", document.ErrNotAccepted},
		{"truncated SOD", func() icao.Files {
			f := mustBuild(base.pki, icaotest.Options{MRZ: base.mrz})
			f.SOD = f.SOD[:len(f.SOD)-5]
			return f
		}, nil, nil, "sod.parse", document.ErrMalformed},
		{"no DG1", func() icao.Files {
			f := mustBuild(base.pki, icaotest.Options{MRZ: base.mrz})
			delete(f.DG, 1)
			return f
		}, nil, nil, "dg1.present", document.ErrNotAccepted},
		{"DG2 given as DG3", func() icao.Files {
			f := mustBuild(base.pki, icaotest.Options{MRZ: base.mrz})
			f.DG[3] = f.DG[2]
			return f
		}, nil, nil, "dg3.parse", document.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := verifier(t, base.pki)
			if tt.v != nil {
				v = tt.v()
			}
			var aa *icao.ActiveAuth
			if tt.aa != nil {
				aa = tt.aa()
			}
			ev, err := v.Verify(tt.files(), aa, now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify(%s) error = %v, want %v", tt.name, err, tt.want)
			}
			var re *document.RefusalError
			if !errors.As(err, &re) || re.Check != tt.check {
				t.Errorf("Verify(%s) refused by %v, want check %q", tt.name, re, tt.check)
			}
			if ev == nil || ev.Verified || checkResult(ev, tt.check) != document.Fail {
				t.Errorf("Verify(%s) evidence verified or check %q not failed", tt.name, tt.check)
			}
			for _, a := range ev.Attributes {
				if a.Signed && strings.HasPrefix(tt.check, "dg") {
					t.Errorf("attribute %s marked signed after %s failed", a.Name, tt.check)
				}
			}
		})
	}
}

func TestNewVerifierNeedsAnchors(t *testing.T) {
	if _, err := icao.NewVerifier(icao.Config{}); !errors.Is(err, trust.ErrNoAnchors) {
		t.Errorf("NewVerifier(no anchors) = %v, want ErrNoAnchors", err)
	}
	fx := setup(t)
	if err := verifier(t, fx[0].pki).CheckProduction(); !errors.Is(err, document.ErrTestAnchor) {
		t.Errorf("CheckProduction(test anchors) = %v, want ErrTestAnchor", err)
	}
}

func BenchmarkVerify(b *testing.B) {
	fx := setup(b)
	for _, f := range fx {
		files, err := f.pki.Build(icaotest.Options{MRZ: f.mrz, AA: rsaAA})
		if err != nil {
			b.Fatal(err)
		}
		v := verifier(b, f.pki)
		c := challenge(b)
		aa := answer(b, rsaAA, c)
		b.Run(f.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := v.Verify(files, aa, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The fuzz targets use stored vectors (testdata/) rather than generated
// keys: under fuzzing instrumentation math/big is slow, and a fuzz worker
// must start in well under a second.

func FuzzVerify(f *testing.F) {
	root, err := os.ReadFile("../trust/testdata/DE_ROOT_CA_CSCA07.cer")
	if err != nil {
		f.Fatal(err)
	}
	a, err := trust.NewAnchor(root, false)
	if err != nil {
		f.Fatal(err)
	}
	v, err := icao.NewVerifier(icao.Config{Anchors: trust.NewStore(a)})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(readHex(f, "sod_at.hex"), readHex(f, "dg1_td2_p10.hex"), readHex(f, "dg2_p10.hex"), readHex(f, "dg11_p10.hex"))
	f.Fuzz(func(t *testing.T, sod, dg1, dg2, dg11 []byte) {
		ev, err := v.Verify(icao.Files{SOD: sod, DG: map[int][]byte{1: dg1, 2: dg2, 11: dg11}}, nil, now)
		if ev == nil || (err == nil) != ev.Verified {
			t.Fatalf("Verify: evidence %v, error %v disagree", ev, err)
		}
	})
}

func FuzzParseSOD(f *testing.F) {
	f.Add(readHex(f, "sod_at.hex"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := icao.ParseSOD(b)
		if err == nil && (s == nil || len(s.Hashes) == 0) {
			t.Fatal("ParseSOD: no hashes without error")
		}
	})
}

func FuzzParseDataGroups(f *testing.F) {
	dg2, err := icaotest.DG2()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(dg2)
	f.Add([]byte{0x61, 0x05, 0x5F, 0x1F, 0x02, 'P', '<'})
	f.Add([]byte{0x6E, 0x03, 0x31, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = icao.ParseDG1(b)
		_, _ = icao.ParseDG2(b)
		_, _ = icao.ParseDG11(b)
		_, _ = icao.ParseDG15(b)
		_, _ = icao.AASignatureAlgorithm(b)
	})
}

func TestDSCountryDiffersFromCSCA(t *testing.T) {
	fx := setup(t)
	jp := fx[1].pki // CSCA of JP
	dk, err := certtest.NewEC("P-256", crypto.SHA256, false)
	if err != nil {
		t.Fatal(err)
	}
	other, err := icaotest.NewPKI("UT", jp.CSCA.Key, dk, now.AddDate(-1, 0, 0), now.AddDate(5, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	// A DS for Utopia issued by Japan's CSCA.
	other.CSCA = jp.CSCA
	ds, err := certtest.Issue(certtest.Template{Serial: 9, Subject: mustName(t, other.DS.DER), NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(5, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature}, dk, jp.CSCA)
	if err != nil {
		t.Fatal(err)
	}
	other.DS = ds
	files, err := other.Build(icaotest.Options{MRZ: icaotest.MRZ("UTO", "340415")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = verifier(t, jp).Verify(files, nil, now)
	var re *document.RefusalError
	if !errors.As(err, &re) || re.Check != "country" || !errors.Is(err, document.ErrTampered) {
		t.Errorf("Verify(UT DS under JP CSCA) = %v, want a country refusal", err)
	}
}

func mustName(t *testing.T, der []byte) pkix.Name {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c.Subject
}

// TestPrefersValidAnchor: the same CSCA key under an expired link
// certificate and a valid self-signed certificate; the valid one is used.
func TestPrefersValidAnchor(t *testing.T) {
	fx := setup(t)
	base := fx[0].pki
	expired, err := certtest.Issue(certtest.Template{Serial: 2, Subject: mustName(t, base.CSCA.DER), NotBefore: now.AddDate(-10, 0, 0), NotAfter: now.AddDate(0, 0, -1),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign, SKI: base.CSCA.SKI}, base.CSCA.Key, nil)
	if err != nil {
		t.Fatal(err)
	}
	a1, _ := trust.NewAnchor(expired.DER, true)
	a2, _ := trust.NewAnchor(base.CSCA.DER, true)
	v, err := icao.NewVerifier(icao.Config{Anchors: trust.NewStore(a1, a2)})
	if err != nil {
		t.Fatal(err)
	}
	files, err := base.Build(icaotest.Options{MRZ: fx[0].mrz})
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := v.Verify(files, nil, now); err != nil {
		t.Errorf("Verify(expired link + valid CSCA) = %v; checks %v", err, ev.Checks)
	}
}

func TestVerifyConcurrent(t *testing.T) {
	fx := setup(t)
	files, err := fx[0].pki.Build(icaotest.Options{MRZ: fx[0].mrz, AA: ecAA, AAOnDG14: true})
	if err != nil {
		t.Fatal(err)
	}
	v := verifier(t, fx[0].pki)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		aa := answer(t, ecAA, challenge(t))
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := v.Verify(files, aa, now)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Verify = %v", err)
		}
	}
}
