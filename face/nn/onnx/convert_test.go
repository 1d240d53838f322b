package onnx

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/madoguchi/madoguchi/face/internal/facetest"
	"github.com/madoguchi/madoguchi/face/nn"
)

// exporter converts TFJS weights into an ONNX graph (NCHW, OIHW filters).
type exporter struct {
	t     *testing.T
	w     *nn.Weights
	nodes pb
	inits pb
	seq   int
}

func (e *exporter) weight(name string) *nn.Tensor {
	v, err := e.w.Get(name)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

func (e *exporter) init(name string, dims []int64, data []float32) string {
	e.inits = e.inits.bytes(5, tensorPB(name, dims, data))
	return name
}

func (e *exporter) node(op string, in []string, attrs ...[]byte) string {
	e.seq++
	out := fmt.Sprintf("%s_%d", op, e.seq)
	e.nodes = e.nodes.bytes(1, nodePB(op, in, []string{out}, attrs...))
	return out
}

// conv exports an HWIO conv (depthwise when the filter is [kh,kw,c,1] and dw is set).
func (e *exporter) conv(x, filter, bias string, stride int64, dw bool) string {
	f := e.weight(filter)
	kh, kw, ci, co := f.Shape[0], f.Shape[1], f.Shape[2], f.Shape[3]
	var oihw []float32
	var dims []int64
	if dw {
		oihw = make([]float32, ci*kh*kw)
		for c := 0; c < ci; c++ {
			for y := 0; y < kh; y++ {
				for xx := 0; xx < kw; xx++ {
					oihw[(c*kh+y)*kw+xx] = f.Data[(y*kw+xx)*ci+c]
				}
			}
		}
		dims = []int64{int64(ci), 1, int64(kh), int64(kw)}
	} else {
		oihw = make([]float32, co*ci*kh*kw)
		for o := 0; o < co; o++ {
			for i := 0; i < ci; i++ {
				for y := 0; y < kh; y++ {
					for xx := 0; xx < kw; xx++ {
						oihw[((o*ci+i)*kh+y)*kw+xx] = f.Data[((y*kw+xx)*ci+i)*co+o]
					}
				}
			}
		}
		dims = []int64{int64(co), int64(ci), int64(kh), int64(kw)}
	}
	in := []string{x, e.init(filter, dims, oihw)}
	if bias != "" {
		b := e.weight(bias)
		in = append(in, e.init(bias, []int64{int64(b.Len())}, b.Data))
	}
	attrs := [][]byte{attrInts("kernel_shape", int64(kh), int64(kw)), attrInts("strides", stride, stride), attrStr("auto_pad", "SAME_UPPER")}
	if dw {
		attrs = append(attrs, attrInt("group", int64(ci)))
	}
	return e.node("Conv", in, attrs...)
}

func (e *exporter) sep(x, prefix string, stride int64) string {
	d := e.conv(x, prefix+"depthwise_filter", "", stride, true)
	return e.conv(d, prefix+"pointwise_filter", prefix+"bias", 1, false)
}

// exportLandmarks converts face-api's FaceLandmark68Net (TFJS weights) into
// an ONNX model, as an operator would convert their own recogniser.
func exportLandmarks(t *testing.T, w *nn.Weights) []byte {
	e := &exporter{t: t, w: w}
	x := "x"
	for b := 0; b < 4; b++ {
		p := fmt.Sprintf("dense%d/", b)
		var out1 string
		if b == 0 {
			out1 = e.node("Relu", []string{e.conv(x, p+"conv0/filters", p+"conv0/bias", 2, false)})
		} else {
			out1 = e.node("Relu", []string{e.sep(x, p+"conv0/", 2)})
		}
		out2 := e.sep(out1, p+"conv1/", 1)
		in3 := e.node("Relu", []string{e.node("Add", []string{out1, out2})})
		out3 := e.sep(in3, p+"conv2/", 1)
		in4 := e.node("Relu", []string{e.node("Add", []string{out1, e.node("Add", []string{out2, out3})})})
		out4 := e.sep(in4, p+"conv3/", 1)
		x = e.node("Relu", []string{e.node("Add", []string{out1, e.node("Add", []string{out2, e.node("Add", []string{out3, out4})})})})
	}
	flat := e.node("Flatten", []string{e.node("GlobalAveragePool", []string{x})})
	fw, fb := e.weight("fc/weights"), e.weight("fc/bias")
	y := e.node("Gemm", []string{flat, e.init("fc/weights", []int64{256, 136}, fw.Data), e.init("fc/bias", []int64{136}, fb.Data)})
	g := append(pb(nil), e.nodes...)
	g = g.str(2, "face_landmark_68")
	g = append(g, e.inits...)
	g = g.bytes(11, valueInfoPB("x", 1, 3, 112, 112))
	g = g.bytes(12, valueInfoPB(y, 1, 136))
	return pb(nil).varint(1, 8).bytes(7, g).bytes(8, pb(nil).varint(2, 13))
}

// TestConvertedLandmarkNet converts face-api's 68-point landmark network to
// ONNX, loads it back through this package and checks it against face-api's
// own output (face/testdata/golden/models.json) on the synthetic input.
func TestConvertedLandmarkNet(t *testing.T) {
	dir := filepath.Join(facetest.Models(t), "face-api")
	w, err := nn.LoadManifest(os.DirFS(dir), "face_landmark_68_model-weights_manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "face_landmark_68.onnx")
	if err := os.WriteFile(path, exportLandmarks(t, w), 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	// face-api's preprocessing of a 112x112 crop: (v - mean) / 255, NHWC.
	mean := [3]float32{122.782, 117.001, 104.298}
	x := nn.NewTensor(1, 112, 112, 3)
	for yy := 0; yy < 112; yy++ {
		for xx := 0; xx < 112; xx++ {
			for c := 0; c < 3; c++ {
				v := float32((xx*7 + yy*13 + c*85 + ((xx*yy)%31)*3) % 256)
				x.Data[(yy*112+xx)*3+c] = (v - mean[c]) / 255
			}
		}
	}
	outs, err := g.Run(context.Background(), map[string]*nn.Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../../testdata/golden/models.json")
	if err != nil {
		t.Fatal(err)
	}
	var gold struct {
		FaceLandmark68 struct {
			Output [][2]float64 `json:"output"`
		} `json:"face_landmark_68"`
	}
	if err := json.Unmarshal(b, &gold); err != nil {
		t.Fatal(err)
	}
	for i, want := range gold.FaceLandmark68.Output {
		gx, gy := float64(outs[0].Data[2*i])*112, float64(outs[0].Data[2*i+1])*112
		if d := math.Hypot(gx-want[0], gy-want[1]); d > 0.05 {
			t.Errorf("converted landmark net point %d = (%.3f, %.3f), want (%.3f, %.3f)", i, gx, gy, want[0], want[1])
		}
	}
}
