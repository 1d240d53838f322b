package credential

// The compact template: the face engine's L2-normalised embedding
// quantised to b-bit signed integers, packed,
//
//	compact = bits:u8 (4-8) packed[n*bits/8]
//	packed  = u[0] u[1] ... u[n-1], each bits wide, most significant bit
//	          first; u[i] = q[i] + L with q[i] in [-L, L], L = 2^(bits-1)-1
//	v[i]    = q[i], then L2-normalised again
//
// The dimension n is a multiple of 8, so the packing has no padding and
// one compact template has exactly one encoding. No scale travels with the
// values: matching is a cosine, which normalisation makes blind to a
// common factor. The encoder still chooses a scale per template, the
// clipping level that keeps the quantised vector's cosine to the original
// highest (at 4 bits the few largest values are better clipped than
// allowed to coarsen the step for all the others).
//
// The default encoding is 6 bits: a 512-D template is 385 bytes (int8 with
// a float32 scale, format 1, was 517), which brings the default
// credential's QR code to version 21-M. Its accuracy cost, a credential
// template against a live float32 one beside float32 against float32 on
// the same pairs in the same run, is measured on LFW and on East Asian sets
// (docs/credential.md, `face evaluate --quantised`): no error rate moves,
// and a threshold calibrated on float32 templates keeps its FMR. 4 bits
// (version 18-M) moves FNMR at FMR 1e-4 and lowers the scores enough to
// need its own calibration, so it is not the default.

import (
	"fmt"
	"math"

	"github.com/madoguchi/madoguchi/face"
)

// Encoding is a compact template's bits per value (its first byte).
type Encoding uint8

// The encodings Compact writes and Expand reads.
const (
	Int4 Encoding = 4
	Int5 Encoding = 5
	Int6 Encoding = 6
	Int8 Encoding = 8
	// DefaultEncoding is what issuance uses.
	DefaultEncoding = Int6
)

// Encodings lists every encoding, for evaluations.
var Encodings = []Encoding{Int8, Int6, Int5, Int4}

func (e Encoding) String() string { return fmt.Sprintf("int%d", uint8(e)) }

func (e Encoding) valid() bool { return e >= 4 && e <= 8 && e != 7 }

// level is L: values are -L..L.
func (e Encoding) level() int { return 1<<(e-1) - 1 }

// MaxTemplateDim bounds a compact template's dimension.
const MaxTemplateDim = 1024

// Compact quantises t's values with DefaultEncoding.
func Compact(t face.Template) ([]byte, error) { return CompactAs(t, DefaultEncoding) }

// CompactAs quantises t's values with enc.
func CompactAs(t face.Template, enc Encoding) ([]byte, error) {
	v := t.Values()
	if len(v) == 0 || len(v) > MaxTemplateDim || len(v)%8 != 0 {
		return nil, fmt.Errorf("credential: template of %d values (want a multiple of 8, at most %d)", len(v), MaxTemplateDim)
	}
	if !enc.valid() {
		return nil, fmt.Errorf("credential: no template encoding %d", enc)
	}
	var m float64
	for _, x := range v {
		m = max(m, math.Abs(float64(x)))
	}
	if !(m > 0) || math.IsInf(m, 0) {
		return nil, fmt.Errorf("credential: zero template")
	}
	L := enc.level()
	quant := func(clip float64, q []int) {
		for i, x := range v {
			q[i] = int(math.Round(max(-1, min(1, float64(x)/clip)) * float64(L)))
		}
	}
	// The clipping level: the candidate whose quantised vector has the
	// highest cosine to v (v is unit length, so that is q·v/|q|).
	best, bestCos := m, -2.0
	q := make([]int, len(v))
	for j := 32; j >= 8; j-- {
		clip := m * float64(j) / 32
		quant(clip, q)
		var dot, qq float64
		for i, x := range v {
			dot += float64(q[i]) * float64(x)
			qq += float64(q[i] * q[i])
		}
		if qq > 0 && dot/math.Sqrt(qq) > bestCos {
			best, bestCos = clip, dot/math.Sqrt(qq)
		}
	}
	quant(best, q)
	out := make([]byte, 1, 1+len(v)*int(enc)/8)
	out[0] = byte(enc)
	var acc uint32
	var nacc uint
	for _, x := range q {
		acc = acc<<enc | uint32(x+L)
		nacc += uint(enc)
		for nacc >= 8 {
			nacc -= 8
			out = append(out, byte(acc>>nacc))
		}
	}
	return out, nil
}

// Expand turns a compact template back into a face.Template of model.
func Expand(model string, b []byte) (face.Template, error) {
	if len(b) < 2 {
		return face.Template{}, fmt.Errorf("%w: compact template", ErrMalformed)
	}
	enc := Encoding(b[0])
	if !enc.valid() {
		return face.Template{}, fmt.Errorf("%w: template encoding %d", ErrMalformed, b[0])
	}
	bits := (len(b) - 1) * 8
	n := bits / int(enc)
	if bits%int(enc) != 0 || n%8 != 0 || n > MaxTemplateDim {
		return face.Template{}, fmt.Errorf("%w: compact template of %d bytes at %d bits", ErrMalformed, len(b)-1, enc)
	}
	L := enc.level()
	v := make([]float32, 0, n)
	var acc uint32
	var nacc uint
	for _, c := range b[1:] {
		acc = acc<<8 | uint32(c)
		nacc += 8
		for nacc >= uint(enc) {
			nacc -= uint(enc)
			u := int(acc>>nacc) & (1<<enc - 1)
			if u > 2*L {
				return face.Template{}, fmt.Errorf("%w: template value out of range", ErrMalformed)
			}
			v = append(v, float32(u-L))
		}
	}
	t, err := face.NewTemplate(model, v)
	if err != nil {
		return face.Template{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return t, nil
}
