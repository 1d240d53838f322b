package onnx

import (
	"fmt"
	"math"

	"github.com/madoguchi/madoguchi/face/nn"
)

type translator struct {
	g      *graphProto
	b      *nn.Builder
	consts map[string]*nn.Tensor // converted initializers
	rank   map[string]int        // rank of each tensor value (ONNX rank; rank-4 values are NHWC in nn)
	shapes map[string]shapeVal   // integer values folded at load (shape arithmetic)
	seq    int
}

// shapeVal is an integer tensor computed at load: the shape of a value
// (of), or constant integers (ints, scalar if scalar is set).
type shapeVal struct {
	of     string // Shape(of): only its batch dimension can be used
	ints   []int64
	scalar bool
}

func translate(g *graphProto) (*nn.Graph, error) {
	t := &translator{g: g, b: nn.NewBuilder(), consts: map[string]*nn.Tensor{}, rank: map[string]int{}, shapes: map[string]shapeVal{}}
	for name, init := range g.inits {
		v, err := init.value()
		if err != nil {
			return nil, err
		}
		t.consts[name] = v
		if init.dtype == 7 || init.dtype == 6 {
			t.shapes[name] = shapeVal{ints: intsOf(v), scalar: len(init.dims) == 0}
		}
	}
	inputs := 0
	for _, in := range g.inputs {
		if _, isInit := g.inits[in.name]; isInit {
			continue
		}
		shape := make([]int, len(in.dims))
		for i, d := range in.dims {
			if d <= 0 || d > 1<<20 {
				shape[i] = -1
			} else {
				shape[i] = int(d)
			}
		}
		if len(shape) == 4 { // NCHW -> NHWC
			shape = []int{shape[0], shape[2], shape[3], shape[1]}
		}
		if len(shape) == 0 || len(shape) > maxDims {
			return nil, fmt.Errorf("%w: input %q has rank %d", ErrFormat, in.name, len(shape))
		}
		t.b.Input(in.name, shape)
		t.rank[in.name] = len(shape)
		inputs++
	}
	if inputs == 0 {
		return nil, fmt.Errorf("%w: no graph input", ErrFormat)
	}
	for i := range g.nodes {
		if err := t.node(&g.nodes[i]); err != nil {
			return nil, err
		}
		if err := t.b.Err(); err != nil {
			return nil, err
		}
	}
	for _, o := range g.outputs {
		t.b.Output(o.name)
	}
	return t.b.Build()
}

func (t *translator) ints(n *nodeProto, key string, def ...int64) []int64 {
	if a, ok := n.attrs[key]; ok {
		return a.ints
	}
	return def
}

func (t *translator) int(n *nodeProto, key string, def int64) int64 {
	if a, ok := n.attrs[key]; ok {
		return a.i
	}
	return def
}

func (t *translator) float(n *nodeProto, key string, def float32) float32 {
	if a, ok := n.attrs[key]; ok {
		return a.f
	}
	return def
}

// constant adds a Const node for an NHWC-compatible constant and returns its name.
func (t *translator) constant(name string, v *nn.Tensor) string {
	t.seq++
	cname := fmt.Sprintf("%s/const%d", name, t.seq)
	t.b.Const(cname, v)
	return cname
}

// perChannel converts an NCHW-broadcast constant ([C,1,1], [1,C,1,1], [C] or
// a scalar) to an NHWC one ([C] or scalar).
func perChannel(v *nn.Tensor) (*nn.Tensor, bool) {
	if v.Len() == 1 {
		return &nn.Tensor{Shape: []int{}, Data: v.Data}, true
	}
	nonOne := 0
	for _, d := range v.Shape {
		if d != 1 {
			nonOne++
		}
	}
	if nonOne != 1 {
		return nil, false
	}
	s := v.Shape
	switch {
	case len(s) == 1,
		len(s) == 3 && s[1] == 1 && s[2] == 1,
		len(s) == 4 && s[0] == 1 && s[2] == 1 && s[3] == 1:
		return &nn.Tensor{Shape: []int{v.Len()}, Data: v.Data}, true
	}
	return nil, false
}

func (t *translator) node(n *nodeProto) error {
	if len(n.outputs) == 0 || n.outputs[0] == "" {
		return fmt.Errorf("%w: node %q (%s) without output", ErrFormat, n.name, n.op)
	}
	switch n.op {
	case "Shape", "Gather", "Unsqueeze", "Concat", "Constant":
		return t.shapeOp(n)
	}
	if err := t.tensorNode(n); err != nil {
		return err
	}
	out := n.outputs[0]
	switch n.op {
	case "Conv", "MaxPool", "AveragePool", "GlobalAveragePool":
		t.rank[out] = 4
	case "Gemm", "MatMul", "Flatten":
		t.rank[out] = 2
	case "Reshape":
		// set by reshape
	default:
		r := 0
		for _, in := range n.inputs {
			if _, isConst := t.consts[in]; !isConst {
				r = max(r, t.rank[in])
			}
		}
		t.rank[out] = r
	}
	return nil
}

