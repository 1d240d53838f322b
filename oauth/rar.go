package oauth

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/madoguchi/madoguchi/internal/zengin"
	"github.com/madoguchi/madoguchi/tenant"
)

// authorization_details types (RFC 9396) this server understands.
const (
	// DetailTransfer is a domestic Japanese bank transfer (振込): an amount
	// in yen, the payee's account and the purpose. A grant carrying it
	// authorizes exactly that transfer.
	DetailTransfer = "jp_bank_transfer"
	// DetailAccounts is read access to account information (balances,
	// transactions, the account list), optionally limited to accounts.
	DetailAccounts = "account_information"
)

// Limits on authorization_details.
const (
	MaxDetailsLen  = 8 << 10
	maxDetails     = 5
	maxAmountYen   = zengin.MaxAmountJPY
	maxPurposeLen  = zengin.MaxPurposeRunes // what the customer's confirmation can show
	maxDetailLists = 8
)

// Account is a Japanese bank account: 4-digit bank code (金融機関コード),
// 3-digit branch code (支店番号), type and 7-digit number.
type Account struct {
	BankCode      string `json:"bank_code"`
	BranchCode    string `json:"branch_code"`
	AccountType   string `json:"account_type"`
	AccountNumber string `json:"account_number"`
	Name          string `json:"name,omitempty"`
}

// Detail is one validated authorization_details entry.
type Detail struct {
	Type      string   `json:"type"`
	Locations []string `json:"locations,omitempty"`
	Actions   []string `json:"actions,omitempty"`
	// Transfer
	Amount   string   `json:"amount,omitempty"`
	Currency string   `json:"currency,omitempty"`
	Payee    *Account `json:"payee,omitempty"`
	Purpose  string   `json:"purpose,omitempty"`
	// Account information
	Accounts []Account `json:"accounts,omitempty"`
}

var amountR = regexp.MustCompile(`^[1-9][0-9]{0,12}$`)

// ParseDetails parses and validates an authorization_details parameter:
// a JSON array of at most 5 objects, each of a type in allowed, with no
// member this server does not understand (a detail it cannot show the
// customer is refused, never ignored).
func ParseDetails(raw string, allowed []string) ([]Detail, error) {
	if len(raw) > MaxDetailsLen {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrDetails, len(raw), MaxDetailsLen)
	}
	var list []json.RawMessage
	if err := json.Unmarshal([]byte(raw), &list); err != nil {
		return nil, fmt.Errorf("%w: not a JSON array", ErrDetails)
	}
	if len(list) == 0 || len(list) > maxDetails {
		return nil, fmt.Errorf("%w: want 1 to %d entries", ErrDetails, maxDetails)
	}
	out := make([]Detail, 0, len(list))
	for i, item := range list {
		d, err := parseDetail(item)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d: %v", ErrDetails, i, err)
		}
		if !slices.Contains(allowed, d.Type) {
			return nil, fmt.Errorf("%w: entry %d: type %q is not allowed for this client", ErrDetails, i, trunc(d.Type))
		}
		out = append(out, d)
	}
	return out, nil
}

