package zengin

import (
	"strings"
	"testing"
)

func TestFields(t *testing.T) {
	for _, c := range []struct {
		name string
		f    func(string) bool
		in   string
		want bool
	}{
		{"bank", BankCode, "0001", true},
		{"bank", BankCode, "001", false},
		{"bank", BankCode, "０００１", false},
		{"bank", BankCode, "00010", false},
		{"branch", BranchCode, "123", true},
		{"branch", BranchCode, "12a", false},
		{"account", AccountNumber, "1234567", true},
		{"account", AccountNumber, "123456", false},
		{"account", AccountNumber, "1234567\n", false},
		{"payee", PayeeName, "ヤマダ タロウ", true},
		{"payee", PayeeName, "ﾔﾏﾀﾞ ﾀﾛｳ", true},
		{"payee", PayeeName, "カ)マドグチ", true},
		{"payee", PayeeName, "ABC SHOJI", true},
		{"payee", PayeeName, "ＡＢＣ（カ", true},
		{"payee", PayeeName, "", false},
		{"payee", PayeeName, "山田太郎", false},         // kanji: not in the Zengin set
		{"payee", PayeeName, "やまだ", false},          // hiragana
		{"payee", PayeeName, "Yamada", false},       // lower case
		{"payee", PayeeName, "ヤマダ\u202eタロウ", false}, // bidi override
		{"payee", PayeeName, "ヤマダ\tタロウ", false},
		{"payee", PayeeName, strings.Repeat("ア", MaxNameRunes), true},
		{"payee", PayeeName, strings.Repeat("ア", MaxNameRunes+1), false},
	} {
		if got := c.f(c.in); got != c.want {
			t.Errorf("%s(%q) = %v, want %v", c.name, c.in, got, c.want)
		}
	}
	for _, c := range []struct {
		in   string
		max  int
		want bool
	}{
		{"家賃 12月分", MaxPurposeRunes, true},
		{strings.Repeat("あ", MaxPurposeRunes), MaxPurposeRunes, true},
		{strings.Repeat("あ", MaxPurposeRunes+1), MaxPurposeRunes, false},
		{"a\u2028b", 10, false},
		{"a\x7fb", 10, false},
		{"\xff", 10, false},
		{"\ufeffa", 10, false},
		{"", 10, true},
	} {
		if got := Printable(c.in, c.max); got != c.want {
			t.Errorf("Printable(%q, %d) = %v, want %v", c.in, c.max, got, c.want)
		}
	}
	if l, ok := AccountTypeLabel("ordinary"); !ok || l != "普通" {
		t.Errorf("AccountTypeLabel(ordinary) = %q, %v", l, ok)
	}
	if _, ok := AccountTypeLabel("checking"); ok {
		t.Error("AccountTypeLabel(checking) ok")
	}
}

func FuzzPayeeName(f *testing.F) {
	for _, s := range []string{"ヤマダ タロウ", "ﾔﾏﾀﾞ", "山田", "", "A\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if PayeeName(s) && (!Printable(s, MaxNameRunes) || s == "") {
			t.Fatalf("PayeeName(%q) accepted text that is not printable or empty", s)
		}
	})
}
