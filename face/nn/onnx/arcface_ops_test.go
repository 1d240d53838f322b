package onnx

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/madoguchi/madoguchi/face/nn"
)

func intTensorPB(name string, dims []int64, v ...int64) []byte {
	var raw []byte
	for _, x := range v {
		raw = append(raw, byte(x), byte(x>>8), byte(x>>16), byte(x>>24), byte(x>>32), byte(x>>40), byte(x>>48), byte(x>>56))
	}
	return pb(nil).packedInts(1, dims...).varint(2, 7).str(8, name).bytes(9, raw)
}

// attrTensor is a TENSOR attribute (Constant's value).
func attrTensor(name string, t []byte) []byte {
	return pb(nil).str(1, name).bytes(5, t).varint(20, 4)
}

// seFlattenModel is the tail of an ArcFace/MiniFASNet-style network:
// x[1,2,2,3] -> PRelu(slope[2,1,1]) -> squeeze-and-excitation
// (GlobalAveragePool -> Sigmoid -> Mul with the input) -> the exporters'
// dynamic flatten (Shape -> Gather(0) -> Unsqueeze -> Concat(-1) ->
// Reshape), and a second output through Flatten.
func seFlattenModel() []byte {
	var g pb
	g = g.bytes(1, nodePB("PRelu", []string{"x", "slope"}, []string{"p"}))
	g = g.bytes(1, nodePB("GlobalAveragePool", []string{"p"}, []string{"gap"}))
	g = g.bytes(1, nodePB("Sigmoid", []string{"gap"}, []string{"sig"}))
	g = g.bytes(1, nodePB("Mul", []string{"p", "sig"}, []string{"se"}))
	g = g.bytes(1, nodePB("Shape", []string{"se"}, []string{"shape"}))
	g = g.bytes(1, nodePB("Constant", nil, []string{"zero"}, attrTensor("value", intTensorPB("", nil, 0))))
	g = g.bytes(1, nodePB("Gather", []string{"shape", "zero"}, []string{"batch"}, attrInt("axis", 0)))
	g = g.bytes(1, nodePB("Unsqueeze", []string{"batch"}, []string{"b1"}, attrInts("axes", 0)))
	g = g.bytes(1, nodePB("Concat", []string{"b1", "minus1"}, []string{"target"}, attrInt("axis", 0)))
	g = g.bytes(1, nodePB("Reshape", []string{"se", "target"}, []string{"y"}))
	g = g.bytes(1, nodePB("Flatten", []string{"p"}, []string{"z"}))
	g = g.bytes(5, tensorPB("slope", []int64{2, 1, 1}, []float32{0.25, -0.5}))
	g = g.bytes(5, intTensorPB("minus1", []int64{1}, -1))
	g = g.bytes(11, valueInfoPB("x", 1, 2, 2, 3))
	g = g.bytes(12, valueInfoPB("y", 1, 12))
	g = g.bytes(12, valueInfoPB("z", 1, 12))
	return pb(nil).varint(1, 8).bytes(7, g).bytes(8, pb(nil).varint(2, 9))
}

// TestSEAndFlattenKeepNCHWOrder checks PRelu, a tensor-by-tensor Mul, the
// folded shape arithmetic and that Reshape/Flatten produce ONNX's NCHW
// element order, against a direct NCHW computation.
func TestSEAndFlattenKeepNCHWOrder(t *testing.T) {
	g, err := Parse(seFlattenModel())
	if err != nil {
		t.Fatal(err)
	}
	const c, h, w = 2, 2, 3
	v := func(ch, y, x int) float64 { return float64(ch*6+y*3+x)/4 - 1.4 } // NCHW values
	in := nn.NewTensor(1, h, w, c)
	for ch := 0; ch < c; ch++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				in.Data[(y*w+x)*c+ch] = float32(v(ch, y, x))
			}
		}
	}
	out, err := g.Run(context.Background(), map[string]*nn.Tensor{"x": in})
	if err != nil {
		t.Fatal(err)
	}
	slope := []float64{0.25, -0.5}
	var p [c][h][w]float64
	var mean [c]float64
	for ch := 0; ch < c; ch++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				q := v(ch, y, x)
				if q < 0 {
					q *= slope[ch]
				}
				p[ch][y][x] = q
				mean[ch] += q / (h * w)
			}
		}
	}
	var wantY, wantZ []float64
	for ch := 0; ch < c; ch++ {
		s := 1 / (1 + math.Exp(-mean[ch]))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				wantY = append(wantY, p[ch][y][x]*s)
				wantZ = append(wantZ, p[ch][y][x])
			}
		}
	}
	for k, want := range [][]float64{wantY, wantZ} {
		got := out[k]
		if len(got.Shape) != 2 || got.Shape[0] != 1 || got.Shape[1] != 12 {
			t.Fatalf("output %d shape %v, want [1 12]", k, got.Shape)
		}
		for i := range want {
			if math.Abs(float64(got.Data[i])-want[i]) > 1e-6 {
				t.Errorf("output %d [%d] = %.6f, want %.6f", k, i, got.Data[i], want[i])
			}
		}
	}
}