func parseDetail(raw json.RawMessage) (Detail, error) {
	var d Detail
	m, err := tenant.DecodeObject(raw)
	if err != nil {
		return d, err
	}
	str := func(name string, max int) (string, error) {
		v, ok := m[name]
		if !ok {
			return "", nil
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil || !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
			return "", fmt.Errorf("%s must be a string of at most %d characters", name, max)
		}
		for _, r := range s {
			if r < 0x20 || r == 0x7f {
				return "", fmt.Errorf("%s contains a control character", name)
			}
		}
		return s, nil
	}
	list := func(name string) ([]string, error) {
		v, ok := m[name]
		if !ok {
			return nil, nil
		}
		var l []string
		if err := json.Unmarshal(v, &l); err != nil || len(l) == 0 || len(l) > maxDetailLists {
			return nil, fmt.Errorf("%s must be an array of 1-%d strings", name, maxDetailLists)
		}
		return l, nil
	}
	if d.Type, err = str("type", 64); err != nil {
		return d, err
	}
	if d.Locations, err = list("locations"); err != nil {
		return d, err
	}
	for _, l := range d.Locations {
		if u, err := url.Parse(l); err != nil || u.Scheme != "https" || len(l) > 512 {
			return d, fmt.Errorf("locations must be https URLs")
		}
	}
	if d.Actions, err = list("actions"); err != nil {
		return d, err
	}
	allowedMembers := map[string]bool{"type": true, "locations": true, "actions": true}
	switch d.Type {
	case DetailTransfer:
		for _, k := range []string{"amount", "currency", "payee", "purpose"} {
			allowedMembers[k] = true
		}
		if d.Amount, err = str("amount", 13); err != nil {
			return d, err
		}
		if !amountR.MatchString(d.Amount) {
			return d, fmt.Errorf("amount must be a positive whole number of yen as a string")
		}
		if n, _ := strconv.ParseInt(d.Amount, 10, 64); n > maxAmountYen {
			return d, fmt.Errorf("amount exceeds %d yen", int64(maxAmountYen))
		}
		if d.Currency, err = str("currency", 3); err != nil {
			return d, err
		}
		if d.Currency != "JPY" {
			return d, fmt.Errorf("currency must be JPY")
		}
		raw, ok := m["payee"]
		if !ok {
			return d, fmt.Errorf("payee is required")
		}
		a, err := parseAccount(raw, true)
		if err != nil {
			return d, fmt.Errorf("payee: %v", err)
		}
		d.Payee = &a
		if d.Purpose, err = str("purpose", maxPurposeLen); err != nil {
			return d, err
		}
		if d.Purpose == "" {
			return d, fmt.Errorf("purpose is required")
		}
		if !zengin.Printable(d.Purpose, maxPurposeLen) {
			return d, fmt.Errorf("purpose must be at most %d printable characters", maxPurposeLen)
		}
		for _, a := range d.Actions {
			if a != "initiate" {
				return d, fmt.Errorf("a transfer's only action is initiate")
			}
		}
	case DetailAccounts:
		allowedMembers["accounts"] = true
		if len(d.Actions) == 0 {
			return d, fmt.Errorf("actions is required (read_accounts, read_balances, read_transactions)")
		}
		for _, a := range d.Actions {
			if a != "read_accounts" && a != "read_balances" && a != "read_transactions" {
				return d, fmt.Errorf("action %q is not offered", trunc(a))
			}
		}
		if raw, ok := m["accounts"]; ok {
			var l []json.RawMessage
			if err := json.Unmarshal(raw, &l); err != nil || len(l) == 0 || len(l) > maxDetailLists {
				return d, fmt.Errorf("accounts must be an array of 1-%d accounts", maxDetailLists)
			}
			for _, r := range l {
				a, err := parseAccount(r, false)
				if err != nil {
					return d, fmt.Errorf("accounts: %v", err)
				}
				d.Accounts = append(d.Accounts, a)
			}
		}
	case "":
		return d, fmt.Errorf("type is required")
	default:
		return d, fmt.Errorf("type %q is not supported", trunc(d.Type))
	}
	for k := range m {
		if !allowedMembers[k] {
			return d, fmt.Errorf("member %q is not understood", trunc(k))
		}
	}
	return d, nil
}

func parseAccount(raw json.RawMessage, needName bool) (Account, error) {
	var a Account
	m, err := tenant.DecodeObject(raw)
	if err != nil {
		return a, err
	}
	for k := range m {
		switch k {
		case "bank_code", "branch_code", "account_type", "account_number", "name":
		default:
			return a, fmt.Errorf("member %q is not understood", trunc(k))
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return a, err
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("members must be strings")
	}
	// The Zengin rules txauth confirms a transfer under (package zengin):
	// a detail the customer could not be asked to confirm is refused here,
	// at PAR, not after the customer started.
	_, typeOK := zengin.AccountTypeLabel(a.AccountType)
	switch {
	case !zengin.BankCode(a.BankCode):
		return a, fmt.Errorf("bank_code must be 4 digits")
	case !zengin.BranchCode(a.BranchCode):
		return a, fmt.Errorf("branch_code must be 3 digits")
	case !typeOK:
		return a, fmt.Errorf("account_type must be ordinary, current or savings")
	case !zengin.AccountNumber(a.AccountNumber):
		return a, fmt.Errorf("account_number must be 7 digits")
	case (needName || a.Name != "") && !zengin.PayeeName(a.Name):
		return a, fmt.Errorf("name must be %s", zengin.PayeeNameRule)
	}
	return a, nil
}

// detailTypes lists the distinct types of ds.
func detailTypes(ds []Detail) []string {
	var out []string
	for _, d := range ds {
		if !slices.Contains(out, d.Type) {
			out = append(out, d.Type)
		}
	}
	return out
}
