package icao

import (
	"bytes"
	"testing"

	"github.com/madoguchi/madoguchi/document/internal/tlv"
)

func TestExtractImage(t *testing.T) {
	jpeg := append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte{7}, 20)...)
	jp2 := append(append([]byte{}, jp2Magic...), bytes.Repeat([]byte{9}, 20)...)
	// An ISO/IEC 39794-5-like BER block: the image is one primitive value,
	// followed by more data that must not be included.
	ber := tlv.Append(nil, 0xA1, append(tlv.Append(nil, 0x80, []byte{1}), tlv.Append(nil, 0xA2, tlv.Append(tlv.Append(nil, 0x80, jp2), 0x81, []byte{0xAA, 0xBB}))...))
	tests := []struct {
		name   string
		in     []byte
		format string
		data   []byte
		ok     bool
	}{
		{"39794-5 BER", ber, "jpeg2000", jp2, true},
		{"bare JPEG after junk", append([]byte{0x01, 0x02}, jpeg...), "jpeg", jpeg, true},
		{"no image", []byte("FAX\x00nothing here"), "", nil, false},
		{"19794-5 truncated", []byte("FAC\x00010\x00"), "", nil, false},
	}
	for _, tt := range tests {
		format, data, err := extractImage(tt.in)
		if (err == nil) != tt.ok || format != tt.format || !bytes.Equal(data, tt.data) {
			t.Errorf("extractImage(%s) = %q, %d bytes, %v; want %q, %d bytes, ok=%v", tt.name, format, len(data), err, tt.format, len(tt.data), tt.ok)
		}
	}
}
