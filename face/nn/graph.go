package nn

import (
	"context"
	"fmt"
	"math"
)

// A Graph is an executable, immutable dataflow graph of prepared kernels.
// Loaders (TFJS graph models; ONNX later) translate their node lists into
// Builder calls, so a new format needs no kernel changes. Graph.Run is safe
// for concurrent use.
type Graph struct {
	nodes   []gnode
	index   map[string]int
	inputs  []int
	outputs []int
	uses    []int  // number of consumers per node (+1 for graph outputs)
	shared  []bool // value is aliased by a view op (Identity, Reshape, Pad): never overwritten
}

type gnode struct {
	name  string
	op    string
	in    []int
	value *Tensor // Const
	shape []int   // Input: expected shape, -1 = any
	run   func(in []*Tensor) (*Tensor, error)
	// fields the optimiser looks at
	conv *Conv2D
	dw   *Depthwise
	act  Activation
	bop  BinaryOp
	uop  UnaryOp
	// inplace, when set, computes the node writing into in[0]'s storage;
	// the executor uses it when in[0] is owned and has no other consumer.
	inplace func(in []*Tensor) (*Tensor, error)
	// view marks ops whose result may share storage with their input.
	view bool
}

// BinaryOp is an element-wise operation with NumPy broadcasting.
type BinaryOp int

// Binary operations.
const (
	OpAdd BinaryOp = iota
	OpSub
	OpMul
	OpDiv
	OpMin
	OpMax
)

// UnaryOp is an element-wise or last-axis operation.
type UnaryOp int

// Unary operations.
const (
	OpIdentity UnaryOp = iota
	OpRelu
	OpRelu6
	OpSigmoid
	OpSoftmax
	OpTanh
)

// Builder assembles a Graph. The first error sticks and is returned by Build.
type Builder struct {
	g   *Graph
	err error
}

// NewBuilder returns an empty graph builder.
func NewBuilder() *Builder {
	return &Builder{g: &Graph{index: map[string]int{}}}
}

func (b *Builder) fail(format string, args ...any) {
	if b.err == nil {
		b.err = fmt.Errorf("%w: "+format, append([]any{ErrFormat}, args...)...)
	}
}

// Err returns the first error recorded by the builder.
func (b *Builder) Err() error { return b.err }

func (b *Builder) add(n gnode, inputs ...string) {
	if b.err != nil {
		return
	}
	if n.name == "" {
		b.fail("node without a name")
		return
	}
	if _, dup := b.g.index[n.name]; dup {
		b.fail("duplicate node %q", n.name)
		return
	}
	for _, s := range inputs {
		i, ok := b.g.index[s]
		if !ok {
			b.fail("node %q: input %q is not defined before it", n.name, s)
			return
		}
		n.in = append(n.in, i)
	}
	b.g.index[n.name] = len(b.g.nodes)
	b.g.nodes = append(b.g.nodes, n)
}

// ConstValue returns the tensor of a Const node added earlier.
func (b *Builder) ConstValue(name string) (*Tensor, bool) {
	i, ok := b.g.index[name]
	if !ok || b.g.nodes[i].value == nil {
		return nil, false
	}
	return b.g.nodes[i].value, true
}

// Input declares a graph input; -1 in shape matches any size.
func (b *Builder) Input(name string, shape []int) {
	b.g.inputs = append(b.g.inputs, len(b.g.nodes))
	b.add(gnode{name: name, op: "Input", shape: append([]int(nil), shape...)})
}

// Const adds a constant.
func (b *Builder) Const(name string, t *Tensor) {
	if t == nil {
		b.fail("const %q without value", name)
		return
	}
	b.add(gnode{name: name, op: "Const", value: t})
}

// Conv2D adds a convolution with an HWIO filter and optional bias.
func (b *Builder) Conv2D(name, x string, filter, bias *Tensor, sh, sw int, pad Padding, act Activation) {
	var bd []float32
	if bias != nil {
		bd = bias.Data
	}
	c, err := NewConv2D(filter, bd, sh, sw, pad, act)
	if err != nil {
		b.fail("node %q: %v", name, err)
		return
	}
	b.add(gnode{name: name, op: "Conv2D", conv: c, act: act, run: func(in []*Tensor) (*Tensor, error) {
		if len(in) == 2 { // residual folded in by the optimiser
			return c.ForwardAdd(in[0], in[1])
		}
		return c.Forward(in[0])
	}}, x)
}

