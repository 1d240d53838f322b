package nn

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func randTensor(r *rand.Rand, shape ...int) *Tensor {
	t := NewTensor(shape...)
	for i := range t.Data {
		t.Data[i] = float32(r.NormFloat64())
	}
	return t
}

// naiveConv is a direct float64 convolution used as the oracle.
func naiveConv(x, f *Tensor, bias []float32, sh, sw int, pad Padding, depthwise bool) *Tensor {
	n, h, w, cin := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	kh, kw := f.Shape[0], f.Shape[1]
	cout := f.Shape[3]
	if depthwise {
		cout = cin
	}
	oh, pt, _ := window(h, kh, sh, pad)
	ow, pl, _ := window(w, kw, sw, pad)
	out := NewTensor(n, oh, ow, cout)
	for b := 0; b < n; b++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				for o := 0; o < cout; o++ {
					var s float64
					if bias != nil {
						s = float64(bias[o])
					}
					for ky := 0; ky < kh; ky++ {
						for kx := 0; kx < kw; kx++ {
							iy, ix := oy*sh-pt+ky, ox*sw-pl+kx
							if iy < 0 || iy >= h || ix < 0 || ix >= w {
								continue
							}
							if depthwise {
								s += float64(x.Data[((b*h+iy)*w+ix)*cin+o]) * float64(f.Data[(ky*kw+kx)*cin+o])
								continue
							}
							for c := 0; c < cin; c++ {
								s += float64(x.Data[((b*h+iy)*w+ix)*cin+c]) * float64(f.Data[((ky*kw+kx)*cin+c)*cout+o])
							}
						}
					}
					out.Data[((b*oh+oy)*ow+ox)*cout+o] = float32(s)
				}
			}
		}
	}
	return out
}

var approx = cmpopts.EquateApprox(0, 1e-4)

func TestConv2DMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		n, h, w, cin, cout, k, s int
		pad                      Padding
	}{
		{1, 7, 9, 3, 5, 3, 1, Same},
		{1, 8, 8, 3, 32, 3, 2, Same},
		{1, 9, 9, 4, 17, 3, 2, Valid},
		{2, 6, 5, 16, 16, 1, 1, Valid},
		{1, 5, 5, 33, 48, 1, 1, Same},
		{1, 15, 15, 3, 32, 7, 2, Valid},
		{1, 4, 4, 8, 64, 3, 1, Same},
		{1, 1, 1, 7, 3, 1, 1, Valid},
		{1, 9, 7, 24, 24, 1, 1, Valid},
		{1, 5, 6, 5, 12, 3, 1, Same},
		{1, 5, 5, 8, 40, 3, 2, Same},
	}
	for _, tc := range tests {
		x := randTensor(r, tc.n, tc.h, tc.w, tc.cin)
		f := randTensor(r, tc.k, tc.k, tc.cin, tc.cout)
		bias := randTensor(r, tc.cout).Data
		c, err := NewConv2D(f, bias, tc.s, tc.s, tc.pad, Linear)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		want := naiveConv(x, f, bias, tc.s, tc.s, tc.pad, false)
		if diff := cmp.Diff(want, got, approx); diff != "" {
			t.Errorf("Conv2D%+v mismatch (-want +got):\n%.500s", tc, diff)
		}
	}
}

func TestDepthwiseMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		h, w, c, k, s int
		pad           Padding
	}{{7, 7, 8, 3, 1, Same}, {1, 1, 8, 3, 2, Same}, {2, 3, 16, 5, 2, Same}, {1, 2, 8, 3, 1, Same}, {8, 8, 19, 3, 2, Same}, {9, 6, 32, 3, 2, Valid}, {5, 5, 3, 5, 1, Same}} {
		x := randTensor(r, 1, tc.h, tc.w, tc.c)
		f := randTensor(r, tc.k, tc.k, tc.c, 1)
		d, err := NewDepthwise(f, nil, tc.s, tc.s, tc.pad, Linear)
		if err != nil {
			t.Fatal(err)
		}
		got, err := d.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(naiveConv(x, f, nil, tc.s, tc.s, tc.pad, true), got, approx); diff != "" {
			t.Errorf("Depthwise%+v mismatch (-want +got):\n%.500s", tc, diff)
		}
	}
}

