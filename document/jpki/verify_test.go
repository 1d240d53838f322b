package jpki_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/document/jpki"
	"github.com/madoguchi/madoguchi/document/jpki/jpkitest"
)

// t0 is the reference time of the test hierarchy.
var t0 = time.Date(2026, 6, 1, 3, 0, 0, 0, time.UTC)

var (
	fixtureOnce sync.Once
	fixturePKI  *jpkitest.PKI
	fixtureErr  error
)

func testPKI(t testing.TB) *jpkitest.PKI {
	t.Helper()
	fixtureOnce.Do(func() { fixturePKI, fixtureErr = jpkitest.New(jpkitest.Options{Now: t0, Keys: 2}) })
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixturePKI
}

type env struct {
	pki      *jpkitest.PKI
	crls     *jpki.CRLStore
	verifier *jpki.Verifier
	now      time.Time
}

// newEnv returns a verifier trusting the test roots, with fresh full CRLs
// that revoke the given certificates.
func newEnv(t testing.TB, revoked ...*x509.Certificate) *env {
	t.Helper()
	p := testPKI(t)
	now := t0.Add(time.Minute)
	clock := func() time.Time { return now }
	store, err := jpki.NewCRLStore([]*x509.Certificate{p.Sign.Cert, p.Auth.Cert}, clock)
	if err != nil {
		t.Fatal(err)
	}
	for _, ca := range []*jpkitest.CA{p.Sign, p.Auth} {
		crl, err := p.CRL(ca, jpkitest.CRLOptions{Revoked: revoked})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Import(crl); err != nil {
			t.Fatalf("Import(test CRL) = %v", err)
		}
	}
	v, err := jpki.NewVerifier(jpki.Config{
		Anchors:    jpki.NewAnchors([]*x509.Certificate{p.Sign.Cert}, []*x509.Certificate{p.Auth.Cert}),
		Revocation: store,
		Spender:    jpki.NewMemorySpender(clock),
		Now:        clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &env{pki: p, crls: store, verifier: v, now: now}
}

func challengeBytes(t testing.TB, issued time.Time) []byte {
	t.Helper()
	c, err := jpki.NewChallenge(rand.Reader, "sess-01HZX2", "bank.example", "account-opening", issued, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func issue(t testing.TB, p *jpkitest.PKI, o jpkitest.CardOptions) *jpkitest.Card {
	t.Helper()
	if o.Usage == 0 {
		o.Usage = jpki.UsageSign
	}
	c, err := p.Issue(o)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return c
}

func rawSig(t testing.TB, card *jpkitest.Card, msg []byte) jpki.Signature {
	t.Helper()
	s, err := card.SignRaw(msg)
	if err != nil {
		t.Fatal(err)
	}
	return jpki.Signature{Form: jpki.FormRaw, Value: s, Certificate: card.DER()}
}

// failedCheck returns the name of the failing check and verifies that the
// checks before it passed and the ones after it did not run.
func failedCheck(t *testing.T, res *jpki.Result) string {
	t.Helper()
	if res == nil {
		t.Fatal("Result is nil on failure; want the checks")
	}
	failed := ""
	for _, c := range res.Checks {
		switch {
		case failed == "" && c.Result == "pass":
		case failed == "" && c.Result == "fail":
			failed = c.Name
		case failed != "" && c.Result == "not_run":
		default:
			t.Errorf("check %s = %s after failed=%q", c.Name, c.Result, failed)
		}
	}
	if res.Attributes != nil || res.Certificate != nil {
		t.Error("failed Result carries attributes or a certificate")
	}
	return failed
}

func TestVerifySignatureRaw(t *testing.T) {
	e := newEnv(t)
	card := issue(t, e.pki, jpkitest.CardOptions{})
	ch := challengeBytes(t, t0)
	res, err := e.verifier.VerifySignature(context.Background(), ch, rawSig(t, card, ch))
	if err != nil {
		t.Fatalf("VerifySignature(valid) = %v, want nil", err)
	}
	for _, c := range res.Checks {
		if c.Result != "pass" {
			t.Errorf("check %s = %s (%s), want pass", c.Name, c.Result, c.Detail)
		}
	}
	if !bytes.Equal(res.SignedBytes, ch) {
		t.Error("SignedBytes differ from the challenge")
	}
	if !res.SigningTime.Equal(t0) {
		t.Errorf("SigningTime = %v, want %v (challenge issued-at)", res.SigningTime, t0)
	}
	if res.Revocation == nil || res.Revocation.Method != "crl" || res.Revocation.Status != jpki.StatusGood || len(res.Revocation.Raw) == 0 {
		t.Errorf("Revocation = %+v, want good CRL evidence with raw bytes", res.Revocation)
	}
	a := res.Attributes
	want := jpkitest.TaroYamada()
	if got := a.Name.Value.Reveal(); got != want.Name {
		t.Errorf("Name = %q, want %q", got, want.Name)
	}
	if got := a.Address.Value.Reveal(); got != want.Address {
		t.Errorf("Address = %q, want %q", got, want.Address)
	}
	if got := a.DateOfBirth.ISO().Reveal(); got != "1990-01-02" {
		t.Errorf("DateOfBirth = %q, want 1990-01-02", got)
	}
	if got := a.Gender().Reveal(); got != "male" {
		t.Errorf("Gender = %q, want male", got)
	}
	if !a.Name.Exact || !a.Name.JISX0208 {
		t.Errorf("Name Exact=%v JISX0208=%v, want both true", a.Name.Exact, a.Name.JISX0208)
	}

	// Single use: the same signature again is refused.
	res, err = e.verifier.VerifySignature(context.Background(), ch, rawSig(t, card, ch))
	if !errors.Is(err, jpki.ErrChallengeReplayed) {
		t.Fatalf("VerifySignature(replay) = %v, want ErrChallengeReplayed", err)
	}
	if got := failedCheck(t, res); got != jpki.CheckSingleUse {
		t.Errorf("failed check = %s, want %s", got, jpki.CheckSingleUse)
	}
}

func TestVerifyRedaction(t *testing.T) {
	e := newEnv(t)
	card := issue(t, e.pki, jpkitest.CardOptions{})
	ch := challengeBytes(t, t0)
	res, err := e.verifier.VerifySignature(context.Background(), ch, rawSig(t, card, ch))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("verified", "result", res, "attrs", res.Attributes, "name", res.Attributes.Name, "dob", res.Attributes.DateOfBirth, "link", res.LinkKey())
	for _, secret := range []string{"山田", "千代田", "1990", res.LinkKey().Reveal()} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("log output contains personal data %q", secret)
		}
	}
}

// TestVerifyRefusals: each certificate or input fails exactly one check.
func TestVerifyRefusals(t *testing.T) {
	p := testPKI(t)
	other, err := p.NewRoot(pkix.Name{CommonName: "Untrusted TEST root"}, t0.AddDate(-1, 0, 0), t0.AddDate(5, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	notCA, err := p.IssueCA(p.Sign, jpkitest.SubCAOptions{Name: pkix.Name{CommonName: "not a CA"}, NotCA: true})
	if err != nil {
		t.Fatal(err)
	}
	badDOB, err := jpkitest.SAN(jpkitest.Person{Name: "山田　太郎", NameFlags: "00000", Sex: "1", DateOfBirth: "319900102", Address: "東京都", AddressFlags: "000"})
	if err != nil {
		t.Fatal(err)
	}
	revokedCard := issue(t, p, jpkitest.CardOptions{})
	good := issue(t, p, jpkitest.CardOptions{})
	ch := challengeBytes(t, t0)
	unknownCrit := pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3, 4, 5}, Critical: true, Value: []byte{0x05, 0x00}}

	tests := []struct {
		name      string
		challenge []byte
		sig       func(t *testing.T) jpki.Signature
		auth      bool
		wantErr   error
		wantCheck string
	}{
		{"signature over other bytes", ch, func(t *testing.T) jpki.Signature {
			return rawSig(t, good, challengeBytes(t, t0))
		}, false, jpki.ErrSignature, jpki.CheckSignature},
		{"signer key differs from certificate", ch, func(t *testing.T) jpki.Signature {
			s := rawSig(t, issue(t, p, jpkitest.CardOptions{KeyBits: 2048}), ch)
			s.Certificate = good.DER()
			return s
		}, false, jpki.ErrSignature, jpki.CheckSignature},
		{"expired challenge", challengeBytes(t, t0.Add(-time.Hour)), func(t *testing.T) jpki.Signature {
			return rawSig(t, good, challengeBytes(t, t0.Add(-time.Hour)))
		}, false, jpki.ErrChallengeExpired, jpki.CheckChallenge},
		{"garbage challenge", []byte("sign me"), func(t *testing.T) jpki.Signature {
			return rawSig(t, good, []byte("sign me"))
		}, false, jpki.ErrChallengeMalformed, jpki.CheckChallenge},
		{"chain: untrusted root", ch, func(t *testing.T) jpki.Signature {
			return rawSig(t, issue(t, p, jpkitest.CardOptions{Issuer: other}), ch)
		}, false, jpki.ErrChain, jpki.CheckChain},
		{"chain: auth certificate used for a signature", ch, func(t *testing.T) jpki.Signature {
			return rawSig(t, issue(t, p, jpkitest.CardOptions{Usage: jpki.UsageAuth}), ch)
		}, false, jpki.ErrChain, jpki.CheckChain},
		{"chain: signing certificate used for authentication", ch, func(t *testing.T) jpki.Signature {
			return rawSig(t, good, ch)
		}, true, jpki.ErrChain, jpki.CheckChain},
		{"basic constraints: issuer is not a CA", ch, func(t *testing.T) jpki.Signature {
			s := rawSig(t, issue(t, p, jpkitest.CardOptions{Issuer: notCA}), ch)
			s.Intermediates = [][]byte{notCA.Cert.Raw}
			return s
		}, false, jpki.ErrBasicConstraints, jpki.CheckBasicConstraints},
		{"validity: expired at signing time", ch, func(t *testing.T) jpki.Signature {
			return rawSig(t, issue(t, p, jpkitest.CardOptions{NotBefore: t0.AddDate(-5, 0, 0), NotAfter: t0.Add(-time.Second)}), ch)
		}, false, jpki.ErrValidity, jpki.CheckValidity},
		{"validity: not yet valid at signing time", ch, func(t *testing.T) jpki.Signature {
			return rawSig(t, issue(t, p, jpkitest.CardOptions{NotBefore: t0.Add(time.Second)}), ch)
		}, false, jpki.ErrValidity, jpki.CheckValidity},
		{"key usage: keyEncipherment only", ch, func(t *testing.T) jpki.Signature {
			return rawSig(t, issue(t, p, jpkitest.CardOptions{KeyUsage: x509.KeyUsageKeyEncipherment}), ch)
		}, false, jpki.ErrKeyUsage, jpki.CheckKeyUsage},
		{"key usage: signing certificate without nonRepudiation", ch, func(t *testing.T) jpki.Signature {
			return rawSig(t, issue(t, p, jpkitest.CardOptions{KeyUsage: x509.KeyUsageDigitalSignature}), ch)
		}, false, jpki.ErrKeyUsage, jpki.CheckKeyUsage},
		{"key usage: card certificate claims CA", ch, func(t *testing.T) jpki.Signature {
			return rawSig(t, issue(t, p, jpkitest.CardOptions{IsCA: true}), ch)
		}, false, jpki.ErrKeyUsage, jpki.CheckKeyUsage},
		{"unknown critical extension", ch, func(t *testing.T) jpki.Signature {
			return rawSig(t, issue(t, p, jpkitest.CardOptions{ExtraExtensions: []pkix.Extension{unknownCrit}}), ch)
		}, false, jpki.ErrCriticalExtension, jpki.CheckCriticalExtensions},
		{"SHA-1 certificate signature", ch, func(t *testing.T) jpki.Signature {
			return rawSig(t, issue(t, p, jpkitest.CardOptions{SignatureAlgorithm: x509.SHA1WithRSA}), ch)
		}, false, jpki.ErrWeakAlgorithm, jpki.CheckAlgorithms},
		{"1024-bit card key", ch, func(t *testing.T) jpki.Signature {
			return rawSig(t, issue(t, p, jpkitest.CardOptions{KeyBits: 1024}), ch)
		}, false, jpki.ErrWeakAlgorithm, jpki.CheckSignature},
		{"era code does not match date of birth", ch, func(t *testing.T) jpki.Signature {
			return rawSig(t, issue(t, p, jpkitest.CardOptions{SAN: badDOB}), ch)
		}, false, jpki.ErrAttributes, jpki.CheckAttributes},
		{"revoked", ch, func(t *testing.T) jpki.Signature {
			return rawSig(t, revokedCard, ch)
		}, false, jpki.ErrRevoked, jpki.CheckRevocation},
		{"truncated certificate", ch, func(t *testing.T) jpki.Signature {
			s := rawSig(t, good, ch)
			s.Certificate = s.Certificate[:len(s.Certificate)/2]
			return s
		}, false, jpki.ErrCertificate, jpki.CheckCertificate},
		{"oversized certificate", ch, func(t *testing.T) jpki.Signature {
			s := rawSig(t, good, ch)
			s.Certificate = make([]byte, jpki.MaxCertificateSize+1)
			return s
		}, false, jpki.ErrTooLarge, jpki.CheckCertificate},
		{"oversized signature", ch, func(t *testing.T) jpki.Signature {
			return jpki.Signature{Form: jpki.FormRaw, Value: make([]byte, jpki.MaxSignatureSize+1), Certificate: good.DER()}
		}, false, jpki.ErrTooLarge, jpki.CheckSignatureFormat},
		{"missing certificate", ch, func(t *testing.T) jpki.Signature {
			s := rawSig(t, good, ch)
			s.Certificate = nil
			return s
		}, false, jpki.ErrCertificate, jpki.CheckCertificate},
		{"unknown form", ch, func(t *testing.T) jpki.Signature {
			return jpki.Signature{Form: 9, Value: []byte{1}}
		}, false, jpki.ErrSignatureFormat, jpki.CheckSignatureFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, revokedCard.Cert)
			verify := e.verifier.VerifySignature
			if tc.auth {
				verify = e.verifier.VerifyAuthentication
			}
			res, err := verify(context.Background(), tc.challenge, tc.sig(t))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Verify(%s) = %v, want %v", tc.name, err, tc.wantErr)
			}
			if got := failedCheck(t, res); got != tc.wantCheck {
				t.Errorf("Verify(%s) failed check = %s, want %s", tc.name, got, tc.wantCheck)
			}
		})
	}
}