// Depthwise adds a depthwise convolution with a [kh,kw,c,1] filter.
func (b *Builder) Depthwise(name, x string, filter, bias *Tensor, sh, sw int, pad Padding, act Activation) {
	var bd []float32
	if bias != nil {
		bd = bias.Data
	}
	d, err := NewDepthwise(filter, bd, sh, sw, pad, act)
	if err != nil {
		b.fail("node %q: %v", name, err)
		return
	}
	b.add(gnode{name: name, op: "Depthwise", dw: d, act: act, run: func(in []*Tensor) (*Tensor, error) { return d.Forward(in[0]) }}, x)
}

// MatMul adds x[m,k] * w[k,n] + bias with an activation.
func (b *Builder) MatMul(name, x string, w, bias *Tensor, act Activation) {
	if w == nil || len(w.Shape) != 2 || (bias != nil && bias.Len() != w.Shape[1]) {
		b.fail("node %q: matmul weights", name)
		return
	}
	var bd []float32
	if bias != nil {
		bd = bias.Data
	}
	b.add(gnode{name: name, op: "MatMul", run: func(in []*Tensor) (*Tensor, error) {
		x := in[0]
		if len(x.Shape) != 2 {
			return nil, fmt.Errorf("%w: matmul input %v", ErrShape, x.Shape)
		}
		out, err := MatMul(x, w, bd)
		if err != nil {
			return nil, err
		}
		activate(out.Data, act)
		return out, nil
	}}, x)
}

// Binary adds an element-wise op with broadcasting; either input may be a Const.
func (b *Builder) Binary(name string, op BinaryOp, x, y string) {
	if op < OpAdd || op > OpMax {
		b.fail("node %q: unknown binary op %d", name, op)
		return
	}
	b.add(gnode{name: name, op: "Binary", bop: op,
		run: func(in []*Tensor) (*Tensor, error) { return broadcast(op, in[0], in[1]) },
		inplace: func(in []*Tensor) (*Tensor, error) {
			a, c := in[0], in[1]
			if sameShape(a.Shape, c.Shape) || (len(c.Shape) == 1 && len(a.Shape) >= 1 && a.Shape[len(a.Shape)-1] == c.Shape[0]) || (len(c.Data) == 1 && len(c.Shape) <= len(a.Shape)) {
				broadcastInto(op, a, c)
				return a, nil
			}
			return broadcast(op, a, c)
		}}, x, y)
}

// Unary adds an element-wise op (softmax works on the last axis).
func (b *Builder) Unary(name string, op UnaryOp, x string) {
	var f func(t *Tensor)
	switch op {
	case OpIdentity:
		b.add(gnode{name: name, op: "Identity", view: true, run: func(in []*Tensor) (*Tensor, error) { return in[0], nil }}, x)
		return
	case OpRelu:
		f = func(t *Tensor) { activate(t.Data, ReLU) }
	case OpRelu6:
		f = func(t *Tensor) { activate(t.Data, ReLU6) }
	case OpSigmoid:
		f = func(t *Tensor) {
			for i, v := range t.Data {
				t.Data[i] = Sigmoid(v)
			}
		}
	case OpTanh:
		f = func(t *Tensor) {
			for i, v := range t.Data {
				t.Data[i] = float32(math.Tanh(float64(v)))
			}
		}
	case OpSoftmax:
		f = SoftmaxInPlace
	default:
		b.fail("node %q: unknown unary op %d", name, op)
		return
	}
	act := Linear
	if op == OpRelu {
		act = ReLU
	}
	b.add(gnode{name: name, op: "Unary", act: act, uop: op, run: func(in []*Tensor) (*Tensor, error) {
		t := in[0].Clone()
		f(t)
		return t, nil
	}, inplace: func(in []*Tensor) (*Tensor, error) {
		f(in[0])
		return in[0], nil
	}}, x)
}

