package chip_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/chip"
)

func TestFileName(t *testing.T) {
	tests := []struct {
		kind document.Kind
		in   string
		want string
		ok   bool
	}{
		{document.KindJPDL, "DF1_EF01.bin", "df1_ef01", true},
		{document.KindJPDL, "/tmp/read/mf_ef01", "mf_ef01", true},
		{document.KindJPDL, "df3_ef01", "", false},
		{document.KindResidence, "df3_ef01.dat", "df3_ef01", true},
		{document.KindMyNumber, "VisualAP_EF02.bin", "visualap_ef02", true},
		{document.KindMyNumber, "textap_ef05", "", false},
		{document.KindICAO, "EF.SOD.bin", "sod", true},
		{document.KindICAO, "011D", "sod", true},
		{document.KindICAO, "dg17", "", false},
		{document.KindICAO, "AA", "aa", true},
		{document.Kind("library-card"), "df1_ef01", "", false},
		{document.KindJPDL, "", "", false},
		{document.KindJPDL, ".df1_ef01", "", false},
	}
	for _, tt := range tests {
		got, ok := chip.FileName(tt.kind, tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("FileName(%s, %q) = %q, %v, want %q, %v", tt.kind, tt.in, got, ok, tt.want, tt.ok)
		}
	}
	for _, k := range document.Kinds() {
		for _, n := range chip.FileNames(k) {
			if got, ok := chip.FileName(k, n); !ok || got != n {
				t.Errorf("FileName(%s, %q) = %q, %v, want itself", k, n, got, ok)
			}
		}
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		names  []string
		want   document.Kind
		reason string // for refusals
	}{
		{[]string{"mf_ef01", "df1_ef01", "df1_ef07", "df2_ef01"}, document.KindJPDL, ""},
		{[]string{"mf_ef01", "df1_ef01", "df1_ef02", "df3_ef01"}, document.KindResidence, ""},
		{[]string{"textap_ef02", "textap_ef03", "textap_ef04"}, document.KindMyNumber, ""},
		{[]string{"EF.SOD", "DG1.bin", "dg2.bin"}, document.KindICAO, ""},
		{[]string{"mf_ef01", "df1_ef01"}, "", "fit jpdl or residence"},
		{[]string{"df1_ef07", "df3_ef01"}, "", "mixed bundle"},
		{[]string{"sod", "textap_ef02"}, "", "mixed bundle"},
		{[]string{"sod", "selfie.jpg"}, "", "not a chip file"},
		{nil, "", "no chip files"},
	}
	for _, tt := range tests {
		got, err := chip.Detect(tt.names)
		if tt.reason == "" {
			if err != nil || got != tt.want {
				t.Errorf("Detect(%q) = %q, %v, want %q", tt.names, got, err, tt.want)
			}
			continue
		}
		if !errors.Is(err, document.ErrNotAccepted) || !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("Detect(%q) = %q, %v, want ErrNotAccepted mentioning %q", tt.names, got, err, tt.reason)
		}
	}
}

// FuzzNormalize: any set of names and sizes is either accepted with
// canonical names of the kind, or refused with a RefusalError; never a
// panic, and client-supplied names never reach the reason unescaped.
func FuzzNormalize(f *testing.F) {
	f.Add("jpdl", "DF1_EF01.bin", "df1_ef07", 10)
	f.Add("icao", "EF.SOD", "dg2.jp2", 1<<20)
	f.Add("residence", "df3_ef01", "textap_ef02", 3)
	f.Add("mynumber", "textap_ef01\x00\n", "ＤＧ１", 0)
	f.Add("icao", "../../dg1", "dg1", 5)
	f.Fuzz(func(t *testing.T, kind, a, b string, size int) {
		if size < 0 || size > 3<<20 {
			return
		}
		k := document.Kind(kind)
		files := map[string][]byte{a: make([]byte, size), b: {1}}
		out, err := chip.Normalize(k, files)
		if err != nil {
			var re *document.RefusalError
			if !errors.As(err, &re) {
				t.Fatalf("Normalize(%s, %q, %q) = %v, want a RefusalError", k, a, b, err)
			}
			if strings.ContainsAny(re.Reason, "\x00\n\r") {
				t.Fatalf("Normalize reason %q holds control characters", re.Reason)
			}
			return
		}
		for n := range out {
			if got, ok := chip.FileName(k, n); !ok || got != n {
				t.Fatalf("Normalize(%s) produced name %q, not canonical", k, n)
			}
		}
		if _, err := chip.Detect([]string{a, b}); err != nil && len(chip.KindsOf(a)) == 1 && chip.KindsOf(a)[0] == k && len(chip.KindsOf(b)) == 1 && chip.KindsOf(b)[0] == k {
			t.Fatalf("Detect(%q, %q) = %v, but both are %s files", a, b, err, k)
		}
	})
}

func TestHoldsMyNumber(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"textap_ef01", true}, {"textap_ef01.bin", true}, {"TEXTAP_EF01.dat", true}, {"reads/TextAP_EF01", true},
		{"visualap_ef05", true}, {"VISUALAP_EF05.bin", true}, {"visualap-ef05.jp2", true}, {"TEXTAP EF01", true},
		{"x/textap_ef01.bin.bak", true},
		{"textap_ef02", false}, {"visualap_ef02.bin", false}, {"df1_ef01", false}, {"dg1", false}, {"", false},
		{"textap_ef011", true}, // refused too: better one false refusal than one number collected
	}
	for _, tt := range tests {
		if got := chip.HoldsMyNumber(tt.name); got != tt.want {
			t.Errorf("HoldsMyNumber(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
	// Every spelling FileName accepts as a number-holding file is caught.
	for _, k := range document.Kinds() {
		for _, n := range chip.FileNames(k) {
			for _, v := range []string{n, strings.ToUpper(n) + ".BIN", "d/" + n + ".dat"} {
				if c, ok := chip.FileName(document.KindMyNumber, v); ok && (c == "textap_ef01" || c == "visualap_ef05") && !chip.HoldsMyNumber(v) {
					t.Errorf("HoldsMyNumber(%q) = false, but it names %s", v, c)
				}
			}
		}
	}
}

// FuzzHoldsMyNumber: whatever name normalises to a number-holding file of
// a My Number card is caught by HoldsMyNumber.
func FuzzHoldsMyNumber(f *testing.F) {
	for _, s := range []string{"textap_ef01.bin", "TEXTAP_EF01.dat", "VISUALAP_EF05.bin", "a/b/visualap_ef05", "textap_ef02", "ＴＥＸＴＡＰ＿ＥＦ01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := chip.HoldsMyNumber(name)
		if c, ok := chip.FileName(document.KindMyNumber, name); ok && (c == "textap_ef01" || c == "visualap_ef05") && !got {
			t.Fatalf("HoldsMyNumber(%q) = false, but FileName names it %s", name, c)
		}
	})
}
