package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/document/jpki"
	"github.com/madoguchi/madoguchi/document/jpki/jpkitest"
)

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestNewJPKIVerifier(t *testing.T) {
	p, err := jpkitest.New(jpkitest.Options{Keys: 1})
	if err != nil {
		t.Fatal(err)
	}
	card, err := p.Issue(jpkitest.CardOptions{Usage: jpki.UsageSign})
	if err != nil {
		t.Fatal(err)
	}
	crl := func(o jpkitest.CRLOptions) []byte {
		b, err := p.CRL(p.Sign, o)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var warnings []string
	warn := func(msg string, _ ...any) { warnings = append(warnings, msg) }
	verify := func(v *jpki.Verifier) error {
		c, err := jpki.NewChallenge(rand.Reader, "ses_x", "tn_x", "ekyc", time.Now(), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := c.Marshal()
		sig, err := card.SignRaw(b)
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.VerifySignature(context.Background(), b, jpki.Signature{Form: jpki.FormRaw, Value: sig, Certificate: card.DER()})
		return err
	}

	data := t.TempDir()
	trust := filepath.Join(data, "trust")
	if _, err := newJPKIVerifier(data, false, jpki.NewMemorySpender(nil), warn); !errors.Is(err, errJPKINoRevocation) {
		t.Fatalf("newJPKIVerifier(nothing configured) = %v, want errJPKINoRevocation", err)
	}
	writeFile(t, filepath.Join(trust, jpkiDevDir, "sign_root.pem"), jpkiPEMCert(p.Sign.Cert))
	writeFile(t, filepath.Join(trust, jpkiDevDir, "auth_root.pem"), jpkiPEMCert(p.Auth.Cert))
	if _, err := newJPKIVerifier(data, false, jpki.NewMemorySpender(nil), warn); !errors.Is(err, errJPKINoRevocation) {
		t.Fatalf("newJPKIVerifier(anchors, no revocation) = %v, want errJPKINoRevocation", err)
	}

	// A stale CRL: the method is configured but revocation is unavailable
	// until the operator imports a fresh one (no restart).
	crlPath := filepath.Join(trust, jpkiCRLDir, "sign.crl")
	writeFile(t, crlPath, crl(jpkitest.CRLOptions{ThisUpdate: p.Now.Add(-72 * time.Hour), NextUpdate: p.Now.Add(-time.Hour)}))
	v, err := newJPKIVerifier(data, false, jpki.NewMemorySpender(nil), warn)
	if err != nil {
		t.Fatalf("newJPKIVerifier(dev roots, CRL) = %v", err)
	}
	if err := verify(v); !errors.Is(err, jpki.ErrStaleCRL) && !errors.Is(err, jpki.ErrRevocationUnavailable) {
		t.Errorf("verify(stale CRL) = %v, want stale or unavailable", err)
	}
	writeFile(t, crlPath, crl(jpkitest.CRLOptions{}))
	future := time.Now().Add(time.Second)
	_ = os.Chtimes(crlPath, future, future)
	if err := verify(v); err != nil {
		t.Errorf("verify(fresh CRL) = %v, want nil", err)
	}
	writeFile(t, crlPath, crl(jpkitest.CRLOptions{Revoked: []*x509.Certificate{card.Cert}}))
	future = future.Add(time.Second)
	_ = os.Chtimes(crlPath, future, future)
	if err := verify(v); !errors.Is(err, jpki.ErrRevoked) {
		t.Errorf("verify(revoking CRL) = %v, want ErrRevoked", err)
	}

	// Production ignores the TEST roots: the test CRL then has no trusted
	// issuer, and nothing is enabled.
	warnings = nil
	if v, err := newJPKIVerifier(data, true, jpki.NewMemorySpender(nil), warn); err == nil {
		t.Errorf("newJPKIVerifier(production, test CRL) = %v, nil; want an error", v)
	}
	if len(warnings) == 0 {
		t.Errorf("production with TEST roots present did not warn")
	}

	// OCSP URL: https only in production.
	writeFile(t, filepath.Join(trust, jpkiOCSPFile), []byte("http://127.0.0.1:1/ocsp\n"))
	if _, err := jpkiRevocation(trust, jpki.NewAnchors(nil, nil), true); err == nil {
		t.Errorf("jpkiRevocation(production, http OCSP) = nil, want an error")
	}
	if rev, err := jpkiRevocation(trust, jpki.NewAnchors(nil, nil), false); err != nil {
		t.Errorf("jpkiRevocation(development, http OCSP) = %v", err)
	} else if _, ok := rev.(*jpki.OCSPClient); !ok {
		t.Errorf("jpkiRevocation = %T, want *jpki.OCSPClient", rev)
	}

	// A non-CA file in the dev roots folder is refused.
	writeFile(t, filepath.Join(trust, jpkiDevDir, "card.pem"), jpkiPEMCert(card.Cert))
	if _, err := jpkiAnchors(trust, false, warn); err == nil {
		t.Errorf("jpkiAnchors(card in roots) = nil, want an error")
	}
}

// FuzzPemOrDER: arbitrary trust-folder files never panic the reader.
func FuzzPemOrDER(f *testing.F) {
	f.Add([]byte("-----BEGIN X509 CRL-----\nAAEC\n-----END X509 CRL-----\n"))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n"))
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, der := range pemOrDER(b, "X509 CRL") {
			if len(der) > len(b) {
				t.Errorf("pemOrDER returned %d bytes from %d", len(der), len(b))
			}
		}
	})
}
