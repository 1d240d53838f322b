// Package imageio is the face engine's image intake: it turns untrusted
// JPEG or PNG bytes into an upright, opaque *image.RGBA.
//
// Invariants:
//   - Input larger than Limits.MaxBytes is refused (ErrTooLarge) before it is
//     parsed; an image whose header declares more than Limits.MaxPixels
//     pixels, or a side longer than Limits.MaxSide, is refused (ErrTooLarge)
//     before any pixel is decoded, so a 50 000 x 50 000 header costs nothing.
//   - The EXIF orientation (tag 0x0112 in a JPEG APP1 "Exif" segment or a PNG
//     eXIf chunk) is applied, so the result is the picture as a person sees
//     it. The EXIF parser is bounded by the segment length and reads only
//     IFD0.
//   - Grayscale, paletted, CMYK/YCCK, 16-bit and alpha images all come out as
//     8-bit RGBA with A = 255. Alpha is dropped, not composited: the colour
//     channels are kept as stored, as the reference pipeline (pngjs) does.
//   - Errors wrap one of ErrTooLarge, ErrFormat, ErrTruncated, ErrCorrupt;
//     they never contain image content.
//
// JPEG 2000: ID-card IC chips (ICAO 9303 DG2, My Number card, residence
// card) may store the face as JPEG 2000 (a raw codestream or a JP2 file).
// Decode hands such input to the pure-Go decoder in face/imageio/jpeg2000
// under the same byte and pixel limits, and converts the result like any
// other image.
package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"

	"github.com/madoguchi/madoguchi/face/imageio/jpeg2000"
)

// Sentinel errors.
var (
	ErrTooLarge  = errors.New("imageio: image too large")
	ErrFormat    = errors.New("imageio: unsupported image format")
	ErrTruncated = errors.New("imageio: image truncated")
	ErrCorrupt   = errors.New("imageio: image corrupt")
)

// Limits bound what Decode accepts.
type Limits struct {
	MaxBytes  int64 // encoded size
	MaxPixels int64 // width*height declared by the header
	MaxSide   int   // longest side declared by the header
}

// DefaultLimits fit phone selfies and ID-card scans: 25 MiB, 50 megapixels,
// 16384 px per side.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 25 << 20, MaxPixels: 50_000_000, MaxSide: 16384}
}

// Info describes a decoded image.
type Info struct {
	Format      string // "jpeg", "png" or "jpeg2000"
	Orientation int    // EXIF orientation applied (1 = none)
	// Width and Height are of the returned (upright) image.
	Width, Height int
}

// Read reads at most lim.MaxBytes from r and decodes it.
func Read(r io.Reader, lim Limits) (*image.RGBA, Info, error) {
	b, err := io.ReadAll(io.LimitReader(r, lim.MaxBytes+1))
	if err != nil {
		return nil, Info{}, err
	}
	return Decode(b, lim)
}

var (
	magicJPEG  = []byte{0xFF, 0xD8, 0xFF}
	magicPNG   = []byte("\x89PNG\r\n\x1a\n")
	magicJ2K   = []byte{0xFF, 0x4F, 0xFF, 0x51}
	magicJP2   = []byte{0, 0, 0, 0x0C, 'j', 'P', ' ', ' ', 0x0D, 0x0A, 0x87, 0x0A}
	magicGIF   = []byte("GIF8")
	magicRIFF  = []byte("RIFF")
	magicTIFFI = []byte("II*\x00")
	magicTIFFM = []byte("MM\x00*")
)

