package jpki_test

import (
	"encoding/asn1"
	"errors"
	"testing"

	"github.com/madoguchi/madoguchi/document/jpki"
	"github.com/madoguchi/madoguchi/document/jpki/jpkitest"
)

func TestParseDateOfBirth(t *testing.T) {
	tests := []struct {
		in      string
		want    string // ISO, "" for partial
		era     jpki.Era
		wantErr bool
	}{
		{"419900102", "1990-01-02", jpki.EraHeisei, false},
		{"319890107", "1989-01-07", jpki.EraShowa, false},  // last day of Shōwa
		{"419890108", "1989-01-08", jpki.EraHeisei, false}, // first day of Heisei
		{"520190501", "2019-05-01", jpki.EraReiwa, false},
		{"420190430", "2019-04-30", jpki.EraHeisei, false},
		{"219120730", "1912-07-30", jpki.EraTaisho, false},
		{"119000101", "1900-01-01", jpki.EraMeiji, false},
		{"420000229", "2000-02-29", jpki.EraHeisei, false},
		{"419900000", "", jpki.EraHeisei, false}, // month and day unknown
		{"419900100", "", jpki.EraHeisei, false}, // day unknown
		{"319890108", "", 0, true},               // Heisei date with Shōwa code
		{"520190430", "", 0, true},
		{"419900230", "", 0, true}, // no such date
		{"419901301", "", 0, true},
		{"419900001", "", 0, true}, // day without month
		{"619900102", "", 0, true}, // unknown era
		{"019900102", "", 0, true},
		{"41990010", "", 0, true},
		{"4199001023", "", 0, true},
		{"4199O0102", "", 0, true},
		{"", "", 0, true},
	}
	for _, tc := range tests {
		d, err := jpki.ParseDateOfBirth(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseDateOfBirth(%q) = %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if err != nil {
			if !errors.Is(err, jpki.ErrAttributes) {
				t.Errorf("ParseDateOfBirth(%q) = %v, want ErrAttributes", tc.in, err)
			}
			continue
		}
		if got := d.ISO().Reveal(); got != tc.want || d.Era != tc.era {
			t.Errorf("ParseDateOfBirth(%q) = %q era %d, want %q era %d", tc.in, got, d.Era, tc.want, tc.era)
		}
	}
}

func TestParseAttributes(t *testing.T) {
	base := jpkitest.TaroYamada()
	tests := []struct {
		name               string
		p                  jpkitest.Person
		wantExact, wantJIS bool
		wantSubst          []int
		wantGender         string
	}{
		{"exact, JIS X 0208", base, true, true, nil, "male"},
		{"substitute in the name", func() jpkitest.Person { p := base; p.NameFlags = "01000"; return p }(), false, true, []int{1}, "male"},
		{"flags shorter than name", func() jpkitest.Person { p := base; p.NameFlags = "000"; return p }(), false, true, nil, "male"},
		{"JIS level 3 character (𠮷)", func() jpkitest.Person { p := base; p.Name = "𠮷田　花子"; p.Sex = "2"; return p }(), true, false, nil, "female"},
		{"unknown sex code", func() jpkitest.Person { p := base; p.Sex = "9"; return p }(), true, true, nil, ""},
	}
	for _, tc := range tests {
		san, err := jpkitest.SAN(tc.p)
		if err != nil {
			t.Fatal(err)
		}
		a, err := jpki.ParseAttributes(san)
		if err != nil {
			t.Errorf("ParseAttributes(%s) = %v", tc.name, err)
			continue
		}
		if a.Name.Value.Reveal() != tc.p.Name || a.Address.Value.Reveal() != tc.p.Address {
			t.Errorf("ParseAttributes(%s) name/address differ from the input", tc.name)
		}
		if a.Name.Exact != tc.wantExact || a.Name.JISX0208 != tc.wantJIS || len(a.Name.Substituted) != len(tc.wantSubst) {
			t.Errorf("ParseAttributes(%s) name Exact=%v JISX0208=%v Substituted=%v, want %v %v %v", tc.name,
				a.Name.Exact, a.Name.JISX0208, a.Name.Substituted, tc.wantExact, tc.wantJIS, tc.wantSubst)
		}
		if got := a.Gender().Reveal(); got != tc.wantGender {
			t.Errorf("ParseAttributes(%s) gender = %q, want %q", tc.name, got, tc.wantGender)
		}
	}
}

func TestParseAttributesRefusals(t *testing.T) {
	base := jpkitest.TaroYamada()
	enc := func(names ...asn1.RawValue) []byte {
		b, err := asn1.Marshal(names)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	on := func(oid asn1.ObjectIdentifier, v string) asn1.RawValue {
		n, err := jpkitest.OtherName(oid, v)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	all := func() []asn1.RawValue {
		return []asn1.RawValue{
			on(jpki.OIDName, base.Name), on(jpki.OIDNameSubstitute, base.NameFlags), on(jpki.OIDSex, base.Sex),
			on(jpki.OIDDateOfBirth, base.DateOfBirth), on(jpki.OIDAddress, base.Address), on(jpki.OIDAddressSubstitute, base.AddressFlags),
		}
	}
	printable, _ := asn1.MarshalWithParams("1", "printable")
	oidDER, _ := asn1.Marshal(jpki.OIDSex)
	wrapped, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: printable})
	printableSex := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: append(oidDER, wrapped...)}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"missing address", enc(all()[:4]...), jpki.ErrAttributes},
		{"repeated name", enc(append(all(), on(jpki.OIDName, "偽名"))...), jpki.ErrAttributes},
		{"unknown attribute in the JPKI arc", enc(append(all(), on(asn1.ObjectIdentifier{1, 2, 392, 200149, 8, 5, 5, 7}, "x"))...), jpki.ErrAttributes},
		{"sex as PrintableString", enc(append(all()[:2], append([]asn1.RawValue{printableSex}, all()[3:]...)...)...), jpki.ErrAttributes},
		{"empty name", enc(append([]asn1.RawValue{on(jpki.OIDName, "")}, all()[1:]...)...), jpki.ErrAttributes},
		{"control character in address", enc(append(all()[:4], on(jpki.OIDAddress, "東京都\n"), all()[5])...), jpki.ErrAttributes},
		{"non-digit flags", enc(append(all()[:1], append([]asn1.RawValue{on(jpki.OIDNameSubstitute, "0a000")}, all()[2:]...)...)...), jpki.ErrAttributes},
		{"two-digit sex", enc(append(all()[:2], append([]asn1.RawValue{on(jpki.OIDSex, "12")}, all()[3:]...)...)...), jpki.ErrAttributes},
		{"truncated", enc(all()...)[:40], jpki.ErrAttributes},
		{"not a sequence", []byte{0x04, 0x00}, jpki.ErrAttributes},
		{"oversized", make([]byte, jpki.MaxSANSize+1), jpki.ErrTooLarge},
	}
	for _, tc := range tests {
		if _, err := jpki.ParseAttributes(tc.in); !errors.Is(err, tc.want) {
			t.Errorf("ParseAttributes(%s) = %v, want %v", tc.name, err, tc.want)
		}
	}
}
