package face

import (
	"image"
	"math"
)

// Alignment selects how a face is cut out for the recognition network.
// Each recogniser accepts the alignments it was trained with: the dlib
// ResNet the dlib chip (and face-api's box), ArcFace-family recognisers the
// five-point 112x112 chip.
type Alignment int

const (
	// AlignAuto, the zero value, is the recogniser's own default:
	// AlignArcFaceFlip for ArcFace-family recognisers, AlignDlibFlip for
	// the dlib ResNet.
	AlignAuto Alignment = iota
	// AlignDlibFlip is AlignDlib with test-time flip augmentation: the
	// chip and its mirror image are embedded and the two descriptors
	// averaged before normalisation. On LFW it lowers FNMR at every FMR
	// measured (docs/face-accuracy.md) for one more embedding per face.
	AlignDlibFlip
	// AlignDlib is dlib's get_face_chip_details(shape, 150, 0.25) +
	// extract_image_chip: a similarity transform (rotation, scale,
	// translation) fitted by least squares from 33 of the 68 landmarks
	// (eyebrows and lower lip left out) to dlib's mean face, sampled
	// bilinearly into a 150x150 chip. This is how the dlib ResNet was
	// trained.
	AlignDlib
	// AlignFaceAPI is face-api's own path: an axis-aligned square from the
	// eye and mouth centres (no rotation), clipped, floored, zero-padded to a
	// square and resized with TensorFlow's legacy bilinear rule. It exists for
	// parity with the reference pipeline.
	AlignFaceAPI
	// AlignArcFace is the ArcFace/InsightFace alignment: a least-squares
	// similarity transform from five points (eye centres, nose tip, mouth
	// corners; FivePoints) onto the 112x112 reference positions
	// (ArcFaceReference), sampled bilinearly.
	AlignArcFace
	// AlignArcFaceFlip is AlignArcFace with the chip and its mirror image
	// embedded and the descriptors averaged.
	AlignArcFaceFlip
)

func (a Alignment) String() string {
	switch a {
	case AlignAuto:
		return "auto"
	case AlignFaceAPI:
		return "faceapi-box"
	case AlignDlibFlip:
		return "dlib-chip-flip"
	case AlignArcFace:
		return "arcface5"
	case AlignArcFaceFlip:
		return "arcface5-flip"
	}
	return "dlib-chip"
}

// arcFace reports whether a is one of the five-point ArcFace alignments.
func (a Alignment) arcFace() bool { return a == AlignArcFace || a == AlignArcFaceFlip }

// flip reports whether a averages the chip with its mirror image.
func (a Alignment) flip() bool { return a == AlignDlibFlip || a == AlignArcFaceFlip }

// mirror returns img flipped left to right.
func mirror(img *image.RGBA) *image.RGBA {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		src := img.Pix[y*img.Stride:]
		dst := out.Pix[y*out.Stride:]
		for x := 0; x < w; x++ {
			copy(dst[4*(w-1-x):4*(w-x)], src[4*x:4*x+4])
		}
	}
	return out
}

// ChipSize is the input side of the dlib/face-api recognition ResNet.
const ChipSize = 150

// dlibPadding is the padding dlib's dnn_face_recognition_ex uses.
const dlibPadding = 0.25