// Decode decodes a JPEG or PNG held in b.
func Decode(b []byte, lim Limits) (*image.RGBA, Info, error) {
	var info Info
	if int64(len(b)) > lim.MaxBytes {
		return nil, info, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, lim.MaxBytes)
	}
	switch {
	case bytes.HasPrefix(b, magicJPEG):
		info.Format = "jpeg"
	case bytes.HasPrefix(b, magicPNG):
		info.Format = "png"
	case bytes.HasPrefix(b, magicJ2K), bytes.HasPrefix(b, magicJP2):
		info.Format = "jpeg2000"
		img, err := decodeJPEG2000(b, lim)
		if err != nil {
			return nil, info, err
		}
		info.Orientation = 1
		info.Width, info.Height = img.Rect.Dx(), img.Rect.Dy()
		return img, info, nil
	case len(b) == 0:
		return nil, info, fmt.Errorf("%w: empty input", ErrTruncated)
	case bytes.HasPrefix(b, magicGIF), bytes.HasPrefix(b, magicRIFF), bytes.HasPrefix(b, magicTIFFI), bytes.HasPrefix(b, magicTIFFM):
		return nil, info, fmt.Errorf("%w: only JPEG and PNG are accepted", ErrFormat)
	case len(b) < 8 && (bytes.HasPrefix(magicJPEG, b) || bytes.HasPrefix(magicPNG, b)):
		return nil, info, fmt.Errorf("%w: %d bytes", ErrTruncated, len(b))
	default:
		return nil, info, fmt.Errorf("%w: not JPEG or PNG", ErrFormat)
	}

	// Refuse oversized images from the header alone, before the standard
	// decoders allocate anything (they would read on to the first scan).
	if w, h, ok := headerDims(info.Format, b); ok {
		if err := checkDims(w, h, lim); err != nil {
			return nil, info, err
		}
	}
	var cfg image.Config
	var err error
	if info.Format == "jpeg" {
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(b))
	} else {
		cfg, err = png.DecodeConfig(bytes.NewReader(b))
	}
	if err != nil {
		return nil, info, classify(err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, info, fmt.Errorf("%w: %dx%d", ErrCorrupt, cfg.Width, cfg.Height)
	}
	if err := checkDims(int64(cfg.Width), int64(cfg.Height), lim); err != nil {
		return nil, info, err
	}

	info.Orientation = 1
	if info.Format == "jpeg" {
		info.Orientation = jpegOrientation(b)
	} else {
		info.Orientation = pngOrientation(b)
	}

	var img image.Image
	if info.Format == "jpeg" {
		img, err = jpeg.Decode(bytes.NewReader(b))
	} else {
		img, err = png.Decode(bytes.NewReader(b))
	}
	if err != nil {
		if info.Format == "png" && !bytes.HasSuffix(b, pngIEND) {
			return nil, info, fmt.Errorf("%w: %v", ErrTruncated, err)
		}
		return nil, info, classify(err)
	}
	rgba := toRGBA(img)
	rgba = orient(rgba, info.Orientation)
	info.Width, info.Height = rgba.Rect.Dx(), rgba.Rect.Dy()
	return rgba, info, nil
}

// pngIEND is the chunk every complete PNG ends with.
var pngIEND = []byte{0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82}

func checkDims(w, h int64, lim Limits) error {
	if w > int64(lim.MaxSide) || h > int64(lim.MaxSide) || w*h > lim.MaxPixels {
		return fmt.Errorf("%w: %dx%d exceeds %d pixels or %d per side", ErrTooLarge, w, h, lim.MaxPixels, lim.MaxSide)
	}
	return nil
}

// headerDims reads the declared size from a PNG IHDR or the first JPEG
// start-of-frame segment; ok is false if none is found.
func headerDims(format string, b []byte) (w, h int64, ok bool) {
	if format == "png" {
		if len(b) < 24 || string(b[12:16]) != "IHDR" {
			return 0, 0, false
		}
		return int64(binary.BigEndian.Uint32(b[16:])), int64(binary.BigEndian.Uint32(b[20:])), true
	}
	sof := jpegSegment(b, func(m byte) bool {
		return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC
	}, nil)
	if len(sof) < 5 {
		return 0, 0, false
	}
	return int64(binary.BigEndian.Uint16(sof[3:])), int64(binary.BigEndian.Uint16(sof[1:])), true
}

func classify(err error) error {
	var fe jpeg.FormatError
	var ue jpeg.UnsupportedError
	var pfe png.FormatError
	var pue png.UnsupportedError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("%w: %v", ErrTruncated, err)
	case errors.As(err, &ue), errors.As(err, &pue):
		return fmt.Errorf("%w: %v", ErrFormat, err)
	case errors.As(err, &fe), errors.As(err, &pfe):
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	default:
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
}

