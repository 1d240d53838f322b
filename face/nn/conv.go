package nn

import (
	"fmt"
	"math"
	"sync"
)

// Padding is a TensorFlow padding rule.
type Padding int

const (
	// Valid uses no padding: out = floor((in-k)/stride)+1.
	Valid Padding = iota
	// Same pads so that out = ceil(in/stride), the extra cell after.
	Same
)

// Activation is applied by a kernel to its output.
type Activation int

const (
	// Linear applies nothing.
	Linear Activation = iota
	// ReLU is max(x, 0).
	ReLU
	// ReLU6 is min(max(x, 0), 6).
	ReLU6
	// Leaky01 is face-api's leaky ReLU, relu(x - 0.1x) + 0.1x.
	Leaky01
)

// window returns the output size and the padding before for one spatial axis.
func window(in, k, s int, p Padding) (out, before int, err error) {
	if k <= 0 || s <= 0 || in <= 0 {
		return 0, 0, fmt.Errorf("%w: window in=%d k=%d stride=%d", ErrShape, in, k, s)
	}
	if p == Same {
		out = (in + s - 1) / s
		total := max((out-1)*s+k-in, 0)
		return out, total / 2, nil
	}
	if in < k {
		return 0, 0, fmt.Errorf("%w: VALID window %d larger than input %d", ErrShape, k, in)
	}
	return (in-k)/s + 1, 0, nil
}

func activate(d []float32, a Activation) {
	switch a {
	case ReLU:
		for i := clampAsm(d, 0, float32(math.Inf(1))); i < len(d); i++ {
			d[i] = max(d[i], 0)
		}
	case ReLU6:
		for i := clampAsm(d, 0, 6); i < len(d); i++ {
			d[i] = min(max(d[i], 0), 6)
		}
	case Leaky01:
		for i, v := range d {
			t := v * 0.1
			d[i] = max(v-t, 0) + t
		}
	}
}

// Conv2D is a prepared 2-D convolution (cross-correlation, as in TensorFlow)
// with bias and a fused activation. Its weights are immutable once built.
type Conv2D struct {
	KH, KW, Cin, Cout int
	SH, SW            int
	Pad               Padding
	Act               Activation
	w                 []float32 // [KH*KW*Cin][Cout], HWIO flattened
	bias              []float32 // [Cout]
	ones              []float32 // [Cout] of 1, for the vector bias add
}

// NewConv2D prepares a convolution from an HWIO filter [kh, kw, cin, cout]
// and an optional bias of length cout. The filter data is copied.
func NewConv2D(filter *Tensor, bias []float32, strideH, strideW int, pad Padding, act Activation) (*Conv2D, error) {
	if len(filter.Shape) != 4 {
		return nil, fmt.Errorf("%w: conv filter shape %v, want [kh kw cin cout]", ErrShape, filter.Shape)
	}
	kh, kw, cin, cout := filter.Shape[0], filter.Shape[1], filter.Shape[2], filter.Shape[3]
	if kh <= 0 || kw <= 0 || cin <= 0 || cout <= 0 || strideH <= 0 || strideW <= 0 {
		return nil, fmt.Errorf("%w: conv filter %v stride %d,%d", ErrShape, filter.Shape, strideH, strideW)
	}
	b := make([]float32, cout)
	if bias != nil {
		if len(bias) != cout {
			return nil, fmt.Errorf("%w: conv bias has %d values for %d channels", ErrShape, len(bias), cout)
		}
		copy(b, bias)
	}
	ones := make([]float32, cout)
	for i := range ones {
		ones[i] = 1
	}
	return &Conv2D{KH: kh, KW: kw, Cin: cin, Cout: cout, SH: strideH, SW: strideW, Pad: pad, Act: act,
		w: append([]float32(nil), filter.Data...), bias: b, ones: ones}, nil
}

// FoldAffine folds a following per-channel affine y = x*mul + add into the
// convolution. It is for model construction only, before first use.
func (c *Conv2D) FoldAffine(mul, add []float32) error {
	if (mul != nil && len(mul) != c.Cout) || (add != nil && len(add) != c.Cout) {
		return fmt.Errorf("%w: affine of %d/%d values for %d channels", ErrShape, len(mul), len(add), c.Cout)
	}
	if mul != nil {
		for i := range c.w {
			c.w[i] *= mul[i%c.Cout]
		}
		for o := range c.bias {
			c.bias[o] *= mul[o]
		}
	}
	if add != nil {
		for o := range c.bias {
			c.bias[o] += add[o]
		}
	}
	return nil
}

// OutShape returns the output height and width for an input of h x w.
func (c *Conv2D) OutShape(h, w int) (int, int, error) {
	oh, _, err := window(h, c.KH, c.SH, c.Pad)
	if err != nil {
		return 0, 0, err
	}
	ow, _, err := window(w, c.KW, c.SW, c.Pad)
	return oh, ow, err
}

