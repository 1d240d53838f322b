// Package jis decodes the JIS X 0208 text of the Japanese driver's licence
// chip (警察庁「運転免許証及び運転免許証作成システム等仕様書」): each character
// is two bytes, row and cell, each in 0x21–0x7E, with no escape sequences;
// the codes 0xFFF1–0xFFF7 refer to externally defined characters (外字, whose
// glyph images live in DF1/EF03 and EF05) and 0xFFFA marks a missing
// character (欠字).
//
// Decoding adds 0x80 to each byte, which turns a JIS X 0208 code into its
// EUC-JP form, and uses golang.org/x/text's EUC-JP table; of x/text's
// Japanese encodings EUC-JP is the one whose two-byte set is exactly JIS
// X 0208 without escapes (ISO-2022-JP would need ESC $ B framing, Shift_JIS a
// different byte mapping).
//
// Invariants: input longer than MaxLen is refused before any work; every
// output rune comes from the JIS X 0208 table or is the substitute U+3013
// (〓, geta mark) for a 外字/欠字 reference, counted in Text.Gaiji; a code
// outside the table is an error, never silently replaced.
package jis

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/japanese"
)

// MaxLen bounds the bytes Decode accepts (the longest licence field, the
// address, is far shorter).
const MaxLen = 2048

// Substitute is the rune written for a 外字 or 欠字 reference.
const Substitute = '〓'

// Errors returned by Decode; test with errors.Is.
var (
	ErrTooLong = errors.New("jis: text too long")
	ErrOddLen  = errors.New("jis: odd number of bytes")
	ErrInvalid = errors.New("jis: invalid JIS X 0208 code")
)

// Text is decoded text. Gaiji counts 外字/欠字 references that were replaced
// by Substitute: a verifier must not treat such a value as complete.
type Text struct {
	S     string
	Gaiji int
}

// Decode decodes JIS X 0208 two-byte codes.
func Decode(b []byte) (Text, error) {
	if len(b) > MaxLen {
		return Text{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLong, len(b), MaxLen)
	}
	if len(b)%2 != 0 {
		return Text{}, fmt.Errorf("%w: %d", ErrOddLen, len(b))
	}
	var out strings.Builder
	out.Grow(len(b) * 3 / 2)
	dec := japanese.EUCJP.NewDecoder()
	var t Text
	var src [2]byte
	var dst [8]byte
	for i := 0; i < len(b); i += 2 {
		hi, lo := b[i], b[i+1]
		code := uint16(hi)<<8 | uint16(lo)
		switch {
		case code >= 0xFFF1 && code <= 0xFFF7, code == 0xFFFA:
			out.WriteRune(Substitute)
			t.Gaiji++
			continue
		case hi < 0x21 || hi > 0x7E || lo < 0x21 || lo > 0x7E:
			return Text{}, fmt.Errorf("%w: %04X at offset %d", ErrInvalid, code, i)
		}
		src[0], src[1] = hi|0x80, lo|0x80
		n, _, err := dec.Transform(dst[:], src[:], true)
		dec.Reset()
		if err != nil || n == 0 {
			return Text{}, fmt.Errorf("%w: %04X at offset %d", ErrInvalid, code, i)
		}
		r, size := utf8.DecodeRune(dst[:n])
		if r == utf8.RuneError || size != n {
			// x/text writes U+FFFD for a code with no character.
			return Text{}, fmt.Errorf("%w: %04X at offset %d", ErrInvalid, code, i)
		}
		out.WriteRune(r)
	}
	t.S = out.String()
	return t, nil
}

// Encode is the inverse of Decode for text without 外字; it is used by test
// issuers to write licence files. It refuses runes outside JIS X 0208.
func Encode(s string) ([]byte, error) {
	if len(s) > MaxLen*2 {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLong, len(s))
	}
	enc := japanese.EUCJP.NewEncoder()
	out := make([]byte, 0, len(s))
	for _, r := range s {
		b, err := enc.Bytes([]byte(string(r)))
		if err != nil || len(b) != 2 || b[0] < 0xA1 || b[1] < 0xA1 || b[0] == 0xFF || b[1] == 0xFF {
			return nil, fmt.Errorf("%w: rune %U is not in JIS X 0208", ErrInvalid, r)
		}
		out = append(out, b[0]&0x7F, b[1]&0x7F)
	}
	if len(out) > MaxLen {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLong, len(out), MaxLen)
	}
	return out, nil
}
