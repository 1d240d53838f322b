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

func checkImage(img *image.RGBA) error {
	if img == nil {
		return fmt.Errorf("%w: nil image", ErrInput)
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 || w > MaxImagePixels/h {
		return fmt.Errorf("%w: image %dx%d", ErrInput, w, h)
	}
	if img.Stride < 4*w || len(img.Pix) < (h-1)*img.Stride+4*w {
		return fmt.Errorf("%w: image buffer too small for %dx%d", ErrInput, w, h)
	}
	return nil
}

// resizeImage is tf.image.resizeBilinear (legacy mode) of the whole image
// to oh x ow, reading the RGBA pixels directly: a large photo costs O(oh·ow)
// memory. Bit-identical to resizing the float tensor of the image.
func resizeImage(img *image.RGBA, oh, ow int) *nn.Tensor {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := nn.NewTensor(1, oh, ow, 3)
	sy, sx := float32(h)/float32(oh), float32(w)/float32(ow)
	type tap struct {
		i0, i1 int
		f      float32
	}
	xs := make([]tap, ow)
	for j := range xs {
		src := float32(j) * sx
		x0 := int(src)
		xs[j] = tap{x0 * 4, min(x0+1, w-1) * 4, src - float32(x0)}
	}
	for i := 0; i < oh; i++ {
		src := float32(i) * sy
		y0 := int(src)
		r0 := img.Pix[y0*img.Stride:]
		r1 := img.Pix[min(y0+1, h-1)*img.Stride:]
		fy := src - float32(y0)
		o := out.Data[i*ow*3:]
		for j, t := range xs {
			for c := 0; c < 3; c++ {
				tl, tr := float32(r0[t.i0+c]), float32(r0[t.i1+c])
				bl, br := float32(r1[t.i0+c]), float32(r1[t.i1+c])
				top := tl + (tr-tl)*t.f
				bot := bl + (br-bl)*t.f
				o[j*3+c] = top + (bot-top)*fy
			}
		}
	}
	return out
}

// cropImage is tf.image.cropAndResize of one normalised box [y1,x1,y2,x2]
// (extrapolation value 0) reading the RGBA pixels directly, divided by 255.
func cropImage(img *image.RGBA, box [4]float32, size int) *nn.Tensor {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := nn.NewTensor(1, size, size, 3)
	y1, x1, y2, x2 := box[0], box[1], box[2], box[3]
	var hs, ws float32
	if size > 1 {
		hs = (y2 - y1) * float32(h-1) / float32(size-1)
		ws = (x2 - x1) * float32(w-1) / float32(size-1)
	}
	for y := 0; y < size; y++ {
		iny := y1*float32(h-1) + float32(y)*hs
		if size == 1 {
			iny = 0.5 * (y1 + y2) * float32(h-1)
		}
		if iny < 0 || iny > float32(h-1) {
			continue
		}
		top := int(math.Floor(float64(iny)))
		bot := int(math.Ceil(float64(iny)))
		fy := iny - float32(top)
		rt, rb := img.Pix[top*img.Stride:], img.Pix[bot*img.Stride:]
		for xo := 0; xo < size; xo++ {
			inx := x1*float32(w-1) + float32(xo)*ws
			if size == 1 {
				inx = 0.5 * (x1 + x2) * float32(w-1)
			}
			if inx < 0 || inx > float32(w-1) {
				continue
			}
			l := int(math.Floor(float64(inx)))
			r := int(math.Ceil(float64(inx)))
			fx := inx - float32(l)
			o := out.Data[(y*size+xo)*3:]
			for c := 0; c < 3; c++ {
				tl, tr := float32(rt[4*l+c]), float32(rt[4*r+c])
				bl, br := float32(rb[4*l+c]), float32(rb[4*r+c])
				tv := tl + (tr-tl)*fx
				bv := bl + (br-bl)*fx
				o[c] = (tv + (bv-tv)*fy) / 255
			}
		}
	}
	return out
}

// Crop is human's cutAndResize: the box [x, y, w, h] (image pixels, may reach
// outside the image, where the crop is 0) is bilinearly cropped and resized
// to size x size, then scaled to 0..1.
func Crop(img *image.RGBA, box [4]float32, size int) (*nn.Tensor, error) {
	if err := checkImage(img); err != nil {
		return nil, err
	}
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
	b := img.Bounds()
	h, w := float32(b.Dy()), float32(b.Dx())
	return cropImage(img, [4]float32{box[1] / h, box[0] / w, (box[1] + box[3]) / h, (box[0] + box[2]) / w}, size), nil
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
