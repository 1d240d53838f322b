package txauth

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestCanonicalKnownAnswer pins the canonical form and its hash: relying
// services recompute both from their own copy.
func TestCanonicalKnownAnswer(t *testing.T) {
	tx := sampleTx()
	want := `{"amount_jpy":123456,"channel":"web","currency":"JPY","device":"dev-1","payee":{"account_number":"1234567",` +
		`"account_type":"ordinary","bank_code":"0001","bank_name":"みずほ銀行","branch_code":"001","branch_name":"本店",` +
		`"name_kana":"ヤマダ　タロウ"},"purpose":"家賃"}`
	if got := string(tx.Canonical()); got != want {
		t.Fatalf("Canonical() =\n%s\nwant\n%s", got, want)
	}
	// The same bytes and hash as Python's json.dumps(t, sort_keys=True,
	// separators=(",", ":"), ensure_ascii=False), an independent JCS for
	// this schema.
	h := tx.Hash()
	if got := hex.EncodeToString(h[:]); got != "6f0aa92ee252e6ca97c3cff8f9b3a88a9f6786f46f0e8cd833a6b512588d3fb2" {
		t.Errorf("Hash() = %s", got)
	}
	// The canonical form is what encoding/json produces for the same data
	// with sorted keys and no HTML escaping (JCS for this schema).
	var m map[string]any
	if err := json.Unmarshal(tx.Canonical(), &m); err != nil {
		t.Fatal(err)
	}
	back, err := ParseTransaction(tx.Canonical())
	if err != nil || back.Hash() != h {
		t.Fatalf("ParseTransaction(Canonical()) = %+v, %v; hash differs", back, err)
	}
	// Any change to amount or payee changes the hash.
	for name, edit := range map[string]func(*Transaction){
		"amount":  func(t *Transaction) { t.AmountJPY++ },
		"account": func(t *Transaction) { t.Payee.AccountNumber = "7654321" },
		"bank":    func(t *Transaction) { t.Payee.BankCode = "0005" },
		"branch":  func(t *Transaction) { t.Payee.BranchCode = "002" },
		"type":    func(t *Transaction) { t.Payee.AccountType = "current" },
		"name":    func(t *Transaction) { t.Payee.NameKana = "ヤマダ　ハナコ" },
		"purpose": func(t *Transaction) { t.Purpose = "" },
	} {
		x := sampleTx()
		edit(&x)
		if x.Hash() == h {
			t.Errorf("changing the %s left the hash unchanged", name)
		}
	}
}

