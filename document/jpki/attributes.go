package jpki

import (
	"encoding/asn1"
	"fmt"
	"log/slog"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/japanese"
)

// OIDs of the J-LIS personal-data otherName entries in the subjectAltName of
// a signing certificate (arc 1.2.392.200149.8.5.5).
var (
	OIDName              = asn1.ObjectIdentifier{1, 2, 392, 200149, 8, 5, 5, 1}
	OIDNameSubstitute    = asn1.ObjectIdentifier{1, 2, 392, 200149, 8, 5, 5, 2}
	OIDSex               = asn1.ObjectIdentifier{1, 2, 392, 200149, 8, 5, 5, 3}
	OIDDateOfBirth       = asn1.ObjectIdentifier{1, 2, 392, 200149, 8, 5, 5, 4}
	OIDAddress           = asn1.ObjectIdentifier{1, 2, 392, 200149, 8, 5, 5, 5}
	OIDAddressSubstitute = asn1.ObjectIdentifier{1, 2, 392, 200149, 8, 5, 5, 6}

	oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
	jpkiAttributeArc  = asn1.ObjectIdentifier{1, 2, 392, 200149, 8, 5, 5}
)

// Limits on the subjectAltName extension and its values.
const (
	MaxSANSize       = 4096
	maxAttributeSize = 1024 // bytes of one UTF-8 value
)

// Era is the Japanese era code that prefixes the date of birth.
type Era int

// Era codes as used in the date-of-birth attribute.
const (
	EraMeiji  Era = 1 // 明治
	EraTaisho Era = 2 // 大正
	EraShowa  Era = 3 // 昭和
	EraHeisei Era = 4 // 平成
	EraReiwa  Era = 5 // 令和
)

// eraStarts are the first days of each era (Gregorian, JST dates).
var eraStarts = [...]struct {
	era   Era
	start string
}{
	{EraMeiji, "1868-01-25"}, // 1868-10-23 by proclamation; dates in 明治元年 before it are conventionally 明治
	{EraTaisho, "1912-07-30"},
	{EraShowa, "1926-12-25"},
	{EraHeisei, "1989-01-08"},
	{EraReiwa, "2019-05-01"},
}

// eraOf returns the era a complete Gregorian date falls in, or 0 before Meiji.
func eraOf(y, m, d int) Era {
	date := fmt.Sprintf("%04d-%02d-%02d", y, m, d)
	var e Era
	for _, s := range eraStarts {
		if date >= s.start {
			e = s.era
		}
	}
	return e
}

// Text is a UTF-8 attribute value (name or address) with the J-LIS
// substitute-character flags that accompany it.
type Text struct {
	Value Secret
	// Flags is the raw flag string of the substitute-character attribute:
	// one ASCII digit per character of Value, '0' where the character is
	// the registered one, another digit where a substitute character (代替文字)
	// stands for a character the card cannot carry.
	Flags string
	// Substituted lists the character positions (0-based, in runes) that
	// carry a substitute character.
	Substituted []int
	// Exact is true only when the flags are present, as long as the value,
	// and all '0': the value is exactly the registered text.
	Exact bool
	// JISX0208 is true when every character is in JIS X 0208 (JIS levels 1
	// and 2 and their non-kanji); false means at least one character is
	// from JIS X 0213 levels 3/4 or beyond, which matters when comparing with
	// records kept in legacy encodings.
	JISX0208 bool
}

// LogValue implements slog.LogValuer.
func (t Text) LogValue() slog.Value { return slog.StringValue(redacted) }

// DateOfBirth is the era-coded date of birth. Month or Day is 0 when the
// registry does not know it (possible for some foreign residents).
type DateOfBirth struct {
	Era              Era
	Year, Month, Day int
}

// Complete reports whether year, month and day are all known.
func (d DateOfBirth) Complete() bool { return d.Year > 0 && d.Month > 0 && d.Day > 0 }

// ISO returns the date as YYYY-MM-DD (OIDC birthdate). It is a Secret.
func (d DateOfBirth) ISO() Secret {
	if !d.Complete() {
		return Secret{}
	}
	return NewSecret(fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day))
}

// LogValue implements slog.LogValuer.
func (d DateOfBirth) LogValue() slog.Value { return slog.StringValue(redacted) }

