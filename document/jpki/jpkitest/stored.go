package jpkitest

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"
)

// Errors of FromCAs and NewPerson.
var (
	// ErrStoredCA: a stored CA's certificate and key do not belong together,
	// or the certificate is not a CA.
	ErrStoredCA = errors.New("jpkitest: stored CA invalid")
	// ErrPerson: a person attribute cannot be encoded as J-LIS does.
	ErrPerson = errors.New("jpkitest: invalid person")
)

// FromCAs rebuilds a PKI around stored roots (for development tooling that
// keeps a test hierarchy between runs). It has no pool of card keys: give
// CardOptions.Key to reissue a stored card, or Issue generates a fresh key.
// o.Keys is ignored.
func FromCAs(sign, auth *CA, o Options) (*PKI, error) {
	for _, c := range []struct {
		name string
		ca   *CA
	}{{"signing", sign}, {"user-authentication", auth}} {
		if c.ca == nil || c.ca.Cert == nil || c.ca.Key == nil {
			return nil, fmt.Errorf("%w: %s root missing", ErrStoredCA, c.name)
		}
		pub, ok := c.ca.Cert.PublicKey.(*rsa.PublicKey)
		if !ok || !pub.Equal(&c.ca.Key.PublicKey) {
			return nil, fmt.Errorf("%w: %s root certificate does not match its key", ErrStoredCA, c.name)
		}
		if !c.ca.Cert.IsCA {
			return nil, fmt.Errorf("%w: %s root is not a CA certificate", ErrStoredCA, c.name)
		}
	}
	p := &PKI{Sign: sign, Auth: auth, rand: o.Rand, Now: o.Now}
	if p.rand == nil {
		p.rand = rand.Reader
	}
	if p.Now.IsZero() {
		p.Now = time.Now()
	}
	p.Now = p.Now.UTC().Truncate(time.Second)
	return p, nil
}

// eraStarts are the first days of the eras the J-LIS date of birth encodes
// (era digit 1 明治 … 5 令和), as Gregorian dates.
var eraStarts = []string{"1868-01-25", "1912-07-30", "1926-12-25", "1989-01-08", "2019-05-01"}

// DateOfBirth encodes a date as the J-LIS date-of-birth attribute: the era
// digit followed by the Gregorian YYYYMMDD.
func DateOfBirth(t time.Time) (string, error) {
	d := t.Format("2006-01-02")
	era := 0
	for i, s := range eraStarts {
		if d >= s {
			era = i + 1
		}
	}
	if era == 0 {
		return "", fmt.Errorf("%w: date of birth before 明治", ErrPerson)
	}
	return fmt.Sprintf("%d%s", era, t.Format("20060102")), nil
}

// Maximum lengths (characters) NewPerson accepts, above any real card's.
const (
	maxNameChars    = 64
	maxAddressChars = 200
)

// NewPerson builds a Person with no substitute characters: sex is "1"
// (male) or "2" (female), birth a date from 明治 on.
func NewPerson(name, sex string, birth time.Time, address string) (Person, error) {
	switch {
	case sex != "1" && sex != "2":
		return Person{}, fmt.Errorf("%w: sex must be 1 or 2", ErrPerson)
	case !utf8.ValidString(name) || !utf8.ValidString(address):
		return Person{}, fmt.Errorf("%w: name and address must be UTF-8", ErrPerson)
	case strings.TrimSpace(name) == "" || utf8.RuneCountInString(name) > maxNameChars:
		return Person{}, fmt.Errorf("%w: name must have 1..%d characters", ErrPerson, maxNameChars)
	case strings.TrimSpace(address) == "" || utf8.RuneCountInString(address) > maxAddressChars:
		return Person{}, fmt.Errorf("%w: address must have 1..%d characters", ErrPerson, maxAddressChars)
	}
	dob, err := DateOfBirth(birth)
	if err != nil {
		return Person{}, err
	}
	return Person{
		Name:         name,
		NameFlags:    strings.Repeat("0", utf8.RuneCountInString(name)),
		Sex:          sex,
		DateOfBirth:  dob,
		Address:      address,
		AddressFlags: strings.Repeat("0", utf8.RuneCountInString(address)),
	}, nil
}

// LogValue keeps the (test) personal data out of logs.
func (Person) LogValue() slog.Value { return slog.StringValue("[jpkitest person]") }

// LogValue names the card by its certificate serial, never its key.
func (c *Card) LogValue() slog.Value {
	if c == nil || c.Cert == nil {
		return slog.StringValue("[jpkitest card]")
	}
	return slog.StringValue(fmt.Sprintf("[jpkitest card %X]", c.Cert.SerialNumber))
}

// LogValue names the CA by its subject, never its key.
func (c *CA) LogValue() slog.Value {
	if c == nil || c.Cert == nil {
		return slog.StringValue("[jpkitest CA]")
	}
	return slog.StringValue("[jpkitest CA " + c.Cert.Subject.String() + "]")
}