// toRGBA converts any decoded image to an opaque RGBA with origin (0,0).
func toRGBA(img image.Image) *image.RGBA {
	r := img.Bounds()
	w, h := r.Dx(), r.Dy()
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	switch src := img.(type) {
	case *image.YCbCr:
		for y := 0; y < h; y++ {
			row := out.Pix[y*out.Stride : y*out.Stride+4*w]
			for x := 0; x < w; x++ {
				yi := src.YOffset(r.Min.X+x, r.Min.Y+y)
				ci := src.COffset(r.Min.X+x, r.Min.Y+y)
				cr, cg, cb := color.YCbCrToRGB(src.Y[yi], src.Cb[ci], src.Cr[ci])
				row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = cr, cg, cb, 255
			}
		}
	case *image.Gray:
		for y := 0; y < h; y++ {
			srow := src.Pix[y*src.Stride : y*src.Stride+w]
			row := out.Pix[y*out.Stride : y*out.Stride+4*w]
			for x, v := range srow {
				row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = v, v, v, 255
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			srow := src.Pix[y*src.Stride : y*src.Stride+4*w]
			row := out.Pix[y*out.Stride : y*out.Stride+4*w]
			copy(row, srow)
			for x := 3; x < len(row); x += 4 {
				row[x] = 255
			}
		}
	case *image.RGBA:
		// Premultiplied storage: un-premultiply to recover the stored colour.
		for y := 0; y < h; y++ {
			srow := src.Pix[y*src.Stride : y*src.Stride+4*w]
			row := out.Pix[y*out.Stride : y*out.Stride+4*w]
			for x := 0; x < w; x++ {
				c := color.NRGBAModel.Convert(color.RGBA{srow[4*x], srow[4*x+1], srow[4*x+2], srow[4*x+3]}).(color.NRGBA)
				row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = c.R, c.G, c.B, 255
			}
		}
	case *image.Paletted:
		pal := make([][3]uint8, 256)
		for i, c := range src.Palette {
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			pal[i] = [3]uint8{n.R, n.G, n.B}
		}
		for y := 0; y < h; y++ {
			srow := src.Pix[y*src.Stride : y*src.Stride+w]
			row := out.Pix[y*out.Stride : y*out.Stride+4*w]
			for x, v := range srow {
				p := pal[v]
				row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = p[0], p[1], p[2], 255
			}
		}
	default: // CMYK, Gray16, NRGBA64, RGBA64, ...: the generic path.
		for y := 0; y < h; y++ {
			row := out.Pix[y*out.Stride : y*out.Stride+4*w]
			for x := 0; x < w; x++ {
				c := color.NRGBAModel.Convert(img.At(r.Min.X+x, r.Min.Y+y)).(color.NRGBA)
				row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = c.R, c.G, c.B, 255
			}
		}
	}
	return out
}

// MaxJPEG2000Pixels caps JPEG 2000 images below Limits.MaxPixels: the
// decoder holds about 40 bytes per pixel while it works (coefficients per
// component, then the RGBA copy), so the general 50 Mpx limit would let a
// crafted header cost ~2 GB. JPEG 2000 reaches us as ID-chip portraits, a
// few hundred pixels across; 4 Mpx is far above any of them.
const MaxJPEG2000Pixels = 4_000_000

// decodeJPEG2000 checks the declared size, then decodes.
func decodeJPEG2000(b []byte, lim Limits) (*image.RGBA, error) {
	lim.MaxPixels = min(lim.MaxPixels, MaxJPEG2000Pixels)
	jl := jpeg2000.Limits{MaxBytes: lim.MaxBytes, MaxPixels: lim.MaxPixels}
	cfg, err := jl.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, classifyJPEG2000(err)
	}
	if err := checkDims(int64(cfg.Width), int64(cfg.Height), lim); err != nil {
		return nil, err
	}
	img, err := jl.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, classifyJPEG2000(err)
	}
	if r := img.Bounds(); r.Dx() <= 0 || r.Dy() <= 0 {
		return nil, fmt.Errorf("%w: empty JPEG 2000 image", ErrCorrupt)
	}
	return toRGBA(img), nil
}

func classifyJPEG2000(err error) error {
	switch {
	case errors.Is(err, jpeg2000.ErrTooLarge):
		return fmt.Errorf("%w: %v", ErrTooLarge, err)
	case errors.Is(err, jpeg2000.ErrTruncated):
		return fmt.Errorf("%w: %v", ErrTruncated, err)
	case errors.Is(err, jpeg2000.ErrUnsupported):
		return fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return fmt.Errorf("%w: %v", ErrCorrupt, err)
}
