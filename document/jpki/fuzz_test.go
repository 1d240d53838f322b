package jpki_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/madoguchi/madoguchi/document/jpki"
	"github.com/madoguchi/madoguchi/document/jpki/jpkitest"
)

func FuzzParseChallenge(f *testing.F) {
	for _, life := range []time.Duration{time.Second, time.Minute, jpki.MaxChallengeLife} {
		c, err := jpki.NewChallenge(rand.Reader, "sess", "rp", "目的", t0, life)
		if err != nil {
			f.Fatal(err)
		}
		b, err := c.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x30, 0x00})
	f.Add([]byte{0x30, 0x80, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := jpki.ParseChallenge(b)
		if err != nil {
			if !errors.Is(err, jpki.ErrChallengeMalformed) {
				t.Fatalf("ParseChallenge error %v does not wrap ErrChallengeMalformed", err)
			}
			return
		}
		again, err := c.Marshal()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("ParseChallenge accepted a non-canonical encoding: Marshal() = %x, %v", again, err)
		}
	})
}

func FuzzParseAttributes(f *testing.F) {
	for _, p := range []jpkitest.Person{
		jpkitest.TaroYamada(),
		{Name: "𠮷田　花子", NameFlags: "01000", Sex: "2", DateOfBirth: "520200229", Address: "大阪府", AddressFlags: "000"},
		{Name: "SMITH JOHN", NameFlags: "", Sex: "1", DateOfBirth: "419900000", Address: "x", AddressFlags: "9"},
	} {
		san, err := jpkitest.SAN(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(san)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := jpki.ParseAttributes(b)
		if err != nil {
			if !errors.Is(err, jpki.ErrAttributes) && !errors.Is(err, jpki.ErrTooLarge) {
				t.Fatalf("ParseAttributes error %v wraps no sentinel", err)
			}
			return
		}
		if !utf8.ValidString(a.Name.Value.Reveal()) || !utf8.ValidString(a.Address.Value.Reveal()) || a.Name.Value.IsZero() {
			t.Fatal("ParseAttributes accepted an invalid name or address")
		}
		if a.DateOfBirth.Complete() && a.DateOfBirth.ISO().IsZero() {
			t.Fatal("complete date of birth without ISO form")
		}
	})
}

// FuzzVerifyCMS feeds arbitrary CMS to a verifier with a real test PKI: no
// panic, every error wraps a sentinel, and nothing but the genuine signature
// over the issued challenge verifies.
func FuzzVerifyCMS(f *testing.F) {
	e := newEnv(f)
	card := issue(f, e.pki, jpkitest.CardOptions{})
	ch := challengeBytes(f, t0)
	for _, o := range []jpkitest.CMSOptions{{}, {Detached: true}, {BySKI: true, EmbedCert: true}, {NoSignedAttrs: true}, {SigningTime: t0}} {
		b, err := card.SignCMS(ch, o)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	sentinels := []error{jpki.ErrSignatureFormat, jpki.ErrTooLarge, jpki.ErrCertificate, jpki.ErrSignerMismatch, jpki.ErrContentMismatch,
		jpki.ErrSignature, jpki.ErrWeakAlgorithm, jpki.ErrSigningTime, jpki.ErrChain, jpki.ErrChallengeReplayed}
	f.Fuzz(func(t *testing.T, b []byte) {
		// A fresh spender each time: the fuzzer may replay the genuine seed.
		v, err := jpki.NewVerifier(jpki.Config{
			Anchors:    jpki.NewAnchors([]*x509Cert{e.pki.Sign.Cert}, nil),
			Revocation: e.crls, Spender: jpki.NewMemorySpender(nil), Now: func() time.Time { return e.now },
		})
		if err != nil {
			t.Fatal(err)
		}
		res, err := v.VerifySignature(context.Background(), ch, jpki.Signature{Form: jpki.FormCMS, Value: b})
		if err == nil {
			if !bytes.Equal(res.SignedBytes, ch) {
				t.Fatal("verified signature over other bytes")
			}
			return
		}
		for _, s := range sentinels {
			if errors.Is(err, s) {
				return
			}
		}
		t.Fatalf("VerifySignature error %v wraps no expected sentinel", err)
	})
}

func FuzzCheckOCSPResponse(f *testing.F) {
	p := testPKI(f)
	card := issue(f, p, jpkitest.CardOptions{})
	id, err := jpki.NewCertID(card.Cert, p.Sign.Cert, crypto.SHA1)
	if err != nil {
		f.Fatal(err)
	}
	nonce := bytes.Repeat([]byte{7}, jpki.OCSPNonceSize)
	req, err := jpki.Request(id, nonce)
	if err != nil {
		f.Fatal(err)
	}
	for _, o := range []jpkitest.ResponderOptions{{}, {OmitNonce: true}, {NoNextUpdate: true}, {Unknown: true}} {
		resp, err := p.OCSPResponse(p.Sign, req, o)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(resp)
	}
	now := p.Now.Add(time.Minute)
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := jpki.CheckOCSPResponse(b, id, nonce, p.Sign.Cert, now, time.Minute, time.Hour)
		if err == nil && (ev == nil || ev.Status != jpki.StatusGood) {
			t.Fatal("nil error without good evidence")
		}
	})
}

// FuzzCRLImport: arbitrary bytes imported after a current CRL either are
// refused with one of the package's CRL errors or say what they did, and
// never make the store answer from an older CRL.
func FuzzCRLImport(f *testing.F) {
	p := testPKI(f)
	card := issue(f, p, jpkitest.CardOptions{})
	now := p.Now.Add(time.Minute)
	current, err := p.CRL(p.Sign, jpkitest.CRLOptions{Number: 2})
	if err != nil {
		f.Fatal(err)
	}
	for _, o := range []jpkitest.CRLOptions{{ThisUpdate: p.Now.Add(-2 * time.Hour)}, {ThisUpdate: p.Now.Add(-time.Minute), Number: 3}} {
		b, err := p.CRL(p.Sign, o)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(current)
	f.Add(current[:len(current)/2])
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := jpki.NewCRLStore([]*x509.Certificate{p.Sign.Cert, p.Auth.Cert}, func() time.Time { return now })
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Import(current); err != nil {
			t.Fatal(err)
		}
		before, _ := s.CheckRevocation(context.Background(), card.Cert, p.Sign.Cert)
		got, err := s.Import(b)
		switch {
		case err != nil && got != 0:
			t.Fatalf("Import = %v with error %v", got, err)
		case err != nil && !errors.Is(err, jpki.ErrCRL) && !errors.Is(err, jpki.ErrTooLarge) && !errors.Is(err, jpki.ErrWeakAlgorithm) &&
			!errors.Is(err, jpki.ErrOlderCRL):
			t.Fatalf("Import error %v wraps no expected sentinel", err)
		case err == nil && got.String() == "invalid":
			t.Fatalf("Import = %d, nil", got)
		}
		if after, _ := s.CheckRevocation(context.Background(), card.Cert, p.Sign.Cert); after != nil && before != nil && after.ThisUpdate.Before(before.ThisUpdate) {
			t.Fatalf("the store answers from a CRL of %v after one of %v", after.ThisUpdate, before.ThisUpdate)
		}
	})
}
