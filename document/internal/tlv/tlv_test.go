package tlv

import (
	"bytes"
	"errors"
	"testing"
)

func TestNext(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		tag     Tag
		value   []byte
		rest    int
		wantErr error
	}{
		{"short", []byte{0x5A, 0x02, 0xAA, 0xBB, 0xFF}, 0x5A, []byte{0xAA, 0xBB}, 1, nil},
		{"two-byte tag", []byte{0x5F, 0x1F, 0x01, 0x41}, 0x5F1F, []byte{0x41}, 0, nil},
		{"three-byte tag", []byte{0x5F, 0x81, 0x01, 0x00}, 0x5F8101, []byte{}, 0, nil},
		{"long form 81", append([]byte{0x04, 0x81, 0x80}, make([]byte, 0x80)...), 0x04, make([]byte, 0x80), 0, nil},
		{"long form 82", append([]byte{0x04, 0x82, 0x01, 0x00}, make([]byte, 0x100)...), 0x04, make([]byte, 0x100), 0, nil},
		{"empty", nil, 0, nil, 0, ErrTruncated},
		{"no length", []byte{0x5A}, 0, nil, 0, ErrTruncated},
		{"length lies", []byte{0x5A, 0x05, 0x01}, 0, nil, 0, ErrTruncated},
		{"long length lies", []byte{0x5A, 0x84, 0xFF, 0xFF, 0xFF, 0xFF, 0x00}, 0, nil, 0, ErrTruncated},
		{"indefinite", []byte{0x30, 0x80, 0x00, 0x00}, 0, nil, 0, ErrIndefinite},
		{"five length bytes", []byte{0x04, 0x85, 0, 0, 0, 0, 1}, 0, nil, 0, ErrLength},
		{"truncated long length", []byte{0x04, 0x82, 0x01}, 0, nil, 0, ErrTruncated},
		{"tag too long", []byte{0x5F, 0x81, 0x81, 0x01, 0x00}, 0, nil, 0, ErrTag},
		{"truncated tag", []byte{0x5F}, 0, nil, 0, ErrTruncated},
		{"padding tag", []byte{0x00, 0x00}, 0, nil, 0, ErrTag},
		{"private constructed FF20", []byte{0xFF, 0x20, 0x01, 0x07}, 0xFF20, []byte{0x07}, 0, nil},
		{"lone FF is a truncated tag", []byte{0xFF}, 0, nil, 0, ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, rest, err := Next(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Next(% X) error = %v, want %v", tt.in, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if o.Tag != tt.tag || !bytes.Equal(o.Value, tt.value) || len(rest) != tt.rest {
				t.Errorf("Next(% X) = tag %s value % X rest %d, want tag %s value % X rest %d",
					tt.in, o.Tag, o.Value, len(rest), tt.tag, tt.value, tt.rest)
			}
		})
	}
}

func TestConstructedAndFind(t *testing.T) {
	// DG1-like: 61 { 5F1F "MRZ" }
	inner := Append(nil, 0x5F1F, []byte("P<JPN"))
	dg1 := Append(nil, 0x61, inner)
	o, err := Parse(dg1)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if !o.Tag.Constructed() {
		t.Fatalf("tag %s: Constructed() = false, want true", o.Tag)
	}
	mrz, err := o.Find(0x5F1F)
	if err != nil {
		t.Fatalf("Find(5F1F): %v", err)
	}
	if string(mrz.Value) != "P<JPN" {
		t.Errorf("Find(5F1F).Value = %q, want %q", mrz.Value, "P<JPN")
	}
	if _, err := o.Find(0x5F20); !errors.Is(err, ErrNotFound) {
		t.Errorf("Find(5F20) error = %v, want ErrNotFound", err)
	}
	if _, err := mrz.Children(); !errors.Is(err, ErrPrimitive) {
		t.Errorf("primitive Children() error = %v, want ErrPrimitive", err)
	}
	if _, err := Parse(append(dg1, 0x01)); !errors.Is(err, ErrTrailing) {
		t.Errorf("Parse with trailing byte error = %v, want ErrTrailing", err)
	}
}

func TestWalkDepth(t *testing.T) {
	b := Append(nil, 0x04, []byte{1})
	for i := 0; i < MaxDepth; i++ {
		b = Append(nil, 0x30, b)
	}
	if err := Walk(b, nil); !errors.Is(err, ErrTooDeep) {
		t.Errorf("Walk(%d levels) error = %v, want ErrTooDeep", MaxDepth+1, err)
	}
	ok := b[2:] // one level fewer (short form length of the outer wrapper)
	var n int
	if err := Walk(ok, func(int, Object) error { n++; return nil }); err != nil {
		t.Fatalf("Walk(%d levels) error = %v", MaxDepth, err)
	}
	if n != MaxDepth {
		t.Errorf("Walk visited %d objects, want %d", n, MaxDepth)
	}
}

func TestAppendRoundTrip(t *testing.T) {
	for _, size := range []int{0, 1, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000} {
		for _, tag := range []Tag{0x04, 0x5F1F, 0x5F8101} {
			v := bytes.Repeat([]byte{0xA5}, size)
			o, err := Parse(Append(nil, tag, v))
			if err != nil {
				t.Fatalf("Parse(Append(%s, %d bytes)): %v", tag, size, err)
			}
			if o.Tag != tag || !bytes.Equal(o.Value, v) {
				t.Errorf("round trip %s/%d = %s/%d", tag, size, o.Tag, len(o.Value))
			}
		}
	}
}

func FuzzWalk(f *testing.F) {
	f.Add(Append(nil, 0x61, Append(nil, 0x5F1F, []byte("P<JPN"))))
	f.Add([]byte{0x30, 0x80, 0x00, 0x00})
	f.Add([]byte{0x5F, 0x81, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = Walk(b, func(_ int, o Object) error {
			if len(o.Raw) < len(o.Value) {
				t.Fatalf("Raw shorter than Value")
			}
			// Re-encoding a decoded object must decode to the same value.
			r, err := Parse(Append(nil, o.Tag, o.Value))
			if err != nil || !bytes.Equal(r.Value, o.Value) {
				t.Fatalf("re-encode of %s failed: %v", o.Tag, err)
			}
			return nil
		})
	})
}