func TestFoldAffineAndActivation(t *testing.T) {
	f, _ := FromData([]float32{1, -2}, 1, 1, 1, 2)
	c, err := NewConv2D(f, []float32{0.5, 0}, 1, 1, Valid, ReLU6)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.FoldAffine([]float32{2, 3}, []float32{1, 1}); err != nil {
		t.Fatal(err)
	}
	x, _ := FromData([]float32{3, -1}, 1, 2, 1, 1)
	got, err := c.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	// x=3: ch0 (3+0.5)*2+1 = 8 -> 6; ch1 -6*3+1 = -17 -> 0. x=-1: ch0 -1 -> 0; ch1 6+1 = 7 -> 6.
	want := []float32{6, 0, 0, 6}
	if diff := cmp.Diff(want, got.Data); diff != "" {
		t.Errorf("Forward after FoldAffine (-want +got):\n%s", diff)
	}
	if err := c.FoldAffine([]float32{1}, nil); !errors.Is(err, ErrShape) {
		t.Errorf("FoldAffine(wrong length) = %v, want ErrShape", err)
	}
}

func TestWindow(t *testing.T) {
	tests := []struct {
		in, k, s   int
		pad        Padding
		out, befor int
	}{
		{512, 3, 2, Same, 256, 0}, {7, 3, 1, Same, 7, 1}, {35, 3, 2, Valid, 17, 0},
		{150, 7, 2, Valid, 72, 0}, {13, 2, 1, Same, 13, 0}, {5, 5, 1, Same, 5, 2},
	}
	for _, tc := range tests {
		out, before, err := window(tc.in, tc.k, tc.s, tc.pad)
		if err != nil || out != tc.out || before != tc.befor {
			t.Errorf("window(%d,%d,%d,%v) = %d,%d,%v, want %d,%d", tc.in, tc.k, tc.s, tc.pad, out, before, err, tc.out, tc.befor)
		}
	}
	if _, _, err := window(2, 3, 1, Valid); !errors.Is(err, ErrShape) {
		t.Errorf("window(2,3,1,Valid) error = %v, want ErrShape", err)
	}
}

func TestPools(t *testing.T) {
	x, _ := FromData([]float32{1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 3, 3, 1)
	mp, err := MaxPool(x, 2, 2, 2, 2, Same)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]float32{5, 6, 8, 9}, mp.Data); diff != "" {
		t.Errorf("MaxPool SAME (-want +got):\n%s", diff)
	}
	ap, err := AvgPool(x, 2, 2, 2, 2, Same)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]float32{3, 4.5, 7.5, 9}, ap.Data); diff != "" {
		t.Errorf("AvgPool SAME counts only inside cells (-want +got):\n%s", diff)
	}
	neg, _ := FromData([]float32{-5, -4, -3, -2}, 1, 2, 2, 1)
	mp, _ = MaxPool(neg, 3, 3, 1, 1, Same)
	if mp.Data[0] != -2 {
		t.Errorf("MaxPool of negatives = %v, want padded cells ignored (-2)", mp.Data)
	}
}

func TestResizeBilinearLegacy(t *testing.T) {
	x, _ := FromData([]float32{0, 10, 20, 30}, 1, 2, 2, 1)
	got, err := ResizeBilinear(x, 4, 4)
	if err != nil {
		t.Fatal(err)
	}
	// src = dst*0.5: rows 0, 0.5, 1, 1.5 (clamped to 1): TF legacy mode, not half-pixel.
	want := []float32{0, 5, 10, 10, 10, 15, 20, 20, 20, 25, 30, 30, 20, 25, 30, 30}
	if diff := cmp.Diff(want, got.Data); diff != "" {
		t.Errorf("ResizeBilinear 2x2->4x4 (-want +got):\n%s", diff)
	}
}

func TestCropAndResize(t *testing.T) {
	x, _ := FromData([]float32{0, 10, 20, 30}, 1, 2, 2, 1)
	got, err := CropAndResize(x, [4]float32{0, 0, 1, 1}, 3, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{0, 5, 10, 10, 15, 20, 20, 25, 30}
	if diff := cmp.Diff(want, got.Data); diff != "" {
		t.Errorf("CropAndResize full box (-want +got):\n%s", diff)
	}
	got, _ = CropAndResize(x, [4]float32{-1, 0, 1, 1}, 3, 3)
	if diff := cmp.Diff([]float32{0, 0, 0, 0, 5, 10, 20, 25, 30}, got.Data); diff != "" {
		t.Errorf("CropAndResize outside rows are 0 (-want +got):\n%s", diff)
	}
	if _, err := CropAndResize(x, [4]float32{float32(math.NaN()), 0, 1, 1}, 3, 3); !errors.Is(err, ErrShape) {
		t.Errorf("CropAndResize(NaN box) error = %v, want ErrShape", err)
	}
}

func TestBroadcast(t *testing.T) {
	a, _ := FromData([]float32{1, 2, 3, 4, 5, 6}, 1, 2, 3)
	tests := []struct {
		op   BinaryOp
		b    *Tensor
		want []float32
	}{
		{OpAdd, &Tensor{Shape: []int{3}, Data: []float32{10, 20, 30}}, []float32{11, 22, 33, 14, 25, 36}},
		{OpMul, &Tensor{Shape: []int{}, Data: []float32{2}}, []float32{2, 4, 6, 8, 10, 12}},
		{OpMin, &Tensor{Shape: []int{1, 2, 1}, Data: []float32{2, 5}}, []float32{1, 2, 2, 4, 5, 5}},
		{OpSub, a, []float32{0, 0, 0, 0, 0, 0}},
	}
	for _, tc := range tests {
		got, err := broadcast(tc.op, a, tc.b)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got.Data); diff != "" {
			t.Errorf("broadcast(%v, %v) (-want +got):\n%s", tc.op, tc.b.Shape, diff)
		}
	}
	if _, err := broadcast(OpAdd, a, NewTensor(4)); !errors.Is(err, ErrShape) {
		t.Errorf("broadcast([1 2 3], [4]) error = %v, want ErrShape", err)
	}
}