func TestVerifyIntermediate(t *testing.T) {
	e := newEnv(t)
	sub, err := e.pki.IssueCA(e.pki.Sign, jpkitest.SubCAOptions{Name: pkix.Name{CommonName: "TEST link CA"}})
	if err != nil {
		t.Fatal(err)
	}
	card := issue(t, e.pki, jpkitest.CardOptions{Issuer: sub})
	store, err := jpki.NewCRLStore([]*x509.Certificate{sub.Cert}, func() time.Time { return e.now })
	if err != nil {
		t.Fatal(err)
	}
	crl, err := e.pki.CRL(sub, jpkitest.CRLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Import(crl); err != nil {
		t.Fatal(err)
	}
	v, err := jpki.NewVerifier(jpki.Config{
		Anchors:    jpki.NewAnchors([]*x509.Certificate{e.pki.Sign.Cert}, nil),
		Revocation: store, Spender: jpki.NewMemorySpender(nil), Now: func() time.Time { return e.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	ch := challengeBytes(t, t0)
	sig := rawSig(t, card, ch)
	if _, err := v.VerifySignature(context.Background(), ch, sig); !errors.Is(err, jpki.ErrChain) {
		t.Fatalf("VerifySignature(no intermediates) = %v, want ErrChain", err)
	}
	sig.Intermediates = [][]byte{sub.Cert.Raw}
	res, err := v.VerifySignature(context.Background(), ch, sig)
	if err != nil {
		t.Fatalf("VerifySignature(with intermediate) = %v, want nil", err)
	}
	if len(res.Chain) != 3 {
		t.Errorf("len(Chain) = %d, want 3", len(res.Chain))
	}
}

func TestVerifyAuthentication(t *testing.T) {
	e := newEnv(t)
	card := issue(t, e.pki, jpkitest.CardOptions{Usage: jpki.UsageAuth})
	ch := challengeBytes(t, t0)
	res, err := e.verifier.VerifyAuthentication(context.Background(), ch, rawSig(t, card, ch))
	if err != nil {
		t.Fatalf("VerifyAuthentication = %v, want nil", err)
	}
	if res.Attributes != nil {
		t.Error("authentication result carries attributes")
	}
	if got, want := res.LinkKey().Reveal(), jpki.LinkKeyOf(card.Cert); got != want || got == "" {
		t.Errorf("LinkKey = %q, want %q", got, want)
	}
	if !strings.HasSuffix(res.LinkKey().Reveal(), "/"+card.Cert.SerialNumber.Text(16)) {
		t.Errorf("LinkKey does not end with the serial number")
	}
}

func TestNewVerifierDisabled(t *testing.T) {
	p := testPKI(t)
	anchors := jpki.NewAnchors([]*x509.Certificate{p.Sign.Cert}, nil)
	store, err := jpki.NewCRLStore([]*x509.Certificate{p.Sign.Cert}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  jpki.Config
	}{
		{"no revocation provider", jpki.Config{Anchors: anchors, Spender: jpki.NewMemorySpender(nil)}},
		{"no nonce store", jpki.Config{Anchors: anchors, Revocation: store}},
		{"no anchors", jpki.Config{Revocation: store, Spender: jpki.NewMemorySpender(nil)}},
		{"empty anchors", jpki.Config{Anchors: jpki.NewAnchors(nil, nil), Revocation: store, Spender: jpki.NewMemorySpender(nil)}},
	}
	for _, tc := range tests {
		if _, err := jpki.NewVerifier(tc.cfg); !errors.Is(err, jpki.ErrDisabled) {
			t.Errorf("NewVerifier(%s) = %v, want ErrDisabled", tc.name, err)
		}
	}
	if _, err := jpki.NewCRLStore(nil, nil); !errors.Is(err, jpki.ErrDisabled) {
		t.Errorf("NewCRLStore(nil) = %v, want ErrDisabled", err)
	}
}

// TestVerifyOldGenerationRoot: a root of the previous generation still
// anchors certificates it covered at their signing time, and no longer once
// it has expired.
func TestVerifyOldGenerationRoot(t *testing.T) {
	p := testPKI(t)
	old, err := p.NewRoot(pkix.Name{Country: []string{"JP"}, Organization: []string{"JPKI TEST"}, OrganizationalUnit: []string{"JPKI for digital signature (2015 TEST)"}},
		t0.AddDate(-10, 0, 0), t0.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	card := issue(t, p, jpkitest.CardOptions{Issuer: old, NotBefore: t0.AddDate(-5, 0, 0), NotAfter: t0.AddDate(1, 0, 0)})
	now := t0.Add(time.Minute)
	store, err := jpki.NewCRLStore([]*x509.Certificate{old.Cert}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	crl, err := p.CRL(old, jpkitest.CRLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Import(crl); err != nil {
		t.Fatal(err)
	}
	v, err := jpki.NewVerifier(jpki.Config{
		Anchors:    jpki.NewAnchors([]*x509.Certificate{p.Sign.Cert, old.Cert}, nil),
		Revocation: store, Spender: jpki.NewMemorySpender(nil), Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	ch := challengeBytes(t, t0)
	res, err := v.VerifySignature(context.Background(), ch, rawSig(t, card, ch))
	if !errors.Is(err, jpki.ErrValidity) {
		t.Fatalf("VerifySignature(card under expired root) = %v, want ErrValidity", err)
	}
	if got := failedCheck(t, res); got != jpki.CheckValidity {
		t.Errorf("failed check = %s, want %s", got, jpki.CheckValidity)
	}

	// The same root, still valid at the signing time, anchors the card.
	current, err := p.NewRoot(pkix.Name{Country: []string{"JP"}, Organization: []string{"JPKI TEST"}, OrganizationalUnit: []string{"JPKI for digital signature (2015 TEST)"}},
		t0.AddDate(-10, 0, 0), t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	card = issue(t, p, jpkitest.CardOptions{Issuer: current, NotBefore: t0.AddDate(-5, 0, 0), NotAfter: t0.Add(time.Hour)})
	if crl, err = p.CRL(current, jpkitest.CRLOptions{}); err != nil {
		t.Fatal(err)
	}
	if store, err = jpki.NewCRLStore([]*x509.Certificate{current.Cert}, func() time.Time { return now }); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Import(crl); err != nil {
		t.Fatal(err)
	}
	if v, err = jpki.NewVerifier(jpki.Config{
		Anchors:    jpki.NewAnchors([]*x509.Certificate{p.Sign.Cert, current.Cert}, nil),
		Revocation: store, Spender: jpki.NewMemorySpender(nil), Now: func() time.Time { return now },
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifySignature(context.Background(), ch, rawSig(t, card, ch)); err != nil {
		t.Fatalf("VerifySignature(card under the older, still valid root) = %v, want nil", err)
	}
}
