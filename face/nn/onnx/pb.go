package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
)

// reader walks protobuf wire-format fields. It never panics: every length
// and varint is checked against the remaining bytes.
type reader struct {
	b   []byte
	err error
}

type field struct {
	num  int
	wire int
	u    uint64 // varint, fixed32, fixed64
	b    []byte // length-delimited
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: protobuf: "+format, append([]any{ErrFormat}, args...)...)
	}
}

func (r *reader) varint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

// next reads the next field; it returns false at the end or on error.
func (r *reader) next(f *field) bool {
	if r.err != nil || len(r.b) == 0 {
		return false
	}
	key := r.varint()
	if r.err != nil {
		return false
	}
	f.num, f.wire = int(key>>3), int(key&7)
	if f.num <= 0 || key>>3 > 1<<29 {
		r.fail("field number %d", key>>3)
		return false
	}
	switch f.wire {
	case 0:
		f.u = r.varint()
	case 1:
		if len(r.b) < 8 {
			r.fail("truncated fixed64")
			return false
		}
		f.u = binary.LittleEndian.Uint64(r.b)
		r.b = r.b[8:]
	case 2:
		n := r.varint()
		if r.err != nil {
			return false
		}
		if n > uint64(len(r.b)) {
			r.fail("length %d beyond %d remaining bytes", n, len(r.b))
			return false
		}
		f.b = r.b[:n]
		r.b = r.b[n:]
	case 5:
		if len(r.b) < 4 {
			r.fail("truncated fixed32")
			return false
		}
		f.u = uint64(binary.LittleEndian.Uint32(r.b))
		r.b = r.b[4:]
	default:
		r.fail("wire type %d", f.wire)
		return false
	}
	return r.err == nil
}

// ints appends a repeated int64 field, packed or not.
func (f *field) ints(dst []int64, r *reader) []int64 {
	switch f.wire {
	case 0:
		return append(dst, int64(f.u))
	case 2:
		sub := reader{b: f.b}
		for len(sub.b) > 0 && sub.err == nil {
			dst = append(dst, int64(sub.varint()))
		}
		if sub.err != nil {
			r.fail("packed ints")
		}
		return dst
	}
	r.fail("int field with wire type %d", f.wire)
	return dst
}

// floats appends a repeated float field, packed or not.
func (f *field) floats(dst []float32, r *reader) []float32 {
	switch f.wire {
	case 5:
		return append(dst, math.Float32frombits(uint32(f.u)))
	case 2:
		if len(f.b)%4 != 0 {
			r.fail("packed floats of %d bytes", len(f.b))
			return dst
		}
		for i := 0; i < len(f.b); i += 4 {
			dst = append(dst, math.Float32frombits(binary.LittleEndian.Uint32(f.b[i:])))
		}
		return dst
	}
	r.fail("float field with wire type %d", f.wire)
	return dst
}