// dlibMeanFace holds dlib's mean positions of landmarks 17..67 in a unit
// square (dlib/image_transforms/interpolation.h, get_face_chip_details).
var dlibMeanFace = [51][2]float64{
	{0.000213256, 0.106454}, {0.0752622, 0.038915}, {0.18113, 0.0187482}, {0.29077, 0.0344891}, {0.393397, 0.0773906},
	{0.586856, 0.0773906}, {0.689483, 0.0344891}, {0.799124, 0.0187482}, {0.904991, 0.038915}, {0.98004, 0.106454},
	{0.490127, 0.203352}, {0.490127, 0.307009}, {0.490127, 0.409805}, {0.490127, 0.515625}, {0.36688, 0.587326},
	{0.426036, 0.609345}, {0.490127, 0.628106}, {0.554217, 0.609345}, {0.613373, 0.587326}, {0.121737, 0.216423},
	{0.187122, 0.178758}, {0.265825, 0.179852}, {0.334606, 0.231733}, {0.260918, 0.245099}, {0.182743, 0.244077},
	{0.645647, 0.231733}, {0.714428, 0.179852}, {0.793132, 0.178758}, {0.858516, 0.216423}, {0.79751, 0.244077},
	{0.719335, 0.245099}, {0.254149, 0.780233}, {0.340985, 0.745405}, {0.428858, 0.727388}, {0.490127, 0.742578},
	{0.551395, 0.727388}, {0.639268, 0.745405}, {0.726104, 0.780233}, {0.642159, 0.864805}, {0.556721, 0.902192},
	{0.490127, 0.909281}, {0.423532, 0.902192}, {0.338094, 0.864805}, {0.290379, 0.784792}, {0.428096, 0.778746},
	{0.490127, 0.785343}, {0.552157, 0.778746}, {0.689874, 0.784792}, {0.553364, 0.824182}, {0.490127, 0.831803},
	{0.42689, 0.824182},
}

// similarity is x' = a*x - b*y + tx, y' = b*x + a*y + ty.
type similarity struct{ a, b, tx, ty float64 }

func (s similarity) apply(x, y float64) (float64, float64) {
	return s.a*x - s.b*y + s.tx, s.b*x + s.a*y + s.ty
}

// fitSimilarity returns the least-squares similarity transform mapping from
// onto to (Umeyama's solution restricted to proper rotations, which in 2-D
// has this closed form). ok is false for degenerate input.
func fitSimilarity(from, to [][2]float64) (similarity, bool) {
	n := float64(len(from))
	if len(from) < 2 || len(from) != len(to) {
		return similarity{}, false
	}
	var mfx, mfy, mtx, mty float64
	for i := range from {
		mfx += from[i][0]
		mfy += from[i][1]
		mtx += to[i][0]
		mty += to[i][1]
	}
	mfx, mfy, mtx, mty = mfx/n, mfy/n, mtx/n, mty/n
	var sxx, sa, sb float64
	for i := range from {
		fx, fy := from[i][0]-mfx, from[i][1]-mfy
		tx, ty := to[i][0]-mtx, to[i][1]-mty
		sxx += fx*fx + fy*fy
		sa += fx*tx + fy*ty
		sb += fx*ty - fy*tx
	}
	if sxx == 0 || math.IsNaN(sa) || math.IsNaN(sb) || (sa == 0 && sb == 0) {
		return similarity{}, false
	}
	a, b := sa/sxx, sb/sxx
	return similarity{a: a, b: b, tx: mtx - (a*mfx - b*mfy), ty: mty - (b*mfx + a*mfy)}, true
}

// chipMap maps chip pixel (c, r) to image coordinates:
// (x, y) = (m[0]*c + m[1]*r + m[2], m[3]*c + m[4]*r + m[5]).
type chipMap [6]float64

func (m chipMap) apply(c, r float64) (float64, float64) {
	return m[0]*c + m[1]*r + m[2], m[3]*c + m[4]*r + m[5]
}

// scale returns how many image pixels one chip pixel spans.
func (m chipMap) scale() float64 { return math.Hypot(m[0], m[3]) }

