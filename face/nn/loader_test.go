package nn

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

func f32bytes(v ...float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func manifestFS(t *testing.T, groups []ManifestGroup, shards map[string][]byte) fstest.MapFS {
	t.Helper()
	js, err := json.Marshal(groups)
	if err != nil {
		t.Fatal(err)
	}
	fs := fstest.MapFS{"m/w-weights_manifest.json": {Data: js}}
	for n, b := range shards {
		fs["m/"+n] = &fstest.MapFile{Data: b}
	}
	return fs
}

func TestLoadManifestDecodes(t *testing.T) {
	groups := []ManifestGroup{{
		Paths: []string{"a.bin", "b.bin"},
		Weights: []ManifestWeight{
			{Name: "q8", Shape: []int{2, 2}, DType: "float32", Quantization: &Quantization{DType: "uint8", Scale: 0.5, Min: -1}},
			{Name: "f32", Shape: []int{2}, DType: "float32"},
			{Name: "h", Shape: []int{1}, DType: "float32", Quantization: &Quantization{DType: "float16"}},
			{Name: "i", Shape: []int{}, DType: "int32"},
			{Name: "qi", Shape: []int{1}, DType: "int32", Quantization: &Quantization{DType: "uint16", Scale: 0.3, Min: 0}},
		},
	}}
	data := []byte{0, 1, 2, 255}
	data = append(data, f32bytes(1.5, -2)...)
	data = append(data, 0x00, 0x3c) // half 1.0
	data = append(data, 0xfe, 0xff, 0xff, 0xff)
	data = append(data, 5, 0) // 5*0.3 = 1.5 -> rounds to 2
	fs := manifestFS(t, groups, map[string][]byte{"a.bin": data[:5], "b.bin": data[5:]})
	w, err := LoadManifest(fs, "m/w-weights_manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]float32{"q8": {-1, -0.5, 0, 126.5}, "f32": {1.5, -2}, "h": {1}, "i": {-2}, "qi": {2}}
	for name, v := range want {
		got, err := w.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(v, got.Data); diff != "" {
			t.Errorf("weight %q (-want +got):\n%s", name, diff)
		}
	}
	if _, err := w.Get("q8", 4); !errors.Is(err, ErrFormat) {
		t.Errorf("Get(q8, [4]) error = %v, want ErrFormat (shape)", err)
	}
	if _, err := w.Get("nope"); !errors.Is(err, ErrMissing) {
		t.Errorf("Get(nope) error = %v, want ErrMissing", err)
	}
}

func TestLoadManifestRejects(t *testing.T) {
	one := func(mw ManifestWeight, paths ...string) []ManifestGroup {
		if len(paths) == 0 {
			paths = []string{"a.bin"}
		}
		return []ManifestGroup{{Paths: paths, Weights: []ManifestWeight{mw}}}
	}
	f := ManifestWeight{Name: "w", Shape: []int{2}, DType: "float32"}
	tests := []struct {
		name   string
		groups []ManifestGroup
		shards map[string][]byte
		want   error
	}{
		{"truncated shard", one(f), map[string][]byte{"a.bin": f32bytes(1)}, ErrFormat},
		{"oversized shard", one(f), map[string][]byte{"a.bin": f32bytes(1, 2, 3)}, ErrFormat},
		{"missing shard", one(f), nil, nil},
		{"path traversal", one(f, "../a.bin"), map[string][]byte{"a.bin": f32bytes(1, 2)}, ErrFormat},
		{"bad dtype", one(ManifestWeight{Name: "w", Shape: []int{2}, DType: "complex64"}), map[string][]byte{"a.bin": f32bytes(1, 2)}, ErrFormat},
		{"bad quantisation", one(ManifestWeight{Name: "w", Shape: []int{2}, DType: "float32", Quantization: &Quantization{DType: "int4"}}), map[string][]byte{"a.bin": {1}}, ErrFormat},
		{"negative dim", one(ManifestWeight{Name: "w", Shape: []int{-2}, DType: "float32"}), map[string][]byte{"a.bin": nil}, ErrFormat},
		{"huge tensor", one(ManifestWeight{Name: "w", Shape: []int{1 << 20, 1 << 20}, DType: "float32"}), map[string][]byte{"a.bin": nil}, ErrLimit},
		{"over total limit", one(ManifestWeight{Name: "w", Shape: []int{1 << 27, 8}, DType: "float32"}), map[string][]byte{"a.bin": nil}, ErrLimit},
		{"duplicate", []ManifestGroup{{Paths: []string{"a.bin"}, Weights: []ManifestWeight{f, f}}}, map[string][]byte{"a.bin": f32bytes(1, 2, 3, 4)}, ErrFormat},
		{"no paths", []ManifestGroup{{Weights: []ManifestWeight{f}}}, nil, ErrFormat},
	}
	for _, tc := range tests {
		_, err := LoadManifest(manifestFS(t, tc.groups, tc.shards), "m/w-weights_manifest.json")
		if err == nil {
			t.Errorf("%s: LoadManifest succeeded, want error", tc.name)
			continue
		}
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: LoadManifest error = %v, want %v", tc.name, err, tc.want)
		}
	}
	bad := fstest.MapFS{"m/w-weights_manifest.json": {Data: []byte(`{"not":"an array"}`)}}
	if _, err := LoadManifest(bad, "m/w-weights_manifest.json"); !errors.Is(err, ErrFormat) {
		t.Errorf("LoadManifest(object) error = %v, want ErrFormat", err)
	}
}

// tinyGraph is a hand-written graph-model: conv 1x1 (weights 2, bias 1) + relu,
// then Mul by a constant and a reshape.
const tinyGraph = `{"format":"graph-model","modelTopology":{"node":[
{"name":"w","op":"Const","attr":{"dtype":{"type":"DT_FLOAT"}}},
{"name":"b","op":"Const","attr":{"dtype":{"type":"DT_FLOAT"}}},
{"name":"k","op":"Const","attr":{"dtype":{"type":"DT_FLOAT"}}},
{"name":"s","op":"Const","attr":{"dtype":{"type":"DT_INT32"}}},
{"name":"x","op":"Placeholder","attr":{"shape":{"shape":{"dim":[{"size":"-1"},{"size":"2"},{"size":"2"},{"size":"1"}]}}}},
{"name":"conv","op":"_FusedConv2D","input":["x","w","b"],"attr":{"strides":{"list":{"i":["1","1","1","1"]}},"padding":{"s":"VkFMSUQ="},"data_format":{"s":"TkhXQw=="},"dilations":{"list":{"i":["1","1","1","1"]}},"fused_ops":{"list":{"s":["Qmlhc0FkZA==","UmVsdQ=="]}},"num_args":{"i":"1"}}},
{"name":"mul","op":"Mul","input":["conv","k"]},
{"name":"flat","op":"Reshape","input":["mul","s"]},
{"name":"Identity","op":"Identity","input":["flat"]}
]},"weightsManifest":[{"paths":["g.bin"],"weights":[
{"name":"w","shape":[1,1,1,1],"dtype":"float32"},
{"name":"b","shape":[1],"dtype":"float32"},
{"name":"k","shape":[],"dtype":"float32"},
{"name":"s","shape":[2],"dtype":"int32"}]}]}`

func tinyShard() []byte {
	b := f32bytes(2, 1, 10)
	return append(b, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff) // int32 1, -1
}

func TestGraphModelTiny(t *testing.T) {
	fs := fstest.MapFS{"g/model.json": {Data: []byte(tinyGraph)}, "g/g.bin": {Data: tinyShard()}}
	g, err := LoadGraphModel(fs, "g/model.json")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"Identity"}, g.Outputs()); diff != "" {
		t.Errorf("Outputs (-want +got):\n%s", diff)
	}
	x, _ := FromData([]float32{1, -1, 0.5, -3}, 1, 2, 2, 1)
	out, err := g.Run(context.Background(), map[string]*Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	// relu(2x+1)*10: 30, 0, 20, 0
	if diff := cmp.Diff([]float32{30, 0, 20, 0}, out[0].Data); diff != "" {
		t.Errorf("Run (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{1, 4}, out[0].Shape); diff != "" {
		t.Errorf("Run shape (-want +got):\n%s", diff)
	}
	if _, err := g.Run(context.Background(), map[string]*Tensor{"x": NewTensor(1, 3, 2, 1)}); !errors.Is(err, ErrShape) {
		t.Errorf("Run(wrong shape) error = %v, want ErrShape", err)
	}
	if _, err := g.Run(context.Background(), nil); !errors.Is(err, ErrShape) {
		t.Errorf("Run(no input) error = %v, want ErrShape", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.Run(ctx, map[string]*Tensor{"x": x}); !errors.Is(err, context.Canceled) {
		t.Errorf("Run(cancelled) error = %v, want context.Canceled", err)
	}
}

func TestGraphModelRejects(t *testing.T) {
	mutate := func(old, new string) string {
		s := []byte(tinyGraph)
		i := indexOf(string(s), old)
		if i < 0 {
			t.Fatalf("fixture lacks %q", old)
		}
		return string(s[:i]) + new + string(s[i+len(old):])
	}
	tests := []struct {
		name, model string
		shard       []byte
	}{
		{"unsupported op", mutate(`"op":"Mul"`, `"op":"Erf"`), tinyShard()},
		{"undefined input", mutate(`["conv","k"]`, `["conv","nope"]`), tinyShard()},
		{"second output", mutate(`["conv","k"]`, `["conv:1","k"]`), tinyShard()},
		{"non-const filter", mutate(`["x","w","b"]`, `["x","x","b"]`), tinyShard()},
		{"bad padding", mutate(`"VkFMSUQ="`, `"RVhQTElDSVQ="`), tinyShard()},
		{"dilation", mutate(`"dilations":{"list":{"i":["1","1","1","1"]}},"fused`, `"dilations":{"list":{"i":["1","2","2","1"]}},"fused`), tinyShard()},
		{"not a graph", mutate(`"graph-model"`, `"layers-model"`), tinyShard()},
		{"truncated weights", tinyGraph, tinyShard()[:10]},
		{"const without weight", mutate(`{"name":"s","shape":[2],"dtype":"int32"}`, `{"name":"s2","shape":[2],"dtype":"int32"}`), tinyShard()},
		{"bad json", tinyGraph[:100], tinyShard()},
	}
	for _, tc := range tests {
		fs := fstest.MapFS{"g/model.json": {Data: []byte(tc.model)}, "g/g.bin": {Data: tc.shard}}
		if _, err := LoadGraphModel(fs, "g/model.json"); !errors.Is(err, ErrFormat) && !errors.Is(err, ErrMissing) {
			t.Errorf("%s: LoadGraphModel error = %v, want ErrFormat or ErrMissing", tc.name, err)
		}
	}
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func FuzzLoadManifest(f *testing.F) {
	f.Add([]byte(`[{"paths":["a.bin"],"weights":[{"name":"w","shape":[2],"dtype":"float32","quantization":{"dtype":"uint8","scale":0.5,"min":-1}}]}]`), []byte{1, 2})
	f.Add([]byte(`[{"paths":["a.bin"],"weights":[{"name":"w","shape":[1],"dtype":"float32","quantization":{"dtype":"float16"}}]}]`), []byte{0, 0x3c})
	f.Add([]byte(`[{"paths":["a.bin"],"weights":[{"name":"w","shape":[],"dtype":"int32"}]}]`), []byte{1, 2, 3, 4})
	f.Add([]byte(`[]`), []byte{})
	f.Fuzz(func(t *testing.T, manifest, shard []byte) {
		fs := fstest.MapFS{"m/x-weights_manifest.json": {Data: manifest}, "m/a.bin": {Data: shard}}
		w, err := LoadManifest(fs, "m/x-weights_manifest.json")
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrLimit) && !errors.Is(err, ErrMissing) && w != nil {
				t.Fatalf("error %v with non-nil weights", err)
			}
			return
		}
		for _, n := range w.Names() {
			tt, _ := w.Get(n)
			if len(tt.Data) != shapeLen(tt.Shape) {
				t.Fatalf("weight %q: %d values for shape %v", n, len(tt.Data), tt.Shape)
			}
		}
	})
}

func FuzzParseGraphModel(f *testing.F) {
	f.Add([]byte(tinyGraph), tinyShard())
	f.Add([]byte(`{"format":"graph-model","modelTopology":{"node":[{"name":"x","op":"Placeholder","attr":{"shape":{"shape":{"dim":[{"size":"1"}]}}}},{"name":"y","op":"Relu","input":["x"]}]},"weightsManifest":[]}`), []byte{})
	f.Fuzz(func(t *testing.T, model, shard []byte) {
		fs := fstest.MapFS{"g/model.json": {Data: model}, "g/g.bin": {Data: shard}}
		g, err := LoadGraphModel(fs, "g/model.json")
		if err != nil {
			return
		}
		// A graph that loads must run on a small input matching its placeholder, or fail cleanly.
		in := map[string]*Tensor{}
		for _, i := range g.inputs {
			shape := append([]int(nil), g.nodes[i].shape...)
			for d := range shape {
				if shape[d] < 0 {
					shape[d] = 1
				}
			}
			if n, err := numElements(shape); err != nil || n > 1<<16 {
				return
			}
			in[g.nodes[i].name] = NewTensor(shape...)
		}
		_, _ = g.Run(context.Background(), in)
	})
}

// TestGraphFusion checks that conv -> Add(bias) -> Mul(scale) -> Relu ->
// Minimum(6) -> Maximum(0) is folded into one node and computes the same
// values as the unfused ops.
func TestGraphFusion(t *testing.T) {
	build := func(fuse bool) *Graph {
		b := NewBuilder()
		b.Input("x", []int{1, 2, 2, 1})
		f, _ := FromData([]float32{1, -1}, 1, 1, 1, 2)
		b.Conv2D("conv", "x", f, nil, 1, 1, Valid, Linear)
		b.Const("bias", &Tensor{Shape: []int{2}, Data: []float32{0.5, 1}})
		b.Const("scale", &Tensor{Shape: []int{1, 1, 1, 2}, Data: []float32{3, 2}})
		b.Const("six", &Tensor{Shape: []int{}, Data: []float32{6}})
		b.Const("zero", &Tensor{Shape: []int{}, Data: []float32{0}})
		b.Binary("add", OpAdd, "conv", "bias")
		b.Binary("mul", OpMul, "add", "scale")
		b.Unary("relu", OpRelu, "mul")
		b.Binary("min", OpMin, "relu", "six")
		b.Binary("max", OpMax, "zero", "min")
		b.Output("max")
		if !fuse {
			b.Output("add") // an output is never folded away: keeps the chain unfused
		}
		g, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	x, _ := FromData([]float32{1, -2, 0.25, 4}, 1, 2, 2, 1)
	fused, plain := build(true), build(false)
	if got := fused.nodes[fused.outputs[0]].op; got != "Conv2D" {
		t.Errorf("fused output node op = %q, want Conv2D", got)
	}
	a, err := fused.Run(context.Background(), map[string]*Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	p, err := plain.Run(context.Background(), map[string]*Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	// ch0: min(max((x+0.5)*3,0),6); ch1: min(max((-x+1)*2,0),6)
	want := []float32{4.5, 0, 0, 6, 2.25, 1.5, 6, 0}
	if diff := cmp.Diff(want, a[0].Data); diff != "" {
		t.Errorf("fused Run (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, p[0].Data); diff != "" {
		t.Errorf("unfused Run (-want +got):\n%s", diff)
	}
}

// TestGraphInPlaceSafety checks that the executor only overwrites values
// with no other pending consumer, including through views (Reshape).
func TestGraphInPlaceSafety(t *testing.T) {
	b := NewBuilder()
	b.Input("x", []int{1, 1, 2, 1})
	f, _ := FromData([]float32{1, -1}, 1, 1, 1, 2)
	b.Conv2D("conv", "x", f, nil, 1, 1, Valid, Linear)
	b.Reshape("flat", "conv", []int{1, 4})
	b.Unary("relu", OpRelu, "flat")        // may not overwrite conv: it is a view
	b.Unary("sig", OpSigmoid, "conv")      // second consumer of conv
	b.Binary("sum", OpAdd, "conv", "conv") // same value twice
	b.Unary("neg", OpRelu, "sum")          // sum is owned: in place is fine
	// a view of conv2 consumed after an element-wise op on conv2 itself
	b.Conv2D("conv2", "x", f, nil, 1, 1, Valid, Linear)
	b.Reshape("view2", "conv2", []int{1, 4})
	b.Unary("relu2", OpRelu, "conv2") // last direct consumer of conv2: must not write into view2's data
	b.Unary("late", OpIdentity, "view2")
	for _, o := range []string{"relu", "sig", "neg", "conv", "late", "relu2"} {
		b.Output(o)
	}
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	x, _ := FromData([]float32{2, -3}, 1, 1, 2, 1)
	out, err := g.Run(context.Background(), map[string]*Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	conv := []float32{2, -2, -3, 3}
	want := [][]float32{{2, 0, 0, 3}, nil, {4, 0, 0, 6}, conv, conv, {2, 0, 0, 3}}
	for i, w := range want {
		if w == nil {
			continue
		}
		if diff := cmp.Diff(w, out[i].Data); diff != "" {
			t.Errorf("output %d (-want +got):\n%s", i, diff)
		}
	}
	for i, v := range out[1].Data {
		if want := Sigmoid(conv[i]); v != want {
			t.Errorf("sig[%d] = %v, want %v", i, v, want)
		}
	}
}

// TestLoadManifestNoAllocationFromClaims checks that a manifest claiming a
// huge tensor over a tiny shard is refused without allocating the claim.
func TestLoadManifestNoAllocationFromClaims(t *testing.T) {
	groups := []ManifestGroup{{Paths: []string{"a.bin"}, Weights: []ManifestWeight{{Name: "w", Shape: []int{100 << 20}, DType: "float32"}}}}
	fs := manifestFS(t, groups, map[string][]byte{"a.bin": f32bytes(1, 2)})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := LoadManifest(fs, "m/w-weights_manifest.json"); !errors.Is(err, ErrFormat) {
		t.Fatalf("LoadManifest(400 MB claim, 8-byte shard) error = %v, want ErrFormat", err)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 8<<20 {
		t.Errorf("LoadManifest allocated %d bytes for a refused 8-byte shard", got)
	}
}

// TestGraphResidualFusion checks conv + bias + residual + relu, folded into
// one node, against a naive computation, for widths on the assembly path
// (8, 24) and off it (3).
func TestGraphResidualFusion(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, c := range []int{3, 8, 24} {
		f, bias := randTensor(r, 1, 1, c, c), randTensor(r, c)
		b := NewBuilder()
		b.Input("x", []int{1, 3, 3, c})
		b.Unary("skip", OpRelu, "x") // a computed residual, defined before the conv
		b.Conv2D("conv", "x", f, bias, 1, 1, Valid, Linear)
		b.Binary("add", OpAdd, "conv", "skip")
		b.Unary("out", OpRelu, "add")
		b.Output("out")
		g, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		if g.Stats()["Conv2D+residual"] != 1 {
			t.Errorf("c=%d: residual not folded: %v", c, g.Stats())
		}
		x := randTensor(r, 1, 3, 3, c)
		got, err := g.Run(context.Background(), map[string]*Tensor{"x": x})
		if err != nil {
			t.Fatal(err)
		}
		want := naiveConv(x, f, bias.Data, 1, 1, Valid, false)
		for i := range want.Data {
			want.Data[i] = max(want.Data[i]+max(x.Data[i], 0), 0)
		}
		if diff := cmp.Diff(want.Data, got[0].Data, approx); diff != "" {
			t.Errorf("c=%d: fused residual (-want +got):\n%s", c, diff)
		}
	}
}
