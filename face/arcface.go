package face

import (
	"context"
	"fmt"
	"image"
	"math"

	"github.com/madoguchi/madoguchi/face/nn"
	"github.com/madoguchi/madoguchi/face/nn/onnx"
)

// ArcFaceChipSize is the input side of ArcFace-family recognisers.
const ArcFaceChipSize = 112

// ArcFaceReference holds the positions, in a 112x112 chip, that the
// ArcFace/InsightFace alignment maps the five points to: left eye, right
// eye (as seen in the image), nose tip, left and right mouth corner.
var ArcFaceReference = [5]Point{
	{38.2946, 51.6963}, {73.5318, 51.5014}, {56.0252, 71.7366}, {41.5493, 92.3655}, {70.7299, 92.2041},
}

// FivePoints derives the ArcFace five points from the iBUG 68-point
// layout: the centres of the two eyes (mean of their six points), the nose
// tip (30) and the outer mouth corners (48, 54), in the order of
// ArcFaceReference.
func FivePoints(lm *[68]Point) [5]Point {
	lx, ly := mean(lm, 36, 42)
	rx, ry := mean(lm, 42, 48)
	return [5]Point{
		{float32(lx), float32(ly)}, {float32(rx), float32(ry)},
		lm[30], lm[48], lm[54],
	}
}

// arcFaceMap returns the map from chip pixels to image pixels: the
// least-squares similarity transform taking the reference points (scaled
// to size) onto pts. ok is false for degenerate points.
func arcFaceMap(pts [5]Point, size int) (chipMap, bool) {
	from := make([][2]float64, 5)
	to := make([][2]float64, 5)
	k := float64(size) / ArcFaceChipSize
	for i := range pts {
		if !finite(pts[i][0]) || !finite(pts[i][1]) {
			return chipMap{}, false
		}
		from[i] = [2]float64{float64(ArcFaceReference[i][0]) * k, float64(ArcFaceReference[i][1]) * k}
		to[i] = [2]float64{float64(pts[i][0]), float64(pts[i][1])}
	}
	t, ok := fitSimilarity(from, to)
	if !ok {
		return chipMap{}, false
	}
	return chipMap{t.a, -t.b, t.tx, t.b, t.a, t.ty}, true
}

func finite(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }

// ArcFaceChip cuts the size x size ArcFace chip out of img: the similarity
// transform fitted from pts to ArcFaceReference (scaled to size), sampled
// bilinearly (from a halved copy when the face is much larger than the
// chip). inFrame is the fraction of chip pixels inside the image; ok is
// false for degenerate points.
func ArcFaceChip(img *image.RGBA, pts [5]Point, size int) (chip *image.RGBA, inFrame float64, ok bool) {
	if size <= 0 || size > 1024 {
		return nil, 0, false
	}
	m, ok := arcFaceMap(pts, size)
	if !ok || !(m.scale() > 1e-3 && m.scale() < 1e4) {
		return nil, 0, false
	}
	chip, inFrame = warpPyramid(img, m, size)
	return chip, inFrame, true
}

// arcFaceEmbedder is implemented by recognisers trained on the five-point
// ArcFace chip; the engine aligns for them with AlignArcFace(Flip).
type arcFaceEmbedder interface {
	Embedder
	ChipSide() int
}

// onnxRecognizer runs an ArcFace-family ONNX recogniser: NCHW RGB input
// normalised as (x - Mean) / Std, one output vector.
type onnxRecognizer struct {
	g         *nn.Graph
	input     string
	side      int
	mean, std float32
}

// ChipSide is the chip's side in pixels.
func (r *onnxRecognizer) ChipSide() int { return r.side }

// Embed implements Embedder for a side x side chip.
func (r *onnxRecognizer) Embed(ctx context.Context, chip *image.RGBA) ([]float32, error) {
	if chip.Rect.Dx() != r.side || chip.Rect.Dy() != r.side {
		return nil, fmt.Errorf("%w: chip is %dx%d, want %dx%d", ErrConfig, chip.Rect.Dx(), chip.Rect.Dy(), r.side, r.side)
	}
	x := nn.NewTensor(1, r.side, r.side, 3)
	inv := 1 / r.std
	for y := 0; y < r.side; y++ {
		row := chip.Pix[chip.PixOffset(chip.Rect.Min.X, chip.Rect.Min.Y+y):]
		for c := 0; c < r.side; c++ {
			o := (y*r.side + c) * 3
			x.Data[o] = (float32(row[4*c]) - r.mean) * inv
			x.Data[o+1] = (float32(row[4*c+1]) - r.mean) * inv
			x.Data[o+2] = (float32(row[4*c+2]) - r.mean) * inv
		}
	}
	out, err := r.g.Run(ctx, map[string]*nn.Tensor{r.input: x})
	if err != nil {
		return nil, err
	}
	return append([]float32(nil), out[0].Data...), nil
}

var _ arcFaceEmbedder = (*onnxRecognizer)(nil)

// loadONNXRecognizer loads an ONNX recogniser whose single input is
// [1,3,side,side] and whose output is one vector.
func loadONNXRecognizer(path string, side int, mean, std float32) (*onnxRecognizer, error) {
	g, err := onnx.Load(path)
	if err != nil {
		return nil, err
	}
	ins, outs := g.Inputs(), g.Outputs()
	if len(ins) != 1 || len(outs) != 1 {
		return nil, fmt.Errorf("%w: %s has %d inputs and %d outputs, want 1 and 1", nn.ErrFormat, path, len(ins), len(outs))
	}
	r := &onnxRecognizer{g: g, input: ins[0], side: side, mean: mean, std: std}
	// one run on a grey chip proves the graph takes the chip and yields a vector
	probe := image.NewRGBA(image.Rect(0, 0, side, side))
	for i := range probe.Pix {
		probe.Pix[i] = 128
	}
	v, err := r.Embed(context.Background(), probe)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(v) < 64 || len(v) > 4096 {
		return nil, fmt.Errorf("%w: %s yields %d values, not an embedding", nn.ErrFormat, path, len(v))
	}
	return r, nil
}
