// Package tlv decodes BER-TLV as used by smart-card files: ISO/IEC 7816-4
// data objects, the ICAO 9303 LDS, and the Japanese driver's licence, My
// Number card and residence card files.
//
// Invariants: only definite lengths are accepted (indefinite lengths, 0x80,
// do not occur on these chips); a length never exceeds the bytes that remain;
// tags are at most 3 bytes; nesting is bounded by MaxDepth. Values alias the
// input slice: callers that keep them past the input's lifetime must copy.
package tlv

import (
	"errors"
	"fmt"
)

// MaxDepth bounds the nesting of constructed objects Parse will follow.
const MaxDepth = 16

// Errors returned by the decoder. They are wrapped with the offset at which
// decoding failed; test with errors.Is.
var (
	ErrTruncated  = errors.New("tlv: truncated")
	ErrLength     = errors.New("tlv: invalid length")
	ErrTag        = errors.New("tlv: invalid tag")
	ErrTooDeep    = errors.New("tlv: nesting too deep")
	ErrTrailing   = errors.New("tlv: trailing data")
	ErrNotFound   = errors.New("tlv: tag not found")
	ErrPrimitive  = errors.New("tlv: object is primitive")
	ErrIndefinite = errors.New("tlv: indefinite length")
)

// Tag is a BER tag with its class and constructed bits, as written on the
// wire, e.g. 0x61 (DG1), 0x5F1F (MRZ), 0x7F61.
type Tag uint32

// Constructed reports whether the tag's first byte has the constructed bit.
func (t Tag) Constructed() bool {
	b := t
	for b > 0xFF {
		b >>= 8
	}
	return b&0x20 != 0
}

func (t Tag) String() string { return fmt.Sprintf("%02X", uint32(t)) }

// Object is one decoded data object.
type Object struct {
	Tag   Tag
	Value []byte // the value bytes, aliasing the input
	Raw   []byte // tag, length and value as they appeared in the input
}

// Children decodes the value of a constructed object as a sequence of
// objects.
func (o Object) Children() ([]Object, error) {
	if !o.Tag.Constructed() {
		return nil, fmt.Errorf("%w: tag %s", ErrPrimitive, o.Tag)
	}
	return ParseAll(o.Value)
}

// Find returns the first direct child with tag t.
func (o Object) Find(t Tag) (Object, error) {
	cs, err := o.Children()
	if err != nil {
		return Object{}, err
	}
	for _, c := range cs {
		if c.Tag == t {
			return c, nil
		}
	}
	return Object{}, fmt.Errorf("%w: %s in %s", ErrNotFound, t, o.Tag)
}

// Next decodes the first object in b and returns it and the bytes after it.
func Next(b []byte) (Object, []byte, error) {
	tag, n, err := readTag(b)
	if err != nil {
		return Object{}, nil, err
	}
	l, m, err := readLength(b[n:])
	if err != nil {
		return Object{}, nil, fmt.Errorf("tag %s: %w", tag, err)
	}
	start := n + m
	if uint64(l) > uint64(len(b)-start) {
		return Object{}, nil, fmt.Errorf("%w: tag %s wants %d bytes, %d remain", ErrTruncated, tag, l, len(b)-start)
	}
	end := start + int(l)
	return Object{Tag: tag, Value: b[start:end:end], Raw: b[:end:end]}, b[end:], nil
}

// Parse decodes exactly one object filling b.
func Parse(b []byte) (Object, error) {
	o, rest, err := Next(b)
	if err != nil {
		return Object{}, err
	}
	if len(rest) != 0 {
		return Object{}, fmt.Errorf("%w: %d bytes after tag %s", ErrTrailing, len(rest), o.Tag)
	}
	return o, nil
}

// ParseAll decodes a concatenation of objects filling b.
func ParseAll(b []byte) ([]Object, error) {
	var out []Object
	for len(b) > 0 {
		o, rest, err := Next(b)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
		b = rest
	}
	return out, nil
}

