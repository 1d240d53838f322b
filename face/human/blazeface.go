package human

import (
	"context"
	"fmt"
	"image"
	"math"

	"github.com/madoguchi/madoguchi/face/nn"
)

// BlazeFace detector settings, as configured by the reference harness.
const (
	blazeSize       = 256
	blazeAnchors    = 896
	blazeMaxFaces   = 3
	blazeIoU        = 0.1
	blazeMinScore   = 0.2
	blazeEnlarge    = 1.4
	blazeKeypoints  = 6
	blazeFieldCount = 17
)

// Face is one BlazeFace detection.
type Face struct {
	// Box is human's crop box [x, y, w, h] in image pixels: the detector box
	// enlarged 1.4x about its centre and squared, with integer corners. It may
	// reach outside the image.
	Box [4]float32
	// Raw is the detector's own box [x, y, w, h] in image pixels, before
	// human enlarges and squares it (a tight face box, for landmark nets).
	Raw   [4]float32
	Score float32
	// Keypoints: right eye, left eye, nose, mouth, right ear, left ear (image pixels).
	Keypoints [blazeKeypoints][2]float32
}

// BlazeFace is human's blazeface detector (the 256x256 full-range model).
type BlazeFace struct {
	m       *model
	anchors [blazeAnchors][2]float32
}

// LoadBlazeFace loads blazeface.json from human's models folder.
func LoadBlazeFace(dir string) (*BlazeFace, error) {
	m, err := loadModel(dir, "blazeface.json", blazeSize)
	if err != nil {
		return nil, err
	}
	b := &BlazeFace{m: m}
	i := 0
	for _, s := range []struct{ stride, n int }{{16, 2}, {32, 6}} {
		grid := (blazeSize + s.stride - 1) / s.stride
		for gy := 0; gy < grid; gy++ {
			for gx := 0; gx < grid; gx++ {
				for range s.n {
					b.anchors[i] = [2]float32{float32(s.stride) * (float32(gx) + 0.5), float32(s.stride) * (float32(gy) + 0.5)}
					i++
				}
			}
		}
	}
	return b, nil
}

// Detect finds up to 3 faces as human's blazeface.getBoxes does (whole image
// resized to 256x256 without keeping the aspect ratio, scaled to [-1, 1],
// NMS at IoU 0.1, score > 0.2), by descending score.
func (b *BlazeFace) Detect(ctx context.Context, img *image.RGBA) ([]Face, error) {
	if err := checkImage(img); err != nil {
		return nil, err
	}
	W, H := img.Bounds().Dx(), img.Bounds().Dy()
	x := resizeImage(img, blazeSize, blazeSize)
	for i, v := range x.Data {
		x.Data[i] = v/127.5 - 1
	}
	outs, err := b.m.run(ctx, x)
	if err != nil {
		return nil, err
	}
	raw, err := b.rows(outs)
	if err != nil {
		return nil, err
	}
	boxes := make([]float32, 4*blazeAnchors) // x1, y1, x2, y2 in 256 units
	scores := make([]float32, blazeAnchors)
	for i := 0; i < blazeAnchors; i++ {
		r := raw[i*blazeFieldCount:]
		cx, cy := r[1]+b.anchors[i][0], r[2]+b.anchors[i][1]
		boxes[4*i], boxes[4*i+1] = cx-r[3]/2, cy-r[4]/2
		boxes[4*i+2], boxes[4*i+3] = cx+r[3]/2, cy+r[4]/2
		scores[i] = nn.Sigmoid(r[0])
	}
	fx, fy := float64(W)/blazeSize, float64(H)/blazeSize
	var faces []Face
	for _, i := range nmsTF(boxes, scores, blazeMaxFaces, blazeIoU, blazeMinScore) {
		x1, y1 := float64(boxes[4*i])*fx, float64(boxes[4*i+1])*fy
		x2, y2 := float64(boxes[4*i+2])*fx, float64(boxes[4*i+3])*fy
		// enlargeBox then squarifyBox
		cx, cy := x1+(x2-x1)/2, y1+(y2-y1)/2
		hw, hh := blazeEnlarge*math.Abs(x2-x1)/2, blazeEnlarge*math.Abs(y2-y1)/2
		ex1, ey1, ex2, ey2 := cx-hw, cy-hh, cx+hw, cy+hh
		cx, cy = ex1+(ex2-ex1)/2, ey1+(ey2-ey1)/2
		half := math.Max(math.Abs(ex2-ex1), math.Abs(ey2-ey1)) / 2
		sx1, sy1 := jsRound(cx-half), jsRound(cy-half)
		sx2, sy2 := jsRound(cx+half), jsRound(cy+half)
		f := Face{
			Box:   [4]float32{float32(sx1), float32(sy1), float32(sx2 - sx1), float32(sy2 - sy1)},
			Raw:   [4]float32{float32(x1), float32(y1), float32(x2 - x1), float32(y2 - y1)},
			Score: scores[i],
		}
		r := raw[i*blazeFieldCount:]
		for k := 0; k < blazeKeypoints; k++ {
			f.Keypoints[k] = [2]float32{
				float32((float64(r[5+2*k]) + float64(b.anchors[i][0])) * fx),
				float32((float64(r[6+2*k]) + float64(b.anchors[i][1])) * fy),
			}
		}
		faces = append(faces, f)
	}
	return faces, nil
}