var scratchPool = sync.Pool{New: func() any { s := make([]float32, 0, 1<<16); return &s }}

func getScratch(n int) *[]float32 {
	p := scratchPool.Get().(*[]float32)
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	*p = (*p)[:n]
	return p
}

// Forward applies the convolution to an NHWC (or HWC) tensor.
func (c *Conv2D) Forward(x *Tensor) (*Tensor, error) { return c.ForwardAdd(x, nil) }

// ForwardAdd computes act(conv(x) + bias + res): a residual connection fused
// into the convolution. res must have the output's size (nil for none).
func (c *Conv2D) ForwardAdd(x, res *Tensor) (*Tensor, error) {
	n, h, w, cin, err := nhwc(x)
	if err != nil {
		return nil, err
	}
	if cin != c.Cin {
		return nil, fmt.Errorf("%w: conv input has %d channels, filter wants %d", ErrShape, cin, c.Cin)
	}
	oh, pt, err := window(h, c.KH, c.SH, c.Pad)
	if err != nil {
		return nil, err
	}
	ow, pl, err := window(w, c.KW, c.SW, c.Pad)
	if err != nil {
		return nil, err
	}
	out := NewTensor(n, oh, ow, c.Cout)
	if res != nil && len(res.Data) != len(out.Data) {
		return nil, fmt.Errorf("%w: residual %v for conv output %v", ErrShape, res.Shape, out.Shape)
	}
	K := c.KH * c.KW * c.Cin
	M := oh * ow
	direct := c.KH == 1 && c.KW == 1 && c.SH == 1 && c.SW == 1
	// rows per block: keep the im2col block near 256 KB.
	rows := max(16, (64<<10)/K)
	for b := 0; b < n; b++ {
		xb := x.Data[b*h*w*cin : (b+1)*h*w*cin]
		ob := out.Data[b*M*c.Cout : (b+1)*M*c.Cout]
		parallelFor(M, rows, K*c.Cout, func(m0, m1 int) {
			cb := ob[m0*c.Cout : m1*c.Cout]
			if res != nil {
				rb := res.Data[b*M*c.Cout+m0*c.Cout : b*M*c.Cout+m1*c.Cout]
				copy(cb, rb)
				// cb[row] += bias: a depthwise row with a fixed input (xstep 0) and unit weights
				if !dwRowAsm(m1-m0, c.Cout, cb, c.bias, 0, c.ones) {
					for i := 0; i < len(cb); i += c.Cout {
						dst := cb[i : i+c.Cout]
						for j, bv := range c.bias {
							dst[j] += bv
						}
					}
				}
			} else {
				for i := 0; i < m1-m0; i++ {
					copy(cb[i*c.Cout:(i+1)*c.Cout], c.bias)
				}
			}
			if direct {
				gemm(m1-m0, c.Cout, K, xb[m0*K:m1*K], c.w, cb)
			} else {
				sp := getScratch((m1 - m0) * K)
				a := *sp
				c.im2col(a, xb, h, w, ow, pt, pl, m0, m1)
				gemm(m1-m0, c.Cout, K, a, c.w, cb)
				scratchPool.Put(sp)
			}
			activate(cb, c.Act)
		})
	}
	return out, nil
}

// im2col writes rows m0..m1 (output pixels) of the patch matrix into a.
func (c *Conv2D) im2col(a, x []float32, h, w, ow, pt, pl, m0, m1 int) {
	cin := c.Cin
	i := 0
	for m := m0; m < m1; m++ {
		oy, ox := m/ow, m%ow
		for ky := 0; ky < c.KH; ky++ {
			iy := oy*c.SH - pt + ky
			if iy < 0 || iy >= h {
				clear(a[i : i+c.KW*cin])
				i += c.KW * cin
				continue
			}
			row := x[iy*w*cin:]
			ix0 := ox*c.SW - pl
			if ix0 >= 0 && ix0+c.KW <= w {
				i += copy(a[i:i+c.KW*cin], row[ix0*cin:(ix0+c.KW)*cin])
				continue
			}
			for kx := 0; kx < c.KW; kx++ {
				ix := ix0 + kx
				if ix < 0 || ix >= w {
					clear(a[i : i+cin])
				} else {
					copy(a[i:i+cin], row[ix*cin:(ix+1)*cin])
				}
				i += cin
			}
		}
	}
}

// Depthwise is a prepared depthwise convolution (channel multiplier 1) with
// an optional bias and a fused activation.
type Depthwise struct {
	KH, KW, C, SH, SW int
	Pad               Padding
	Act               Activation
	w                 []float32 // [KH*KW][C]
	bias              []float32
	ones              []float32 // [C] of 1, for the vector bias fill
}

