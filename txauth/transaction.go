package txauth

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/madoguchi/madoguchi/internal/zengin"
)

// Transaction is what a customer confirms: a domestic transfer in yen. Its
// canonical form (Canonical) and hash (Hash) are what every factor is bound
// to and what the signed result names; the relying service can recompute
// the hash from its own copy of the transaction.
type Transaction struct {
	// AmountJPY is the amount in yen, 1 to MaxAmountJPY.
	AmountJPY int64 `json:"amount_jpy"`
	Payee     Payee `json:"payee"`
	// Purpose is free text shown to the customer (振込目的), up to
	// MaxPurposeRunes.
	Purpose string `json:"purpose"`
	// Channel is where the request came from: web, app, api, branch, atm
	// or phone.
	Channel string `json:"channel"`
	// Device is the relying service's opaque id of the customer's device
	// (no personal data), up to 128 printable ASCII characters; "" if none.
	Device string `json:"device"`
	// Currency is always JPY ("" is taken as JPY).
	Currency string `json:"currency,omitempty"`
}

// Payee is the receiving account (全銀 codes).
type Payee struct {
	BankCode   string `json:"bank_code"`   // 4 digits
	BankName   string `json:"bank_name"`   // display name, optional
	BranchCode string `json:"branch_code"` // 3 digits
	BranchName string `json:"branch_name"` // display name, optional
	// AccountType is ordinary (普通), current (当座) or savings (貯蓄).
	AccountType   string `json:"account_type"`
	AccountNumber string `json:"account_number"` // 7 digits
	// NameKana is the account holder's name as the bank holds it (カナ).
	NameKana string `json:"name_kana"`
}

// Limits of a transaction (the transfer fields' from package zengin).
const (
	MaxAmountJPY      = zengin.MaxAmountJPY
	MaxPurposeRunes   = zengin.MaxPurposeRunes
	MaxNameRunes      = zengin.MaxNameRunes
	MaxBankNameRunes  = zengin.MaxBankNameRunes
	MaxDeviceLen      = 128
	MaxTransactionLen = 4 << 10 // encoded JSON accepted by ParseTransaction
)

// ErrInvalidTransaction: a transaction field is missing or malformed.
var ErrInvalidTransaction = errors.New("txauth: invalid transaction")

var channels = map[string]bool{"web": true, "app": true, "api": true, "branch": true, "atm": true, "phone": true}

// displayText is the rule for every text a customer is shown.
var displayText = zengin.Printable

