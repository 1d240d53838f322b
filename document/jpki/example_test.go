package jpki_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/madoguchi/madoguchi/document/jpki"
	"github.com/madoguchi/madoguchi/document/jpki/jpkitest"
)

func ExampleVerifier_VerifySignature() {
	// A TEST hierarchy; a server uses jpki.ProductionAnchors and checks its
	// configuration with jpki.CheckProduction at start.
	pki, _ := jpkitest.New(jpkitest.Options{Keys: 1})
	card, _ := pki.Issue(jpkitest.CardOptions{Usage: jpki.UsageSign})
	crl, _ := pki.CRL(pki.Sign, jpkitest.CRLOptions{})

	crls, _ := jpki.NewCRLStore([]*x509.Certificate{pki.Sign.Cert}, nil)
	if _, err := crls.Import(crl); err != nil {
		fmt.Println(err)
		return
	}
	v, err := jpki.NewVerifier(jpki.Config{
		Anchors:    jpki.NewAnchors([]*x509.Certificate{pki.Sign.Cert}, nil),
		Revocation: crls,
		Spender:    jpki.NewMemorySpender(nil),
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	// The server issues a challenge and keeps its bytes in the session.
	c, _ := jpki.NewChallenge(rand.Reader, "session-1", "bank.example", "account-opening", time.Now(), 5*time.Minute)
	issued, _ := c.Marshal()

	// The card signs it (here: the test card).
	sig, _ := card.SignRaw(issued)

	res, err := v.VerifySignature(context.Background(), issued,
		jpki.Signature{Form: jpki.FormRaw, Value: sig, Certificate: card.DER()})
	if err != nil {
		fmt.Println(err)
		return
	}
	claims, _ := res.Claims()
	fmt.Println(claims.Name, claims.Reveal()["birthdate"])

	// The same signature again is a replay.
	_, err = v.VerifySignature(context.Background(), issued,
		jpki.Signature{Form: jpki.FormRaw, Value: sig, Certificate: card.DER()})
	fmt.Println(err)
	// Output:
	// [redacted] 1990-01-02
	// jpki: challenge already used
}
