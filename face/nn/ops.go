package nn

import (
	"fmt"
	"math"
)

// MaxPool applies k x k max pooling with the given stride. Padded cells (SAME)
// are ignored, as in TensorFlow.
func MaxPool(x *Tensor, kh, kw, sh, sw int, pad Padding) (*Tensor, error) {
	return pool(x, kh, kw, sh, sw, pad, true)
}

// AvgPool applies k x k average pooling; with SAME padding only the cells
// inside the input are counted, as in TensorFlow.
func AvgPool(x *Tensor, kh, kw, sh, sw int, pad Padding) (*Tensor, error) {
	return pool(x, kh, kw, sh, sw, pad, false)
}

func pool(x *Tensor, kh, kw, sh, sw int, pad Padding, isMax bool) (*Tensor, error) {
	n, h, w, ch, err := nhwc(x)
	if err != nil {
		return nil, err
	}
	oh, pt, err := window(h, kh, sh, pad)
	if err != nil {
		return nil, err
	}
	ow, pl, err := window(w, kw, sw, pad)
	if err != nil {
		return nil, err
	}
	out := NewTensor(n, oh, ow, ch)
	for b := 0; b < n; b++ {
		xb := x.Data[b*h*w*ch:]
		ob := out.Data[b*oh*ow*ch:]
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				o := ob[(oy*ow+ox)*ch : (oy*ow+ox+1)*ch]
				count := 0
				for ky := 0; ky < kh; ky++ {
					iy := oy*sh - pt + ky
					if iy < 0 || iy >= h {
						continue
					}
					for kx := 0; kx < kw; kx++ {
						ix := ox*sw - pl + kx
						if ix < 0 || ix >= w {
							continue
						}
						in := xb[(iy*w+ix)*ch : (iy*w+ix+1)*ch]
						switch {
						case count == 0:
							copy(o, in)
						case isMax:
							for c := maxAsm(o, in); c < len(o); c++ {
								o[c] = max(o[c], in[c])
							}
						default:
							for c, v := range in {
								o[c] += v
							}
						}
						count++
					}
				}
				if !isMax && count > 1 {
					inv := 1 / float32(count)
					for c := range o {
						o[c] *= inv
					}
				}
			}
		}
	}
	return out, nil
}

// ResizeBilinear resizes an NHWC tensor to oh x ow with TensorFlow's legacy
// bilinear rule (align_corners=false, half_pixel_centers=false).
func ResizeBilinear(x *Tensor, oh, ow int) (*Tensor, error) {
	n, h, w, ch, err := nhwc(x)
	if err != nil {
		return nil, err
	}
	if oh <= 0 || ow <= 0 || oh > 1<<14 || ow > 1<<14 {
		return nil, fmt.Errorf("%w: resize to %dx%d", ErrShape, oh, ow)
	}
	if _, err := numElements([]int{n, oh, ow, ch}); err != nil {
		return nil, err
	}
	out := NewTensor(n, oh, ow, ch)
	sy := float32(h) / float32(oh)
	sx := float32(w) / float32(ow)
	type tap struct {
		i0, i1 int
		f      float32
	}
	xs := make([]tap, ow)
	for j := range xs {
		src := float32(j) * sx
		x0 := int(src) // src >= 0, so truncation is floor
		xs[j] = tap{x0, min(x0+1, w-1), src - float32(x0)}
	}
	for b := 0; b < n; b++ {
		xb := x.Data[b*h*w*ch:]
		ob := out.Data[b*oh*ow*ch:]
		for i := 0; i < oh; i++ {
			src := float32(i) * sy
			y0 := int(src)
			y1 := min(y0+1, h-1)
			fy := src - float32(y0)
			r0 := xb[y0*w*ch:]
			r1 := xb[y1*w*ch:]
			o := ob[i*ow*ch:]
			for j, t := range xs {
				for c := 0; c < ch; c++ {
					tl, tr := r0[t.i0*ch+c], r0[t.i1*ch+c]
					bl, br := r1[t.i0*ch+c], r1[t.i1*ch+c]
					top := tl + (tr-tl)*t.f
					bot := bl + (br-bl)*t.f
					o[j*ch+c] = top + (bot-top)*fy
				}
			}
		}
	}
	return out, nil
}

