package faceapi

import (
	"context"
	"fmt"
	"image"
	"math"
	"sort"

	"github.com/madoguchi/madoguchi/face/nn"
)

const (
	ssdInput      = 512
	ssdAnchors    = 5118
	ssdIoU        = 0.5
	ssdMaxResults = 100
	bnEpsilon     = 0.0010000000474974513
)

// Detection is one face found by a detector.
type Detection struct {
	Box   [4]float32 // x, y, w, h in image pixels
	Score float32
}

// SSD is face-api's SsdMobilenetv1 face detector (MobileNetV1 backbone,
// 512x512 input, 5118 anchors), with face-api's own preprocessing, box
// decoding and non-maximum suppression.
type SSD struct {
	conv0    *nn.Conv2D
	dw       [13]*nn.Depthwise
	pw       [13]*nn.Conv2D
	extra    [8]*nn.Conv2D
	boxPred  [6]*nn.Conv2D
	clsPred  [6]*nn.Conv2D
	priors   []float32 // [5118][4] ymin, xmin, ymax, xmax
	anchorsN [6]int
}

// LoadSSD loads ssd_mobilenetv1_model from face-api's model folder.
func LoadSSD(dir string) (*SSD, error) { return loadModel(dir, "ssd_mobilenetv1_model", newSSD) }

func newSSD(w *nn.Weights) (*SSD, error) {
	s := &SSD{anchorsN: [6]int{3, 6, 6, 6, 6, 6}}
	var err error
	if s.conv0, err = biasedConv(w, "MobilenetV1/Conv2d_0_pointwise/weights", "MobilenetV1/Conv2d_0_pointwise/convolution_bn_offset", 3, 3, 32, 2, nn.Same, nn.ReLU6); err != nil {
		return nil, err
	}
	chans := []int{32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024}
	for i := 1; i <= 13; i++ {
		cin, cout := chans[i-1], chans[i]
		stride := 1
		if i == 2 || i == 4 || i == 6 || i == 12 {
			stride = 2
		}
		p := fmt.Sprintf("MobilenetV1/Conv2d_%d_depthwise/", i)
		f, err := w.Get(p+"depthwise_weights", 3, 3, cin, 1)
		if err != nil {
			return nil, err
		}
		var bn [4]*nn.Tensor
		for j, n := range []string{"gamma", "beta", "moving_mean", "moving_variance"} {
			if bn[j], err = w.Get(p+"BatchNorm/"+n, cin); err != nil {
				return nil, err
			}
		}
		mul := make([]float32, cin)
		add := make([]float32, cin)
		for c := range mul {
			mul[c] = bn[0].Data[c] / float32(math.Sqrt(float64(bn[3].Data[c])+bnEpsilon))
			add[c] = bn[1].Data[c] - bn[2].Data[c]*mul[c]
		}
		if s.dw[i-1], err = nn.NewDepthwise(f, nil, stride, stride, nn.Same, nn.ReLU6); err != nil {
			return nil, err
		}
		if err := s.dw[i-1].FoldAffine(mul, add); err != nil {
			return nil, err
		}
		p = fmt.Sprintf("MobilenetV1/Conv2d_%d_pointwise/", i)
		if s.pw[i-1], err = biasedConv(w, p+"weights", p+"convolution_bn_offset", 1, cin, cout, 1, nn.Same, nn.ReLU6); err != nil {
			return nil, err
		}
	}
	extra := []struct{ k, cin, cout, stride int }{
		{1, 1024, 256, 1}, {3, 256, 512, 2}, {1, 512, 128, 1}, {3, 128, 256, 2},
		{1, 256, 128, 1}, {3, 128, 256, 2}, {1, 256, 64, 1}, {3, 64, 128, 2},
	}
	for i, e := range extra {
		p := fmt.Sprintf("Prediction/Conv2d_%d_pointwise/", i)
		if s.extra[i], err = biasedConv(w, p+"weights", p+"convolution_bn_offset", e.k, e.cin, e.cout, e.stride, nn.Same, nn.ReLU6); err != nil {
			return nil, err
		}
	}
	predIn := []int{512, 1024, 512, 256, 256, 128}
	for i, cin := range predIn {
		p := fmt.Sprintf("Prediction/BoxPredictor_%d/", i)
		a := s.anchorsN[i]
		if s.boxPred[i], err = biasedConv(w, p+"BoxEncodingPredictor/weights", p+"BoxEncodingPredictor/biases", 1, cin, 4*a, 1, nn.Same, nn.Linear); err != nil {
			return nil, err
		}
		if s.clsPred[i], err = biasedConv(w, p+"ClassPredictor/weights", p+"ClassPredictor/biases", 1, cin, 3*a, 1, nn.Same, nn.Linear); err != nil {
			return nil, err
		}
	}
	pr, err := w.Get("Output/extra_dim", 1, ssdAnchors, 4)
	if err != nil {
		return nil, err
	}
	s.priors = pr.Data
	return s, nil
}

