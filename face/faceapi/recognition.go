package faceapi

import (
	"context"
	"image"

	"github.com/madoguchi/madoguchi/face/nn"
)

// EmbeddingSize is the length of a FaceRecognitionNet descriptor.
const EmbeddingSize = 128

// Recognizer is face-api's FaceRecognitionNet: dlib's ResNet-29 face
// descriptor (150x150 RGB -> 128-D), with the BN-folded scale layers merged
// into the convolutions at load.
type Recognizer struct {
	down    *nn.Conv2D // conv32_down
	blocks  []resBlock
	fc      *nn.Tensor // [256,128]
	chipLen int
}

type resBlock struct {
	down         bool
	conv1, conv2 *nn.Conv2D
}

// LoadRecognizer loads face_recognition_model from face-api's model folder.
func LoadRecognizer(dir string) (*Recognizer, error) {
	return loadModel(dir, "face_recognition_model", newRecognizer)
}

func newRecognizer(w *nn.Weights) (*Recognizer, error) {
	r := &Recognizer{chipLen: 150}
	var err error
	if r.down, err = scaledConv(w, "conv32_down", 3, 32, 7, 2, nn.Valid, nn.ReLU); err != nil {
		return nil, err
	}
	type spec struct {
		name     string
		cin, out int
		down     bool
	}
	specs := []spec{
		{"conv32_1", 32, 32, false}, {"conv32_2", 32, 32, false}, {"conv32_3", 32, 32, false},
		{"conv64_down", 32, 64, true}, {"conv64_1", 64, 64, false}, {"conv64_2", 64, 64, false}, {"conv64_3", 64, 64, false},
		{"conv128_down", 64, 128, true}, {"conv128_1", 128, 128, false}, {"conv128_2", 128, 128, false},
		{"conv256_down", 128, 256, true}, {"conv256_1", 256, 256, false}, {"conv256_2", 256, 256, false},
		{"conv256_down_out", 256, 256, true},
	}
	for _, s := range specs {
		b := resBlock{down: s.down}
		stride, pad := 1, nn.Same
		if s.down {
			stride, pad = 2, nn.Valid
		}
		if b.conv1, err = scaledConv(w, s.name+"/conv1", s.cin, s.out, 3, stride, pad, nn.ReLU); err != nil {
			return nil, err
		}
		if b.conv2, err = scaledConv(w, s.name+"/conv2", s.out, s.out, 3, 1, nn.Same, nn.Linear); err != nil {
			return nil, err
		}
		r.blocks = append(r.blocks, b)
	}
	if r.fc, err = w.Get("fc", 256, EmbeddingSize); err != nil {
		return nil, err
	}
	return r, nil
}

// scaledConv builds conv + bias followed by dlib's affine scale layer, folded.
func scaledConv(w *nn.Weights, prefix string, cin, cout, k, stride int, pad nn.Padding, act nn.Activation) (*nn.Conv2D, error) {
	f, err := w.Get(prefix+"/conv/filters", k, k, cin, cout)
	if err != nil {
		return nil, err
	}
	b, err := w.Get(prefix+"/conv/bias", cout)
	if err != nil {
		return nil, err
	}
	sw, err := w.Get(prefix+"/scale/weights", cout)
	if err != nil {
		return nil, err
	}
	sb, err := w.Get(prefix+"/scale/biases", cout)
	if err != nil {
		return nil, err
	}
	c, err := nn.NewConv2D(f, b.Data, stride, stride, pad, act)
	if err != nil {
		return nil, err
	}
	return c, c.FoldAffine(sw.Data, sb.Data)
}

// Embed returns the 128-D descriptor of an aligned face chip, exactly as
// face-api's computeFaceDescriptor: the chip is zero-padded to a square
// (centred), resized to 150x150 with TF's legacy bilinear rule, mean-subtracted
// and scaled by 1/255. The descriptor is raw, NOT L2-normalised (its norm is
// typically 1.3-1.6); compare with Euclidean distance (dlib threshold 0.6) or
// normalise first for cosine.
func (r *Recognizer) Embed(ctx context.Context, chip *image.RGBA) ([]float32, error) {
	if err := checkImage(chip); err != nil {
		return nil, err
	}
	b := chip.Bounds()
	return r.embedRegion(ctx, chip, 0, 0, b.Dx(), b.Dy())
}

// EmbedBox crops box (clipped to the image and floored, as face-api's
// extractFaceTensors does) from img and embeds it; with AlignBox this
// reproduces face-api's withFaceDescriptors.
func (r *Recognizer) EmbedBox(ctx context.Context, img *image.RGBA, box [4]float32) ([]float32, error) {
	if err := checkImage(img); err != nil {
		return nil, err
	}
	b := img.Bounds()
	x, y, w, h, err := clipBox(box, b.Dx(), b.Dy())
	if err != nil {
		return nil, err
	}
	return r.embedRegion(ctx, img, x, y, w, h)
}

func (r *Recognizer) embedRegion(ctx context.Context, img *image.RGBA, x0, y0, w, h int) ([]float32, error) {
	x := batchFromImage(img, x0, y0, w, h, r.chipLen, true)
	normalize(x)
	return r.forward(ctx, x)
}

func (r *Recognizer) forward(ctx context.Context, x *nn.Tensor) ([]float32, error) {
	out, err := r.down.Forward(x)
	if err != nil {
		return nil, err
	}
	if out, err = nn.MaxPool(out, 3, 3, 2, 2, nn.Valid); err != nil {
		return nil, err
	}
	for _, b := range r.blocks {
		if err := ctxErr(ctx); err != nil {
			return nil, err
		}
		if out, err = b.forward(out); err != nil {
			return nil, err
		}
	}
	m, err := nn.MeanHW(out)
	if err != nil {
		return nil, err
	}
	fc, err := nn.MatMul(m, r.fc, nil)
	if err != nil {
		return nil, err
	}
	return fc.Data, nil
}

func (b resBlock) forward(x *nn.Tensor) (*nn.Tensor, error) {
	out, err := b.conv1.Forward(x)
	if err != nil {
		return nil, err
	}
	if out, err = b.conv2.Forward(out); err != nil {
		return nil, err
	}
	short := x
	if b.down {
		if short, err = nn.AvgPool(x, 2, 2, 2, 2, nn.Valid); err != nil {
			return nil, err
		}
		if short.Shape[3] != out.Shape[3] {
			if short, err = nn.PadChannels(short, 0, out.Shape[3]-short.Shape[3]); err != nil {
				return nil, err
			}
		}
		if short.Shape[1] != out.Shape[1] || short.Shape[2] != out.Shape[2] {
			if out, err = nn.PadSpatial(out, 0, short.Shape[1]-out.Shape[1], 0, short.Shape[2]-out.Shape[2]); err != nil {
				return nil, err
			}
		}
	}
	if err := nn.AddInPlace(out, short); err != nil {
		return nil, err
	}
	nn.ReLUInPlace(out)
	return out, nil
}
