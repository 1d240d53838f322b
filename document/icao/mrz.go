package icao

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrMRZ is returned for an MRZ that does not parse or whose check digits
// do not match.
var ErrMRZ = errors.New("icao: invalid MRZ")

// MRZ formats (ICAO 9303 Parts 4–6).
const (
	TD1 = "TD1" // 3 lines of 30: ID cards
	TD2 = "TD2" // 2 lines of 36
	TD3 = "TD3" // 2 lines of 44: passports
)

// MRZ is a parsed machine-readable zone. Names keep ICAO transliteration
// with '<' replaced by spaces. Dates are YYMMDD as printed (a '<' marks an
// unknown part).
type MRZ struct {
	Format         string
	DocumentCode   string // "P", "I", "AC", "P<" normalised to "P"
	IssuingState   string // alpha-3 as printed, e.g. "JPN", "D" (Germany), "UTO"
	DocumentNumber string
	Nationality    string
	DateOfBirth    string // YYMMDD
	Sex            string // "M", "F" or "X"
	DateOfExpiry   string // YYMMDD
	PrimaryID      string // surname
	SecondaryID    string // given names
	OptionalData1  string
	OptionalData2  string
}

// CheckDigit computes the ICAO 9303 Part 3 §4.9 check digit of s: weights
// 7, 3, 1; digits count as themselves, A–Z as 10–35, '<' as 0. It reports
// false for any other character.
func CheckDigit(s string) (byte, bool) {
	weights := [3]int{7, 3, 1}
	sum := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		var v int
		switch {
		case c >= '0' && c <= '9':
			v = int(c - '0')
		case c >= 'A' && c <= 'Z':
			v = int(c-'A') + 10
		case c == '<':
			v = 0
		default:
			return 0, false
		}
		sum += v * weights[i%3]
	}
	return byte('0' + sum%10), true
}

func checkField(name, value string, digit byte) error {
	want, ok := CheckDigit(value)
	if !ok {
		return fmt.Errorf("%w: %s has an invalid character", ErrMRZ, name)
	}
	if digit != want {
		return fmt.Errorf("%w: %s check digit", ErrMRZ, name)
	}
	return nil
}

// ParseMRZ parses a TD1, TD2 or TD3 MRZ given as its lines concatenated
// (as in DG1) or separated by newlines, and verifies every check digit.
func ParseMRZ(s string) (*MRZ, error) {
	s = strings.NewReplacer("\r", "", "\n", "", " ", "").Replace(s)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c == '<') {
			return nil, fmt.Errorf("%w: invalid character at position %d", ErrMRZ, i)
		}
	}
	switch len(s) {
	case 90:
		return parseTD1(s)
	case 72:
		return parseTD23(s, TD2, 36)
	case 88:
		return parseTD23(s, TD3, 44)
	}
	return nil, fmt.Errorf("%w: length %d is not 90 (TD1), 72 (TD2) or 88 (TD3)", ErrMRZ, len(s))
}

func clean(s string) string { return strings.TrimSpace(strings.ReplaceAll(s, "<", " ")) }

func names(s string) (primary, secondary string) {
	p, sec, _ := strings.Cut(s, "<<")
	return clean(p), strings.Join(strings.Fields(clean(sec)), " ")
}

func docCode(s string) string { return strings.TrimRight(s, "<") }

func parseTD1(s string) (*MRZ, error) {
	l1, l2, l3 := s[:30], s[30:60], s[60:]
	m := &MRZ{Format: TD1, DocumentCode: docCode(l1[0:2]), IssuingState: clean(l1[2:5]),
		DateOfBirth: l2[0:6], Sex: sex(l2[7]), DateOfExpiry: l2[8:14], Nationality: clean(l2[15:18]),
		OptionalData2: clean(l2[18:29])}
	num, opt := l1[5:14], l1[15:30]
	digit := l1[14]
	if digit == '<' && opt[0] != '<' {
		// Long document number: continues in the optional data, ended by
		// its check digit (Part 5 §4.2.2 note j).
		i := strings.IndexByte(opt, '<')
		if i < 2 {
			return nil, fmt.Errorf("%w: long document number", ErrMRZ)
		}
		num, digit, opt = num+opt[:i-1], opt[i-1], opt[i:]
	}
	if err := checkField("document number", num, digit); err != nil {
		return nil, err
	}
	m.DocumentNumber, m.OptionalData1 = clean(num), clean(opt)
	if err := checkField("date of birth", l2[0:6], l2[6]); err != nil {
		return nil, err
	}
	if err := checkField("date of expiry", l2[8:14], l2[14]); err != nil {
		return nil, err
	}
	composite := l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29]
	if err := checkField("composite", composite, l2[29]); err != nil {
		return nil, err
	}
	m.PrimaryID, m.SecondaryID = names(l3)
	return m, nil
}

func parseTD23(s, format string, n int) (*MRZ, error) {
	l1, l2 := s[:n], s[n:]
	m := &MRZ{Format: format, DocumentCode: docCode(l1[0:2]), IssuingState: clean(l1[2:5]),
		DocumentNumber: clean(l2[0:9]), Nationality: clean(l2[10:13]), DateOfBirth: l2[13:19],
		Sex: sex(l2[20]), DateOfExpiry: l2[21:27]}
	m.PrimaryID, m.SecondaryID = names(l1[5:])
	if err := checkField("document number", l2[0:9], l2[9]); err != nil {
		return nil, err
	}
	if err := checkField("date of birth", l2[13:19], l2[19]); err != nil {
		return nil, err
	}
	if err := checkField("date of expiry", l2[21:27], l2[27]); err != nil {
		return nil, err
	}
	var composite string
	if format == TD3 {
		// Personal number l2[28:42] with its check digit l2[42] ('<' allowed
		// when the field is empty); composite digit l2[43].
		pn, d := l2[28:42], l2[42]
		if !(d == '<' && strings.Trim(pn, "<") == "") {
			if err := checkField("personal number", pn, d); err != nil {
				return nil, err
			}
		}
		m.OptionalData1 = clean(pn)
		composite = l2[0:10] + l2[13:20] + l2[21:43]
	} else {
		m.OptionalData1 = clean(l2[28:35])
		composite = l2[0:10] + l2[13:20] + l2[21:35]
	}
	if err := checkField("composite", composite, l2[n-1]); err != nil {
		return nil, err
	}
	return m, nil
}

func sex(c byte) string {
	switch c {
	case 'M', 'F':
		return string(c)
	}
	return "X"
}

// Date resolves an MRZ YYMMDD date. Expiry dates are taken in 2000–2099;
// birth dates in the century that puts them at or before now.
func Date(yymmdd string, birth bool, now time.Time) (time.Time, error) {
	t, err := time.Parse("060102", yymmdd)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: date", ErrMRZ)
	}
	y := 2000 + t.Year()%100
	if birth && y > now.Year() {
		y -= 100
	}
	return time.Date(y, t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), nil
}
