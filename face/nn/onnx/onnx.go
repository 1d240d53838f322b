// Package onnx loads ONNX models into the nn graph runtime, for
// operator-supplied recognisers. It uses only nn's public Builder API, which
// is the point: a new model format plugs in without touching the kernels.
//
// Invariants:
//   - The protobuf is read by a small hand-written wire-format reader (no
//     generated code, no dependency); every length is checked, input is
//     bounded by MaxModelBytes, and malformed input is an error wrapping
//     ErrFormat, never a panic.
//   - ONNX is NCHW; the graph is translated to nn's NHWC once at load:
//     inputs become [N, H, W, C], filters OIHW become HWIO, per-channel
//     constants [C,1,1] become [C]. Callers feed NHWC tensors.
//   - Supported: Conv (group 1 or depthwise, explicit or SAME_UPPER
//     padding), BatchNormalization, Relu, PRelu, Clip, MobileNet/ResNet/
//     MobileFaceNet/ArcFace style ops (Add, Mul, Sub, Div with per-channel or
//     scalar constants or between two tensors, as in squeeze-and-excitation
//     blocks), MaxPool, AveragePool, GlobalAveragePool, Flatten, Reshape,
//     Gemm, MatMul, Sigmoid, Softmax, Identity, Dropout, and the integer
//     shape arithmetic exporters emit for a dynamic flatten (Shape, Gather of
//     the batch, Unsqueeze, Concat, Constant), folded at load. Anything else
//     is refused at load with the op's name.
//   - Reshape and Flatten keep ONNX's NCHW element order: a rank-4 value is
//     transposed to NCHW before it is reshaped (and back to NHWC when the
//     result has rank 4), so a flatten feeding a dense layer sees the order
//     the model was trained with.
//   - The batch size is 1: shape arithmetic folds the batch dimension to 1.
package onnx

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/madoguchi/madoguchi/face/nn"
)

// MaxModelBytes bounds an ONNX file.
const MaxModelBytes = 512 << 20

const (
	maxNodes = 1 << 16
	maxDims  = 8
	maxElems = 1 << 28
)

// ErrFormat wraps nn.ErrFormat for malformed or unsupported ONNX input.
var ErrFormat = fmt.Errorf("onnx: %w", nn.ErrFormat)

// Load reads and translates the ONNX model at path.
func Load(path string) (*nn.Graph, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > MaxModelBytes {
		return nil, fmt.Errorf("%w: %s has %d bytes, more than %d", nn.ErrLimit, path, st.Size(), MaxModelBytes)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxModelBytes+1))
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	if len(b) > MaxModelBytes {
		return nil, fmt.Errorf("%w: model larger than %d bytes", nn.ErrLimit, MaxModelBytes)
	}
	return Parse(b)
}

type tensorProto struct {
	name   string
	dims   []int64
	dtype  int64
	floats []float32
	ints   []int64
	raw    []byte
}

type attribute struct {
	name   string
	f      float32
	i      int64
	s      []byte
	floats []float32
	ints   []int64
	t      *tensorProto // a TENSOR attribute (Constant's value)
}

type nodeProto struct {
	inputs, outputs []string
	name, op        string
	attrs           map[string]attribute
}

type valueInfo struct {
	name string
	dims []int64 // -1 where symbolic or absent
}

type graphProto struct {
	nodes   []nodeProto
	inits   map[string]*tensorProto
	inputs  []valueInfo
	outputs []valueInfo
}

