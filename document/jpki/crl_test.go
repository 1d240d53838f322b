package jpki_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/document/jpki"
	"github.com/madoguchi/madoguchi/document/jpki/jpkitest"
)

func TestCRLStore(t *testing.T) {
	p := testPKI(t)
	chiyoda := issue(t, p, jpkitest.CardOptions{CRLDistributionDN: "Chiyoda-ku"})
	minato := issue(t, p, jpkitest.CardOptions{CRLDistributionDN: "Minato-ku"})
	now := p.Now.Add(time.Minute)
	other, err := p.NewRoot(pkix.Name{CommonName: "Untrusted TEST root"}, p.Now.AddDate(-1, 0, 0), p.Now.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	crl := func(ca *jpkitest.CA, o jpkitest.CRLOptions) []byte {
		b, err := p.CRL(ca, o)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name      string
		crls      [][]byte
		card      *jpkitest.Card
		importErr error
		wantErr   error
	}{
		{"full CRL, good", [][]byte{crl(p.Sign, jpkitest.CRLOptions{})}, chiyoda, nil, nil},
		{"full CRL, revoked", [][]byte{crl(p.Sign, jpkitest.CRLOptions{Revoked: []*x509.Certificate{chiyoda.Cert}})}, chiyoda, nil, jpki.ErrRevoked},
		{"partitioned CRL covers the card", [][]byte{crl(p.Sign, jpkitest.CRLOptions{DistributionPoint: "Chiyoda-ku"})}, chiyoda, nil, nil},
		{"partitioned CRL revokes the card", [][]byte{crl(p.Sign, jpkitest.CRLOptions{DistributionPoint: "Chiyoda-ku", Revoked: []*x509.Certificate{chiyoda.Cert}})}, chiyoda, nil, jpki.ErrRevoked},
		{"partitioned CRL of another municipality", [][]byte{crl(p.Sign, jpkitest.CRLOptions{DistributionPoint: "Chiyoda-ku"})}, minato, nil, jpki.ErrRevocationUnavailable},
		{"stale CRL", [][]byte{crl(p.Sign, jpkitest.CRLOptions{ThisUpdate: now.Add(-48 * time.Hour), NextUpdate: now.Add(-time.Hour)})}, chiyoda, nil, jpki.ErrStaleCRL},
		{"newer CRL replaces an older one", [][]byte{
			crl(p.Sign, jpkitest.CRLOptions{ThisUpdate: now.Add(-2 * time.Hour)}),
			crl(p.Sign, jpkitest.CRLOptions{ThisUpdate: now.Add(-time.Hour), Number: 2, Revoked: []*x509.Certificate{chiyoda.Cert}}),
		}, chiyoda, nil, jpki.ErrRevoked},
		{"older CRL does not replace a newer one", [][]byte{
			crl(p.Sign, jpkitest.CRLOptions{ThisUpdate: now.Add(-time.Hour), Number: 2, Revoked: []*x509.Certificate{chiyoda.Cert}}),
			crl(p.Sign, jpkitest.CRLOptions{ThisUpdate: now.Add(-2 * time.Hour)}),
		}, chiyoda, nil, jpki.ErrRevoked},
		{"no CRL imported", nil, chiyoda, nil, jpki.ErrRevocationUnavailable},
		{"CRL of an unconfigured CA", [][]byte{crl(other, jpkitest.CRLOptions{})}, chiyoda, jpki.ErrCRL, jpki.ErrRevocationUnavailable},
		{"CRL of the auth CA does not cover signing cards", [][]byte{crl(p.Auth, jpkitest.CRLOptions{})}, chiyoda, nil, jpki.ErrRevocationUnavailable},
		{"SHA-1 CRL", [][]byte{crl(p.Sign, jpkitest.CRLOptions{SignatureAlgorithm: x509.SHA1WithRSA})}, chiyoda, jpki.ErrWeakAlgorithm, jpki.ErrRevocationUnavailable},
		{"delta CRL refused", [][]byte{crl(p.Sign, jpkitest.CRLOptions{ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 27}, Critical: true, Value: []byte{2, 1, 1}}}})}, chiyoda, jpki.ErrCRL, jpki.ErrRevocationUnavailable},
		{"truncated CRL", [][]byte{crl(p.Sign, jpkitest.CRLOptions{})[:100]}, chiyoda, jpki.ErrCRL, jpki.ErrRevocationUnavailable},
		{"oversized CRL", [][]byte{make([]byte, jpki.MaxCRLSize+1)}, chiyoda, jpki.ErrTooLarge, jpki.ErrRevocationUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := jpki.NewCRLStore([]*x509.Certificate{p.Sign.Cert, p.Auth.Cert}, func() time.Time { return now })
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range tc.crls {
				if err := s.Import(c); !errors.Is(err, tc.importErr) {
					t.Fatalf("Import = %v, want %v", err, tc.importErr)
				}
			}
			ev, err := s.CheckRevocation(context.Background(), tc.card.Cert, p.Sign.Cert)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("CheckRevocation = %v, want %v", err, tc.wantErr)
			}
			if err == nil && (ev == nil || ev.Status != jpki.StatusGood || ev.Method != "crl") {
				t.Errorf("CheckRevocation evidence = %+v, want good CRL evidence", ev)
			}
			if errors.Is(err, jpki.ErrRevoked) && (ev == nil || ev.Status != jpki.StatusRevoked || ev.RevokedAt.IsZero()) {
				t.Errorf("CheckRevocation evidence = %+v, want revoked with a time", ev)
			}
		})
	}
}

// TestCRLStoreNextUpdate: the earliest nextUpdate of the stored CRLs and
// their count; none before an import.
func TestCRLStoreNextUpdate(t *testing.T) {
	p, err := jpkitest.New(jpkitest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := jpki.NewCRLStore([]*x509.Certificate{p.Sign.Cert, p.Auth.Cert}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if at, n := s.NextUpdate(); !at.IsZero() || n != 0 {
		t.Errorf("NextUpdate of an empty store = %v, %d", at, n)
	}
	soon := p.Now.Add(2 * time.Hour).Truncate(time.Second)
	later := p.Now.Add(48 * time.Hour).Truncate(time.Second)
	for ca, next := range map[*jpkitest.CA]time.Time{p.Sign: later, p.Auth: soon} {
		der, err := p.CRL(ca, jpkitest.CRLOptions{NextUpdate: next})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Import(der); err != nil {
			t.Fatal(err)
		}
	}
	if at, n := s.NextUpdate(); !at.Equal(soon) || n != 2 {
		t.Errorf("NextUpdate = %v, %d; want %v, 2", at, n, soon)
	}
}