// dlibChipMap reproduces dlib's chip_details(from, to, dims) and the corner
// mapping of extract_image_chips for a size x size chip.
func dlibChipMap(lm *[68]Point, size int, padding float64) (chipMap, bool) {
	var from, to [][2]float64
	for i := 17; i < 68; i++ {
		if (i >= 55 && i <= 59) || (i >= 65 && i <= 67) || i <= 26 {
			continue // lower lip and eyebrows, as dlib
		}
		m := dlibMeanFace[i-17]
		from = append(from, [2]float64{
			(padding + m[0]) / (2*padding + 1) * float64(size),
			(padding + m[1]) / (2*padding + 1) * float64(size),
		})
		to = append(to, [2]float64{float64(lm[i][0]), float64(lm[i][1])})
	}
	t, ok := fitSimilarity(from, to)
	if !ok {
		return chipMap{}, false
	}
	angle := math.Atan2(t.b, t.a)
	scale := math.Hypot(t.a, t.b)
	cx, cy := t.apply(float64(size/2), float64(size/2))
	w := float64(size) * scale // centered_drect(center, cols*scale, rows*scale)
	// Chip corners (0,0), (size-1,0), (0,size-1) map to the rotated rect's
	// tl, tr, bl corners.
	cos, sin := math.Cos(angle), math.Sin(angle)
	rot := func(dx, dy float64) (float64, float64) { return cx + cos*dx - sin*dy, cy + sin*dx + cos*dy }
	x0, y0 := rot(-w/2, -w/2)
	x1, y1 := rot(w/2, -w/2)
	x2, y2 := rot(-w/2, w/2)
	d := float64(size - 1)
	return chipMap{(x1 - x0) / d, (x2 - x0) / d, x0, (y1 - y0) / d, (y2 - y0) / d, y0}, true
}

// DlibChip cuts the dlib-aligned size x size chip out of img. inFrame is
// the fraction of chip pixels that come from inside the image (1 = the
// whole aligned face is in the picture). ok is false if the landmarks are
// degenerate.
func DlibChip(img *image.RGBA, lm *[68]Point, size int) (chip *image.RGBA, inFrame float64, ok bool) {
	m, ok := dlibChipMap(lm, size, dlibPadding)
	if !ok {
		return nil, 0, false
	}
	chip, inFrame = warpPyramid(img, m, size)
	return chip, inFrame, true
}

// warpPyramid samples the size x size chip m maps into img. Like dlib, it
// samples from an image pyramid when the chip is much smaller than its
// source window, so that bilinear sampling does not alias: the image is
// halved (2x2 mean) until one chip pixel spans at most two image pixels.
func warpPyramid(img *image.RGBA, m chipMap, size int) (*image.RGBA, float64) {
	src := img
	for m.scale() > 2 && src.Rect.Dx() >= 4 && src.Rect.Dy() >= 4 {
		src = halve(src)
		for i := range m {
			m[i] /= 2
		}
		// pixel centres: image x at level k+1 is (x-0.5)/2 of level k
		m[2] -= 0.25
		m[5] -= 0.25
	}
	return warpBilinear(src, m, size, size)
}

// halve returns img downsampled by two with a 2x2 box filter.
func halve(img *image.RGBA) *image.RGBA {
	w, h := img.Rect.Dx()/2, img.Rect.Dy()/2
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		r0 := img.Pix[(2*y)*img.Stride:]
		r1 := img.Pix[(2*y+1)*img.Stride:]
		o := out.Pix[y*out.Stride:]
		for x := 0; x < w; x++ {
			for c := 0; c < 3; c++ {
				s := int(r0[8*x+c]) + int(r0[8*x+4+c]) + int(r1[8*x+c]) + int(r1[8*x+4+c])
				o[4*x+c] = uint8((s + 2) / 4)
			}
			o[4*x+3] = 255
		}
	}
	return out
}

// warpBilinear samples img at m(c, r) for every chip pixel with dlib's
// interpolate_bilinear: a sample whose 2x2 neighbourhood is not entirely
// inside the image is black.
func warpBilinear(img *image.RGBA, m chipMap, w, h int) (*image.RGBA, float64) {
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	iw, ih := img.Rect.Dx(), img.Rect.Dy()
	inside := 0
	for r := 0; r < h; r++ {
		o := out.Pix[r*out.Stride:]
		for c := 0; c < w; c++ {
			x, y := m.apply(float64(c), float64(r))
			o[4*c+3] = 255
			fx, fy := math.Floor(x), math.Floor(y)
			if !(fx >= 0 && fy >= 0 && fx+1 < float64(iw) && fy+1 < float64(ih)) {
				continue
			}
			inside++
			left, top := int(fx), int(fy)
			lr, tb := x-fx, y-fy
			p := img.Pix[top*img.Stride+4*left:]
			q := img.Pix[(top+1)*img.Stride+4*left:]
			for ch := 0; ch < 3; ch++ {
				v := (1-tb)*((1-lr)*float64(p[ch])+lr*float64(p[4+ch])) + tb*((1-lr)*float64(q[ch])+lr*float64(q[4+ch]))
				o[4*c+ch] = uint8(v + 0.5)
			}
		}
	}
	return out, float64(inside) / float64(w*h)
}

