package jpkitest

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/madoguchi/madoguchi/document/jpki"
)

func date(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestDateOfBirth(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{"1868-01-24", "", ErrPerson},
		{"1868-01-25", "118680125", nil},
		{"1926-12-24", "219261224", nil},
		{"1926-12-25", "319261225", nil},
		{"1989-01-07", "319890107", nil},
		{"1990-01-02", "419900102", nil},
		{"2019-04-30", "420190430", nil},
		{"2019-05-01", "520190501", nil},
	} {
		got, err := DateOfBirth(date(tc.in))
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("DateOfBirth(%s) = %q, %v, want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestNewPersonRefuses(t *testing.T) {
	long := string(make([]rune, 65))
	for _, tc := range []struct{ name, sex, birth, addr string }{
		{"山田　花子", "3", "1990-01-02", "東京都"},
		{"", "2", "1990-01-02", "東京都"},
		{"山田　花子", "2", "1990-01-02", " "},
		{"\xff", "2", "1990-01-02", "東京都"},
		{long, "2", "1990-01-02", "東京都"},
		{"山田　花子", "2", "1800-01-01", "東京都"},
	} {
		if _, err := NewPerson(tc.name, tc.sex, date(tc.birth), tc.addr); !errors.Is(err, ErrPerson) {
			t.Errorf("NewPerson(%q, %q, %s, %q) = %v, want ErrPerson", tc.name, tc.sex, tc.birth, tc.addr, err)
		}
	}
}

// TestFromCAs reissues a card from stored roots and a stored key, and the
// verifier reads back the person's attributes.
func TestFromCAs(t *testing.T) {
	orig, err := New(Options{Keys: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := FromCAs(orig.Sign, &CA{Cert: orig.Auth.Cert, Key: orig.Sign.Key}, Options{}); !errors.Is(err, ErrStoredCA) {
		t.Errorf("FromCAs(mismatched auth key) = %v, want ErrStoredCA", err)
	}
	if _, err := FromCAs(orig.Sign, nil, Options{}); !errors.Is(err, ErrStoredCA) {
		t.Errorf("FromCAs(nil auth) = %v, want ErrStoredCA", err)
	}
	p, err := FromCAs(orig.Sign, orig.Auth, Options{})
	if err != nil {
		t.Fatalf("FromCAs = %v", err)
	}
	person, err := NewPerson("検証　花子", "2", date("2001-04-05"), "大阪府大阪市北区１－２－３")
	if err != nil {
		t.Fatal(err)
	}
	key := orig.keys[0]
	card, err := p.Issue(CardOptions{Usage: jpki.UsageSign, Person: person, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if !card.Key.PublicKey.Equal(&key.PublicKey) {
		t.Errorf("Issue(Key) used another key")
	}
	crl, err := p.CRL(p.Sign, CRLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := jpki.NewCRLStore([]*x509.Certificate{orig.Sign.Cert}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Import(crl); err != nil {
		t.Fatal(err)
	}
	v, err := jpki.NewVerifier(jpki.Config{Anchors: jpki.NewAnchors([]*x509.Certificate{orig.Sign.Cert}, nil), Revocation: st, Spender: jpki.NewMemorySpender(nil)})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := jpki.NewChallenge(rand.Reader, "ses_1", "tn_1", "ekyc", time.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ch.Marshal()
	sig, err := card.SignRaw(b)
	if err != nil {
		t.Fatal(err)
	}
	res, err := v.VerifySignature(context.Background(), b, jpki.Signature{Form: jpki.FormRaw, Value: sig, Certificate: card.DER()})
	if err != nil {
		t.Fatalf("VerifySignature = %v", err)
	}
	claims, err := res.Claims()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"name": "検証　花子", "birthdate": "2001-04-05", "gender": "female",
		"address": map[string]string{"formatted": "大阪府大阪市北区１－２－３", "country": "JP"}}
	if diff := cmp.Diff(want, claims.Reveal()); diff != "" {
		t.Errorf("claims of the reissued card (-want +got):\n%s", diff)
	}
	if !claims.NameExact || !claims.AddressExact {
		t.Errorf("NameExact, AddressExact = %v, %v, want true, true", claims.NameExact, claims.AddressExact)
	}
}