// NewDepthwise prepares a depthwise convolution from a filter
// [kh, kw, c, 1] and an optional bias of length c.
func NewDepthwise(filter *Tensor, bias []float32, strideH, strideW int, pad Padding, act Activation) (*Depthwise, error) {
	if len(filter.Shape) != 4 || filter.Shape[3] != 1 {
		return nil, fmt.Errorf("%w: depthwise filter shape %v, want [kh kw c 1]", ErrShape, filter.Shape)
	}
	kh, kw, ch := filter.Shape[0], filter.Shape[1], filter.Shape[2]
	if kh <= 0 || kw <= 0 || ch <= 0 || strideH <= 0 || strideW <= 0 {
		return nil, fmt.Errorf("%w: depthwise filter %v stride %d,%d", ErrShape, filter.Shape, strideH, strideW)
	}
	b := make([]float32, ch)
	if bias != nil {
		if len(bias) != ch {
			return nil, fmt.Errorf("%w: depthwise bias has %d values for %d channels", ErrShape, len(bias), ch)
		}
		copy(b, bias)
	}
	ones := make([]float32, ch)
	for i := range ones {
		ones[i] = 1
	}
	return &Depthwise{KH: kh, KW: kw, C: ch, SH: strideH, SW: strideW, Pad: pad, Act: act,
		w: append([]float32(nil), filter.Data...), bias: b, ones: ones}, nil
}

// FoldAffine folds a following per-channel affine y = x*mul + add, at model construction only.
func (d *Depthwise) FoldAffine(mul, add []float32) error {
	if (mul != nil && len(mul) != d.C) || (add != nil && len(add) != d.C) {
		return fmt.Errorf("%w: affine of %d/%d values for %d channels", ErrShape, len(mul), len(add), d.C)
	}
	if mul != nil {
		for i := range d.w {
			d.w[i] *= mul[i%d.C]
		}
		for o := range d.bias {
			d.bias[o] *= mul[o]
		}
	}
	if add != nil {
		for o := range d.bias {
			d.bias[o] += add[o]
		}
	}
	return nil
}

// Forward applies the depthwise convolution to an NHWC tensor.
func (d *Depthwise) Forward(x *Tensor) (*Tensor, error) {
	n, h, w, ch, err := nhwc(x)
	if err != nil {
		return nil, err
	}
	if ch != d.C {
		return nil, fmt.Errorf("%w: depthwise input has %d channels, filter wants %d", ErrShape, ch, d.C)
	}
	oh, pt, err := window(h, d.KH, d.SH, d.Pad)
	if err != nil {
		return nil, err
	}
	ow, pl, err := window(w, d.KW, d.SW, d.Pad)
	if err != nil {
		return nil, err
	}
	out := NewTensor(n, oh, ow, ch)
	for b := 0; b < n; b++ {
		xb := x.Data[b*h*w*ch : (b+1)*h*w*ch]
		ob := out.Data[b*oh*ow*ch : (b+1)*oh*ow*ch]
		parallelFor(oh, 4, ow*ch*d.KH*d.KW, func(y0, y1 int) {
			for oy := y0; oy < y1; oy++ {
				orow := ob[oy*ow*ch : (oy+1)*ow*ch]
				// orow is freshly zeroed (NewTensor): add the bias with the row kernel
				if !dwRowAsm(ow, ch, orow, d.bias, 0, d.ones) {
					for ox := 0; ox < ow; ox++ {
						copy(orow[ox*ch:(ox+1)*ch], d.bias)
					}
				}
				for ky := 0; ky < d.KH; ky++ {
					iy := oy*d.SH - pt + ky
					if iy < 0 || iy >= h {
						continue
					}
					xrow := xb[iy*w*ch : (iy+1)*w*ch]
					for kx := 0; kx < d.KW; kx++ {
						// valid ox: 0 <= ox*SW - pl + kx < w
						lo := max(0, floorDiv(pl-kx+d.SW-1, d.SW))
						hi := min(ow, floorDiv(w-1+pl-kx, d.SW)+1)
						if lo >= hi {
							continue
						}
						wk := d.w[(ky*d.KW+kx)*ch : (ky*d.KW+kx+1)*ch]
						ix0 := lo*d.SW - pl + kx
						if dwRowAsm(hi-lo, ch, orow[lo*ch:hi*ch], xrow[ix0*ch:], d.SW*ch, wk) {
							continue
						}
						for ox := lo; ox < hi; ox++ {
							ix := ox*d.SW - pl + kx
							mulAdd(orow[ox*ch:(ox+1)*ch], xrow[ix*ch:(ix+1)*ch], wk)
						}
					}
				}
				activate(orow, d.Act)
			}
		})
	}
	return out, nil
}

// floorDiv is a/b rounded towards negative infinity (b > 0).
func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
