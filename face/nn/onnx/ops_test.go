package onnx

import (
	"context"
	"math"
	"testing"

	"github.com/madoguchi/madoguchi/face/nn"
)

// TestElementwisePoolMatMul covers the translator's per-channel constants,
// Clip with input bounds, both pools and MatMul against a direct NCHW
// computation: x[1,2,4,4] -> Mul(k[2,1,1]) -> Add(scalar) -> Clip(-1,1) ->
// MaxPool 2x2/2 -> AveragePool 2x2/2 -> GlobalAveragePool -> Flatten ->
// MatMul [2,3] -> Sigmoid.
func TestElementwisePoolMatMul(t *testing.T) {
	k := []float32{0.5, -2}
	s := float32(0.25)
	w := []float32{1, -1, 0.5, 2, 0.25, -3}
	var g pb
	g = g.bytes(1, nodePB("Mul", []string{"x", "k"}, []string{"m"}))
	g = g.bytes(1, nodePB("Add", []string{"s", "m"}, []string{"a"}))
	g = g.bytes(1, nodePB("Clip", []string{"a", "lo", "hi"}, []string{"c"}))
	g = g.bytes(1, nodePB("MaxPool", []string{"c"}, []string{"mp"}, attrInts("kernel_shape", 2, 2), attrInts("strides", 2, 2)))
	g = g.bytes(1, nodePB("AveragePool", []string{"mp"}, []string{"ap"}, attrInts("kernel_shape", 2, 2), attrInts("strides", 2, 2)))
	g = g.bytes(1, nodePB("GlobalAveragePool", []string{"ap"}, []string{"gap"}))
	g = g.bytes(1, nodePB("Flatten", []string{"gap"}, []string{"f"}))
	g = g.bytes(1, nodePB("MatMul", []string{"f", "w"}, []string{"mm"}))
	g = g.bytes(1, nodePB("Sigmoid", []string{"mm"}, []string{"y"}))
	g = g.bytes(5, tensorPB("k", []int64{2, 1, 1}, k))
	g = g.bytes(5, tensorPB("s", []int64{}, []float32{s}))
	g = g.bytes(5, tensorPB("lo", []int64{}, []float32{-1}))
	g = g.bytes(5, tensorPB("hi", []int64{}, []float32{1}))
	g = g.bytes(5, tensorPB("w", []int64{2, 3}, w))
	g = g.bytes(11, valueInfoPB("x", 1, 2, 4, 4))
	g = g.bytes(12, valueInfoPB("y", 1, 3))
	graph, err := Parse(pb(nil).varint(1, 8).bytes(7, g))
	if err != nil {
		t.Fatal(err)
	}
	// input, NCHW values v(c,y,x) = (c*16 + y*4 + x)/8 - 1.5
	v := func(c, y, x int) float64 { return float64(c*16+y*4+x)/8 - 1.5 }
	in := nn.NewTensor(1, 4, 4, 2)
	for c := 0; c < 2; c++ {
		for y := 0; y < 4; y++ {
			for x := 0; x < 4; x++ {
				in.Data[(y*4+x)*2+c] = float32(v(c, y, x))
			}
		}
	}
	out, err := graph.Run(context.Background(), map[string]*nn.Tensor{"x": in})
	if err != nil {
		t.Fatal(err)
	}
	var feat [2]float64
	for c := 0; c < 2; c++ {
		var sum float64
		for py := 0; py < 2; py++ {
			for px := 0; px < 2; px++ {
				m := math.Inf(-1)
				for y := 2 * py; y < 2*py+2; y++ {
					for x := 2 * px; x < 2*px+2; x++ {
						a := math.Min(math.Max(v(c, y, x)*float64(k[c])+float64(s), -1), 1)
						m = math.Max(m, a)
					}
				}
				sum += m
			}
		}
		feat[c] = sum / 4
	}
	for j := 0; j < 3; j++ {
		z := feat[0]*float64(w[j]) + feat[1]*float64(w[3+j])
		want := 1 / (1 + math.Exp(-z))
		if d := math.Abs(float64(out[0].Data[j]) - want); d > 1e-6 {
			t.Errorf("y[%d] = %.7f, want %.7f", j, out[0].Data[j], want)
		}
	}
}
