package nn

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path"
	"sort"
	"strings"
)

// Size limits applied by the loaders. The largest face model is about 7 MB;
// these leave room for operator-supplied recognisers.
const (
	// MaxManifestBytes bounds a weights manifest or a graph model.json.
	MaxManifestBytes = 16 << 20
	// MaxWeightBytes bounds the total size of a model's weight shards.
	MaxWeightBytes = 512 << 20
	// maxTensors bounds the number of tensors in one manifest.
	maxTensors = 1 << 16
)

// ManifestGroup is one entry of a TFJS weights manifest: shard files that
// concatenate into one buffer, and the tensors stored back to back in it.
type ManifestGroup struct {
	Paths   []string         `json:"paths"`
	Weights []ManifestWeight `json:"weights"`
}

// ManifestWeight describes one tensor of a manifest group.
type ManifestWeight struct {
	Name         string        `json:"name"`
	Shape        []int         `json:"shape"`
	DType        string        `json:"dtype"`
	Quantization *Quantization `json:"quantization,omitempty"`
}

// Quantization is TFJS weight quantisation: w = q*Scale + Min for uint8 and
// uint16; float16 stores IEEE half floats.
type Quantization struct {
	DType string  `json:"dtype"`
	Scale float64 `json:"scale"`
	Min   float64 `json:"min"`
}

// Weights is a read-only set of named tensors loaded from a model.
type Weights struct {
	m     map[string]*Tensor
	dtype map[string]string
}

// Names returns the tensor names, sorted.
func (w *Weights) Names() []string {
	names := make([]string, 0, len(w.m))
	for n := range w.m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Len returns the number of tensors.
func (w *Weights) Len() int { return len(w.m) }

// Lookup returns the named tensor, or nil and false.
func (w *Weights) Lookup(name string) (*Tensor, bool) {
	t, ok := w.m[name]
	return t, ok
}

// Get returns the named tensor and checks its shape when shape is given.
// The tensor must not be modified.
func (w *Weights) Get(name string, shape ...int) (*Tensor, error) {
	t, ok := w.m[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrMissing, name)
	}
	if len(shape) > 0 && !sameShape(t.Shape, shape) {
		return nil, fmt.Errorf("%w: weight %q has shape %v, want %v", ErrFormat, name, t.Shape, shape)
	}
	return t, nil
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// LoadManifest reads a layers-style TFJS weights manifest (a JSON array of
// groups) named name from fsys, with its shards, and decodes every tensor.
func LoadManifest(fsys fs.FS, name string) (*Weights, error) {
	data, err := readLimited(fsys, name, MaxManifestBytes)
	if err != nil {
		return nil, err
	}
	var groups []ManifestGroup
	if err := json.Unmarshal(data, &groups); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrFormat, name, err)
	}
	return DecodeWeights(fsys, path.Dir(name), groups)
}