// Prelu adds x>0 ? x : alpha*x with alpha per channel (last axis).
func (b *Builder) Prelu(name, x string, alpha *Tensor) {
	if alpha == nil || alpha.Len() == 0 {
		b.fail("node %q: prelu without alpha", name)
		return
	}
	a := alpha.Data
	apply := func(t *Tensor) (*Tensor, error) {
		c := len(a)
		if len(t.Shape) == 0 || t.Shape[len(t.Shape)-1] != c {
			return nil, fmt.Errorf("%w: prelu alpha %d for %v", ErrShape, c, t.Shape)
		}
		preluRows(t.Data, a)
		return t, nil
	}
	b.add(gnode{name: name, op: "Prelu",
		run:     func(in []*Tensor) (*Tensor, error) { return apply(in[0].Clone()) },
		inplace: func(in []*Tensor) (*Tensor, error) { return apply(in[0]) }}, x)
}

// Transpose adds an axis permutation (see the Transpose kernel).
func (b *Builder) Transpose(name, x string, perm []int) {
	p := append([]int(nil), perm...)
	if len(p) == 0 || len(p) > 8 {
		b.fail("node %q: transpose permutation %v", name, perm)
		return
	}
	b.add(gnode{name: name, op: "Transpose", run: func(in []*Tensor) (*Tensor, error) { return Transpose(in[0], p) }}, x)
}

// Pool adds max (isMax) or average pooling.
func (b *Builder) Pool(name, x string, isMax bool, kh, kw, sh, sw int, pad Padding) {
	if kh <= 0 || kw <= 0 || sh <= 0 || sw <= 0 || kh > 64 || kw > 64 {
		b.fail("node %q: pool window %dx%d stride %dx%d", name, kh, kw, sh, sw)
		return
	}
	b.add(gnode{name: name, op: "Pool", run: func(in []*Tensor) (*Tensor, error) {
		return pool(in[0], kh, kw, sh, sw, pad, isMax)
	}}, x)
}

// Pad adds zero padding of an NHWC tensor: pads[d] = {before, after}.
func (b *Builder) Pad(name, x string, pads [4][2]int) {
	if pads[0] != [2]int{} {
		b.fail("node %q: batch padding", name)
		return
	}
	for _, p := range pads {
		if p[0] < 0 || p[1] < 0 || p[0] > 1<<12 || p[1] > 1<<12 {
			b.fail("node %q: padding %v", name, pads)
			return
		}
	}
	b.add(gnode{name: name, op: "Pad", view: true, run: func(in []*Tensor) (*Tensor, error) {
		t := in[0]
		var err error
		if pads[1] != [2]int{} || pads[2] != [2]int{} {
			if t, err = PadSpatial(t, pads[1][0], pads[1][1], pads[2][0], pads[2][1]); err != nil {
				return nil, err
			}
		}
		if pads[3] != [2]int{} {
			return PadChannels(t, pads[3][0], pads[3][1])
		}
		return t, nil
	}}, x)
}

// Reshape adds a reshape (one dim may be -1).
func (b *Builder) Reshape(name, x string, shape []int) {
	s := append([]int(nil), shape...)
	b.add(gnode{name: name, op: "Reshape", view: true, run: func(in []*Tensor) (*Tensor, error) { return in[0].Reshape(s...) }}, x)
}

// MeanHW adds a mean over axes 1 and 2 of an NHWC tensor; keepDims keeps them as 1.
func (b *Builder) MeanHW(name, x string, keepDims bool) {
	b.add(gnode{name: name, op: "Mean", run: func(in []*Tensor) (*Tensor, error) {
		t, err := MeanHW(in[0])
		if err != nil || !keepDims {
			return t, err
		}
		return t.Reshape(t.Shape[0], 1, 1, t.Shape[1])
	}}, x)
}

// Output marks a node as a graph output, in call order.
func (b *Builder) Output(name string) {
	i, ok := b.g.index[name]
	if !ok {
		b.fail("output %q is not a node", name)
		return
	}
	b.g.outputs = append(b.g.outputs, i)
}

