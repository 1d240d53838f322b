// Package human runs the face graph models of @vladmandic/human@3.3.6 —
// BlazeFace (detection), FaceRes (1024-D descriptor), antispoof and
// liveness — on the nn graph runtime, with human's own pre- and
// post-processing (see face/testdata/golden for the parity tests).
//
// Invariants:
//   - Models are loaded from TFJS graph-model files through nn.LoadGraphModel,
//     which validates every node, attribute and weight; loaded models are
//     immutable and safe for concurrent use.
//   - Crops are [1, S, S, 3] tensors with values in 0..1, as human's
//     cutAndResize produces them; images larger than MaxImagePixels are refused.
//   - Scores are the unrounded model outputs (human rounds to 0.01 for display).
package human

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"sort"

	"github.com/madoguchi/madoguchi/face/nn"
)

// MaxImagePixels bounds the images accepted (64 megapixels).
const MaxImagePixels = 64 << 20

// CropSize is the side of the face crop human feeds to every face model when
// the mesh is enabled (facemesh's input size).
const CropSize = 192

// ErrInput means an image, box or crop is unusable.
var ErrInput = errors.New("human: bad input")

// model is a loaded graph with the name of its input.
type model struct {
	g     *nn.Graph
	input string
	size  int // square input side
}

func loadModel(dir, file string, size int) (*model, error) {
	g, err := nn.LoadGraphModel(os.DirFS(dir), file)
	if err != nil {
		return nil, fmt.Errorf("human: load %s: %w", file, err)
	}
	ins := g.Inputs()
	if len(ins) != 1 {
		return nil, fmt.Errorf("human: %s: %w: %d inputs", file, nn.ErrFormat, len(ins))
	}
	return &model{g: g, input: ins[0], size: size}, nil
}

func (m *model) run(ctx context.Context, x *nn.Tensor) ([]*nn.Tensor, error) {
	return m.g.Run(ctx, map[string]*nn.Tensor{m.input: x})
}

// output returns the output whose shape ends in last (the graphs' outputs are
// told apart by shape, as human does).
func (m *model) output(outs []*nn.Tensor, size int) (*nn.Tensor, error) {
	for _, o := range outs {
		if o != nil && o.Len() == size {
			return o, nil
		}
	}
	return nil, fmt.Errorf("human: %w: no output of %d values", nn.ErrShape, size)
}