func TestAppendJCSString(t *testing.T) {
	for in, want := range map[string]string{
		`a"b\c`:         `"a\"b\\c"`,
		"\n\t\r\b\f":    `"\n\t\r\b\f"`,
		"\x01\x1f":      `"\u0001\u001f"`,
		"<>&":           `"<>&"`,
		"€\u2028\u00e9": "\"€\u2028\u00e9\"",
	} {
		if got := string(appendJCSString(nil, in)); got != want {
			t.Errorf("appendJCSString(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestTransactionValidate(t *testing.T) {
	for name, edit := range map[string]func(*Transaction){
		"zero amount":        func(t *Transaction) { t.AmountJPY = 0 },
		"huge amount":        func(t *Transaction) { t.AmountJPY = MaxAmountJPY + 1 },
		"bank code":          func(t *Transaction) { t.Payee.BankCode = "01" },
		"branch code":        func(t *Transaction) { t.Payee.BranchCode = "0a1" },
		"account type":       func(t *Transaction) { t.Payee.AccountType = "普通" },
		"account number":     func(t *Transaction) { t.Payee.AccountNumber = "123456" },
		"kanji name":         func(t *Transaction) { t.Payee.NameKana = "山田太郎" },
		"empty name":         func(t *Transaction) { t.Payee.NameKana = "" },
		"long name":          func(t *Transaction) { t.Payee.NameKana = strings.Repeat("ア", MaxNameRunes+1) },
		"newline in purpose": func(t *Transaction) { t.Purpose = "a\nb" },
		"line separator":     func(t *Transaction) { t.Payee.BankName = "a\u2028b" },
		"channel":            func(t *Transaction) { t.Channel = "fax" },
		"device space":       func(t *Transaction) { t.Device = "a b" },
		"currency":           func(t *Transaction) { t.Currency = "USD" },
		"invalid utf-8":      func(t *Transaction) { t.Purpose = "\xff" },
	} {
		x := sampleTx()
		edit(&x)
		if err := x.Validate(); !errors.Is(err, ErrInvalidTransaction) {
			t.Errorf("Validate(%s) = %v, want ErrInvalidTransaction", name, err)
		}
	}
	ok := sampleTx()
	ok.Payee.NameKana = "ｶ)ﾏﾄﾞｸﾞﾁ"
	if err := ok.Validate(); err != nil {
		t.Errorf("Validate(half-width kana with a corporate mark) = %v", err)
	}
	for name, in := range map[string]string{
		"unknown field": `{"amount_jpy":1,"payee":{},"evil":1}`,
		"trailing":      string(sampleTx().Canonical()) + `{}`,
		"not object":    `[]`,
		"too large":     `{"purpose":"` + strings.Repeat("a", MaxTransactionLen) + `"}`,
		"float amount":  `{"amount_jpy":1.5}`,
	} {
		if _, err := ParseTransaction([]byte(in)); !errors.Is(err, ErrInvalidTransaction) {
			t.Errorf("ParseTransaction(%s) = %v, want ErrInvalidTransaction", name, err)
		}
	}
}

func TestCells(t *testing.T) {
	seen := map[string]bool{}
	for i := range NumPictures {
		l := CellLabel(i)
		j, err := ParseCell(l)
		if err != nil || j != i || seen[l] {
			t.Errorf("ParseCell(CellLabel(%d) = %q) = %d, %v", i, l, j, err)
		}
		seen[l] = true
	}
	if CellLabel(0) != "A1" || CellLabel(9) != "A0" || CellLabel(49) != "E0" {
		t.Errorf("labels: %s %s %s", CellLabel(0), CellLabel(9), CellLabel(49))
	}
	for _, bad := range []string{"", "F1", "A", "A10", "a1", "1A"} {
		if _, err := ParseCell(bad); err == nil {
			t.Errorf("ParseCell(%q) = nil error", bad)
		}
	}
}

// TestCandidateSets: each cell's set holds its picture and k-1 distinct
// decoys, always the same for the card; different cards differ.
func TestCandidateSets(t *testing.T) {
	lay := &layout{Seed: make([]byte, 32)}
	for i := range lay.Cells {
		lay.Cells[i] = (i * 7) % NumPictures
	}
	for cell := range NumPictures {
		set := lay.candidates(cell, 16)
		seen := map[int]bool{}
		for _, p := range set {
			seen[p] = true
		}
		if len(set) != 16 || len(seen) != 16 || !seen[lay.Cells[cell]] {
			t.Fatalf("candidates(%d) = %v", cell, set)
		}
		if again := lay.candidates(cell, 16); strings.Trim(strings.Join(strings.Fields(fmtInts(again)), ","), "[]") != strings.Trim(strings.Join(strings.Fields(fmtInts(set)), ","), "[]") {
			t.Fatalf("candidates(%d) not deterministic", cell)
		}
	}
	other := &layout{Seed: append(make([]byte, 31), 1), Cells: lay.Cells}
	if fmtInts(other.candidates(0, 16)) == fmtInts(lay.candidates(0, 16)) {
		t.Error("two seeds gave the same candidate set")
	}
}

func fmtInts(v []int) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestPolicyValidateAndAssess(t *testing.T) {
	p := ExamplePolicy()
	if err := p.Validate(); err != nil {
		t.Fatalf("ExamplePolicy().Validate() = %v", err)
	}
	for name, edit := range map[string]func(*Policy){
		"no factor":          func(p *Policy) { p.Require = nil },
		"unknown factor":     func(p *Policy) { p.Require = []Factor{"fingerprint"} },
		"unknown signal":     func(p *Policy) { p.Rules = []Rule{{Name: "x", Signal: "moon"}} },
		"empty rule":         func(p *Policy) { p.Rules = []Rule{{Name: "x"}} },
		"candidates":         func(p *Policy) { p.Card.Candidates = 50 },
		"failures":           func(p *Policy) { p.Card.MaxFailures = 11 },
		"velocity half set":  func(p *Policy) { p.VelocityWindowSeconds = 0 },
		"hours":              func(p *Policy) { p.UnusualHours = [2]int{0, 25} },
		"webhook":            func(p *Policy) { p.Webhook = "ftp://x" },
		"webhook credential": func(p *Policy) { p.Webhook = "https://u:p@x" },
	} {
		q := ExamplePolicy()
		edit(&q)
		if err := q.Validate(); !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("Validate(%s) = %v, want ErrInvalidPolicy", name, err)
		}
	}
	p.Rules = append(p.Rules, Rule{Name: "big", AmountAtLeast: 1_000_000, Require: []Factor{FactorLegacy}, Hold: true})
	tx := sampleTx()
	if a := p.Assess(&tx, nil); a.Hold || len(a.Rules) != 0 || len(a.Required) != 1 {
		t.Errorf("Assess(small, no signals) = %+v", a)
	}
	tx.AmountJPY = 2_000_000
	a := p.Assess(&tx, map[string]bool{SignalMITB: true})
	if !a.Hold || !a.Alert || len(a.Required) != 2 || a.Signals[0] != SignalMITB {
		t.Errorf("Assess(big, mitb) = %+v", a)
	}
	if !(&Policy{UnusualHours: [2]int{23, 5}}).unusualHour(mustTime("2026-06-01T16:30:00Z")) { // 01:30 JST
		t.Error("01:30 JST not inside 23-5")
	}
	if (&Policy{UnusualHours: [2]int{23, 5}}).unusualHour(mustTime("2026-06-01T03:00:00Z")) { // 12:00 JST
		t.Error("12:00 JST inside 23-5")
	}
	if _, err := ParsePolicy([]byte(`{"require":["image_card"],"surprise":1}`)); !errors.Is(err, ErrInvalidPolicy) {
		t.Errorf("ParsePolicy(unknown field) = %v", err)
	}
}

func FuzzParseTransaction(f *testing.F) {
	f.Add(sampleTx().Canonical())
	f.Add([]byte(`{"amount_jpy":1,"payee":{"bank_code":"0001","branch_code":"001","account_type":"savings","account_number":"0000000","name_kana":"ア"},"channel":"app"}`))
	f.Add([]byte(`{"amount_jpy":-1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, err := ParseTransaction(b)
		if err != nil {
			return
		}
		c := tx.Canonical()
		back, err := ParseTransaction(c)
		if err != nil {
			t.Fatalf("canonical form %q does not parse: %v", c, err)
		}
		if string(back.Canonical()) != string(c) || back.Hash() != tx.Hash() {
			t.Fatalf("canonical form not stable: %q vs %q", back.Canonical(), c)
		}
		if !json.Valid(c) {
			t.Fatalf("canonical form is not JSON: %q", c)
		}
		_ = tx.Text()
	})
}

func FuzzParsePolicy(f *testing.F) {
	b, _ := json.Marshal(ExamplePolicy())
	f.Add(b)
	f.Add([]byte(`{"require":["image_card"],"rules":[{"name":"x","amount_at_least":5}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePolicy(b)
		if err != nil {
			return
		}
		again, _ := json.Marshal(p)
		if _, err := ParsePolicy(again); err != nil {
			t.Fatalf("a valid policy does not round-trip: %v", err)
		}
		tx := sampleTx()
		_ = p.Assess(&tx, map[string]bool{SignalMITB: true, SignalNewPayee: true})
	})
}

func FuzzParseCell(f *testing.F) {
	for _, s := range []string{"A1", "E0", "Z9", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		i, err := ParseCell(s)
		if err != nil {
			return
		}
		if i < 0 || i >= NumPictures || CellLabel(i) != s {
			t.Fatalf("ParseCell(%q) = %d, label %q", s, i, CellLabel(i))
		}
	})
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}