// Sex codes of the sex attribute.
const (
	SexMale   = "1"
	SexFemale = "2"
)

// Attributes are the personal attributes of a signing certificate, as signed
// by J-LIS. The user-authentication certificate has none.
type Attributes struct {
	Name        Text
	Address     Text
	DateOfBirth DateOfBirth
	Sex         Secret // the raw code
}

// LogValue implements slog.LogValuer.
func (a *Attributes) LogValue() slog.Value { return slog.StringValue(redacted) }

// Gender returns the OIDC gender claim: "male", "female", or empty for a code
// this package does not know.
func (a *Attributes) Gender() Secret {
	switch a.Sex.Reveal() {
	case SexMale:
		return NewSecret("male")
	case SexFemale:
		return NewSecret("female")
	}
	return Secret{}
}

type otherName struct {
	TypeID asn1.ObjectIdentifier
	Value  asn1.RawValue // [0] EXPLICIT, unwrapped by hand
}

// ParseAttributes decodes the J-LIS personal-data otherNames from the DER
// value of a subjectAltName extension. Every one of the six attributes must
// be present exactly once as a UTF8String; other otherNames in the JPKI arc
// are refused; other general names are ignored.
func ParseAttributes(san []byte) (*Attributes, error) {
	if len(san) > MaxSANSize {
		return nil, fmt.Errorf("%w: subjectAltName of %d bytes (max %d)", ErrTooLarge, len(san), MaxSANSize)
	}
	var names []asn1.RawValue
	rest, err := asn1.Unmarshal(san, &names)
	if err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%w: subjectAltName is not a DER SEQUENCE OF GeneralName", ErrAttributes)
	}
	vals := make(map[string]string, 6)
	for _, n := range names {
		if n.Class != asn1.ClassContextSpecific || n.Tag != 0 || !n.IsCompound {
			continue // not an otherName
		}
		var on otherName
		// otherName is [0] IMPLICIT SEQUENCE: re-tag the content as a SEQUENCE.
		seq, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: n.Bytes})
		if err != nil {
			return nil, fmt.Errorf("%w: otherName", ErrAttributes)
		}
		if rest, err := asn1.Unmarshal(seq, &on); err != nil || len(rest) != 0 {
			return nil, fmt.Errorf("%w: malformed otherName", ErrAttributes)
		}
		if !hasPrefix(on.TypeID, jpkiAttributeArc) {
			continue
		}
		key := on.TypeID.String()
		if !knownAttribute(on.TypeID) {
			return nil, fmt.Errorf("%w: unknown attribute %s", ErrAttributes, key)
		}
		if _, dup := vals[key]; dup {
			return nil, fmt.Errorf("%w: attribute %s repeated", ErrAttributes, key)
		}
		var v asn1.RawValue
		if w := on.Value; w.Class != asn1.ClassContextSpecific || w.Tag != 0 || !w.IsCompound {
			return nil, fmt.Errorf("%w: attribute %s value is not [0] EXPLICIT", ErrAttributes, key)
		} else if rest, err := asn1.Unmarshal(w.Bytes, &v); err != nil || len(rest) != 0 {
			return nil, fmt.Errorf("%w: attribute %s value is malformed", ErrAttributes, key)
		}
		if v.Class != asn1.ClassUniversal || v.Tag != asn1.TagUTF8String || v.IsCompound || !utf8.Valid(v.Bytes) {
			return nil, fmt.Errorf("%w: attribute %s is not a UTF8String", ErrAttributes, key)
		}
		s := string(v.Bytes)
		if len(s) > maxAttributeSize {
			return nil, fmt.Errorf("%w: attribute %s longer than %d bytes", ErrAttributes, key, maxAttributeSize)
		}
		vals[key] = s
	}
	get := func(oid asn1.ObjectIdentifier) (string, error) {
		v, ok := vals[oid.String()]
		if !ok {
			return "", fmt.Errorf("%w: attribute %s missing", ErrAttributes, oid)
		}
		return v, nil
	}
	var a Attributes
	var raw [6]string
	for i, oid := range []asn1.ObjectIdentifier{OIDName, OIDNameSubstitute, OIDSex, OIDDateOfBirth, OIDAddress, OIDAddressSubstitute} {
		if raw[i], err = get(oid); err != nil {
			return nil, err
		}
	}
	if a.Name, err = decodeText("name", raw[0], raw[1]); err != nil {
		return nil, err
	}
	if a.Address, err = decodeText("address", raw[4], raw[5]); err != nil {
		return nil, err
	}
	if len(raw[2]) != 1 || raw[2][0] < '0' || raw[2][0] > '9' {
		return nil, fmt.Errorf("%w: sex code is not one digit", ErrAttributes)
	}
	a.Sex = NewSecret(raw[2])
	if a.DateOfBirth, err = ParseDateOfBirth(raw[3]); err != nil {
		return nil, err
	}
	return &a, nil
}

