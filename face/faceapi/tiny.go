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
	tinyInput = 416
	tinyIoU   = 0.4
)

var (
	tinyMean    = [3]float32{117.001, 114.697, 97.404}
	tinyAnchors = [5][2]float64{{1.603231, 2.094468}, {6.041143, 7.080126}, {2.882459, 3.518061}, {4.266906, 5.178857}, {9.041765, 10.66308}}
)

// Tiny is face-api's TinyFaceDetector (Tiny-YOLOv2 with separable
// convolutions, 416x416 input, 5 anchors, one class).
type Tiny struct {
	conv0 *nn.Conv2D
	sep   [5]sepConv
	conv8 *nn.Conv2D
}

// LoadTiny loads tiny_face_detector_model from face-api's model folder.
func LoadTiny(dir string) (*Tiny, error) {
	return loadModel(dir, "tiny_face_detector_model", newTiny)
}

func newTiny(w *nn.Weights) (*Tiny, error) {
	t := &Tiny{}
	var err error
	if t.conv0, err = biasedConv(w, "conv0/filters", "conv0/bias", 3, 3, 16, 1, nn.Valid, nn.Leaky01); err != nil {
		return nil, err
	}
	chans := []int{16, 32, 64, 128, 256, 512}
	for i := 0; i < 5; i++ {
		p := fmt.Sprintf("conv%d/", i+1)
		cin, cout := chans[i], chans[i+1]
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
		// pad 1 + VALID 3x3 at stride 1 is SAME.
		dw, err := nn.NewDepthwise(dwf, nil, 1, 1, nn.Same, nn.Linear)
		if err != nil {
			return nil, err
		}
		pw, err := nn.NewConv2D(pwf, bias.Data, 1, 1, nn.Valid, nn.Leaky01)
		if err != nil {
			return nil, err
		}
		t.sep[i] = sepConv{dw, pw}
	}
	if t.conv8, err = biasedConv(w, "conv8/filters", "conv8/bias", 1, 512, 25, 1, nn.Valid, nn.Linear); err != nil {
		return nil, err
	}
	return t, nil
}

// Detect finds faces as face-api's detectAllFaces with
// TinyFaceDetectorOptions{inputSize: 416, scoreThreshold: minScore}: pad to
// a square at the bottom/right, resize to 416, subtract the mean RGB, /255;
// decode 13x13x5 anchors, keep score > minScore, NMS at IoU > 0.4. Sorted by
// descending score. minScore must be in (0, 1).
func (t *Tiny) Detect(ctx context.Context, img *image.RGBA, minScore float32) ([]Detection, error) {
	if err := checkImage(img); err != nil {
		return nil, err
	}
	if !(minScore > 0 && minScore < 1) {
		return nil, fmt.Errorf("%w: minScore %v not in (0, 1)", ErrInput, minScore)
	}
	b := img.Bounds()
	W, H := b.Dx(), b.Dy()
	x := batchFromImage(img, 0, 0, W, H, tinyInput, false)
	for i := 0; i < len(x.Data); i += 3 {
		x.Data[i] = (x.Data[i] - tinyMean[0]) / 255
		x.Data[i+1] = (x.Data[i+1] - tinyMean[1]) / 255
		x.Data[i+2] = (x.Data[i+2] - tinyMean[2]) / 255
	}
	out, err := t.forward(ctx, x)
	if err != nil {
		return nil, err
	}
	g := out.Shape[1]
	scale := float64(tinyInput) / float64(max(W, H))
	rw, rh := math.Round(float64(W)*scale), math.Round(float64(H)*scale)
	m := math.Max(rw, rh)
	cx, cy := m/rw, m/rh
	type cand struct {
		box   [4]float64 // relative x, y, w, h
		score float32
	}
	var cands []cand
	for row := 0; row < g; row++ {
		for col := 0; col < g; col++ {
			for a := 0; a < 5; a++ {
				e := out.Data[((row*g+col)*5+a)*5:]
				score := nn.Sigmoid(e[4])
				if !(score > minScore) {
					continue
				}
				ctrX := (float64(col) + float64(nn.Sigmoid(e[0]))) / float64(g) * cx
				ctrY := (float64(row) + float64(nn.Sigmoid(e[1]))) / float64(g) * cy
				w := math.Exp(float64(e[2])) * tinyAnchors[a][0] / float64(g) * cx
				h := math.Exp(float64(e[3])) * tinyAnchors[a][1] / float64(g) * cy
				cands = append(cands, cand{[4]float64{ctrX - w/2, ctrY - h/2, w, h}, score})
			}
		}
	}
	// ops/nonMaxSuppression: stable ascending sort, pop the highest; drop IoU > 0.4.
	order := make([]int, len(cands))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return cands[order[i]].score < cands[order[j]].score })
	var dets []Detection
	for len(order) > 0 {
		k := order[len(order)-1]
		order = order[:len(order)-1]
		c := cands[k]
		dets = append(dets, Detection{
			Box:   [4]float32{float32(c.box[0] * float64(W)), float32(c.box[1] * float64(H)), float32(c.box[2] * float64(W)), float32(c.box[3] * float64(H))},
			Score: c.score,
		})
		kept := order[:0]
		for _, o := range order {
			if iouXYWH(c.box, cands[o].box) <= tinyIoU {
				kept = append(kept, o)
			}
		}
		order = kept
	}
	return dets, nil
}

func iouXYWH(a, b [4]float64) float64 {
	w := math.Max(0, math.Min(a[0]+a[2], b[0]+b[2])-math.Max(a[0], b[0]))
	h := math.Max(0, math.Min(a[1]+a[3], b[1]+b[3])-math.Max(a[1], b[1]))
	inter := w * h
	return inter / (a[2]*a[3] + b[2]*b[3] - inter)
}

func (t *Tiny) forward(ctx context.Context, x *nn.Tensor) (*nn.Tensor, error) {
	y, err := t.conv0.Forward(x)
	if err != nil {
		return nil, err
	}
	for _, s := range t.sep {
		if err := ctxErr(ctx); err != nil {
			return nil, err
		}
		if y, err = nn.MaxPool(y, 2, 2, 2, 2, nn.Same); err != nil {
			return nil, err
		}
		if y, err = s.forward(y); err != nil {
			return nil, err
		}
	}
	if y, err = nn.MaxPool(y, 2, 2, 1, 1, nn.Same); err != nil {
		return nil, err
	}
	return t.conv8.Forward(y)
}
