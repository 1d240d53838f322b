package nn

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// maxNodes bounds the node count of a graph model.
const maxNodes = 1 << 16

type tfjsModel struct {
	Format        string `json:"format"`
	ModelTopology struct {
		Node []tfjsNode `json:"node"`
	} `json:"modelTopology"`
	Signature *struct {
		Inputs  map[string]struct{ Name string } `json:"inputs"`
		Outputs map[string]struct{ Name string } `json:"outputs"`
	} `json:"signature"`
	WeightsManifest []ManifestGroup `json:"weightsManifest"`
}

type tfjsNode struct {
	Name  string              `json:"name"`
	Op    string              `json:"op"`
	Input []string            `json:"input"`
	Attr  map[string]tfjsAttr `json:"attr"`
}

// jsonInt accepts TF's int64-as-string and plain numbers.
type jsonInt int64

func (j *jsonInt) UnmarshalJSON(b []byte) error {
	b = bytes.Trim(b, `"`)
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return err
	}
	*j = jsonInt(v)
	return nil
}

type tfjsAttr struct {
	S    *string  `json:"s"`
	I    *jsonInt `json:"i"`
	F    *float64 `json:"f"`
	B    *bool    `json:"b"`
	Type string   `json:"type"`
	List *struct {
		I []jsonInt `json:"i"`
		S []string  `json:"s"`
	} `json:"list"`
	Shape *struct {
		Dim []struct {
			Size jsonInt `json:"size"`
		} `json:"dim"`
	} `json:"shape"`
}

func (n *tfjsNode) str(key string) (string, bool) {
	a, ok := n.Attr[key]
	if !ok || a.S == nil {
		return "", false
	}
	b, err := base64.StdEncoding.DecodeString(*a.S)
	if err != nil {
		return "", false
	}
	return string(b), true
}

func (n *tfjsNode) ints(key string) []int {
	a, ok := n.Attr[key]
	if !ok || a.List == nil {
		return nil
	}
	out := make([]int, len(a.List.I))
	for i, v := range a.List.I {
		if v < -1<<30 || v > 1<<30 {
			return nil
		}
		out[i] = int(v)
	}
	return out
}

func (n *tfjsNode) strs(key string) []string {
	a, ok := n.Attr[key]
	if !ok || a.List == nil {
		return nil
	}
	var out []string
	for _, s := range a.List.S {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil
		}
		out = append(out, string(b))
	}
	return out
}