// Detect finds faces as face-api's detectAllFaces with SsdMobilenetv1Options
// {minConfidence: minScore, maxResults: 100}: the image is zero-padded to a
// square at the bottom or right, resized to 512x512 (TF legacy bilinear),
// scaled to [-1, 1]; boxes are decoded against the model's priors, filtered
// by score > minScore and suppressed greedily at IoU > 0.5. The result is
// sorted by descending score. minScore must be in (0, 1).
func (s *SSD) Detect(ctx context.Context, img *image.RGBA, minScore float32) ([]Detection, error) {
	if err := checkImage(img); err != nil {
		return nil, err
	}
	if !(minScore > 0 && minScore < 1) {
		return nil, fmt.Errorf("%w: minScore %v not in (0, 1)", ErrInput, minScore)
	}
	b := img.Bounds()
	W, H := b.Dx(), b.Dy()
	x := batchFromImage(img, 0, 0, W, H, ssdInput, false)
	for i, v := range x.Data {
		x.Data[i] = v/127.5 - 1
	}
	boxes, scores, err := s.forward(ctx, x)
	if err != nil {
		return nil, err
	}
	keep := nmsFaceAPI(boxes, scores, ssdMaxResults, ssdIoU, minScore)
	scale := float64(ssdInput) / float64(max(W, H))
	rw, rh := math.Round(float64(W)*scale), math.Round(float64(H)*scale)
	sx, sy := float64(ssdInput)/rw, float64(ssdInput)/rh
	out := make([]Detection, 0, len(keep))
	for _, i := range keep {
		bx := boxes[4*i : 4*i+4]
		y0 := math.Max(0, float64(bx[0])) * sy
		y1 := math.Min(1, float64(bx[2])) * sy
		x0 := math.Max(0, float64(bx[1])) * sx
		x1 := math.Min(1, float64(bx[3])) * sx
		out = append(out, Detection{
			Box:   [4]float32{float32(x0 * float64(W)), float32(y0 * float64(H)), float32((x1 - x0) * float64(W)), float32((y1 - y0) * float64(H))},
			Score: scores[i],
		})
	}
	return out, nil
}