func mean(lm *[68]Point, from, to int) (float64, float64) {
	var x, y float64
	for i := from; i < to; i++ {
		x += float64(lm[i][0])
		y += float64(lm[i][1])
	}
	n := float64(to - from)
	return x / n, y / n
}

// FaceAPIAlignBox is face-api's landmarks.align(useDlibAlignment): a square
// from the centres of the eyes and the mouth, no rotation.
func FaceAPIAlignBox(lm *[68]Point) Box {
	lx, ly := mean(lm, 36, 42)
	rx, ry := mean(lm, 42, 48)
	mx, my := mean(lm, 48, 68)
	size := math.Floor((math.Hypot(mx-lx, my-ly) + math.Hypot(mx-rx, my-ry)) / 2 / 0.45)
	cx, cy := (lx+rx+mx)/3, (ly+ry+my)/3
	x := math.Floor(math.Max(0, cx-0.5*size))
	y := math.Floor(math.Max(0, cy-0.43*size))
	return Box{float32(x), float32(y), float32(size), float32(size)}
}

// FaceAPIChip reproduces face-api's extractFaceTensors + toBatchTensor(size,
// isCenter=true) for one box: clip the box to the image and floor it, pad
// it to a square with zeros (centred; for odd differences the extra pixel
// goes after) and resize with TensorFlow's legacy bilinear rule. ok is false
// if the clipped box is empty.
func FaceAPIChip(img *image.RGBA, b Box, size int) (chip *image.RGBA, inFrame float64, ok bool) {
	iw, ih := float64(img.Rect.Dx()), float64(img.Rect.Dy())
	x, y := math.Max(float64(b[0]), 0), math.Max(float64(b[1]), 0)
	w := math.Min(float64(b[0]+b[2])-x, iw-x)
	h := math.Min(float64(b[1]+b[3])-y, ih-y)
	x, y, w, h = math.Floor(x), math.Floor(y), math.Floor(w), math.Floor(h)
	if !(w > 0 && h > 0) {
		return nil, 0, false
	}
	inFrame = math.Min(1, w*h/math.Max(float64(b[2])*float64(b[3]), 1))
	cw, ch := int(w), int(h)
	s := max(cw, ch)
	// padding before = diff - round(diff/2)
	padX := (s - cw) - (s-cw+1)/2
	padY := (s - ch) - (s-ch+1)/2
	out := image.NewRGBA(image.Rect(0, 0, size, size))
	ratio := float64(s) / float64(size)
	x0, y0 := int(x), int(y)
	sample := func(px, py, c int) float64 {
		cx, cy := px-padX, py-padY
		if cx < 0 || cy < 0 || cx >= cw || cy >= ch {
			return 0
		}
		return float64(img.Pix[(y0+cy)*img.Stride+4*(x0+cx)+c])
	}
	for r := 0; r < size; r++ {
		sy := float64(r) * ratio
		ty := int(math.Floor(sy))
		by := min(ty+1, s-1)
		fy := sy - float64(ty)
		o := out.Pix[r*out.Stride:]
		for c := 0; c < size; c++ {
			sx := float64(c) * ratio
			lx := int(math.Floor(sx))
			rx := min(lx+1, s-1)
			fx := sx - float64(lx)
			for k := 0; k < 3; k++ {
				top := sample(lx, ty, k) + (sample(rx, ty, k)-sample(lx, ty, k))*fx
				bot := sample(lx, by, k) + (sample(rx, by, k)-sample(lx, by, k))*fx
				o[4*c+k] = uint8(math.Round(top + (bot-top)*fy))
			}
			o[4*c+3] = 255
		}
	}
	return out, inFrame, true
}
