package jis

import (
	"errors"
	"testing"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name  string
		in    []byte
		want  Text
		isErr error
	}{
		{"empty", nil, Text{}, nil},
		// 山 = JIS 3B33, 田 = 4544, 太 = 4240, 郎 = 4F3A (JIS X 0208 code table).
		{"kanji", []byte{0x3B, 0x33, 0x45, 0x44, 0x42, 0x40, 0x4F, 0x3A}, Text{S: "山田太郎"}, nil},
		// 全角 1 = 2331, ア = 2522 (katakana row 5).
		{"digits and kana", []byte{0x23, 0x31, 0x25, 0x22}, Text{S: "１ア"}, nil},
		{"gaiji", []byte{0x3B, 0x33, 0xFF, 0xF1, 0xFF, 0xFA}, Text{S: "山〓〓", Gaiji: 2}, nil},
		{"odd", []byte{0x3B}, Text{}, ErrOddLen},
		{"control byte", []byte{0x0A, 0x21}, Text{}, ErrInvalid},
		{"8-bit byte", []byte{0xB3, 0xB3}, Text{}, ErrInvalid},
		{"undefined gaiji code", []byte{0xFF, 0xF8}, Text{}, ErrInvalid},
		// Row 0x29 is unassigned in JIS X 0208.
		{"unassigned row", []byte{0x29, 0x21}, Text{}, ErrInvalid},
		{"too long", make([]byte, MaxLen+2), Text{}, ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.in)
			if !errors.Is(err, tt.isErr) {
				t.Fatalf("Decode(% X) error = %v, want %v", tt.in, err, tt.isErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("Decode(% X) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	for _, s := range []string{"山田太郎", "東京都千代田区霞が関２丁目１番２号", "ヤマダ　タロウ", "眼鏡等"} {
		b, err := Encode(s)
		if err != nil {
			t.Fatalf("Encode(%q) error = %v", s, err)
		}
		got, err := Decode(b)
		if err != nil || got.S != s || got.Gaiji != 0 {
			t.Errorf("Decode(Encode(%q)) = %+v, %v, want %q", s, got, err, s)
		}
	}
	if _, err := Encode("abc"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Encode(ASCII) error = %v, want ErrInvalid", err)
	}
	if _, err := Encode("😀"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Encode(emoji) error = %v, want ErrInvalid", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte{0x3B, 0x33, 0x45, 0x44})
	f.Add([]byte{0xFF, 0xF1})
	f.Add([]byte{0x29, 0x21})
	f.Add([]byte{0x7E, 0x7E})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Decode(b)
		if err != nil {
			return
		}
		if got.Gaiji > len(b)/2 {
			t.Fatalf("Decode: gaiji count %d exceeds characters", got.Gaiji)
		}
		if got.Gaiji == 0 {
			enc, err := Encode(got.S)
			if err != nil {
				t.Fatalf("Encode(Decode(% X)) error = %v", b, err)
			}
			if string(enc) != string(b) {
				t.Fatalf("Encode(Decode(% X)) = % X", b, enc)
			}
		}
	})
}
