package nn

import "fmt"

// broadcast applies op element-wise with NumPy broadcasting (rank <= 8).
func broadcast(op BinaryOp, a, b *Tensor) (*Tensor, error) {
	f := binaryFunc(op)
	// fast paths: same shape, scalar, last-axis vector
	if sameShape(a.Shape, b.Shape) {
		out := &Tensor{Shape: append([]int(nil), a.Shape...), Data: make([]float32, len(a.Data))}
		o, x, y := out.Data, a.Data[:len(out.Data)], b.Data[:len(out.Data)]
		switch op {
		case OpAdd:
			for i := range o {
				o[i] = x[i] + y[i]
			}
		case OpMul:
			for i := range o {
				o[i] = x[i] * y[i]
			}
		default:
			for i := range o {
				o[i] = f(x[i], y[i])
			}
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

// broadcastInto computes a = op(a, b) in place for b of a's shape, a
// last-axis vector, or a scalar.
func broadcastInto(op BinaryOp, a, b *Tensor) {
	f := binaryFunc(op)
	switch {
	case len(b.Data) == len(a.Data):
		y := b.Data[:len(a.Data)]
		switch op {
		case OpAdd:
			for i := range a.Data {
				a.Data[i] += y[i]
			}
		case OpMul:
			for i := range a.Data {
				a.Data[i] *= y[i]
			}
		default:
			for i := range a.Data {
				a.Data[i] = f(a.Data[i], y[i])
			}
		}
	case len(b.Data) == 1:
		s := b.Data[0]
		for i, v := range a.Data {
			a.Data[i] = f(v, s)
		}
	default:
		c := len(b.Data)
		for i, v := range a.Data {
			a.Data[i] = f(v, b.Data[i%c])
		}
	}
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

// fuse is the graph optimiser: it folds constant per-channel Add and Mul
// that directly follow a convolution into its weights and bias, and Relu,
// Relu6 and relu6 spelled Relu -> Minimum(6) -> Maximum(0) into its
// activation. Only single-consumer intermediates that are not graph outputs
// are folded; folded nodes are removed from the schedule and their consumers
// read the convolution instead.
func (g *Graph) fuse() {
	n := len(g.nodes)
	consumers := make([][]int, n)
	for k, nd := range g.nodes {
		for _, i := range nd.in {
			consumers[i] = append(consumers[i], k)
		}
	}
	isOut := make([]bool, n)
	for _, o := range g.outputs {
		isOut[o] = true
	}
	alias := make([]int, n)
	for i := range alias {
		alias[i] = i
	}
	for i := range g.nodes {
		nd := &g.nodes[i]
		if nd.conv == nil && nd.dw == nil {
			continue
		}
		cur := i
		for !isOut[cur] && len(consumers[cur]) == 1 {
			j := consumers[cur][0]
			if !g.foldInto(nd, &g.nodes[j], cur) && !g.foldResidual(i, nd, &g.nodes[j], cur) {
				break
			}
			alias[j] = i
			cur = j
		}
	}
	resolve := func(i int) int {
		for alias[i] != i {
			i = alias[i]
		}
		return i
	}
	for k := range g.nodes {
		if alias[k] != k {
			g.nodes[k].in = nil
			g.nodes[k].op = "Folded"
			continue
		}
		for x, i := range g.nodes[k].in {
			g.nodes[k].in[x] = resolve(i)
		}
	}
	for x, o := range g.outputs {
		g.outputs[x] = resolve(o)
	}
}

// foldInto folds consumer m (whose input cur is conv node nd's current
// value) into nd, reporting whether it did.
func (g *Graph) foldInto(nd, m *gnode, cur int) bool {
	act, cout := Linear, 0
	if nd.conv != nil {
		act, cout = nd.conv.Act, nd.conv.Cout
	} else {
		act, cout = nd.dw.Act, nd.dw.C
	}
	setAct := func(a Activation) {
		if nd.conv != nil {
			nd.conv.Act = a
		} else {
			nd.dw.Act = a
		}
	}
	switch m.op {
	case "Unary":
		switch {
		case m.uop == OpRelu && act != ReLU6:
			setAct(ReLU)
		case m.uop == OpRelu6 || (m.uop == OpRelu && act == ReLU6):
			setAct(ReLU6)
		case m.uop == OpIdentity:
		default:
			return false
		}
		return true
	case "Binary":
		if len(m.in) != 2 {
			return false
		}
		other := m.in[0]
		if other == cur {
			other = m.in[1]
		}
		c := g.nodes[other].value
		if c == nil || other == cur {
			return false
		}
		for d := 0; d+1 < len(c.Shape); d++ {
			if c.Shape[d] != 1 {
				return false
			}
		}
		vec := c.Data
		if len(vec) == 1 {
			vec = make([]float32, cout)
			for k := range vec {
				vec[k] = c.Data[0]
			}
		}
		if len(vec) != cout {
			return false
		}
		all := func(v float32) bool {
			for _, x := range vec {
				if x != v {
					return false
				}
			}
			return true
		}
		switch {
		case m.bop == OpAdd && act == Linear:
			return g.affine(nd, nil, vec)
		case m.bop == OpMul && act == Linear:
			return g.affine(nd, vec, nil)
		case m.bop == OpMin && act == ReLU && all(6):
			setAct(ReLU6)
			return true
		case m.bop == OpMax && (act == ReLU || act == ReLU6) && all(0):
			return true
		}
	}
	return false
}

// foldResidual folds Add(conv, other) into conv as a residual input when
// other is computed before the conv (so the schedule stays topological).
func (g *Graph) foldResidual(i int, nd, m *gnode, cur int) bool {
	if nd.conv == nil || nd.conv.Act != Linear || len(nd.in) != 1 || m.op != "Binary" || m.bop != OpAdd || len(m.in) != 2 {
		return false
	}
	other := m.in[0]
	if other == cur {
		other = m.in[1]
	}
	if other == cur || other >= i || g.nodes[other].value != nil {
		return false
	}
	nd.in = append(nd.in, other)
	return true
}

func (g *Graph) affine(nd *gnode, mul, add []float32) bool {
	if nd.conv != nil {
		return nd.conv.FoldAffine(mul, add) == nil
	}
	return nd.dw.FoldAffine(mul, add) == nil
}
