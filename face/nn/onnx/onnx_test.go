package onnx

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/madoguchi/madoguchi/face/nn"
)

// pb is a minimal protobuf encoder for building test models by hand.
type pb []byte

func (p pb) key(num, wire int) pb { return binary.AppendUvarint(p, uint64(num<<3|wire)) }
func (p pb) varint(num int, v int64) pb {
	return binary.AppendUvarint(p.key(num, 0), uint64(v))
}
func (p pb) bytes(num int, b []byte) pb {
	p = binary.AppendUvarint(p.key(num, 2), uint64(len(b)))
	return append(p, b...)
}
func (p pb) str(num int, s string) pb { return p.bytes(num, []byte(s)) }
func (p pb) f32(num int, v float32) pb {
	return binary.LittleEndian.AppendUint32(p.key(num, 5), math.Float32bits(v))
}
func (p pb) packedInts(num int, v ...int64) pb {
	var b pb
	for _, x := range v {
		b = binary.AppendUvarint(b, uint64(x))
	}
	return p.bytes(num, b)
}

func tensorPB(name string, dims []int64, data []float32) []byte {
	var raw []byte
	for _, v := range data {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
	}
	return pb(nil).packedInts(1, dims...).varint(2, 1).str(8, name).bytes(9, raw)
}

func attrInts(name string, v ...int64) []byte {
	return pb(nil).str(1, name).packedInts(8, v...).varint(20, 7)
}
func attrInt(name string, v int64) []byte { return pb(nil).str(1, name).varint(3, v).varint(20, 2) }
func attrStr(name, v string) []byte       { return pb(nil).str(1, name).str(4, v).varint(20, 3) }

func nodePB(op string, in, out []string, attrs ...[]byte) []byte {
	var p pb
	for _, s := range in {
		p = p.str(1, s)
	}
	for _, s := range out {
		p = p.str(2, s)
	}
	p = p.str(3, op+"_"+out[0]).str(4, op)
	for _, a := range attrs {
		p = p.bytes(5, a)
	}
	return p
}

func valueInfoPB(name string, dims ...int64) []byte {
	var shape pb
	for _, d := range dims {
		shape = shape.bytes(1, pb(nil).varint(1, d))
	}
	tensorType := pb(nil).varint(1, 1).bytes(2, shape)
	return pb(nil).str(1, name).bytes(2, pb(nil).bytes(1, tensorType))
}

type tinyParams struct {
	w1, b1, gamma, beta, mean, vari, wdw, w2, b2 []float32
}

func newTinyParams(r *rand.Rand) tinyParams {
	f := func(n int, lo, hi float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(lo + r.Float64()*(hi-lo))
		}
		return v
	}
	return tinyParams{
		w1: f(4*3*3*3, -1, 1), b1: f(4, -0.5, 0.5),
		gamma: f(4, 0.5, 1.5), beta: f(4, -0.5, 0.5), mean: f(4, -0.2, 0.2), vari: f(4, 0.5, 2),
		wdw: f(4*3*3, -1, 1), w2: f(2*4, -1, 1), b2: f(2, -0.5, 0.5),
	}
}