// reshape adds an ONNX Reshape/Flatten of n.inputs[0] to shape: a rank-4
// (NHWC) value is put into NCHW order first, and a rank-4 result back into
// NHWC, so the elements keep the order the model was exported with.
func (t *translator) reshape(n *nodeProto, out string, shape []int) error {
	in := n.inputs[0]
	r := t.rank[in]
	if r == 0 {
		return fmt.Errorf("%w: node %q (%s): rank of %q unknown", ErrFormat, n.name, n.op, in)
	}
	if r == 4 {
		nchw := out + "/nchw"
		t.b.Transpose(nchw, in, []int{0, 3, 1, 2})
		in = nchw
	}
	if len(shape) == 4 {
		t.b.Reshape(out+"/nchw-out", in, shape)
		t.b.Transpose(out, out+"/nchw-out", []int{0, 2, 3, 1})
	} else {
		t.b.Reshape(out, in, shape)
	}
	t.rank[out] = len(shape)
	return nil
}

// shapeOp folds the integer shape arithmetic of a dynamic flatten
// (Shape -> Gather(0) -> Unsqueeze -> Concat -> Reshape) at load. Only the
// batch dimension of a Shape may be read, and it is 1.
func (t *translator) shapeOp(n *nodeProto) error {
	out := n.outputs[0]
	get := func(i int) (shapeVal, error) {
		if i >= len(n.inputs) {
			return shapeVal{}, fmt.Errorf("%w: node %q (%s) lacks input %d", ErrFormat, n.name, n.op, i)
		}
		v, ok := t.shapes[n.inputs[i]]
		if !ok {
			return shapeVal{}, fmt.Errorf("%w: node %q (%s): input %q is not an integer known at load", ErrFormat, n.name, n.op, n.inputs[i])
		}
		return v, nil
	}
	switch n.op {
	case "Constant":
		a, ok := n.attrs["value"]
		if !ok || a.t == nil || (a.t.dtype != 7 && a.t.dtype != 6) {
			return fmt.Errorf("%w: node %q: only integer Constants are supported", ErrFormat, n.name)
		}
		v, err := a.t.value()
		if err != nil {
			return err
		}
		if v.Len() > maxDims {
			return fmt.Errorf("%w: node %q: integer Constant of %d values", ErrFormat, n.name, v.Len())
		}
		t.shapes[out] = shapeVal{ints: intsOf(v), scalar: len(a.t.dims) == 0}
	case "Shape":
		if len(n.inputs) < 1 {
			return fmt.Errorf("%w: node %q: Shape without input", ErrFormat, n.name)
		}
		if _, ok := t.rank[n.inputs[0]]; !ok {
			return fmt.Errorf("%w: node %q: Shape of unknown value %q", ErrFormat, n.name, n.inputs[0])
		}
		t.shapes[out] = shapeVal{of: n.inputs[0]}
	case "Gather":
		data, err := get(0)
		if err != nil {
			return err
		}
		idx, err := get(1)
		if err != nil {
			return err
		}
		if t.int(n, "axis", 0) != 0 || data.of == "" || !idx.scalar || len(idx.ints) != 1 || idx.ints[0] != 0 {
			return fmt.Errorf("%w: node %q: only the batch dimension of a Shape can be gathered", ErrFormat, n.name)
		}
		t.shapes[out] = shapeVal{ints: []int64{1}, scalar: true}
	case "Unsqueeze":
		v, err := get(0)
		if err != nil {
			return err
		}
		if ax := t.ints(n, "axes"); v.of != "" || !v.scalar || len(ax) != 1 || ax[0] != 0 {
			return fmt.Errorf("%w: node %q: only a scalar can be unsqueezed", ErrFormat, n.name)
		}
		t.shapes[out] = shapeVal{ints: v.ints}
	case "Concat":
		if t.int(n, "axis", 0) != 0 {
			return fmt.Errorf("%w: node %q: integer Concat on axis %d", ErrFormat, n.name, t.int(n, "axis", 0))
		}
		var all []int64
		for i := range n.inputs {
			v, err := get(i)
			if err != nil {
				return err
			}
			if v.of != "" || v.scalar {
				return fmt.Errorf("%w: node %q: Concat of a shape or a scalar", ErrFormat, n.name)
			}
			all = append(all, v.ints...)
		}
		if len(all) > maxDims {
			return fmt.Errorf("%w: node %q: Concat of %d integers", ErrFormat, n.name, len(all))
		}
		t.shapes[out] = shapeVal{ints: all}
	}
	return nil
}