// rows concatenates the four outputs as human does: [cls512|reg512 ; cls384|reg384].
func (b *BlazeFace) rows(outs []*nn.Tensor) ([]float32, error) {
	var cls512, reg512, cls384, reg384 *nn.Tensor
	for _, o := range outs {
		switch o.Len() {
		case 512:
			cls512 = o
		case 512 * 16:
			reg512 = o
		case 384:
			cls384 = o
		case 384 * 16:
			reg384 = o
		}
	}
	if cls512 == nil || reg512 == nil || cls384 == nil || reg384 == nil {
		return nil, fmt.Errorf("human: blazeface: %w: unexpected outputs", nn.ErrShape)
	}
	raw := make([]float32, 0, blazeAnchors*blazeFieldCount)
	for _, p := range [][2]*nn.Tensor{{cls512, reg512}, {cls384, reg384}} {
		n := p[0].Len()
		for i := 0; i < n; i++ {
			raw = append(raw, p[0].Data[i])
			raw = append(raw, p[1].Data[16*i:16*i+16]...)
		}
	}
	return raw, nil
}

// jsRound is JavaScript's Math.round (halves round up).
func jsRound(v float64) float64 { return math.Floor(v + 0.5) }

// nmsTF is tf.image.nonMaxSuppression (V3) as tfjs implements it: scores >
// scoreThreshold, greedy by descending score, a candidate is dropped when
// its IoU with a selected box is >= iouThreshold.
func nmsTF(boxes, scores []float32, maxOut int, iouThreshold float64, scoreThreshold float32) []int {
	var idx []int
	for i, s := range scores {
		if s > scoreThreshold {
			idx = append(idx, i)
		}
	}
	sortByScore(idx, scores)
	var sel []int
	for _, i := range idx {
		if len(sel) >= maxOut {
			break
		}
		ok := true
		for j := len(sel) - 1; j >= 0; j-- {
			if iou(boxes[4*i:4*i+4], boxes[4*sel[j]:4*sel[j]+4]) >= iouThreshold {
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

func iou(a, b []float32) float64 {
	ax0, ay0 := math.Min(float64(a[0]), float64(a[2])), math.Min(float64(a[1]), float64(a[3]))
	ax1, ay1 := math.Max(float64(a[0]), float64(a[2])), math.Max(float64(a[1]), float64(a[3]))
	bx0, by0 := math.Min(float64(b[0]), float64(b[2])), math.Min(float64(b[1]), float64(b[3]))
	bx1, by1 := math.Max(float64(b[0]), float64(b[2])), math.Max(float64(b[1]), float64(b[3]))
	aa, ab := (ax1-ax0)*(ay1-ay0), (bx1-bx0)*(by1-by0)
	if aa <= 0 || ab <= 0 {
		return 0
	}
	inter := math.Max(math.Min(ax1, bx1)-math.Max(ax0, bx0), 0) * math.Max(math.Min(ay1, by1)-math.Max(ay0, by0), 0)
	return inter / (aa + ab - inter)
}