// CropAndResize crops the normalised box (y1, x1, y2, x2) of batch item 0
// and resizes it bilinearly to ch x cw, as tf.image.cropAndResize with
// extrapolation value 0: sample points outside the image give 0.
func CropAndResize(x *Tensor, box [4]float32, oh, ow int) (*Tensor, error) {
	_, h, w, c, err := nhwc(x)
	if err != nil {
		return nil, err
	}
	if oh <= 0 || ow <= 0 || oh > 1<<14 || ow > 1<<14 {
		return nil, fmt.Errorf("%w: crop to %dx%d", ErrShape, oh, ow)
	}
	if _, err := numElements([]int{oh, ow, c}); err != nil {
		return nil, err
	}
	for _, v := range box {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("%w: crop box %v", ErrShape, box)
		}
	}
	out := NewTensor(1, oh, ow, c)
	y1, x1, y2, x2 := box[0], box[1], box[2], box[3]
	var hs, ws float32
	if oh > 1 {
		hs = (y2 - y1) * float32(h-1) / float32(oh-1)
	}
	if ow > 1 {
		ws = (x2 - x1) * float32(w-1) / float32(ow-1)
	}
	for y := 0; y < oh; y++ {
		var iny float32
		if oh > 1 {
			iny = y1*float32(h-1) + float32(y)*hs
		} else {
			iny = 0.5 * (y1 + y2) * float32(h-1)
		}
		if iny < 0 || iny > float32(h-1) {
			continue
		}
		top := int(math.Floor(float64(iny)))
		bot := int(math.Ceil(float64(iny)))
		fy := iny - float32(top)
		for xo := 0; xo < ow; xo++ {
			var inx float32
			if ow > 1 {
				inx = x1*float32(w-1) + float32(xo)*ws
			} else {
				inx = 0.5 * (x1 + x2) * float32(w-1)
			}
			if inx < 0 || inx > float32(w-1) {
				continue
			}
			l := int(math.Floor(float64(inx)))
			r := int(math.Ceil(float64(inx)))
			fx := inx - float32(l)
			o := out.Data[(y*ow+xo)*c:]
			for k := 0; k < c; k++ {
				tl, tr := x.Data[(top*w+l)*c+k], x.Data[(top*w+r)*c+k]
				bl, br := x.Data[(bot*w+l)*c+k], x.Data[(bot*w+r)*c+k]
				t := tl + (tr-tl)*fx
				b := bl + (br-bl)*fx
				o[k] = t + (b-t)*fy
			}
		}
	}
	return out, nil
}

// AddInPlace adds b to a element-wise (same sizes).
func AddInPlace(a, b *Tensor) error {
	if len(a.Data) != len(b.Data) {
		return fmt.Errorf("%w: add %v and %v", ErrShape, a.Shape, b.Shape)
	}
	bd := b.Data[:len(a.Data)]
	for i := range a.Data {
		a.Data[i] += bd[i]
	}
	return nil
}

// ReLUInPlace applies max(x,0).
func ReLUInPlace(a *Tensor) { activate(a.Data, ReLU) }

// MeanHW averages an NHWC tensor over H and W, giving [N, C].
func MeanHW(x *Tensor) (*Tensor, error) {
	n, h, w, c, err := nhwc(x)
	if err != nil {
		return nil, err
	}
	out := NewTensor(n, c)
	for b := 0; b < n; b++ {
		o := out.Data[b*c : (b+1)*c]
		acc := make([]float64, c)
		for p := 0; p < h*w; p++ {
			for k, v := range x.Data[(b*h*w+p)*c : (b*h*w+p+1)*c] {
				acc[k] += float64(v)
			}
		}
		for k := range o {
			o[k] = float32(acc[k] / float64(h*w))
		}
	}
	return out, nil
}

// MatMul computes [m,k] x [k,n] (+ bias[n] when not nil).
func MatMul(a, b *Tensor, bias []float32) (*Tensor, error) {
	if len(a.Shape) != 2 || len(b.Shape) != 2 || a.Shape[1] != b.Shape[0] {
		return nil, fmt.Errorf("%w: matmul %v x %v", ErrShape, a.Shape, b.Shape)
	}
	m, k, n := a.Shape[0], a.Shape[1], b.Shape[1]
	if bias != nil && len(bias) != n {
		return nil, fmt.Errorf("%w: matmul bias %d for %d outputs", ErrShape, len(bias), n)
	}
	out := NewTensor(m, n)
	if bias != nil {
		for i := 0; i < m; i++ {
			copy(out.Data[i*n:(i+1)*n], bias)
		}
	}
	gemm(m, n, k, a.Data, b.Data, out.Data)
	return out, nil
}

// Sigmoid returns 1/(1+exp(-x)).
func Sigmoid(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }

// SoftmaxInPlace applies softmax over the last dimension.
func SoftmaxInPlace(x *Tensor) {
	if len(x.Shape) == 0 {
		for i := range x.Data {
			x.Data[i] = 1
		}
		return
	}
	c := x.Shape[len(x.Shape)-1]
	if c == 0 {
		return
	}
	for i := 0; i+c <= len(x.Data); i += c {
		row := x.Data[i : i+c]
		mx := row[0]
		for _, v := range row {
			mx = max(mx, v)
		}
		var s float64
		for j, v := range row {
			e := math.Exp(float64(v - mx))
			row[j] = float32(e)
			s += e
		}
		for j := range row {
			row[j] = float32(float64(row[j]) / s)
		}
	}
}

// PadChannels appends extra zero channels (NHWC).
func PadChannels(x *Tensor, before, after int) (*Tensor, error) {
	n, h, w, c, err := nhwc(x)
	if err != nil {
		return nil, err
	}
	if before < 0 || after < 0 {
		return nil, fmt.Errorf("%w: channel pad %d,%d", ErrShape, before, after)
	}
	nc := c + before + after
	if before > 1<<16 || after > 1<<16 {
		return nil, fmt.Errorf("%w: channel pad %d,%d", ErrShape, before, after)
	}
	if _, err := numElements([]int{n, h, w, nc}); err != nil {
		return nil, err
	}
	out := NewTensor(n, h, w, nc)
	for p := 0; p < n*h*w; p++ {
		copy(out.Data[p*nc+before:p*nc+before+c], x.Data[p*c:(p+1)*c])
	}
	return out, nil
}

// PadSpatial pads H and W with zeros.
func PadSpatial(x *Tensor, top, bottom, left, right int) (*Tensor, error) {
	n, h, w, c, err := nhwc(x)
	if err != nil {
		return nil, err
	}
	if top < 0 || bottom < 0 || left < 0 || right < 0 || top+bottom > 1<<14 || left+right > 1<<14 {
		return nil, fmt.Errorf("%w: spatial pad", ErrShape)
	}
	oh, ow := h+top+bottom, w+left+right
	if _, err := numElements([]int{n, oh, ow, c}); err != nil {
		return nil, err
	}
	out := NewTensor(n, oh, ow, c)
	for b := 0; b < n; b++ {
		for y := 0; y < h; y++ {
			src := x.Data[((b*h+y)*w)*c : ((b*h+y)*w+w)*c]
			copy(out.Data[((b*oh+y+top)*ow+left)*c:], src)
		}
	}
	return out, nil
}

// Transpose permutes the axes of x: out.Shape[i] = x.Shape[perm[i]].
func Transpose(x *Tensor, perm []int) (*Tensor, error) {
	r := len(x.Shape)
	if len(perm) != r || r > 8 {
		return nil, fmt.Errorf("%w: transpose %v of %v", ErrShape, perm, x.Shape)
	}
	if n, err := numElements(x.Shape); err != nil || n != len(x.Data) {
		return nil, fmt.Errorf("%w: tensor shape %v does not match its %d values", ErrShape, x.Shape, len(x.Data))
	}
	seen := make([]bool, r)
	shape := make([]int, r)
	for i, p := range perm {
		if p < 0 || p >= r || seen[p] {
			return nil, fmt.Errorf("%w: transpose permutation %v", ErrShape, perm)
		}
		seen[p] = true
		shape[i] = x.Shape[p]
	}
	// strides of x, then the stride of each output axis in x
	st := make([]int, r)
	acc := 1
	for i := r - 1; i >= 0; i-- {
		st[i] = acc
		acc *= x.Shape[i]
	}
	ost := make([]int, r)
	for i, p := range perm {
		ost[i] = st[p]
	}
	out := &Tensor{Shape: shape, Data: make([]float32, len(x.Data))}
	if len(out.Data) == 0 {
		return out, nil
	}
	idx := make([]int, r)
	src := 0
	for k := range out.Data {
		out.Data[k] = x.Data[src]
		for d := r - 1; d >= 0; d-- {
			idx[d]++
			src += ost[d]
			if idx[d] < shape[d] {
				break
			}
			src -= ost[d] * shape[d]
			idx[d] = 0
		}
	}
	return out, nil
}

// preluRows computes d = max(d, 0) + a*min(d, 0) per row of len(a)
// channels, with the vector kernels: signs are random, so a branch per
// element mispredicts, and a scalar select is slower than three vector
// passes over a row that stays in cache.
func preluRows(d, a []float32) {
	c := len(a)
	neg := make([]float32, c)
	inf := float32(math.Inf(1))
	for p := 0; p+c <= len(d); p += c {
		row := d[p : p+c]
		copy(neg, row)
		for i := clampAsm(neg, -inf, 0); i < c; i++ {
			neg[i] = min(neg[i], 0)
		}
		for i := clampAsm(row, 0, inf); i < c; i++ {
			row[i] = max(row[i], 0)
		}
		mulAdd(row, neg, a)
	}
}