// LoadGraphModel loads a TFJS graph model (model.json named name and its
// weight shards, from fsys) into an executable Graph. Every op, attribute
// and constant the graph uses is checked; unsupported ops are an error.
func LoadGraphModel(fsys fs.FS, name string) (*Graph, error) {
	data, err := readLimited(fsys, name, MaxManifestBytes)
	if err != nil {
		return nil, err
	}
	g, err := ParseGraphModel(data, func(groups []ManifestGroup) (*Weights, error) {
		return DecodeWeights(fsys, path.Dir(name), groups)
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return g, nil
}

// ParseGraphModel builds a Graph from model.json bytes; weights decodes the
// manifest (see DecodeWeights).
func ParseGraphModel(data []byte, weights func([]ManifestGroup) (*Weights, error)) (*Graph, error) {
	var m tfjsModel
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: model.json: %v", ErrFormat, err)
	}
	if m.Format != "graph-model" {
		return nil, fmt.Errorf("%w: format %q, want graph-model", ErrFormat, m.Format)
	}
	nodes := m.ModelTopology.Node
	if len(nodes) == 0 || len(nodes) > maxNodes {
		return nil, fmt.Errorf("%w: %d nodes", ErrFormat, len(nodes))
	}
	w, err := weights(m.WeightsManifest)
	if err != nil {
		return nil, err
	}
	b := NewBuilder()
	consumed := map[string]bool{}
	for i := range nodes {
		n := &nodes[i]
		if err := addTFJSNode(b, n, w); err != nil {
			return nil, err
		}
		for _, in := range n.Input {
			consumed[strings.TrimPrefix(in, "^")] = true
		}
	}
	var outs []string
	if m.Signature != nil && len(m.Signature.Outputs) > 0 {
		for _, o := range m.Signature.Outputs {
			outs = append(outs, strings.TrimSuffix(o.Name, ":0"))
		}
		slices.Sort(outs) // JSON object order is lost; outputs are told apart by name or shape
	} else {
		for _, n := range nodes {
			if !consumed[n.Name] && n.Op != "Const" {
				outs = append(outs, n.Name)
			}
		}
	}
	for _, o := range outs {
		b.Output(o)
	}
	return b.Build()
}

func addTFJSNode(b *Builder, n *tfjsNode, w *Weights) error {
	var ins []string
	for _, in := range n.Input {
		if strings.HasPrefix(in, "^") {
			continue
		}
		if i := strings.LastIndexByte(in, ':'); i >= 0 {
			if in[i+1:] != "0" {
				return fmt.Errorf("%w: node %q uses output %q (multi-output ops are not supported)", ErrFormat, n.Name, in)
			}
			in = in[:i]
		}
		ins = append(ins, in)
	}
	need := func(k int) error {
		if len(ins) != k {
			return fmt.Errorf("%w: node %q (%s) has %d inputs, want %d", ErrFormat, n.Name, n.Op, len(ins), k)
		}
		return nil
	}
	constIn := func(i int) (*Tensor, error) {
		t, ok := b.ConstValue(ins[i])
		if !ok {
			return nil, fmt.Errorf("%w: node %q (%s): input %q must be a constant", ErrFormat, n.Name, n.Op, ins[i])
		}
		return t, nil
	}
	switch n.Op {
	case "Const":
		t, err := w.Get(n.Name)
		if err != nil {
			return err
		}
		b.Const(n.Name, t)
	case "Placeholder":
		a, ok := n.Attr["shape"]
		if !ok || a.Shape == nil || len(a.Shape.Dim) == 0 || len(a.Shape.Dim) > 8 {
			return fmt.Errorf("%w: placeholder %q without a shape", ErrFormat, n.Name)
		}
		var shape []int
		for _, d := range a.Shape.Dim {
			if d.Size < -1 || d.Size > 1<<20 {
				return fmt.Errorf("%w: placeholder %q dimension %d", ErrFormat, n.Name, d.Size)
			}
			shape = append(shape, int(d.Size))
		}
		b.Input(n.Name, shape)
	case "Identity", "StopGradient", "NoOp":
		if err := need(1); err != nil {
			return err
		}
		b.Unary(n.Name, OpIdentity, ins[0])
	case "Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative":
		return addTFJSConv(b, n, ins, constIn)
	case "MatMul", "_FusedMatMul":
		for _, k := range []string{"transpose_a", "transpose_b"} {
			if a, ok := n.Attr[k]; ok && a.B != nil && *a.B {
				return fmt.Errorf("%w: node %q: %s is not supported", ErrFormat, n.Name, k)
			}
		}
		if len(ins) < 2 {
			return need(2)
		}
		wt, err := constIn(1)
		if err != nil {
			return err
		}
		bias, act, err := fusedTail(n, ins, constIn)
		if err != nil {
			return err
		}
		b.MatMul(n.Name, ins[0], wt, bias, act)
	case "Add", "AddV2", "BiasAdd", "Sub", "Mul", "RealDiv", "Minimum", "Maximum":
		if err := need(2); err != nil {
			return err
		}
		op := map[string]BinaryOp{"Add": OpAdd, "AddV2": OpAdd, "BiasAdd": OpAdd, "Sub": OpSub, "Mul": OpMul,
			"RealDiv": OpDiv, "Minimum": OpMin, "Maximum": OpMax}[n.Op]
		b.Binary(n.Name, op, ins[0], ins[1])
	case "Relu", "Relu6", "Sigmoid", "Softmax", "Tanh":
		if err := need(1); err != nil {
			return err
		}
		op := map[string]UnaryOp{"Relu": OpRelu, "Relu6": OpRelu6, "Sigmoid": OpSigmoid, "Softmax": OpSoftmax, "Tanh": OpTanh}[n.Op]
		b.Unary(n.Name, op, ins[0])
	case "Prelu":
		if err := need(2); err != nil {
			return err
		}
		a, err := constIn(1)
		if err != nil {
			return err
		}
		b.Prelu(n.Name, ins[0], a)
	case "MaxPool", "AvgPool":
		if err := need(1); err != nil {
			return err
		}
		k, s := n.ints("ksize"), n.ints("strides")
		pad, err := tfPadding(n)
		if err != nil {
			return err
		}
		if len(k) != 4 || len(s) != 4 || k[0] != 1 || k[3] != 1 || s[0] != 1 || s[3] != 1 {
			return fmt.Errorf("%w: node %q: pool ksize %v strides %v", ErrFormat, n.Name, k, s)
		}
		b.Pool(n.Name, ins[0], n.Op == "MaxPool", k[1], k[2], s[1], s[2], pad)
	case "Pad", "PadV2":
		if len(ins) < 2 {
			return need(2)
		}
		p, err := constIn(1)
		if err != nil {
			return err
		}
		if len(p.Data) != 8 {
			return fmt.Errorf("%w: node %q: paddings %v", ErrFormat, n.Name, p.Shape)
		}
		if len(ins) == 3 {
			if c, err := constIn(2); err != nil || len(c.Data) != 1 || c.Data[0] != 0 {
				return fmt.Errorf("%w: node %q: only zero padding is supported", ErrFormat, n.Name)
			}
		}
		var pads [4][2]int
		for i := range 4 {
			pads[i] = [2]int{int(p.Data[2*i]), int(p.Data[2*i+1])}
		}
		b.Pad(n.Name, ins[0], pads)
	case "Reshape":
		if err := need(2); err != nil {
			return err
		}
		s, err := constIn(1)
		if err != nil {
			return err
		}
		shape := make([]int, len(s.Data))
		for i, v := range s.Data {
			shape[i] = int(v)
		}
		b.Reshape(n.Name, ins[0], shape)
	case "Mean":
		if err := need(2); err != nil {
			return err
		}
		ax, err := constIn(1)
		if err != nil {
			return err
		}
		if len(ax.Data) != 2 || ax.Data[0] != 1 || ax.Data[1] != 2 {
			return fmt.Errorf("%w: node %q: mean over axes %v (only [1 2] is supported)", ErrFormat, n.Name, ax.Data)
		}
		keep := false
		if a, ok := n.Attr["keep_dims"]; ok && a.B != nil {
			keep = *a.B
		}
		b.MeanHW(n.Name, ins[0], keep)
	default:
		return fmt.Errorf("%w: node %q: unsupported op %q", ErrFormat, n.Name, n.Op)
	}
	return b.Err()
}

func tfPadding(n *tfjsNode) (Padding, error) {
	p, _ := n.str("padding")
	switch p {
	case "SAME":
		return Same, nil
	case "VALID":
		return Valid, nil
	}
	return 0, fmt.Errorf("%w: node %q: padding %q", ErrFormat, n.Name, p)
}

// fusedTail reads a fused op's bias and activation (fused_ops [BiasAdd[, Relu|Relu6]]).
func fusedTail(n *tfjsNode, ins []string, constIn func(int) (*Tensor, error)) (*Tensor, Activation, error) {
	ops := n.strs("fused_ops")
	if !strings.HasPrefix(n.Op, "_Fused") && !strings.HasPrefix(n.Op, "Fused") {
		if len(ins) != 2 {
			return nil, 0, fmt.Errorf("%w: node %q has %d inputs", ErrFormat, n.Name, len(ins))
		}
		return nil, Linear, nil
	}
	var bias *Tensor
	act := Linear
	if len(ops) == 2 && ops[0] == "BiasAdd" && ops[1] == "Prelu" && len(ins) == 4 {
		// the caller emits the Prelu (alpha is input 3)
		bias, err := constIn(2)
		return bias, Linear, err
	}
	if len(ops) == 0 || ops[0] != "BiasAdd" || len(ops) > 2 || len(ins) != 3 {
		return nil, 0, fmt.Errorf("%w: node %q: fused ops %v with %d inputs", ErrFormat, n.Name, ops, len(ins))
	}
	bias, err := constIn(2)
	if err != nil {
		return nil, 0, err
	}
	if len(ops) == 2 {
		switch ops[1] {
		case "Relu":
			act = ReLU
		case "Relu6":
			act = ReLU6
		default:
			return nil, 0, fmt.Errorf("%w: node %q: fused activation %q", ErrFormat, n.Name, ops[1])
		}
	}
	return bias, act, nil
}

func addTFJSConv(b *Builder, n *tfjsNode, ins []string, constIn func(int) (*Tensor, error)) error {
	if len(ins) < 2 {
		return fmt.Errorf("%w: node %q (%s) has %d inputs", ErrFormat, n.Name, n.Op, len(ins))
	}
	f, err := constIn(1)
	if err != nil {
		return err
	}
	if df, ok := n.str("data_format"); ok && df != "NHWC" {
		return fmt.Errorf("%w: node %q: data format %q", ErrFormat, n.Name, df)
	}
	for _, d := range n.ints("dilations") {
		if d != 1 {
			return fmt.Errorf("%w: node %q: dilation %v", ErrFormat, n.Name, n.ints("dilations"))
		}
	}
	s := n.ints("strides")
	if len(s) != 4 || s[0] != 1 || s[3] != 1 || s[1] <= 0 || s[2] <= 0 || s[1] > 16 || s[2] > 16 {
		return fmt.Errorf("%w: node %q: strides %v", ErrFormat, n.Name, s)
	}
	pad, err := tfPadding(n)
	if err != nil {
		return err
	}
	bias, act, err := fusedTail(n, ins, constIn)
	if err != nil {
		return err
	}
	name := n.Name
	var alpha *Tensor
	if ops := n.strs("fused_ops"); len(ops) == 2 && ops[1] == "Prelu" {
		if alpha, err = constIn(3); err != nil {
			return err
		}
		name = n.Name + "/conv"
	}
	if strings.Contains(n.Op, "Depthwise") {
		b.Depthwise(name, ins[0], f, bias, s[1], s[2], pad, act)
	} else {
		b.Conv2D(name, ins[0], f, bias, s[1], s[2], pad, act)
	}
	if alpha != nil {
		b.Prelu(n.Name, name, alpha)
	}
	return b.Err()
}