// TestReshapeToRank4 checks that a rank-4 result comes back in NHWC: a
// [1,2,2,3] NCHW tensor reshaped to [1,3,2,2] (NCHW) and read as NHWC.
func TestReshapeToRank4(t *testing.T) {
	var g pb
	g = g.bytes(1, nodePB("Reshape", []string{"x", "s"}, []string{"y"}))
	g = g.bytes(5, intTensorPB("s", []int64{4}, 1, 3, 2, 2))
	g = g.bytes(11, valueInfoPB("x", 1, 2, 2, 3))
	g = g.bytes(12, valueInfoPB("y", 1, 3, 2, 2))
	graph, err := Parse(pb(nil).varint(1, 8).bytes(7, g))
	if err != nil {
		t.Fatal(err)
	}
	in := nn.NewTensor(1, 2, 3, 2) // NHWC of NCHW [1,2,2,3]
	flat := make([]float32, 12)    // NCHW order
	for ch := 0; ch < 2; ch++ {
		for y := 0; y < 2; y++ {
			for x := 0; x < 3; x++ {
				f := float32(ch*6 + y*3 + x)
				flat[ch*6+y*3+x] = f
				in.Data[(y*3+x)*2+ch] = f
			}
		}
	}
	out, err := graph.Run(context.Background(), map[string]*nn.Tensor{"x": in})
	if err != nil {
		t.Fatal(err)
	}
	y := out[0]
	if want := []int{1, 2, 2, 3}; len(y.Shape) != 4 || y.Shape[1] != want[1] || y.Shape[2] != want[2] || y.Shape[3] != want[3] {
		t.Fatalf("shape %v, want NHWC %v", y.Shape, want)
	}
	// NCHW [1,3,2,2]: element (c,h,w) = flat[c*4+h*2+w]; NHWC index (h*2+w)*3+c
	for ch := 0; ch < 3; ch++ {
		for hh := 0; hh < 2; hh++ {
			for ww := 0; ww < 2; ww++ {
				if got, want := y.Data[(hh*2+ww)*3+ch], flat[ch*4+hh*2+ww]; got != want {
					t.Errorf("y[c=%d,h=%d,w=%d] = %v, want %v", ch, hh, ww, got, want)
				}
			}
		}
	}
}

func TestRejectsShapeArithmetic(t *testing.T) {
	model := func(nodes ...[]byte) []byte {
		var g pb
		for _, n := range nodes {
			g = g.bytes(1, n)
		}
		g = g.bytes(5, intTensorPB("one", nil, 1))
		g = g.bytes(5, tensorPB("fslope", []int64{}, []float32{0.1}))
		g = g.bytes(11, valueInfoPB("x", 1, 2, 2, 3))
		g = g.bytes(12, valueInfoPB("y", 1, 12))
		return pb(nil).varint(1, 8).bytes(7, g)
	}
	tests := map[string][]byte{
		"gather of a spatial dimension": model(
			nodePB("Shape", []string{"x"}, []string{"s"}),
			nodePB("Gather", []string{"s", "one"}, []string{"y"})),
		"float constant":     model(nodePB("Constant", nil, []string{"y"}, attrTensor("value", tensorPB("", nil, []float32{1})))),
		"scalar PRelu slope": model(nodePB("PRelu", []string{"x", "fslope"}, []string{"y"})),
		"concat of a shape": model(
			nodePB("Shape", []string{"x"}, []string{"s"}),
			nodePB("Concat", []string{"s"}, []string{"y"}, attrInt("axis", 0))),
		"shape of an unknown value": model(nodePB("Shape", []string{"nothing"}, []string{"y"})),
	}
	for name, b := range tests {
		if _, err := Parse(b); !errors.Is(err, nn.ErrFormat) {
			t.Errorf("Parse(%s) error = %v, want nn.ErrFormat", name, err)
		}
	}
}

// TestLoadRefusesOversizedFile: a model file above MaxModelBytes is
// refused from its size, before anything is read or allocated.
func TestLoadRefusesOversizedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.onnx")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxModelBytes + 1); err != nil { // sparse
		t.Fatal(err)
	}
	f.Close()
	if _, err := Load(path); !errors.Is(err, nn.ErrLimit) {
		t.Errorf("Load(%d-byte file) error = %v, want nn.ErrLimit", MaxModelBytes+1, err)
	}
}
