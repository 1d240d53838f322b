// Package zengin holds the rules of a Japanese domestic bank transfer's
// fields, as the Zengin system (全銀システム) carries them: 4-digit bank
// codes (金融機関コード), 3-digit branch codes (支店番号), the account
// types, 7-digit account numbers, and the account holder's name in the
// kana character set of the Zengin format (受取人名, 48 characters).
//
// One set of rules serves every place a transfer enters Madoguchi — a
// relying service's confirmation request (txauth) and a partner's
// authorization_details (oauth) — so a transfer a partner may ask for is
// exactly a transfer the customer can be asked to confirm.
package zengin

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// Limits of a transfer's fields.
const (
	// MaxAmountJPY is the largest amount accepted: ¥1 trillion, well
	// inside 2^53; anything larger is a typo or an attack.
	MaxAmountJPY = 1_000_000_000_000
	// MaxNameRunes is the length of the Zengin payee-name field.
	MaxNameRunes = 48
	// MaxPurposeRunes bounds the free text shown to the customer (振込目的).
	MaxPurposeRunes = 100
	// MaxBankNameRunes bounds a bank's or branch's display name.
	MaxBankNameRunes = 30
)

var (
	reBank    = regexp.MustCompile(`^[0-9]{4}$`)
	reBranch  = regexp.MustCompile(`^[0-9]{3}$`)
	reAccount = regexp.MustCompile(`^[0-9]{7}$`)
)

// BankCode reports whether s is a bank code: 4 digits.
func BankCode(s string) bool { return reBank.MatchString(s) }

// BranchCode reports whether s is a branch code: 3 digits.
func BranchCode(s string) bool { return reBranch.MatchString(s) }

// AccountNumber reports whether s is an account number: 7 digits.
func AccountNumber(s string) bool { return reAccount.MatchString(s) }

// accountTypes are the account types and how a customer reads them.
var accountTypes = map[string]string{"ordinary": "普通", "current": "当座", "savings": "貯蓄"}

// AccountTypeLabel returns the Japanese label of an account type
// (ordinary 普通, current 当座, savings 貯蓄) and whether t is one.
func AccountTypeLabel(t string) (string, bool) {
	l, ok := accountTypes[t]
	return l, ok
}

// kanaRune reports whether r may appear in a payee name: katakana (full or
// half width), the prolonged sound mark and middle dot, spaces, and the
// letters, digits and symbols the Zengin format allows.
func kanaRune(r rune) bool {
	switch {
	case r >= 0x30A1 && r <= 0x30FC: // ァ..ヶ ・ ー (and ヷ..ヺ)
	case r >= 0xFF66 && r <= 0xFF9F: // half-width ｦ..ﾟ
	case r == ' ' || r == 0x3000:
	case r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("().-/,", r):
	case r >= 0xFF21 && r <= 0xFF3A, r >= 0xFF10 && r <= 0xFF19, strings.ContainsRune("（）．－／，", r):
	default:
		return false
	}
	return true
}

// PayeeName reports whether s is a payee name the Zengin format carries:
// 1 to MaxNameRunes characters of katakana, spaces, A-Z, 0-9 or ().-/,
// (full or half width).
func PayeeName(s string) bool {
	return s != "" && Printable(s, MaxNameRunes) && strings.IndexFunc(s, func(r rune) bool { return !kanaRune(r) }) < 0
}

// PayeeNameRule describes PayeeName for error messages.
const PayeeNameRule = "1 to 48 characters of katakana, spaces, A-Z, 0-9 or ().-/,"

// Printable reports whether s is text a customer may be shown: valid
// UTF-8 of at most max runes, without control characters, line or
// paragraph separators or a byte-order mark.
func Printable(s string, max int) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029 || r == 0xFEFF {
			return false
		}
	}
	return true
}
