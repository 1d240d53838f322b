package jpki_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/document/jpki"
	"github.com/madoguchi/madoguchi/document/jpki/jpkitest"
)

// crlFixture is the test hierarchy, a root no store trusts, and crl, which
// makes a CRL of a CA.
func crlFixture(t *testing.T) (p *jpkitest.PKI, untrusted *jpkitest.CA, crl func(*jpkitest.CA, jpkitest.CRLOptions) []byte) {
	t.Helper()
	p = testPKI(t)
	untrusted, err := p.NewRoot(pkix.Name{CommonName: "Untrusted TEST root"}, p.Now.AddDate(-1, 0, 0), p.Now.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	return p, untrusted, func(ca *jpkitest.CA, o jpkitest.CRLOptions) []byte {
		b, err := p.CRL(ca, o)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

func TestCRLStore(t *testing.T) {
	p, other, crl := crlFixture(t)
	chiyoda := issue(t, p, jpkitest.CardOptions{CRLDistributionDN: "Chiyoda-ku"})
	minato := issue(t, p, jpkitest.CardOptions{CRLDistributionDN: "Minato-ku"})
	now := p.Now.Add(time.Minute)
	tests := []struct {
		name      string
		crls      [][]byte
		card      *jpkitest.Card
		importErr error // of the last CRL; the others import
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
		}, chiyoda, jpki.ErrOlderCRL, jpki.ErrRevoked},
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
			for i, c := range tc.crls {
				var want error
				if i == len(tc.crls)-1 {
					want = tc.importErr
				}
				if _, err := s.Import(c); !errors.Is(err, want) {
					t.Fatalf("Import(CRL %d) = %v, want %v", i, err, want)
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

// TestCRLStoreImport: what Import says about a CRL given after another,
// and which of the two the store keeps. A newer CRL replaces the stored
// one; the same CRL again is unchanged (not an error); an older one, or
// another with the same thisUpdate, is refused with ErrOlderCRL and never
// replaces the newer; another issuer's CRL is stored beside it; a forged
// or untrusted CRL is refused and changes nothing.
func TestCRLStoreImport(t *testing.T) {
	p, other, crl := crlFixture(t)
	card := issue(t, p, jpkitest.CardOptions{CRLDistributionDN: "Chiyoda-ku"})
	now := p.Now.Add(time.Minute)
	earlier, later := now.Add(-2*time.Hour).Truncate(time.Second), now.Add(-time.Hour).Truncate(time.Second)
	// stored: the sign root's CRL of later, revoking nothing.
	stored := crl(p.Sign, jpkitest.CRLOptions{ThisUpdate: later, Number: 2})
	forged := append([]byte(nil), crl(p.Sign, jpkitest.CRLOptions{ThisUpdate: now.Add(-time.Minute), Number: 3})...)
	forged[len(forged)-1] ^= 1
	tests := []struct {
		name    string
		next    []byte
		want    jpki.CRLImport
		wantErr error
		// What the store holds for the sign root afterwards: its
		// thisUpdate and whether the card is revoked.
		thisUpdate time.Time
		revoked    bool
	}{
		{"newer", crl(p.Sign, jpkitest.CRLOptions{ThisUpdate: now.Add(-time.Minute).Truncate(time.Second), Number: 3, Revoked: []*x509.Certificate{card.Cert}}),
			jpki.CRLReplaced, nil, now.Add(-time.Minute).Truncate(time.Second), true},
		{"same", stored, jpki.CRLUnchanged, nil, later, false},
		{"older", crl(p.Sign, jpkitest.CRLOptions{ThisUpdate: earlier, Number: 1, Revoked: []*x509.Certificate{card.Cert}}),
			0, jpki.ErrOlderCRL, later, false},
		{"same thisUpdate, other contents", crl(p.Sign, jpkitest.CRLOptions{ThisUpdate: later, Number: 2, Revoked: []*x509.Certificate{card.Cert}}),
			0, jpki.ErrOlderCRL, later, false},
		{"another issuer", crl(p.Auth, jpkitest.CRLOptions{ThisUpdate: earlier}), jpki.CRLAdded, nil, later, false},
		{"forged signature", forged, 0, jpki.ErrCRL, later, false},
		{"untrusted issuer", crl(other, jpkitest.CRLOptions{ThisUpdate: now.Add(-time.Minute)}), 0, jpki.ErrCRL, later, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := jpki.NewCRLStore([]*x509.Certificate{p.Sign.Cert, p.Auth.Cert}, func() time.Time { return now })
			if err != nil {
				t.Fatal(err)
			}
			if got, err := s.Import(stored); got != jpki.CRLAdded || err != nil {
				t.Fatalf("Import(first) = %v, %v; want added", got, err)
			}
			got, err := s.Import(tc.next)
			if got != tc.want || !errors.Is(err, tc.wantErr) {
				t.Fatalf("Import(%s) = %v, %v; want %v, %v", tc.name, got, err, tc.want, tc.wantErr)
			}
			ev, err := s.CheckRevocation(context.Background(), card.Cert, p.Sign.Cert)
			if revoked := errors.Is(err, jpki.ErrRevoked); revoked != tc.revoked || (err != nil && !revoked) {
				t.Fatalf("CheckRevocation after %s = %v, want revoked %t", tc.name, err, tc.revoked)
			}
			if !ev.ThisUpdate.Equal(tc.thisUpdate) {
				t.Errorf("the store checks against the CRL of %v, want %v", ev.ThisUpdate, tc.thisUpdate)
			}
			wantN := 1
			if tc.want == jpki.CRLAdded {
				wantN = 2
			}
			if _, n := s.NextUpdate(); n != wantN {
				t.Errorf("%d CRLs stored, want %d", n, wantN)
			}
		})
	}
	if s := fmt.Sprint(jpki.CRLAdded, jpki.CRLReplaced, jpki.CRLUnchanged, jpki.CRLImport(0)); s != "added replaced unchanged invalid" {
		t.Errorf("CRLImport strings = %q", s)
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
		if _, err := s.Import(der); err != nil {
			t.Fatal(err)
		}
	}
	if at, n := s.NextUpdate(); !at.Equal(soon) || n != 2 {
		t.Errorf("NextUpdate = %v, %d; want %v, 2", at, n, soon)
	}
}