func imageTensor(img *image.RGBA) (*nn.Tensor, error) {
	if img == nil {
		return nil, fmt.Errorf("%w: nil image", ErrInput)
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 || w > MaxImagePixels/h {
		return nil, fmt.Errorf("%w: image %dx%d", ErrInput, w, h)
	}
	if img.Stride < 4*w || len(img.Pix) < (h-1)*img.Stride+4*w {
		return nil, fmt.Errorf("%w: image buffer too small for %dx%d", ErrInput, w, h)
	}
	t := nn.NewTensor(1, h, w, 3)
	for y := 0; y < h; y++ {
		row := img.Pix[y*img.Stride:]
		o := t.Data[y*w*3:]
		for x := 0; x < w; x++ {
			o[3*x], o[3*x+1], o[3*x+2] = float32(row[4*x]), float32(row[4*x+1]), float32(row[4*x+2])
		}
	}
	return t, nil
}

// Crop is human's cutAndResize: the box [x, y, w, h] (image pixels, may reach
// outside the image, where the crop is 0) is bilinearly cropped and resized
// to size x size, then scaled to 0..1.
func Crop(img *image.RGBA, box [4]float32, size int) (*nn.Tensor, error) {
	t, err := imageTensor(img)
	if err != nil {
		return nil, err
	}
	return cropTensor(t, box, size)
}

func cropTensor(t *nn.Tensor, box [4]float32, size int) (*nn.Tensor, error) {
	if size <= 0 || size > 1024 {
		return nil, fmt.Errorf("%w: crop size %d", ErrInput, size)
	}
	for _, v := range box {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || math.Abs(float64(v)) > 1e7 {
			return nil, fmt.Errorf("%w: box %v", ErrInput, box)
		}
	}
	if box[2] <= 0 || box[3] <= 0 {
		return nil, fmt.Errorf("%w: empty box %v", ErrInput, box)
	}
	h, w := float32(t.Shape[1]), float32(t.Shape[2])
	c, err := nn.CropAndResize(t, [4]float32{box[1] / h, box[0] / w, (box[1] + box[3]) / h, (box[0] + box[2]) / w}, size, size)
	if err != nil {
		return nil, err
	}
	for i := range c.Data {
		c.Data[i] /= 255
	}
	return c, nil
}

func checkCrop(crop *nn.Tensor) error {
	if crop == nil || len(crop.Shape) != 4 || crop.Shape[0] != 1 || crop.Shape[3] != 3 || crop.Shape[1] <= 0 || crop.Shape[2] <= 0 || crop.Len() != crop.Shape[1]*crop.Shape[2]*3 {
		return fmt.Errorf("%w: crop must be [1 h w 3]", ErrInput)
	}
	return nil
}

// resized returns crop resized to the model's input with TF's legacy bilinear rule, scaled by mul.
func (m *model) resized(crop *nn.Tensor, mul float32) (*nn.Tensor, error) {
	if err := checkCrop(crop); err != nil {
		return nil, err
	}
	x, err := nn.ResizeBilinear(crop, m.size, m.size)
	if err != nil {
		return nil, err
	}
	if mul != 1 {
		for i := range x.Data {
			x.Data[i] *= mul
		}
	}
	return x, nil
}

// FaceRes is human's faceres model (HSE-FaceRec MobileNet, 224x224 input):
// a 1024-D descriptor plus age and gender heads.
type FaceRes struct{ m *model }

// LoadFaceRes loads faceres.json from human's models folder.
func LoadFaceRes(dir string) (*FaceRes, error) {
	m, err := loadModel(dir, "faceres.json", 224)
	if err != nil {
		return nil, err
	}
	return &FaceRes{m}, nil
}

// DescriptorSize is the length of a FaceRes descriptor.
const DescriptorSize = 1024

// Embed returns the raw 1024-D descriptor of a crop (values >= 0, NOT
// L2-normalised; norm typically 7-15), as human's faceres: the crop is
// resized to 224x224 and scaled to 0..255.
func (f *FaceRes) Embed(ctx context.Context, crop *nn.Tensor) ([]float32, error) {
	x, err := f.m.resized(crop, 255)
	if err != nil {
		return nil, err
	}
	outs, err := f.m.run(ctx, x)
	if err != nil {
		return nil, err
	}
	e, err := f.m.output(outs, DescriptorSize)
	if err != nil {
		return nil, err
	}
	return e.Data, nil
}

// Antispoof is human's antispoof model (128x128 input, sigmoid; 1 = real).
type Antispoof struct{ m *model }

// LoadAntispoof loads antispoof.json from human's models folder.
func LoadAntispoof(dir string) (*Antispoof, error) {
	m, err := loadModel(dir, "antispoof.json", 128)
	if err != nil {
		return nil, err
	}
	return &Antispoof{m}, nil
}

// Score returns the probability that the crop shows a real face (not a
// presentation attack), unrounded.
func (a *Antispoof) Score(ctx context.Context, crop *nn.Tensor) (float32, error) {
	x, err := a.m.resized(crop, 1)
	if err != nil {
		return 0, err
	}
	outs, err := a.m.run(ctx, x)
	if err != nil {
		return 0, err
	}
	o, err := a.m.output(outs, 1)
	if err != nil {
		return 0, err
	}
	return o.Data[0], nil
}

// Liveness is human's liveness model (32x32 input, 2-way softmax).
type Liveness struct{ m *model }

// LoadLiveness loads liveness.json from human's models folder.
func LoadLiveness(dir string) (*Liveness, error) {
	m, err := loadModel(dir, "liveness.json", 32)
	if err != nil {
		return nil, err
	}
	return &Liveness{m}, nil
}

// Score returns softmax[0] of the liveness model, which human reports as
// "live" (the upstream label order is undocumented; on photos of real faces
// class 0 is high).
func (l *Liveness) Score(ctx context.Context, crop *nn.Tensor) (float32, error) {
	x, err := l.m.resized(crop, 1)
	if err != nil {
		return 0, err
	}
	outs, err := l.m.run(ctx, x)
	if err != nil {
		return 0, err
	}
	o, err := l.m.output(outs, 2)
	if err != nil {
		return 0, err
	}
	return o.Data[0], nil
}

// sortByScore sorts indices by descending score, stable.
func sortByScore(idx []int, scores []float32) {
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
}
