package icao

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Specimens from ICAO Doc 9303 (Part 4 Appendix A TD3, Part 5 Appendix A TD1,
// Part 6 Appendix A TD2), fictitious state Utopia.
const (
	td3Specimen = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<" + "L898902C36UTO7408122F1204159ZE184226B<<<<<10"
	td1Specimen = "I<UTOD231458907<<<<<<<<<<<<<<<" + "7408122F1204159UTO<<<<<<<<<<<6" + "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"
	td2Specimen = "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<" + "D231458907UTO7408122F1204159<<<<<<<6"
)

func TestCheckDigit(t *testing.T) {
	tests := []struct {
		in   string
		want byte
	}{
		{"L898902C3", '6'}, {"740812", '2'}, {"120415", '9'}, {"ZE184226B<<<<<", '1'},
		{"D23145890", '7'}, {"520727", '3'}, {"<<<<<<", '0'}, {"AB2134<<<", '5'},
	}
	for _, tt := range tests {
		if got, ok := CheckDigit(tt.in); !ok || got != tt.want {
			t.Errorf("CheckDigit(%q) = %c, %v, want %c", tt.in, got, ok, tt.want)
		}
	}
	if _, ok := CheckDigit("ab"); ok {
		t.Error(`CheckDigit("ab") ok = true, want false`)
	}
}

func TestParseMRZ(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want MRZ
	}{
		{"TD3", td3Specimen, MRZ{Format: TD3, DocumentCode: "P", IssuingState: "UTO", DocumentNumber: "L898902C3", Nationality: "UTO",
			DateOfBirth: "740812", Sex: "F", DateOfExpiry: "120415", PrimaryID: "ERIKSSON", SecondaryID: "ANNA MARIA", OptionalData1: "ZE184226B"}},
		{"TD1", td1Specimen, MRZ{Format: TD1, DocumentCode: "I", IssuingState: "UTO", DocumentNumber: "D23145890", Nationality: "UTO",
			DateOfBirth: "740812", Sex: "F", DateOfExpiry: "120415", PrimaryID: "ERIKSSON", SecondaryID: "ANNA MARIA"}},
		{"TD2", td2Specimen, MRZ{Format: TD2, DocumentCode: "I", IssuingState: "UTO", DocumentNumber: "D23145890", Nationality: "UTO",
			DateOfBirth: "740812", Sex: "F", DateOfExpiry: "120415", PrimaryID: "ERIKSSON", SecondaryID: "ANNA MARIA"}},
		{"TD3 with newline", td3Specimen[:44] + "\n" + td3Specimen[44:], MRZ{Format: TD3, DocumentCode: "P", IssuingState: "UTO", DocumentNumber: "L898902C3", Nationality: "UTO",
			DateOfBirth: "740812", Sex: "F", DateOfExpiry: "120415", PrimaryID: "ERIKSSON", SecondaryID: "ANNA MARIA", OptionalData1: "ZE184226B"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMRZ(tt.in)
			if err != nil {
				t.Fatalf("ParseMRZ(%s) = %v", tt.name, err)
			}
			if d := cmp.Diff(&tt.want, got); d != "" {
				t.Errorf("ParseMRZ(%s) mismatch (-want +got):\n%s", tt.name, d)
			}
		})
	}
}

func TestParseMRZErrors(t *testing.T) {
	flip := func(s string, i int, c byte) string { b := []byte(s); b[i] = c; return string(b) }
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"short", td3Specimen[:80]},
		{"lowercase", strings.ToLower(td3Specimen)},
		{"document number digit", flip(td3Specimen, 44+9, '7')},
		{"document number changed", flip(td3Specimen, 44+1, '7')},
		{"birth digit", flip(td3Specimen, 44+19, '3')},
		{"expiry changed", flip(td3Specimen, 44+21, '2')},
		{"personal number", flip(td3Specimen, 44+28, 'X')},
		{"composite", flip(td3Specimen, 87, '1')},
		{"TD1 composite", flip(td1Specimen, 59, '7')},
		{"TD2 expiry", flip(td2Specimen, 36+27, '0')},
	}
	for _, tt := range tests {
		if _, err := ParseMRZ(tt.in); !errors.Is(err, ErrMRZ) {
			t.Errorf("ParseMRZ(%s) = %v, want ErrMRZ", tt.name, err)
		}
	}
}

func TestDate(t *testing.T) {
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in    string
		birth bool
		want  string
	}{
		{"740812", true, "1974-08-12"}, {"120415", false, "2012-04-15"}, {"250101", true, "2025-01-01"}, {"300101", true, "1930-01-01"}, {"300101", false, "2030-01-01"},
	}
	for _, tt := range tests {
		got, err := Date(tt.in, tt.birth, now)
		if err != nil || got.Format(time.DateOnly) != tt.want {
			t.Errorf("Date(%q, %v) = %v, %v, want %s", tt.in, tt.birth, got, err, tt.want)
		}
	}
	if _, err := Date("7413<<", true, now); !errors.Is(err, ErrMRZ) {
		t.Errorf("Date(unknown) = %v, want ErrMRZ", err)
	}
}

func FuzzParseMRZ(f *testing.F) {
	for _, s := range []string{td1Specimen, td2Specimen, td3Specimen} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMRZ(s)
		if err == nil && m == nil {
			t.Fatal("nil MRZ without error")
		}
	})
}
