package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// testJPKICard is a TEST JPKI hierarchy (one key) and a signing card of it.
func testJPKICard(t *testing.T) (*jpkitest.PKI, *jpkitest.Card) {
	t.Helper()
	p, err := jpkitest.New(jpkitest.Options{Keys: 1})
	if err != nil {
		t.Fatal(err)
	}
	card, err := p.Issue(jpkitest.CardOptions{Usage: jpki.UsageSign})
	if err != nil {
		t.Fatal(err)
	}
	return p, card
}

// testCRL is ca's CRL with options o.
func testCRL(t testing.TB, p *jpkitest.PKI, ca *jpkitest.CA, o jpkitest.CRLOptions) []byte {
	t.Helper()
	b, err := p.CRL(ca, o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewJPKIVerifier(t *testing.T) {
	p, card := testJPKICard(t)
	crl := func(o jpkitest.CRLOptions) []byte { return testCRL(t, p, p.Sign, o) }
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
	if _, err := jpkiRevocation(trust, jpki.NewAnchors(nil, nil), true, nil); err == nil {
		t.Errorf("jpkiRevocation(production, http OCSP) = nil, want an error")
	}
	if rev, err := jpkiRevocation(trust, jpki.NewAnchors(nil, nil), false, nil); err != nil {
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

// TestCRLDirOlder: of the CRLs of one issuer in the folder the newest is
// used whatever the files' names; each older one is listed (file and
// reason) and reported once through warn, never fatal; the same CRL twice
// or another issuer's CRL is no such case; a forged CRL makes the folder
// unusable, as before.
func TestCRLDirOlder(t *testing.T) {
	p, card := testJPKICard(t)
	crl := func(ca *jpkitest.CA, o jpkitest.CRLOptions) []byte { return testCRL(t, p, ca, o) }
	// newer revokes the card; older does not.
	newer := crl(p.Sign, jpkitest.CRLOptions{Number: 2, Revoked: []*x509.Certificate{card.Cert}})
	older := crl(p.Sign, jpkitest.CRLOptions{ThisUpdate: p.Now.Add(-48 * time.Hour), NextUpdate: p.Now.Add(24 * time.Hour)})
	forged := append([]byte(nil), newer...)
	forged[len(forged)-1] ^= 1
	tests := []struct {
		name    string
		files   map[string][]byte
		older   []string // files listed as older
		revoked bool     // the card, by the CRL used
		wantErr error
	}{
		{"newer only", map[string][]byte{"sign.crl": newer}, nil, true, nil},
		{"older named after the newer", map[string][]byte{"a.crl": newer, "b.crl": older}, []string{"b.crl"}, true, nil},
		{"older named before the newer", map[string][]byte{"a.crl": older, "b.crl": newer}, []string{"a.crl"}, true, nil},
		{"the same CRL twice", map[string][]byte{"a.crl": newer, "copy.crl": newer}, nil, true, nil},
		{"another issuer", map[string][]byte{"sign.crl": older, "auth.crl": crl(p.Auth, jpkitest.CRLOptions{})}, nil, false, nil},
		{"forged", map[string][]byte{"sign.crl": older, "forged.crl": forged}, nil, false, jpki.ErrCRL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, b := range tc.files {
				writeFile(t, filepath.Join(dir, name), b)
			}
			var warned []string
			d := &crlDir{dir: dir, cas: []*x509.Certificate{p.Sign.Cert, p.Auth.Cert}, warn: func(msg string, args ...any) { warned = append(warned, msg) }}
			err := d.reload()
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("reload = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			var listed []string
			for _, o := range d.older {
				name, reason, _ := strings.Cut(o, ": ")
				if !strings.Contains(reason, jpki.ErrOlderCRL.Error()) {
					t.Errorf("older %q: want the reason ErrOlderCRL", o)
				}
				listed = append(listed, name)
			}
			if !slices.Equal(listed, tc.older) || len(warned) != min(len(tc.older), 1) {
				t.Errorf("older = %q, warned %q; want %q, one warning if any", listed, warned, tc.older)
			}
			_, err = d.store.CheckRevocation(context.Background(), card.Cert, p.Sign.Cert)
			if errors.Is(err, jpki.ErrRevoked) != tc.revoked {
				t.Errorf("CheckRevocation = %v, want revoked %t (the newest CRL used)", err, tc.revoked)
			}
			// Unchanged folder: not read again, not reported again.
			if err := d.reload(); err != nil || len(warned) > 1 {
				t.Errorf("reload of an unchanged folder = %v, %d warnings", err, len(warned))
			}
		})
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