// tinyModel is: Conv 3x3 s2 pads 1 (3->4) + bias, BatchNormalization,
// Clip(0,6), depthwise Conv 3x3 SAME_UPPER, Relu, GlobalAveragePool,
// Flatten, Gemm(transB) 4->2, Softmax, on a [1,3,6,6] input.
func tinyModel(p tinyParams) []byte {
	var g pb
	g = g.bytes(1, nodePB("Conv", []string{"x", "w1", "b1"}, []string{"c1"}, attrInts("kernel_shape", 3, 3), attrInts("strides", 2, 2), attrInts("pads", 1, 1, 1, 1)))
	g = g.bytes(1, nodePB("BatchNormalization", []string{"c1", "gamma", "beta", "mean", "var"}, []string{"bn"}, pb(nil).str(1, "epsilon").f32(2, 1e-3).varint(20, 1)))
	g = g.bytes(1, nodePB("Clip", []string{"bn", "lo", "hi"}, []string{"r6"}))
	g = g.bytes(1, nodePB("Conv", []string{"r6", "wdw"}, []string{"dw"}, attrInt("group", 4), attrStr("auto_pad", "SAME_UPPER")))
	g = g.bytes(1, nodePB("Relu", []string{"dw"}, []string{"r"}))
	g = g.bytes(1, nodePB("GlobalAveragePool", []string{"r"}, []string{"gap"}))
	g = g.bytes(1, nodePB("Flatten", []string{"gap"}, []string{"flat"}))
	g = g.bytes(1, nodePB("Gemm", []string{"flat", "w2", "b2"}, []string{"fc"}, attrInt("transB", 1)))
	g = g.bytes(1, nodePB("Softmax", []string{"fc"}, []string{"prob"}))
	g = g.str(2, "tiny")
	for _, t := range []struct {
		name string
		dims []int64
		data []float32
	}{
		{"w1", []int64{4, 3, 3, 3}, p.w1}, {"b1", []int64{4}, p.b1},
		{"gamma", []int64{4}, p.gamma}, {"beta", []int64{4}, p.beta}, {"mean", []int64{4}, p.mean}, {"var", []int64{4}, p.vari},
		{"lo", []int64{}, []float32{0}}, {"hi", []int64{}, []float32{6}},
		{"wdw", []int64{4, 1, 3, 3}, p.wdw}, {"w2", []int64{2, 4}, p.w2}, {"b2", []int64{2}, p.b2},
	} {
		g = g.bytes(5, tensorPB(t.name, t.dims, t.data))
	}
	g = g.bytes(11, valueInfoPB("x", 1, 3, 6, 6))
	g = g.bytes(12, valueInfoPB("prob", 1, 2))
	return pb(nil).varint(1, 8).bytes(7, g).bytes(8, pb(nil).varint(2, 13))
}

// reference computes the tiny model in NCHW with float64, independently of nn.
func reference(p tinyParams, x []float64) []float64 {
	conv := func(in []float64, c, h, w int, wt []float32, o, k, s, padT, padL, oh, ow int, depthwise bool) []float64 {
		out := make([]float64, o*oh*ow)
		for oc := 0; oc < o; oc++ {
			for y := 0; y < oh; y++ {
				for xx := 0; xx < ow; xx++ {
					var sum float64
					cins := []int{oc}
					if !depthwise {
						cins = cins[:0]
						for ic := 0; ic < c; ic++ {
							cins = append(cins, ic)
						}
					}
					for ci, ic := range cins {
						for ky := 0; ky < k; ky++ {
							for kx := 0; kx < k; kx++ {
								iy, ix := y*s-padT+ky, xx*s-padL+kx
								if iy < 0 || iy >= h || ix < 0 || ix >= w {
									continue
								}
								var wv float32
								if depthwise {
									wv = wt[(oc*k+ky)*k+kx]
								} else {
									wv = wt[((oc*c+ci)*k+ky)*k+kx]
								}
								sum += in[(ic*h+iy)*w+ix] * float64(wv)
							}
						}
					}
					out[(oc*oh+y)*ow+xx] = sum
				}
			}
		}
		return out
	}
	c1 := conv(x, 3, 6, 6, p.w1, 4, 3, 2, 1, 1, 3, 3, false)
	for oc := 0; oc < 4; oc++ {
		for i := 0; i < 9; i++ {
			v := c1[oc*9+i] + float64(p.b1[oc])
			v = (v-float64(p.mean[oc]))/math.Sqrt(float64(p.vari[oc])+1e-3)*float64(p.gamma[oc]) + float64(p.beta[oc])
			c1[oc*9+i] = math.Min(math.Max(v, 0), 6)
		}
	}
	// SAME_UPPER 3x3 s1 on 3x3: pad 1 each side
	dw := conv(c1, 4, 3, 3, p.wdw, 4, 3, 1, 1, 1, 3, 3, true)
	gap := make([]float64, 4)
	for oc := 0; oc < 4; oc++ {
		for i := 0; i < 9; i++ {
			gap[oc] += math.Max(dw[oc*9+i], 0) / 9
		}
	}
	fc := make([]float64, 2)
	for j := 0; j < 2; j++ {
		fc[j] = float64(p.b2[j])
		for i := 0; i < 4; i++ {
			fc[j] += gap[i] * float64(p.w2[j*4+i])
		}
	}
	m := math.Max(fc[0], fc[1])
	e0, e1 := math.Exp(fc[0]-m), math.Exp(fc[1]-m)
	return []float64{e0 / (e0 + e1), e1 / (e0 + e1)}
}

func TestTinyModelMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for trial := 0; trial < 5; trial++ {
		p := newTinyParams(r)
		path := filepath.Join(t.TempDir(), "tiny.onnx")
		if err := os.WriteFile(path, tinyModel(p), 0o600); err != nil {
			t.Fatal(err)
		}
		g, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		xn := make([]float64, 3*6*6) // NCHW
		xt := nn.NewTensor(1, 6, 6, 3)
		for c := 0; c < 3; c++ {
			for i := 0; i < 36; i++ {
				v := r.Float64()*4 - 2
				xn[c*36+i] = float64(float32(v))
				xt.Data[i*3+c] = float32(v)
			}
		}
		outs, err := g.Run(context.Background(), map[string]*nn.Tensor{"x": xt})
		if err != nil {
			t.Fatal(err)
		}
		want := reference(p, xn)
		for i, w := range want {
			if d := math.Abs(float64(outs[0].Data[i]) - w); d > 1e-5 {
				t.Errorf("trial %d: prob[%d] = %.7f, want %.7f", trial, i, outs[0].Data[i], w)
			}
		}
	}
}

func TestRejects(t *testing.T) {
	p := newTinyParams(rand.New(rand.NewPCG(1, 1)))
	good := tinyModel(p)
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"truncated", good[:len(good)/2]},
		{"bad wire type", []byte{0x3f, 0x00}},
		{"length beyond end", []byte{0x3a, 0xff, 0x01, 0x00}},
		{"unsupported op", pb(nil).bytes(7, pb(nil).bytes(1, nodePB("Erf", []string{"x"}, []string{"y"})).bytes(11, valueInfoPB("x", 1, 4)).bytes(12, valueInfoPB("y", 1, 4)))},
		{"wrong raw size", pb(nil).bytes(7, pb(nil).bytes(5, pb(nil).packedInts(1, 4).varint(2, 1).str(8, "w").bytes(9, []byte{1, 2, 3})).bytes(11, valueInfoPB("x", 1, 4)))},
		{"flatten on axis 2", pb(nil).bytes(7, pb(nil).bytes(1, nodePB("Flatten", []string{"x"}, []string{"y"}, attrInt("axis", 2))).bytes(11, valueInfoPB("x", 1, 3, 4, 4)).bytes(12, valueInfoPB("y", 1, 48)))},
		{"reshape to a runtime shape", pb(nil).bytes(7, pb(nil).bytes(1, nodePB("Reshape", []string{"x", "x"}, []string{"y"})).bytes(11, valueInfoPB("x", 1, 3, 4, 4)).bytes(12, valueInfoPB("y", 1, 48)))},
	}
	for _, tc := range tests {
		if _, err := Parse(tc.b); !errors.Is(err, nn.ErrFormat) {
			t.Errorf("Parse(%s) error = %v, want nn.ErrFormat", tc.name, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(tinyModel(newTinyParams(rand.New(rand.NewPCG(1, 2)))))
	f.Add([]byte{0x3a, 0x00})
	f.Add(seFlattenModel())
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := Parse(b)
		if err != nil {
			return
		}
		in := map[string]*nn.Tensor{}
		for _, name := range g.Inputs() {
			in[name] = nn.NewTensor(1, 6, 6, 3)
			if name == "x" && len(g.Outputs()) == 2 { // seFlattenModel's input
				in[name] = nn.NewTensor(1, 2, 3, 2)
			}
		}
		_, _ = g.Run(context.Background(), in)
	})
}
