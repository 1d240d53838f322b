package faceapi

import (
	"context"
	"fmt"
	"image"
	"math"

	"github.com/madoguchi/madoguchi/face/nn"
)

// Landmarks68 is face-api's FaceLandmark68Net: four densely connected blocks
// of separable convolutions on a 112x112 crop, then a fully connected layer
// giving 68 (x, y) points.
type Landmarks68 struct {
	first  *nn.Conv2D // dense0/conv0
	blocks [4][4]sepConv
	fcW    *nn.Tensor
	fcB    []float32
}

// sepConv is tf.separableConv2d + bias: depthwise 3x3 then pointwise 1x1.
type sepConv struct {
	dw *nn.Depthwise
	pw *nn.Conv2D
}

func (s sepConv) forward(x *nn.Tensor) (*nn.Tensor, error) {
	y, err := s.dw.Forward(x)
	if err != nil {
		return nil, err
	}
	return s.pw.Forward(y)
}

// LoadLandmarks68 loads face_landmark_68_model from face-api's model folder.
func LoadLandmarks68(dir string) (*Landmarks68, error) {
	return loadModel(dir, "face_landmark_68_model", newLandmarks68)
}

func newLandmarks68(w *nn.Weights) (*Landmarks68, error) {
	l := &Landmarks68{}
	var err error
	if l.first, err = biasedConv(w, "dense0/conv0/filters", "dense0/conv0/bias", 3, 3, 32, 2, nn.Same, nn.ReLU); err != nil {
		return nil, err
	}
	chans := [4]int{32, 64, 128, 256}
	for bi := 0; bi < 4; bi++ {
		for ci := 0; ci < 4; ci++ {
			if bi == 0 && ci == 0 {
				continue
			}
			cin, cout := chans[bi], chans[bi]
			stride := 1
			if ci == 0 {
				cin, stride = chans[bi-1], 2
			}
			p := fmt.Sprintf("dense%d/conv%d/", bi, ci)
			dwf, err := w.Get(p+"depthwise_filter", 3, 3, cin, 1)
			if err != nil {
				return nil, err
			}
			pwf, err := w.Get(p+"pointwise_filter", 1, 1, cin, cout)
			if err != nil {
				return nil, err
			}
			bias, err := w.Get(p+"bias", cout)
			if err != nil {
				return nil, err
			}
			act := nn.Linear
			if ci == 0 {
				act = nn.ReLU // out1 is relu'd
			}
			dw, err := nn.NewDepthwise(dwf, nil, stride, stride, nn.Same, nn.Linear)
			if err != nil {
				return nil, err
			}
			pw, err := nn.NewConv2D(pwf, bias.Data, 1, 1, nn.Same, act)
			if err != nil {
				return nil, err
			}
			l.blocks[bi][ci] = sepConv{dw, pw}
		}
	}
	if l.fcW, err = w.Get("fc/weights", 256, 136); err != nil {
		return nil, err
	}
	fb, err := w.Get("fc/bias", 136)
	if err != nil {
		return nil, err
	}
	l.fcB = fb.Data
	return l, nil
}