// Parse translates an ONNX ModelProto.
func Parse(b []byte) (*nn.Graph, error) {
	if len(b) > MaxModelBytes {
		return nil, fmt.Errorf("%w: model larger than %d bytes", nn.ErrLimit, MaxModelBytes)
	}
	r := &reader{b: b}
	var f field
	var g *graphProto
	for r.next(&f) {
		if f.num == 7 && f.wire == 2 { // graph
			if g != nil {
				r.fail("two graphs")
				break
			}
			g = parseGraph(f.b, r)
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if g == nil {
		return nil, fmt.Errorf("%w: no graph", ErrFormat)
	}
	return translate(g)
}

func parseGraph(b []byte, parent *reader) *graphProto {
	r := &reader{b: b}
	g := &graphProto{inits: map[string]*tensorProto{}}
	var f field
	for r.next(&f) {
		if f.wire != 2 {
			continue
		}
		switch f.num {
		case 1:
			if len(g.nodes) >= maxNodes {
				r.fail("more than %d nodes", maxNodes)
				break
			}
			g.nodes = append(g.nodes, parseNode(f.b, r))
		case 5:
			t := parseTensor(f.b, r)
			if _, dup := g.inits[t.name]; dup {
				r.fail("duplicate initializer %q", t.name)
			}
			g.inits[t.name] = t
		case 11:
			g.inputs = append(g.inputs, parseValueInfo(f.b, r))
		case 12:
			g.outputs = append(g.outputs, parseValueInfo(f.b, r))
		}
	}
	if r.err != nil && parent.err == nil {
		parent.err = r.err
	}
	return g
}

func parseNode(b []byte, parent *reader) nodeProto {
	r := &reader{b: b}
	n := nodeProto{attrs: map[string]attribute{}}
	var f field
	for r.next(&f) {
		if f.wire != 2 {
			continue
		}
		switch f.num {
		case 1:
			n.inputs = append(n.inputs, string(f.b))
		case 2:
			n.outputs = append(n.outputs, string(f.b))
		case 3:
			n.name = string(f.b)
		case 4:
			n.op = string(f.b)
		case 5:
			a := parseAttr(f.b, r)
			n.attrs[a.name] = a
		}
	}
	if r.err != nil && parent.err == nil {
		parent.err = r.err
	}
	return n
}

func parseAttr(b []byte, parent *reader) attribute {
	r := &reader{b: b}
	var a attribute
	var f field
	for r.next(&f) {
		switch f.num {
		case 1:
			a.name = string(f.b)
		case 2:
			if f.wire == 5 {
				a.f = math.Float32frombits(uint32(f.u))
			}
		case 3:
			if f.wire == 0 {
				a.i = int64(f.u)
			}
		case 4:
			a.s = f.b
		case 5:
			if f.wire == 2 {
				a.t = parseTensor(f.b, r)
			}
		case 7:
			a.floats = f.floats(a.floats, r)
		case 8:
			a.ints = f.ints(a.ints, r)
		}
	}
	if r.err != nil && parent.err == nil {
		parent.err = r.err
	}
	return a
}

func parseTensor(b []byte, parent *reader) *tensorProto {
	r := &reader{b: b}
	t := &tensorProto{}
	var f field
	for r.next(&f) {
		switch f.num {
		case 1:
			t.dims = f.ints(t.dims, r)
		case 2:
			t.dtype = int64(f.u)
		case 4:
			t.floats = f.floats(t.floats, r)
		case 5, 7:
			t.ints = f.ints(t.ints, r)
		case 8:
			t.name = string(f.b)
		case 9:
			t.raw = f.b
		}
	}
	if r.err != nil && parent.err == nil {
		parent.err = r.err
	}
	return t
}

func parseValueInfo(b []byte, parent *reader) valueInfo {
	r := &reader{b: b}
	var v valueInfo
	var f field
	for r.next(&f) {
		switch {
		case f.num == 1 && f.wire == 2:
			v.name = string(f.b)
		case f.num == 2 && f.wire == 2: // TypeProto
			tr := &reader{b: f.b}
			var tf field
			for tr.next(&tf) {
				if tf.num != 1 || tf.wire != 2 { // tensor_type
					continue
				}
				sr := &reader{b: tf.b}
				var sf field
				for sr.next(&sf) {
					if sf.num != 2 || sf.wire != 2 { // shape
						continue
					}
					dr := &reader{b: sf.b}
					var df field
					for dr.next(&df) {
						if df.num != 1 || df.wire != 2 { // dim
							continue
						}
						d := int64(-1)
						xr := &reader{b: df.b}
						var xf field
						for xr.next(&xf) {
							if xf.num == 1 && xf.wire == 0 {
								d = int64(xf.u)
							}
						}
						v.dims = append(v.dims, d)
						if xr.err != nil {
							dr.err = xr.err
						}
					}
					if dr.err != nil {
						sr.err = dr.err
					}
				}
				if sr.err != nil {
					tr.err = sr.err
				}
			}
			if tr.err != nil {
				r.err = tr.err
			}
		}
	}
	if r.err != nil && parent.err == nil {
		parent.err = r.err
	}
	return v
}

// value converts an initializer to an nn tensor (float32, int32 or int64 data).
func (t *tensorProto) value() (*nn.Tensor, error) {
	if len(t.dims) > maxDims {
		return nil, fmt.Errorf("%w: tensor %q rank %d", ErrFormat, t.name, len(t.dims))
	}
	shape := make([]int, len(t.dims))
	n := 1
	for i, d := range t.dims {
		if d < 0 || (d > 0 && n > maxElems/int(min(d, maxElems))) || d > maxElems {
			return nil, fmt.Errorf("%w: tensor %q dims %v", ErrFormat, t.name, t.dims)
		}
		shape[i] = int(d)
		n *= int(d)
	}
	data := make([]float32, 0, min(n, 1<<20))
	switch {
	case t.dtype == 1 && t.raw != nil: // FLOAT
		if len(t.raw) != 4*n {
			return nil, fmt.Errorf("%w: tensor %q has %d raw bytes for %d floats", ErrFormat, t.name, len(t.raw), n)
		}
		for i := 0; i < n; i++ {
			data = append(data, math.Float32frombits(binary.LittleEndian.Uint32(t.raw[4*i:])))
		}
	case t.dtype == 1:
		data = append(data, t.floats...)
	case (t.dtype == 7 || t.dtype == 6) && t.raw != nil: // INT64, INT32
		size := 8
		if t.dtype == 6 {
			size = 4
		}
		if len(t.raw) != size*n {
			return nil, fmt.Errorf("%w: tensor %q has %d raw bytes for %d ints", ErrFormat, t.name, len(t.raw), n)
		}
		for i := 0; i < n; i++ {
			if size == 8 {
				data = append(data, float32(int64(binary.LittleEndian.Uint64(t.raw[8*i:]))))
			} else {
				data = append(data, float32(int32(binary.LittleEndian.Uint32(t.raw[4*i:]))))
			}
		}
	case t.dtype == 7 || t.dtype == 6:
		for _, v := range t.ints {
			data = append(data, float32(v))
		}
	default:
		return nil, fmt.Errorf("%w: tensor %q data type %d", ErrFormat, t.name, t.dtype)
	}
	v, err := nn.FromData(data, shape...)
	if err != nil {
		return nil, fmt.Errorf("%w: tensor %q: %v", ErrFormat, t.name, err)
	}
	return v, nil
}