// Build finishes the graph.
func (b *Builder) Build() (*Graph, error) {
	if b.err != nil {
		return nil, b.err
	}
	g := b.g
	if len(g.inputs) == 0 || len(g.outputs) == 0 {
		return nil, fmt.Errorf("%w: graph needs at least one input and one output", ErrFormat)
	}
	g.fuse()
	g.uses = make([]int, len(g.nodes))
	g.shared = make([]bool, len(g.nodes))
	for _, n := range g.nodes {
		for _, i := range n.in {
			g.uses[i]++
			if n.view {
				g.shared[i] = true
			}
		}
	}
	for _, o := range g.outputs {
		g.uses[o]++
	}
	b.g = nil
	return g, nil
}

// Inputs returns the names of the graph inputs.
func (g *Graph) Inputs() []string {
	var s []string
	for _, i := range g.inputs {
		s = append(s, g.nodes[i].name)
	}
	return s
}

// Outputs returns the names of the graph outputs, in order.
func (g *Graph) Outputs() []string {
	var s []string
	for _, i := range g.outputs {
		s = append(s, g.nodes[i].name)
	}
	return s
}

// Run executes the graph. inputs maps input names to tensors (not modified);
// the result holds one tensor per output, in Outputs order.
func (g *Graph) Run(ctx context.Context, inputs map[string]*Tensor) ([]*Tensor, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("nn: %w", err)
	}
	vals := make([]*Tensor, len(g.nodes))
	left := append([]int(nil), g.uses...)
	for _, i := range g.inputs {
		n := &g.nodes[i]
		t, ok := inputs[n.name]
		if !ok || t == nil {
			return nil, fmt.Errorf("%w: input %q not given", ErrShape, n.name)
		}
		if len(t.Shape) != len(n.shape) {
			return nil, fmt.Errorf("%w: input %q has shape %v, want %v", ErrShape, n.name, t.Shape, n.shape)
		}
		for d, s := range n.shape {
			if s >= 0 && t.Shape[d] != s {
				return nil, fmt.Errorf("%w: input %q has shape %v, want %v", ErrShape, n.name, t.Shape, n.shape)
			}
		}
		if _, err := numElements(t.Shape); err != nil || len(t.Data) != shapeLen(t.Shape) {
			return nil, fmt.Errorf("%w: input %q data does not match its shape", ErrShape, n.name)
		}
		vals[i] = t
	}
	args := make([]*Tensor, 0, 4)
	for i := range g.nodes {
		n := &g.nodes[i]
		switch n.op {
		case "Input":
			continue
		case "Const":
			vals[i] = n.value
			continue
		}
		if i%16 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("nn: %w", err)
			}
		}
		if g.uses[i] == 0 {
			continue // dead node
		}
		args = args[:0]
		for _, j := range n.in {
			args = append(args, vals[j])
		}
		run := n.run
		if n.inplace != nil && g.owned(n.in[0], left, n.in[1:]) {
			run = n.inplace
		}
		out, err := run(args)
		if err != nil {
			return nil, fmt.Errorf("nn: node %q (%s): %w", n.name, n.op, err)
		}
		vals[i] = out
		for _, j := range n.in {
			if left[j]--; left[j] == 0 && g.nodes[j].op != "Const" {
				vals[j] = nil
			}
		}
	}
	res := make([]*Tensor, len(g.outputs))
	for k, o := range g.outputs {
		res[k] = vals[o]
	}
	return res, nil
}

// owned reports whether node j's value may be overwritten by its consumer:
// it was freshly allocated by j (not a constant, an input or a view of
// another value) and this consumer is its last use.
func (g *Graph) owned(j int, left []int, others []int) bool {
	n := &g.nodes[j]
	if n.op == "Input" || n.op == "Const" || n.view || g.shared[j] || left[j] != 1 {
		return false
	}
	for _, o := range others {
		if o == j {
			return false
		}
	}
	return true
}

func shapeLen(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// Stats describes the scheduled graph: node counts per op after fusion.
func (g *Graph) Stats() map[string]int {
	s := map[string]int{}
	for _, n := range g.nodes {
		k := n.op
		if n.conv != nil && len(n.in) == 2 {
			k += "+residual"
		}
		s[k]++
	}
	return s
}
