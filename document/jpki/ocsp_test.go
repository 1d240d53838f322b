package jpki_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/document/jpki"
	"github.com/madoguchi/madoguchi/document/jpki/jpkitest"
)

func TestOCSPClient(t *testing.T) {
	p := testPKI(t)
	card := issue(t, p, jpkitest.CardOptions{})
	delegate, err := p.IssueOCSPSigner(p.Sign, true)
	if err != nil {
		t.Fatal(err)
	}
	noEKU, err := p.IssueOCSPSigner(p.Sign, false)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := p.IssueOCSPSigner(p.Auth, true)
	if err != nil {
		t.Fatal(err)
	}
	forger, err := rsa.GenerateKey(testRand(), 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := p.Now.Add(time.Minute)
	tests := []struct {
		name       string
		opts       jpkitest.ResponderOptions
		hash       crypto.Hash
		wantErr    error
		wantStatus jpki.RevocationStatus
	}{
		{"good, signed by the CA", jpkitest.ResponderOptions{}, crypto.SHA1, nil, jpki.StatusGood},
		{"good, SHA-256 CertID", jpkitest.ResponderOptions{}, crypto.SHA256, nil, jpki.StatusGood},
		{"good, delegated responder", jpkitest.ResponderOptions{Delegate: delegate}, crypto.SHA1, nil, jpki.StatusGood},
		{"revoked", jpkitest.ResponderOptions{Revoked: []*x509Cert{card.Cert}}, crypto.SHA1, jpki.ErrRevoked, jpki.StatusRevoked},
		{"unknown", jpkitest.ResponderOptions{Unknown: true}, crypto.SHA1, jpki.ErrRevocationUnavailable, ""},
		{"no nonce", jpkitest.ResponderOptions{OmitNonce: true}, crypto.SHA1, jpki.ErrOCSP, ""},
		{"wrong nonce", jpkitest.ResponderOptions{WrongNonce: true}, crypto.SHA1, jpki.ErrOCSP, ""},
		{"response for another certificate", jpkitest.ResponderOptions{OtherSerial: true}, crypto.SHA1, jpki.ErrOCSP, ""},
		{"forged signature", jpkitest.ResponderOptions{SignWith: forger}, crypto.SHA1, jpki.ErrSignature, ""},
		{"delegate without OCSPSigning", jpkitest.ResponderOptions{Delegate: noEKU}, crypto.SHA1, jpki.ErrOCSP, ""},
		{"delegate of another CA", jpkitest.ResponderOptions{Delegate: foreign}, crypto.SHA1, jpki.ErrOCSP, ""},
		{"expired response", jpkitest.ResponderOptions{ThisUpdate: now.Add(-3 * time.Hour), NextUpdate: now.Add(-time.Hour)}, crypto.SHA1, jpki.ErrOCSP, ""},
		{"thisUpdate in the future", jpkitest.ResponderOptions{ThisUpdate: now.Add(time.Hour), NextUpdate: now.Add(2 * time.Hour)}, crypto.SHA1, jpki.ErrOCSP, ""},
		{"no nextUpdate, too old", jpkitest.ResponderOptions{ThisUpdate: now.Add(-48 * time.Hour), NoNextUpdate: true}, crypto.SHA1, jpki.ErrOCSP, ""},
		{"no nextUpdate, recent", jpkitest.ResponderOptions{NoNextUpdate: true}, crypto.SHA1, nil, jpki.StatusGood},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(p.OCSPResponder(p.Sign, tc.opts))
			defer srv.Close()
			c, err := jpki.NewOCSPClient(srv.URL, srv.Client())
			if err != nil {
				t.Fatal(err)
			}
			c.Now = func() time.Time { return now }
			c.CertIDHash = tc.hash
			ev, err := c.CheckRevocation(context.Background(), card.Cert, p.Sign.Cert)
			t.Logf("CheckRevocation = %v", err)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("CheckRevocation(%s) = %v, want %v", tc.name, err, tc.wantErr)
			}
			if tc.wantStatus != "" && (ev == nil || ev.Status != tc.wantStatus || ev.Method != "ocsp" || len(ev.Raw) == 0) {
				t.Fatalf("CheckRevocation(%s) evidence = %+v, want status %s with raw response", tc.name, ev, tc.wantStatus)
			}
		})
	}
}

func TestOCSPVerifierEndToEnd(t *testing.T) {
	p := testPKI(t)
	card := issue(t, p, jpkitest.CardOptions{})
	srv := httptest.NewServer(p.OCSPResponder(p.Sign, jpkitest.ResponderOptions{}))
	defer srv.Close()
	c, err := jpki.NewOCSPClient(srv.URL, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	now := p.Now.Add(time.Minute)
	c.Now = func() time.Time { return now }
	v, err := jpki.NewVerifier(jpki.Config{
		Anchors:    jpki.NewAnchors([]*x509Cert{p.Sign.Cert}, nil),
		Revocation: c, Spender: jpki.NewMemorySpender(nil), Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	ch := challengeBytes(t, p.Now)
	res, err := v.VerifySignature(context.Background(), ch, rawSig(t, card, ch))
	if err != nil {
		t.Fatalf("VerifySignature(OCSP good) = %v", err)
	}
	if res.Revocation.Method != "ocsp" || res.Revocation.ProducedAt.IsZero() {
		t.Errorf("Revocation = %+v, want OCSP evidence", res.Revocation)
	}

	srv.Close() // responder down: never "not revoked"
	ch = challengeBytes(t, p.Now)
	if _, err := v.VerifySignature(context.Background(), ch, rawSig(t, card, ch)); !errors.Is(err, jpki.ErrRevocationUnavailable) {
		t.Fatalf("VerifySignature(responder down) = %v, want ErrRevocationUnavailable", err)
	}
}