// forward runs the network and decodes boxes ([5118][4] ymin,xmin,ymax,xmax,
// relative to the padded square) and face scores.
func (s *SSD) forward(ctx context.Context, x *nn.Tensor) (boxes, scores []float32, err error) {
	if x, err = s.conv0.Forward(x); err != nil {
		return nil, nil, err
	}
	var conv11 *nn.Tensor
	for i := 0; i < 13; i++ {
		if err := ctxErr(ctx); err != nil {
			return nil, nil, err
		}
		if x, err = s.dw[i].Forward(x); err != nil {
			return nil, nil, err
		}
		if x, err = s.pw[i].Forward(x); err != nil {
			return nil, nil, err
		}
		if i == 10 {
			conv11 = x
		}
	}
	maps := []*nn.Tensor{conv11, x}
	y := x
	for i, c := range s.extra {
		if y, err = c.Forward(y); err != nil {
			return nil, nil, err
		}
		if i%2 == 1 {
			maps = append(maps, y)
		}
	}
	enc := make([]float32, 0, ssdAnchors*4)
	logits := make([]float32, 0, ssdAnchors*3)
	for i, m := range maps {
		be, err := s.boxPred[i].Forward(m)
		if err != nil {
			return nil, nil, err
		}
		ce, err := s.clsPred[i].Forward(m)
		if err != nil {
			return nil, nil, err
		}
		enc = append(enc, be.Data...)
		logits = append(logits, ce.Data...)
	}
	if len(enc) != ssdAnchors*4 || len(logits) != ssdAnchors*3 {
		return nil, nil, fmt.Errorf("%w: SSD produced %d anchors, want %d", nn.ErrShape, len(enc)/4, ssdAnchors)
	}
	boxes = make([]float32, ssdAnchors*4)
	scores = make([]float32, ssdAnchors)
	for a := 0; a < ssdAnchors; a++ {
		p := s.priors[4*a : 4*a+4]
		ha, wa := p[2]-p[0], p[3]-p[1]
		cya, cxa := p[0]+ha/2, p[1]+wa/2
		e := enc[4*a : 4*a+4]
		hh := float32(math.Exp(float64(e[2]/5))) * ha / 2
		cy := e[0]/10*ha + cya
		hw := float32(math.Exp(float64(e[3]/5))) * wa / 2
		cx := e[1]/10*wa + cxa
		boxes[4*a], boxes[4*a+1], boxes[4*a+2], boxes[4*a+3] = cy-hh, cx-hw, cy+hh, cx+hw
		scores[a] = nn.Sigmoid(logits[3*a+1])
	}
	return boxes, scores, nil
}

// nmsFaceAPI is face-api's ssdMobilenetv1 nonMaxSuppression: candidates with
// score > scoreThreshold by descending score; a candidate is dropped if its
// IoU with an already selected box is > iouThreshold.
func nmsFaceAPI(boxes, scores []float32, maxOut int, iouThreshold float64, scoreThreshold float32) []int {
	idx := make([]int, 0, 64)
	for i, s := range scores {
		if s > scoreThreshold {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	var sel []int
	for _, i := range idx {
		if len(sel) >= maxOut {
			break
		}
		ok := true
		for j := len(sel) - 1; j >= 0; j-- {
			if iouCorners(boxes[4*i:4*i+4], boxes[4*sel[j]:4*sel[j]+4]) > iouThreshold {
				ok = false
				break
			}
		}
		if ok {
			sel = append(sel, i)
		}
	}
	return sel
}

// iouCorners is IoU of two [y1,x1,y2,x2] boxes after min/max normalising the corners.
func iouCorners(a, b []float32) float64 {
	ay0, ax0 := math.Min(float64(a[0]), float64(a[2])), math.Min(float64(a[1]), float64(a[3]))
	ay1, ax1 := math.Max(float64(a[0]), float64(a[2])), math.Max(float64(a[1]), float64(a[3]))
	by0, bx0 := math.Min(float64(b[0]), float64(b[2])), math.Min(float64(b[1]), float64(b[3]))
	by1, bx1 := math.Max(float64(b[0]), float64(b[2])), math.Max(float64(b[1]), float64(b[3]))
	aa := (ay1 - ay0) * (ax1 - ax0)
	ab := (by1 - by0) * (bx1 - bx0)
	if aa <= 0 || ab <= 0 {
		return 0
	}
	inter := math.Max(math.Min(ay1, by1)-math.Max(ay0, by0), 0) * math.Max(math.Min(ax1, bx1)-math.Max(ax0, bx0), 0)
	return inter / (aa + ab - inter)
}