// Detect returns the 68 landmarks (image pixels) of the face in box
// [x, y, w, h], as face-api's detectLandmarks on extractFaceTensors: the box
// is clipped and floored for the crop, the crop is centred-padded to a square
// and resized to 112, and the points are mapped back with the unfloored box
// origin.
func (l *Landmarks68) Detect(ctx context.Context, img *image.RGBA, box [4]float32) ([68][2]float32, error) {
	var pts [68][2]float32
	if err := checkImage(img); err != nil {
		return pts, err
	}
	b := img.Bounds()
	x0, y0, cw, ch, err := clipBox(box, b.Dx(), b.Dy())
	if err != nil {
		return pts, err
	}
	x := batchFromImage(img, x0, y0, cw, ch, 112, true)
	normalize(x)
	out, err := l.forward(ctx, x)
	if err != nil {
		return pts, err
	}
	// FaceLandmark68NetBase.postProcess, then FaceLandmarks68 positions, shifted by the box.
	s := 112 / math.Max(float64(cw), float64(ch))
	w, h := float64(cw)*s, float64(ch)*s
	var padX, padY float64
	if w < h {
		padX = math.Abs(w-h) / 2
	}
	if h < w {
		padY = math.Abs(w-h) / 2
	}
	for i := 0; i < 68; i++ {
		xr := (float64(out[2*i])*112 - padX) / w
		yr := (float64(out[2*i+1])*112 - padY) / h
		pts[i] = [2]float32{float32(xr*float64(cw) + float64(box[0])), float32(yr*float64(ch) + float64(box[1]))}
	}
	return pts, nil
}

func (l *Landmarks68) forward(ctx context.Context, x *nn.Tensor) ([]float32, error) {
	var err error
	for bi := 0; bi < 4; bi++ {
		if err := ctxErr(ctx); err != nil {
			return nil, err
		}
		if x, err = l.denseBlock(x, bi); err != nil {
			return nil, err
		}
	}
	if x, err = nn.AvgPool(x, 7, 7, 2, 2, nn.Valid); err != nil {
		return nil, err
	}
	flat, err := x.Reshape(1, -1)
	if err != nil {
		return nil, err
	}
	out, err := nn.MatMul(flat, l.fcW, l.fcB)
	if err != nil {
		return nil, err
	}
	return out.Data, nil
}

// denseBlock is face-api's denseBlock4.
func (l *Landmarks68) denseBlock(x *nn.Tensor, bi int) (*nn.Tensor, error) {
	var out1 *nn.Tensor
	var err error
	if bi == 0 {
		out1, err = l.first.Forward(x)
	} else {
		out1, err = l.blocks[bi][0].forward(x)
	}
	if err != nil {
		return nil, err
	}
	out2, err := l.blocks[bi][1].forward(out1)
	if err != nil {
		return nil, err
	}
	in3 := sumRelu(out1, out2)
	out3, err := l.blocks[bi][2].forward(in3)
	if err != nil {
		return nil, err
	}
	in4 := sumRelu(out1, out2, out3)
	out4, err := l.blocks[bi][3].forward(in4)
	if err != nil {
		return nil, err
	}
	return sumRelu(out1, out2, out3, out4), nil
}

// sumRelu returns relu(sum of ts); all have the same shape by construction.
func sumRelu(ts ...*nn.Tensor) *nn.Tensor {
	out := ts[0].Clone()
	for _, t := range ts[1:] {
		for i, v := range t.Data {
			out.Data[i] += v
		}
	}
	nn.ReLUInPlace(out)
	return out
}

// AlignBox is face-api's dlib alignment box (FaceLandmarks.align with
// useDlibAlignment): an axis-aligned square from the eye and mouth centres,
// [x, y, size, size] in image pixels, integer-valued.
func AlignBox(pts [68][2]float32) [4]float32 {
	mean := func(lo, hi int) (float64, float64) {
		var x, y float64
		for i := lo; i < hi; i++ {
			x += float64(pts[i][0])
			y += float64(pts[i][1])
		}
		n := float64(hi - lo)
		return x / n, y / n
	}
	lx, ly := mean(36, 42)
	rx, ry := mean(42, 48)
	mx, my := mean(48, 68)
	dist := (math.Hypot(mx-lx, my-ly) + math.Hypot(mx-rx, my-ry)) / 2
	size := math.Floor(dist / 0.45)
	cx, cy := (lx+rx+mx)/3, (ly+ry+my)/3
	x := math.Floor(math.Max(0, cx-0.5*size))
	y := math.Floor(math.Max(0, cy-0.43*size))
	return [4]float32{float32(x), float32(y), float32(size), float32(size)}
}