// DecodeWeights reads the shards of groups from dir in fsys and decodes the
// tensors. The shards of a group must hold exactly the bytes its tensors need.
func DecodeWeights(fsys fs.FS, dir string, groups []ManifestGroup) (*Weights, error) {
	w := &Weights{m: map[string]*Tensor{}, dtype: map[string]string{}}
	var total int64
	count := 0
	for gi, g := range groups {
		if len(g.Paths) == 0 && len(g.Weights) > 0 {
			return nil, fmt.Errorf("%w: group %d has weights but no shard paths", ErrFormat, gi)
		}
		// Work out the byte size first, so shards are checked before they are read.
		need := int64(0)
		for _, mw := range g.Weights {
			count++
			if count > maxTensors {
				return nil, fmt.Errorf("%w: more than %d tensors", ErrLimit, maxTensors)
			}
			n, err := numElements(mw.Shape)
			if err != nil {
				return nil, fmt.Errorf("weight %q: %w", mw.Name, err)
			}
			bpe, err := bytesPer(mw)
			if err != nil {
				return nil, err
			}
			need += int64(n) * int64(bpe)
			if need > MaxWeightBytes {
				return nil, fmt.Errorf("%w: weights larger than %d bytes", ErrLimit, MaxWeightBytes)
			}
		}
		total += need
		if total > MaxWeightBytes {
			return nil, fmt.Errorf("%w: weights larger than %d bytes", ErrLimit, MaxWeightBytes)
		}
		// No preallocation from the manifest's claim: buffers grow only with
		// bytes actually read, so a small file cannot make us allocate a lot.
		var buf []byte
		for _, p := range g.Paths {
			if p == "" || strings.ContainsAny(p, `/\`) || p == "." || p == ".." {
				return nil, fmt.Errorf("%w: shard path %q is not a plain file name", ErrFormat, p)
			}
			b, err := readLimited(fsys, path.Join(dir, p), need-int64(len(buf)))
			if err != nil {
				return nil, err
			}
			buf = append(buf, b...)
		}
		if int64(len(buf)) != need {
			return nil, fmt.Errorf("%w: group %d shards hold %d bytes, tensors need %d", ErrFormat, gi, len(buf), need)
		}
		off := 0
		for _, mw := range g.Weights {
			if _, dup := w.m[mw.Name]; dup {
				return nil, fmt.Errorf("%w: duplicate weight %q", ErrFormat, mw.Name)
			}
			n, _ := numElements(mw.Shape)
			bpe, _ := bytesPer(mw)
			t := &Tensor{Shape: append([]int(nil), mw.Shape...), Data: make([]float32, n)}
			if err := decodeInto(t.Data, buf[off:off+n*bpe], mw); err != nil {
				return nil, err
			}
			off += n * bpe
			w.m[mw.Name] = t
			w.dtype[mw.Name] = mw.DType
		}
	}
	return w, nil
}

func bytesPer(mw ManifestWeight) (int, error) {
	switch mw.DType {
	case "float32", "int32":
	case "bool":
		if mw.Quantization == nil {
			return 1, nil
		}
		return 0, fmt.Errorf("%w: weight %q: quantised bool", ErrFormat, mw.Name)
	default:
		return 0, fmt.Errorf("%w: weight %q: unsupported dtype %q", ErrFormat, mw.Name, mw.DType)
	}
	if q := mw.Quantization; q != nil {
		switch q.DType {
		case "uint8":
			return 1, nil
		case "uint16", "float16":
			return 2, nil
		}
		return 0, fmt.Errorf("%w: weight %q: unsupported quantisation %q", ErrFormat, mw.Name, q.DType)
	}
	return 4, nil
}

// decodeInto follows tfjs-core io_utils.decodeWeight.
func decodeInto(dst []float32, b []byte, mw ManifestWeight) error {
	q := mw.Quantization
	isInt := mw.DType == "int32"
	switch {
	case mw.DType == "bool":
		for i := range dst {
			if b[i] != 0 {
				dst[i] = 1
			}
		}
	case q == nil && isInt:
		for i := range dst {
			dst[i] = float32(int32(binary.LittleEndian.Uint32(b[4*i:])))
		}
	case q == nil:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case q.DType == "float16":
		for i := range dst {
			dst[i] = halfToFloat(binary.LittleEndian.Uint16(b[2*i:]))
		}
	default:
		if math.IsNaN(q.Scale) || math.IsInf(q.Scale, 0) || math.IsNaN(q.Min) || math.IsInf(q.Min, 0) {
			return fmt.Errorf("%w: weight %q: non-finite quantisation parameters", ErrFormat, mw.Name)
		}
		for i := range dst {
			var v float64
			if q.DType == "uint8" {
				v = float64(b[i])
			} else {
				v = float64(binary.LittleEndian.Uint16(b[2*i:]))
			}
			v = v*q.Scale + q.Min
			if isInt {
				v = math.Round(v)
			}
			dst[i] = float32(v)
		}
	}
	return nil
}

// halfToFloat converts an IEEE-754 binary16 value, subnormals, infinities and NaN included.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0 && man == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: man * 2^-24
		f := float32(man) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
}

// readLimited reads a whole file, refusing files larger than limit bytes.
func readLimited(fsys fs.FS, name string, limit int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("nn: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > limit {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than the %d expected", ErrFormat, name, st.Size(), limit)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("nn: read %s: %w", name, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %s is more than the %d bytes expected", ErrFormat, name, limit)
	}
	return b, nil
}