func intsOf(v *nn.Tensor) []int64 {
	out := make([]int64, len(v.Data))
	for i, x := range v.Data {
		out[i] = int64(x)
	}
	return out
}

// tensorNode translates one node computing a tensor.
func (t *translator) tensorNode(n *nodeProto) error {
	out := n.outputs[0]
	need := func(k int) error {
		if len(n.inputs) < k {
			return fmt.Errorf("%w: node %q (%s) has %d inputs, want %d", ErrFormat, n.name, n.op, len(n.inputs), k)
		}
		return nil
	}
	konst := func(i int) (*nn.Tensor, error) {
		if i >= len(n.inputs) {
			return nil, fmt.Errorf("%w: node %q (%s) lacks input %d", ErrFormat, n.name, n.op, i)
		}
		v, ok := t.consts[n.inputs[i]]
		if !ok {
			return nil, fmt.Errorf("%w: node %q (%s): input %q must be an initializer", ErrFormat, n.name, n.op, n.inputs[i])
		}
		return v, nil
	}
	switch n.op {
	case "Identity", "Dropout":
		if err := need(1); err != nil {
			return err
		}
		t.b.Unary(out, nn.OpIdentity, n.inputs[0])
	case "Relu":
		if err := need(1); err != nil {
			return err
		}
		t.b.Unary(out, nn.OpRelu, n.inputs[0])
	case "Sigmoid":
		if err := need(1); err != nil {
			return err
		}
		t.b.Unary(out, nn.OpSigmoid, n.inputs[0])
	case "Softmax":
		if err := need(1); err != nil {
			return err
		}
		if ax := t.int(n, "axis", -1); ax != -1 && ax != 1 {
			return fmt.Errorf("%w: node %q: softmax axis %d", ErrFormat, n.name, ax)
		}
		t.b.Unary(out, nn.OpSoftmax, n.inputs[0])
	case "Clip":
		if err := need(1); err != nil {
			return err
		}
		lo, hi := t.float(n, "min", float32(math.Inf(-1))), t.float(n, "max", float32(math.Inf(1)))
		if len(n.inputs) > 1 && n.inputs[1] != "" {
			v, err := konst(1)
			if err != nil || v.Len() != 1 {
				return fmt.Errorf("%w: node %q: clip min", ErrFormat, n.name)
			}
			lo = v.Data[0]
		}
		if len(n.inputs) > 2 && n.inputs[2] != "" {
			v, err := konst(2)
			if err != nil || v.Len() != 1 {
				return fmt.Errorf("%w: node %q: clip max", ErrFormat, n.name)
			}
			hi = v.Data[0]
		}
		if lo == 0 && hi == 6 {
			t.b.Unary(out, nn.OpRelu6, n.inputs[0])
			return nil
		}
		mid := out + "/max"
		t.b.Binary(mid, nn.OpMax, n.inputs[0], t.constant(out, &nn.Tensor{Shape: []int{}, Data: []float32{lo}}))
		t.b.Binary(out, nn.OpMin, mid, t.constant(out, &nn.Tensor{Shape: []int{}, Data: []float32{hi}}))
	case "Add", "Sub", "Mul", "Div":
		if err := need(2); err != nil {
			return err
		}
		op := map[string]nn.BinaryOp{"Add": nn.OpAdd, "Sub": nn.OpSub, "Mul": nn.OpMul, "Div": nn.OpDiv}[n.op]
		ins := [2]string{n.inputs[0], n.inputs[1]}
		for k := range ins {
			if v, ok := t.consts[ins[k]]; ok {
				pc, ok := perChannel(v)
				if !ok {
					return fmt.Errorf("%w: node %q: constant %q of shape %v is not per-channel", ErrFormat, n.name, ins[k], v.Shape)
				}
				ins[k] = t.constant(out, pc)
			}
		}
		t.b.Binary(out, op, ins[0], ins[1])
	case "BatchNormalization":
		if err := need(5); err != nil {
			return err
		}
		var p [4]*nn.Tensor
		for i := range p {
			v, err := konst(i + 1)
			if err != nil {
				return err
			}
			p[i] = v
		}
		c := p[0].Len()
		for _, v := range p {
			if v.Len() != c {
				return fmt.Errorf("%w: node %q: batch-norm parameters differ in size", ErrFormat, n.name)
			}
		}
		eps := float64(t.float(n, "epsilon", 1e-5))
		mul, add := nn.NewTensor(c), nn.NewTensor(c)
		for i := 0; i < c; i++ {
			mul.Data[i] = p[0].Data[i] / float32(math.Sqrt(float64(p[3].Data[i])+eps))
			add.Data[i] = p[1].Data[i] - p[2].Data[i]*mul.Data[i]
		}
		mid := out + "/scale"
		t.b.Binary(mid, nn.OpMul, n.inputs[0], t.constant(out, mul))
		t.b.Binary(out, nn.OpAdd, mid, t.constant(out, add))
	case "Conv":
		return t.conv(n, out, konst)
	case "MaxPool", "AveragePool":
		if err := need(1); err != nil {
			return err
		}
		k := t.ints(n, "kernel_shape")
		s := t.ints(n, "strides", 1, 1)
		if len(k) != 2 || len(s) != 2 || k[0] <= 0 || k[1] <= 0 || k[0] > 64 || k[1] > 64 || s[0] <= 0 || s[1] <= 0 || s[0] > 64 || s[1] > 64 {
			return fmt.Errorf("%w: node %q: pool kernel %v strides %v", ErrFormat, n.name, k, s)
		}
		pad := nn.Valid
		switch ap := string(n.attrs["auto_pad"].s); ap {
		case "", "NOTSET", "VALID":
			for _, p := range t.ints(n, "pads") {
				if p != 0 {
					return fmt.Errorf("%w: node %q: explicit pool padding", ErrFormat, n.name)
				}
			}
		case "SAME_UPPER":
			pad = nn.Same
		default:
			return fmt.Errorf("%w: node %q: auto_pad %q", ErrFormat, n.name, ap)
		}
		t.b.Pool(out, n.inputs[0], n.op == "MaxPool", int(k[0]), int(k[1]), int(s[0]), int(s[1]), pad)
	case "GlobalAveragePool":
		if err := need(1); err != nil {
			return err
		}
		t.b.MeanHW(out, n.inputs[0], true)
	case "Flatten":
		if err := need(1); err != nil {
			return err
		}
		if ax := t.int(n, "axis", 1); ax != 1 {
			return fmt.Errorf("%w: node %q: Flatten axis %d", ErrFormat, n.name, ax)
		}
		return t.reshape(n, out, []int{1, -1})
	case "Reshape":
		if err := need(2); err != nil {
			return err
		}
		sv, ok := t.shapes[n.inputs[1]]
		if !ok || sv.of != "" || len(sv.ints) == 0 || len(sv.ints) > maxDims {
			return fmt.Errorf("%w: node %q: Reshape needs a shape known at load", ErrFormat, n.name)
		}
		shape := make([]int, len(sv.ints))
		for i, d := range sv.ints {
			switch {
			case d == 0 && i == 0:
				shape[i] = 1 // "copy the batch dimension": the batch is 1
			case d == -1 || (d > 0 && d <= maxElems):
				shape[i] = int(d)
			default:
				return fmt.Errorf("%w: node %q: Reshape to %v", ErrFormat, n.name, sv.ints)
			}
		}
		return t.reshape(n, out, shape)
	case "PRelu":
		if err := need(2); err != nil {
			return err
		}
		a, err := konst(1)
		if err != nil {
			return err
		}
		pc, ok := perChannel(a)
		if !ok {
			return fmt.Errorf("%w: node %q: PRelu slope of shape %v is not per-channel", ErrFormat, n.name, a.Shape)
		}
		if len(pc.Shape) == 0 { // one slope for every channel: a scalar is not a channel vector
			return fmt.Errorf("%w: node %q: PRelu with a scalar slope", ErrFormat, n.name)
		}
		t.b.Prelu(out, n.inputs[0], pc)
	case "Gemm", "MatMul":
		if err := need(2); err != nil {
			return err
		}
		w, err := konst(1)
		if err != nil {
			return err
		}
		if len(w.Shape) != 2 {
			return fmt.Errorf("%w: node %q: weight shape %v", ErrFormat, n.name, w.Shape)
		}
		if n.op == "Gemm" {
			if t.int(n, "transA", 0) != 0 || t.float(n, "alpha", 1) != 1 || t.float(n, "beta", 1) != 1 {
				return fmt.Errorf("%w: node %q: Gemm with transA/alpha/beta", ErrFormat, n.name)
			}
			if t.int(n, "transB", 0) != 0 {
				w = transpose(w)
			}
		}
		var bias *nn.Tensor
		if n.op == "Gemm" && len(n.inputs) > 2 && n.inputs[2] != "" {
			if bias, err = konst(2); err != nil {
				return err
			}
		}
		t.b.MatMul(out, n.inputs[0], w, bias, nn.Linear)
	default:
		return fmt.Errorf("%w: node %q: op %q is not supported", ErrFormat, n.name, n.op)
	}
	return nil
}

