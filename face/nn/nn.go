// Package nn is a small neural-network runtime for the face models: float32
// tensors in NHWC layout, the kernels the models need (convolution through
// im2col and a blocked GEMM, depthwise convolution, pooling, element-wise ops,
// legacy-TF resizing, crop-and-resize) and loaders for TensorFlow.js weights:
// layers-style weight manifests (LoadManifest) and graph models
// (LoadGraphModel). A graph is assembled with Builder, whose calls are the
// only contract between a file format and the kernels: the TFJS loader here
// and the ONNX loader in nn/onnx both use it. Build runs a small optimiser
// that folds per-channel constants, activations and residual additions into
// the preceding convolution.
//
// Invariants:
//   - Tensors are dense, row-major, float32, NHWC. Kernels refuse a Tensor
//     whose len(Data) differs from the product of its Shape (ErrShape).
//   - Weights are immutable after load. Kernels never write to weights and
//     keep per-call scratch memory in pools, so a loaded model or Graph is
//     safe for concurrent use by any number of goroutines.
//   - Loaders trust nothing: every size, shape, dtype, path and byte count in a
//     model file is checked against the data and against hard limits, and no
//     buffer is sized from a claim before the bytes are read. A bad file
//     yields an error wrapping ErrFormat, ErrLimit or ErrMissing, never a panic.
//   - Numerics follow TensorFlow: SAME/VALID padding, legacy bilinear resize
//     (align_corners=false, half_pixel_centers=false), crop-and-resize with
//     extrapolation value 0.
//   - On amd64 with AVX2 and FMA the GEMM, depthwise, clamp and max kernels
//     run in assembly (gemm_amd64.s); elsewhere, or with -tags purego, the
//     same kernels run in Go. Both paths are tested against a float64 oracle.
package nn

import (
	"errors"
	"fmt"
	"log/slog"
)

// Errors returned by this package. Loaders wrap ErrFormat or ErrLimit with
// the detail; kernels wrap ErrShape.
var (
	// ErrFormat means a model file is malformed or inconsistent.
	ErrFormat = errors.New("nn: malformed model")
	// ErrLimit means a model file exceeds a size limit.
	ErrLimit = errors.New("nn: model exceeds limit")
	// ErrShape means tensors given to a kernel do not fit together.
	ErrShape = errors.New("nn: shape mismatch")
	// ErrMissing means a weight or graph node a model needs is absent.
	ErrMissing = errors.New("nn: missing weight")
)

// maxElements bounds the size of any one tensor (256 Mi floats = 1 GiB).
const maxElements = 1 << 28

// Tensor is a dense float32 tensor. Shape is row-major; for images NHWC.
type Tensor struct {
	Shape []int
	Data  []float32
}

// NewTensor returns a zeroed tensor of the given shape.
func NewTensor(shape ...int) *Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, n)}
}

// FromData wraps data in a tensor after checking that the sizes agree.
func FromData(data []float32, shape ...int) (*Tensor, error) {
	n, err := numElements(shape)
	if err != nil {
		return nil, err
	}
	if n != len(data) {
		return nil, fmt.Errorf("%w: %d values for shape %v", ErrShape, len(data), shape)
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}, nil
}

// Len returns the number of elements.
func (t *Tensor) Len() int { return len(t.Data) }

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
}

// Reshape returns a tensor sharing t's data with another shape of the same size.
// One dimension may be -1 and is inferred.
func (t *Tensor) Reshape(shape ...int) (*Tensor, error) {
	s := append([]int(nil), shape...)
	infer := -1
	n := 1
	for i, d := range s {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d <= 0:
			return nil, fmt.Errorf("%w: reshape %v to %v", ErrShape, t.Shape, shape)
		default:
			n *= d
		}
	}
	if infer >= 0 {
		if n == 0 || len(t.Data)%n != 0 {
			return nil, fmt.Errorf("%w: reshape %v to %v", ErrShape, t.Shape, shape)
		}
		s[infer] = len(t.Data) / n
		n *= s[infer]
	}
	if n != len(t.Data) {
		return nil, fmt.Errorf("%w: reshape %v to %v", ErrShape, t.Shape, shape)
	}
	return &Tensor{Shape: s, Data: t.Data}, nil
}

// numElements multiplies out a shape, refusing negative dims and sizes above maxElements.
func numElements(shape []int) (int, error) {
	if len(shape) > 8 {
		return 0, fmt.Errorf("%w: rank %d", ErrLimit, len(shape))
	}
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("%w: negative dimension in %v", ErrFormat, shape)
		}
		if d != 0 && n > maxElements/d {
			return 0, fmt.Errorf("%w: shape %v has more than %d elements", ErrLimit, shape, maxElements)
		}
		n *= d
	}
	return n, nil
}

// nhwc returns the four dims of a rank-4 tensor or a rank-3 HWC tensor (N=1).
func nhwc(t *Tensor) (n, h, w, c int, err error) {
	switch len(t.Shape) {
	case 4:
		n, h, w, c = t.Shape[0], t.Shape[1], t.Shape[2], t.Shape[3]
	case 3:
		n, h, w, c = 1, t.Shape[0], t.Shape[1], t.Shape[2]
	default:
		return 0, 0, 0, 0, fmt.Errorf("%w: want NHWC, got shape %v", ErrShape, t.Shape)
	}
	if size, err := numElements(t.Shape); err != nil || size != len(t.Data) || n <= 0 || h <= 0 || w <= 0 || c <= 0 {
		return 0, 0, 0, 0, fmt.Errorf("%w: tensor shape %v does not match its %d values", ErrShape, t.Shape, len(t.Data))
	}
	return n, h, w, c, nil
}

// LogValue logs a tensor's shape only: tensors carry face images and
// biometric templates, which must never reach a log.
func (t *Tensor) LogValue() slog.Value {
	if t == nil {
		return slog.StringValue("<nil tensor>")
	}
	return slog.GroupValue(slog.Any("shape", t.Shape), slog.String("data", "redacted"))
}

// String prints the shape only, for the same reason as LogValue.
func (t *Tensor) String() string {
	if t == nil {
		return "<nil tensor>"
	}
	return fmt.Sprintf("Tensor%v", t.Shape)
}