func TestHalfToFloat(t *testing.T) {
	tests := []struct {
		h    uint16
		want float32
	}{
		{0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x0001, 5.9604645e-08}, {0x8000, float32(math.Copysign(0, -1))},
		{0x7c00, float32(math.Inf(1))}, {0xfc00, float32(math.Inf(-1))}, {0x3555, 0.33325195},
	}
	for _, tc := range tests {
		if got := halfToFloat(tc.h); got != tc.want || math.Signbit(float64(got)) != math.Signbit(float64(tc.want)) {
			t.Errorf("halfToFloat(%#04x) = %v, want %v", tc.h, got, tc.want)
		}
	}
	if got := halfToFloat(0x7e00); !math.IsNaN(float64(got)) {
		t.Errorf("halfToFloat(0x7e00) = %v, want NaN", got)
	}
}

func TestReshape(t *testing.T) {
	x := NewTensor(2, 3, 4)
	r, err := x.Reshape(-1, 4)
	if err != nil || !sameShape(r.Shape, []int{6, 4}) {
		t.Errorf("Reshape(-1,4) = %v, %v, want [6 4]", r, err)
	}
	for _, s := range [][]int{{5, -1}, {-1, -1}, {0, 24}, {25}} {
		if _, err := x.Reshape(s...); !errors.Is(err, ErrShape) {
			t.Errorf("Reshape(%v) error = %v, want ErrShape", s, err)
		}
	}
}

func TestTensorRedacts(t *testing.T) {
	x, _ := FromData([]float32{0.123456, 7.654321}, 1, 2)
	var buf strings.Builder
	slog.New(slog.NewTextHandler(&buf, nil)).Info("t", "tensor", x)
	s := buf.String() + x.String() + fmt.Sprint(x)
	if strings.Contains(s, "0.123") || strings.Contains(s, "7.654") {
		t.Errorf("tensor values leaked into %q", s)
	}
	if !strings.Contains(buf.String(), "redacted") {
		t.Errorf("log line %q does not say the data is redacted", buf.String())
	}
}

func TestInconsistentTensorRefused(t *testing.T) {
	f := NewTensor(3, 3, 2, 4)
	c, err := NewConv2D(f, nil, 1, 1, Same, Linear)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []*Tensor{{Shape: []int{1, 4, 4, 2}, Data: make([]float32, 10)}, {Shape: []int{1, 0, 4, 2}}, {Shape: []int{1, -4, -4, 2}, Data: make([]float32, 32)}} {
		if _, err := c.Forward(x); !errors.Is(err, ErrShape) {
			t.Errorf("Conv2D.Forward(%v with %d values) error = %v, want ErrShape", x.Shape, len(x.Data), err)
		}
		if _, err := MaxPool(x, 2, 2, 2, 2, Same); !errors.Is(err, ErrShape) {
			t.Errorf("MaxPool(%v) error = %v, want ErrShape", x.Shape, err)
		}
	}
}

func TestOutputSizeLimits(t *testing.T) {
	x := NewTensor(1, 2, 2, 64)
	if _, err := ResizeBilinear(x, 1<<14, 1<<14); !errors.Is(err, ErrLimit) {
		t.Errorf("ResizeBilinear(to 16384x16384x64) error = %v, want ErrLimit", err)
	}
	if _, err := PadSpatial(x, 8000, 8000, 8000, 8000); !errors.Is(err, ErrShape) && !errors.Is(err, ErrLimit) {
		t.Errorf("PadSpatial(huge) error = %v, want ErrShape or ErrLimit", err)
	}
	if _, err := PadChannels(x, 0, 1<<20); !errors.Is(err, ErrShape) {
		t.Errorf("PadChannels(huge) error = %v, want ErrShape", err)
	}
}