func transpose(w *nn.Tensor) *nn.Tensor {
	r, c := w.Shape[0], w.Shape[1]
	out := nn.NewTensor(c, r)
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			out.Data[j*r+i] = w.Data[i*c+j]
		}
	}
	return out
}

func (t *translator) conv(n *nodeProto, out string, konst func(int) (*nn.Tensor, error)) error {
	if len(n.inputs) < 2 {
		return fmt.Errorf("%w: node %q: Conv needs 2 inputs", ErrFormat, n.name)
	}
	w, err := konst(1)
	if err != nil {
		return err
	}
	if len(w.Shape) != 4 {
		return fmt.Errorf("%w: node %q: Conv weight shape %v", ErrFormat, n.name, w.Shape)
	}
	o, ig, kh, kw := w.Shape[0], w.Shape[1], w.Shape[2], w.Shape[3]
	var bias *nn.Tensor
	if len(n.inputs) > 2 && n.inputs[2] != "" {
		if bias, err = konst(2); err != nil {
			return err
		}
	}
	for _, d := range t.ints(n, "dilations") {
		if d != 1 {
			return fmt.Errorf("%w: node %q: dilation", ErrFormat, n.name)
		}
	}
	s := t.ints(n, "strides", 1, 1)
	if len(s) != 2 || s[0] <= 0 || s[1] <= 0 || s[0] > 16 || s[1] > 16 {
		return fmt.Errorf("%w: node %q: strides %v", ErrFormat, n.name, s)
	}
	group := t.int(n, "group", 1)
	in := n.inputs[0]
	pad := nn.Valid
	switch ap := string(n.attrs["auto_pad"].s); ap {
	case "", "NOTSET":
		p := t.ints(n, "pads", 0, 0, 0, 0)
		if len(p) != 4 {
			return fmt.Errorf("%w: node %q: pads %v", ErrFormat, n.name, p)
		}
		for _, v := range p {
			if v < 0 || v > 16 {
				return fmt.Errorf("%w: node %q: pads %v", ErrFormat, n.name, p)
			}
		}
		half := [2]int64{int64(kh-1) / 2, int64(kw-1) / 2}
		switch {
		case p[0] == 0 && p[1] == 0 && p[2] == 0 && p[3] == 0:
		case s[0] == 1 && s[1] == 1 && kh%2 == 1 && kw%2 == 1 && p[0] == half[0] && p[2] == half[0] && p[1] == half[1] && p[3] == half[1]:
			// symmetric padding of an odd kernel at stride 1 is TF SAME
			pad = nn.Same
		default:
			padded := out + "/pad"
			t.b.Pad(padded, in, [4][2]int{{0, 0}, {int(p[0]), int(p[2])}, {int(p[1]), int(p[3])}, {0, 0}})
			in = padded
		}
	case "VALID":
	case "SAME_UPPER":
		pad = nn.Same
	default:
		return fmt.Errorf("%w: node %q: auto_pad %q", ErrFormat, n.name, ap)
	}
	switch {
	case group == 1:
		// OIHW -> HWIO
		f := nn.NewTensor(kh, kw, ig, o)
		for oo := 0; oo < o; oo++ {
			for i := 0; i < ig; i++ {
				for y := 0; y < kh; y++ {
					for x := 0; x < kw; x++ {
						f.Data[((y*kw+x)*ig+i)*o+oo] = w.Data[((oo*ig+i)*kh+y)*kw+x]
					}
				}
			}
		}
		t.b.Conv2D(out, in, f, bias, int(s[0]), int(s[1]), pad, nn.Linear)
	case ig == 1 && int64(o) == group:
		// depthwise: [C,1,kh,kw] -> [kh,kw,C,1]
		f := nn.NewTensor(kh, kw, o, 1)
		for c := 0; c < o; c++ {
			for y := 0; y < kh; y++ {
				for x := 0; x < kw; x++ {
					f.Data[(y*kw+x)*o+c] = w.Data[(c*kh+y)*kw+x]
				}
			}
		}
		t.b.Depthwise(out, in, f, bias, int(s[0]), int(s[1]), pad, nn.Linear)
	default:
		return fmt.Errorf("%w: node %q: grouped convolution (group %d)", ErrFormat, n.name, group)
	}
	return nil
}