// Walk decodes b fully, descending into constructed objects up to MaxDepth,
// and calls fn for every object in document order with its depth (0 for
// top-level objects). It validates the whole structure before returning nil.
func Walk(b []byte, fn func(depth int, o Object) error) error {
	return walk(b, 0, fn)
}

func walk(b []byte, depth int, fn func(int, Object) error) error {
	if depth >= MaxDepth {
		return ErrTooDeep
	}
	for len(b) > 0 {
		o, rest, err := Next(b)
		if err != nil {
			return err
		}
		if fn != nil {
			if err := fn(depth, o); err != nil {
				return err
			}
		}
		if o.Tag.Constructed() {
			if err := walk(o.Value, depth+1, fn); err != nil {
				return err
			}
		}
		b = rest
	}
	return nil
}

func readTag(b []byte) (Tag, int, error) {
	if len(b) == 0 {
		return 0, 0, fmt.Errorf("%w: no tag", ErrTruncated)
	}
	// 0x00 is padding between objects on ISO 7816 cards, never a tag. 0xFF
	// is padding too when it stands alone, but as the first byte of a
	// multi-byte private constructed tag it is valid BER (the My Number
	// card's FF20, FF30, FF40), so it is decoded as a tag.
	if b[0] == 0x00 {
		return 0, 0, fmt.Errorf("%w: %02X", ErrTag, b[0])
	}
	t := Tag(b[0])
	if b[0]&0x1F != 0x1F {
		return t, 1, nil
	}
	for i := 1; ; i++ {
		if i >= len(b) {
			return 0, 0, fmt.Errorf("%w: tag", ErrTruncated)
		}
		if i > 2 {
			return 0, 0, fmt.Errorf("%w: longer than 3 bytes", ErrTag)
		}
		t = t<<8 | Tag(b[i])
		if b[i]&0x80 == 0 {
			return t, i + 1, nil
		}
	}
}

func readLength(b []byte) (uint32, int, error) {
	if len(b) == 0 {
		return 0, 0, fmt.Errorf("%w: no length", ErrTruncated)
	}
	first := b[0]
	if first < 0x80 {
		return uint32(first), 1, nil
	}
	if first == 0x80 {
		return 0, 0, ErrIndefinite
	}
	n := int(first & 0x7F)
	if n > 4 {
		return 0, 0, fmt.Errorf("%w: %d length bytes", ErrLength, n)
	}
	if len(b) < 1+n {
		return 0, 0, fmt.Errorf("%w: length", ErrTruncated)
	}
	var l uint32
	for _, c := range b[1 : 1+n] {
		l = l<<8 | uint32(c)
	}
	return l, 1 + n, nil
}

// Append appends the encoding of tag t with value v to dst, using the
// shortest definite length. It is used to build test files and to recompute
// encodings; it panics if t is zero (a programming error).
func Append(dst []byte, t Tag, v []byte) []byte {
	if t == 0 {
		panic("tlv: zero tag")
	}
	switch {
	case t > 0xFFFF:
		dst = append(dst, byte(t>>16), byte(t>>8), byte(t))
	case t > 0xFF:
		dst = append(dst, byte(t>>8), byte(t))
	default:
		dst = append(dst, byte(t))
	}
	l := len(v)
	switch {
	case l < 0x80:
		dst = append(dst, byte(l))
	case l <= 0xFF:
		dst = append(dst, 0x81, byte(l))
	case l <= 0xFFFF:
		dst = append(dst, 0x82, byte(l>>8), byte(l))
	case l <= 0xFFFFFF:
		dst = append(dst, 0x83, byte(l>>16), byte(l>>8), byte(l))
	default:
		dst = append(dst, 0x84, byte(l>>24), byte(l>>16), byte(l>>8), byte(l))
	}
	return append(dst, v...)
}