func knownAttribute(oid asn1.ObjectIdentifier) bool {
	for _, k := range []asn1.ObjectIdentifier{OIDName, OIDNameSubstitute, OIDSex, OIDDateOfBirth, OIDAddress, OIDAddressSubstitute} {
		if oid.Equal(k) {
			return true
		}
	}
	return false
}

func hasPrefix(oid, arc asn1.ObjectIdentifier) bool {
	return len(oid) > len(arc) && oid[:len(arc)].Equal(arc)
}

// decodeText validates a name or address and interprets its flags.
func decodeText(what, v, flags string) (Text, error) {
	if v == "" || !utf8.ValidString(v) {
		return Text{}, fmt.Errorf("%w: %s is empty or not UTF-8", ErrAttributes, what)
	}
	enc := japanese.ShiftJIS.NewEncoder()
	t := Text{Value: NewSecret(v), Flags: flags, JISX0208: true}
	n := 0
	for _, r := range v {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return Text{}, fmt.Errorf("%w: %s contains a control character", ErrAttributes, what)
		}
		if r >= 0x80 {
			if _, err := enc.String(string(r)); err != nil {
				t.JISX0208 = false
			}
		}
		n++
	}
	for i := 0; i < len(flags); i++ {
		if flags[i] < '0' || flags[i] > '9' {
			return Text{}, fmt.Errorf("%w: %s substitute flags are not digits", ErrAttributes, what)
		}
		if flags[i] != '0' {
			t.Substituted = append(t.Substituted, i)
		}
	}
	t.Exact = len(flags) == n && len(t.Substituted) == 0
	return t, nil
}

// ParseDateOfBirth decodes the 9-digit date of birth: an era code (1 明治 …
// 5 令和) then the Gregorian date YYYYMMDD. Month and day may be 00 when
// unknown; a complete date must exist and fall in the stated era.
func ParseDateOfBirth(s string) (DateOfBirth, error) {
	if len(s) != 9 {
		return DateOfBirth{}, fmt.Errorf("%w: date of birth must be 9 digits", ErrAttributes)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return DateOfBirth{}, fmt.Errorf("%w: date of birth must be 9 digits", ErrAttributes)
		}
	}
	atoi := func(b string) int {
		n := 0
		for i := 0; i < len(b); i++ {
			n = n*10 + int(b[i]-'0')
		}
		return n
	}
	d := DateOfBirth{Era: Era(atoi(s[:1])), Year: atoi(s[1:5]), Month: atoi(s[5:7]), Day: atoi(s[7:9])}
	if d.Era < EraMeiji || d.Era > EraReiwa {
		return DateOfBirth{}, fmt.Errorf("%w: unknown era code %d", ErrAttributes, d.Era)
	}
	if d.Year < 1868 || d.Month > 12 || (d.Month == 0 && d.Day != 0) {
		return DateOfBirth{}, fmt.Errorf("%w: date of birth out of range", ErrAttributes)
	}
	if !d.Complete() {
		return d, nil
	}
	t := time.Date(d.Year, time.Month(d.Month), d.Day, 0, 0, 0, 0, time.UTC)
	if t.Year() != d.Year || int(t.Month()) != d.Month || t.Day() != d.Day {
		return DateOfBirth{}, fmt.Errorf("%w: date of birth does not exist", ErrAttributes)
	}
	if eraOf(d.Year, d.Month, d.Day) != d.Era {
		return DateOfBirth{}, fmt.Errorf("%w: era code does not match the date", ErrAttributes)
	}
	return d, nil
}
