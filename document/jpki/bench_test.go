package jpki_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/document/jpki"
	"github.com/madoguchi/madoguchi/document/jpki/jpkitest"
)

// alwaysFresh lets a benchmark verify the same challenge repeatedly; it
// measures verification, not the nonce store.
type alwaysFresh struct{}

func (alwaysFresh) Spend(context.Context, []byte, time.Time) (bool, error) { return true, nil }

func benchVerifier(b *testing.B) (*jpki.Verifier, *jpkitest.Card, []byte) {
	e := newEnv(b)
	v, err := jpki.NewVerifier(jpki.Config{
		Anchors:    jpki.NewAnchors([]*x509.Certificate{e.pki.Sign.Cert}, nil),
		Revocation: e.crls, Spender: alwaysFresh{}, Now: func() time.Time { return e.now },
	})
	if err != nil {
		b.Fatal(err)
	}
	return v, issue(b, e.pki, jpkitest.CardOptions{}), challengeBytes(b, t0)
}

// BenchmarkRSAVerifyReference is the floor: one bare RSA-2048 PKCS#1 v1.5
// verification, as in every JPKI signature check.
func BenchmarkRSAVerifyReference(b *testing.B) {
	_, card, ch := benchVerifier(b)
	sig, err := card.SignRaw(ch)
	if err != nil {
		b.Fatal(err)
	}
	h := sha256.Sum256(ch)
	for b.Loop() {
		if err := rsa.VerifyPKCS1v15(&card.Key.PublicKey, crypto.SHA256, h[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifySignatureRaw(b *testing.B) {
	v, card, ch := benchVerifier(b)
	sig, err := card.SignRaw(ch)
	if err != nil {
		b.Fatal(err)
	}
	s := jpki.Signature{Form: jpki.FormRaw, Value: sig, Certificate: card.DER()}
	for b.Loop() {
		if _, err := v.VerifySignature(context.Background(), ch, s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifySignatureCMS(b *testing.B) {
	v, card, ch := benchVerifier(b)
	p7, err := card.SignCMS(ch, jpkitest.CMSOptions{EmbedCert: true, SigningTime: t0})
	if err != nil {
		b.Fatal(err)
	}
	s := jpki.Signature{Form: jpki.FormCMS, Value: p7}
	for b.Loop() {
		if _, err := v.VerifySignature(context.Background(), ch, s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseChallenge(b *testing.B) {
	ch := challengeBytes(b, t0)
	for b.Loop() {
		if _, err := jpki.ParseChallenge(ch); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseAttributes(b *testing.B) {
	san, err := jpkitest.SAN(jpkitest.TaroYamada())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := jpki.ParseAttributes(san); err != nil {
			b.Fatal(err)
		}
	}
}