// Validate checks every field; the error names the field, never its value.
func (t *Transaction) Validate() error {
	bad := func(field, rule string) error { return fmt.Errorf("%w: %s %s", ErrInvalidTransaction, field, rule) }
	p := t.Payee
	switch {
	case t.Currency != "" && t.Currency != "JPY":
		return bad("currency", "must be JPY")
	case t.AmountJPY < 1 || t.AmountJPY > MaxAmountJPY:
		return bad("amount_jpy", fmt.Sprintf("must be 1 to %d", int64(MaxAmountJPY)))
	case !zengin.BankCode(p.BankCode):
		return bad("payee.bank_code", "must be 4 digits")
	case !zengin.BranchCode(p.BranchCode):
		return bad("payee.branch_code", "must be 3 digits")
	case !validAccountType(p.AccountType):
		return bad("payee.account_type", "must be ordinary, current or savings")
	case !zengin.AccountNumber(p.AccountNumber):
		return bad("payee.account_number", "must be 7 digits")
	case !zengin.PayeeName(p.NameKana):
		return bad("payee.name_kana", "must be "+zengin.PayeeNameRule)
	case !displayText(p.BankName, MaxBankNameRunes):
		return bad("payee.bank_name", fmt.Sprintf("must be at most %d printable characters", MaxBankNameRunes))
	case !displayText(p.BranchName, MaxBankNameRunes):
		return bad("payee.branch_name", fmt.Sprintf("must be at most %d printable characters", MaxBankNameRunes))
	case !displayText(t.Purpose, MaxPurposeRunes):
		return bad("purpose", fmt.Sprintf("must be at most %d printable characters", MaxPurposeRunes))
	case !channels[t.Channel]:
		return bad("channel", "must be web, app, api, branch, atm or phone")
	case len(t.Device) > MaxDeviceLen || strings.IndexFunc(t.Device, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0:
		return bad("device", fmt.Sprintf("must be at most %d printable ASCII characters", MaxDeviceLen))
	}
	return nil
}

// ParseTransaction decodes one JSON transaction strictly (unknown fields,
// trailing data and more than MaxTransactionLen bytes refused) and
// validates it.
func ParseTransaction(b []byte) (*Transaction, error) {
	if len(b) > MaxTransactionLen {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrInvalidTransaction, MaxTransactionLen)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var t Transaction
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("%w: not a transaction object", ErrInvalidTransaction)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: trailing data", ErrInvalidTransaction)
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	t.Currency = "JPY"
	return &t, nil
}

// Canonical returns the transaction's canonical JSON: RFC 8785 (JCS) for
// this schema, i.e. members sorted by name, no white space, integers in
// decimal and strings escaped only where JSON requires it. Every field is
// always present. The transaction must be valid.
//
//	{"amount_jpy":N,"channel":S,"currency":"JPY","device":S,
//	 "payee":{"account_number":S,"account_type":S,"bank_code":S,"bank_name":S,
//	          "branch_code":S,"branch_name":S,"name_kana":S},"purpose":S}
func (t Transaction) Canonical() []byte {
	b := make([]byte, 0, 320)
	b = append(b, `{"amount_jpy":`...)
	b = strconv.AppendInt(b, t.AmountJPY, 10)
	b = appendMember(b, "channel", t.Channel)
	b = appendMember(b, "currency", "JPY")
	b = appendMember(b, "device", t.Device)
	b = append(b, `,"payee":{"account_number":`...)
	b = appendJCSString(b, t.Payee.AccountNumber)
	b = appendMember(b, "account_type", t.Payee.AccountType)
	b = appendMember(b, "bank_code", t.Payee.BankCode)
	b = appendMember(b, "bank_name", t.Payee.BankName)
	b = appendMember(b, "branch_code", t.Payee.BranchCode)
	b = appendMember(b, "branch_name", t.Payee.BranchName)
	b = appendMember(b, "name_kana", t.Payee.NameKana)
	b = append(b, '}')
	b = appendMember(b, "purpose", t.Purpose)
	return append(b, '}')
}

func appendMember(b []byte, name, v string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendJCSString(b, v)
}

// appendJCSString writes s as ECMAScript's JSON.stringify does (RFC 8785
// section 3.2.2.2): only '"', '\\' and control characters are escaped.
func appendJCSString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// Hash is SHA-256 of the canonical form: what factors sign and results name.
func (t Transaction) Hash() [32]byte { return sha256.Sum256(t.Canonical()) }

// PayeeKey identifies the receiving account (bank, branch, type, number)
// for "first transfer to this payee" and "payee changed" checks.
func (t Transaction) PayeeKey() string {
	p := t.Payee
	return p.BankCode + "-" + p.BranchCode + "-" + p.AccountType + "-" + p.AccountNumber
}

// Text is the transaction as a customer reads it, in Japanese, one item per
// line, ending with the hash: what a card signature (JPKI) and the
// confirmation page show.
func (t Transaction) Text() string {
	p := t.Payee
	var b strings.Builder
	fmt.Fprintf(&b, "振込金額: %s円\n", groupDigits(t.AmountJPY))
	fmt.Fprintf(&b, "振込先: %s(%s) %s(%s) %s %s\n", p.BankName, p.BankCode, p.BranchName, p.BranchCode, accountTypeLabel(p.AccountType), p.AccountNumber)
	fmt.Fprintf(&b, "受取人: %s\n", p.NameKana)
	if t.Purpose != "" {
		fmt.Fprintf(&b, "目的: %s\n", t.Purpose)
	}
	h := t.Hash()
	fmt.Fprintf(&b, "取引ハッシュ: %x", h[:])
	return b.String()
}

// groupDigits formats n with thousands separators (1234567 -> 1,234,567).
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func validAccountType(t string) bool { _, ok := zengin.AccountTypeLabel(t); return ok }

func accountTypeLabel(t string) string { l, _ := zengin.AccountTypeLabel(t); return l }
