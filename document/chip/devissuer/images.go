package devissuer

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"strconv"
)

// ErrPhoto reports a photo that cannot be read or made to fit.
var ErrPhoto = errors.New("devissuer: unusable photo")

// Photo size budgets on the Japanese chips (the residence card's face
// image has a fixed padded size, package residence).
const (
	jpdlPhotoBytes     = 30 << 10
	myNumberPhotoBytes = 40 << 10
	maxPhotoPixels     = 40 << 20
	icaoPhotoWidth     = 480 // DG2 portraits are typically 480×640 or smaller
)

func isJ2K(b []byte) bool {
	jp2 := []byte{0, 0, 0, 0x0C, 'j', 'P', ' ', ' ', 0x0D, 0x0A, 0x87, 0x0A}
	return bytes.HasPrefix(b, jp2) || bytes.HasPrefix(b, []byte{0xFF, 0x4F, 0xFF, 0x51})
}

// decodePhoto reads a JPEG, PNG or PGM (P2, P5) image, checking its size
// before decoding.
func decodePhoto(b []byte) (image.Image, error) {
	if bytes.HasPrefix(b, []byte("P2")) || bytes.HasPrefix(b, []byte("P5")) {
		return decodePGM(b)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPhoto, err)
	}
	if format != "jpeg" && format != "png" {
		return nil, fmt.Errorf("%w: format %s (want JPEG, PNG, PGM or JPEG 2000)", ErrPhoto, format)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width*cfg.Height > maxPhotoPixels {
		return nil, fmt.Errorf("%w: %d×%d pixels", ErrPhoto, cfg.Width, cfg.Height)
	}
	var img image.Image
	if format == "jpeg" {
		img, err = jpeg.Decode(bytes.NewReader(b))
	} else {
		img, err = png.Decode(bytes.NewReader(b))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPhoto, err)
	}
	return img, nil
}

// decodePGM reads a netpbm graymap: ASCII (P2) or binary (P5), maxval up
// to 255.
func decodePGM(b []byte) (image.Image, error) {
	r := bufio.NewReader(bytes.NewReader(b))
	token := func() (string, error) {
		var tok []byte
		for {
			c, err := r.ReadByte()
			if err != nil {
				if len(tok) > 0 {
					return string(tok), nil
				}
				return "", err
			}
			switch {
			case c == '#' && len(tok) == 0:
				if _, err := r.ReadString('\n'); err != nil {
					return "", err
				}
			case c == ' ' || c == '\t' || c == '\n' || c == '\r':
				if len(tok) > 0 {
					return string(tok), nil
				}
			default:
				if len(tok) >= 16 {
					return "", errors.New("token too long")
				}
				tok = append(tok, c)
			}
		}
	}
	num := func(lo, hi int) (int, error) {
		t, err := token()
		if err != nil {
			return 0, err
		}
		n, err := strconv.Atoi(t)
		if err != nil || n < lo || n > hi {
			return 0, fmt.Errorf("value %q out of range %d-%d", t, lo, hi)
		}
		return n, nil
	}
	bad := func(err error) error { return fmt.Errorf("%w: PGM: %w", ErrPhoto, err) }
	magic, err := token()
	if err != nil {
		return nil, bad(err)
	}
	w, err := num(1, 1<<14)
	if err != nil {
		return nil, bad(err)
	}
	h, err := num(1, 1<<14)
	if err != nil {
		return nil, bad(err)
	}
	if w*h > maxPhotoPixels || w*h > 4*len(b) && magic == "P2" || w*h > len(b) {
		return nil, bad(fmt.Errorf("%d×%d pixels do not fit the %d bytes given", w, h, len(b)))
	}
	maxval, err := num(1, 255)
	if err != nil {
		return nil, bad(err)
	}
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		var v int
		if magic == "P2" {
			if v, err = num(0, maxval); err != nil {
				return nil, bad(err)
			}
		} else {
			c, err := r.ReadByte()
			if err != nil {
				return nil, bad(err)
			}
			v = int(c)
			if v > maxval {
				return nil, bad(fmt.Errorf("sample %d over maxval %d", v, maxval))
			}
		}
		img.Pix[i] = uint8(v * 255 / maxval)
	}
	return img, nil
}

// scaleGray resamples img to w × h grayscale by area averaging.
func scaleGray(img image.Image, w, h int) *image.Gray {
	b := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, w, h))
	sw, sh := b.Dx(), b.Dy()
	for y := range h {
		y0, y1 := b.Min.Y+y*sh/h, b.Min.Y+max((y+1)*sh/h, y*sh/h+1)
		for x := range w {
			x0, x1 := b.Min.X+x*sw/w, b.Min.X+max((x+1)*sw/w, x*sw/w+1)
			var sum, n uint64
			for yy := y0; yy < y1; yy++ {
				for xx := x0; xx < x1; xx++ {
					sum += uint64(color.GrayModel.Convert(img.At(xx, yy)).(color.Gray).Y)
					n++
				}
			}
			out.Pix[y*out.Stride+x] = uint8(sum / n)
		}
	}
	return out
}

// fit returns the largest size with the aspect ratio of b within maxW ×
// maxH (never upscaled).
func fit(b image.Rectangle, maxW, maxH int) (int, int) {
	w, h := b.Dx(), b.Dy()
	if w <= maxW && h <= maxH {
		return w, h
	}
	if w*maxH > h*maxW {
		return maxW, max(1, h*maxW/w)
	}
	return max(1, w*maxH/h), maxH
}

// j2kPhoto returns the photo as a JPEG 2000 codestream of at most limit
// bytes: a JPEG 2000 input as it is; anything else at the largest size (up
// to 300×400) that fits with a quantization step of at most 8 (4 when
// that fits too), in colour unless the input is grayscale.
func j2kPhoto(photo []byte, limit int) ([]byte, error) {
	if isJ2K(photo) {
		if len(photo) > limit {
			return nil, fmt.Errorf("%w: a JPEG 2000 photo of %d bytes exceeds this chip's %d", ErrPhoto, len(photo), limit)
		}
		return photo, nil
	}
	img, err := decodePhoto(photo)
	if err != nil {
		return nil, err
	}
	_, gray := img.(*image.Gray)
	w, h := fit(img.Bounds(), 300, 400)
	for {
		small := scaleImage(img, w, h)
		j, err := encodeJ2K(small, j2kOptions{Color: !gray, Shift: 3})
		if err != nil {
			return nil, err
		}
		if len(j) <= limit {
			if finer, err := encodeJ2K(small, j2kOptions{Color: !gray, Shift: 2}); err == nil && len(finer) <= limit {
				return finer, nil
			}
			return j, nil
		}
		if w < 16 || h < 16 {
			return nil, fmt.Errorf("%w: cannot fit the photo in %d bytes", ErrPhoto, limit)
		}
		w, h = w*4/5, h*4/5
	}
}

// scaleImage resamples img to w × h by area averaging (RGBA).
func scaleImage(img image.Image, w, h int) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	sw, sh := b.Dx(), b.Dy()
	for y := range h {
		y0, y1 := b.Min.Y+y*sh/h, b.Min.Y+max((y+1)*sh/h, y*sh/h+1)
		for x := range w {
			x0, x1 := b.Min.X+x*sw/w, b.Min.X+max((x+1)*sw/w, x*sw/w+1)
			var r, g, bl, n uint64
			for yy := y0; yy < y1; yy++ {
				for xx := x0; xx < x1; xx++ {
					c := color.NRGBAModel.Convert(img.At(xx, yy)).(color.NRGBA)
					r, g, bl, n = r+uint64(c.R), g+uint64(c.G), bl+uint64(c.B), n+1
				}
			}
			out.SetRGBA(x, y, color.RGBA{R: uint8(r / n), G: uint8(g / n), B: uint8(bl / n), A: 255})
		}
	}
	return out
}

// jpegPhoto returns the photo as a JPEG (for DG2) and its size: a JPEG
// input within 480 pixels wide as it is, anything else re-encoded.
func jpegPhoto(photo []byte) ([]byte, int, int, error) {
	if isJ2K(photo) {
		return nil, 0, 0, fmt.Errorf("%w: give the passport photo as JPEG, PNG or PGM", ErrPhoto)
	}
	if cfg, format, err := image.DecodeConfig(bytes.NewReader(photo)); err == nil && format == "jpeg" && cfg.Width <= icaoPhotoWidth && cfg.Width*cfg.Height <= maxPhotoPixels {
		if _, err := jpeg.Decode(bytes.NewReader(photo)); err == nil {
			return photo, cfg.Width, cfg.Height, nil
		}
	}
	img, err := decodePhoto(photo)
	if err != nil {
		return nil, 0, 0, err
	}
	w, h := fit(img.Bounds(), icaoPhotoWidth, icaoPhotoWidth*4/3)
	rgba := image.NewRGBA(image.Rect(0, 0, img.Bounds().Dx(), img.Bounds().Dy()))
	draw.Draw(rgba, rgba.Bounds(), img, img.Bounds().Min, draw.Src)
	var src image.Image = rgba
	if w != rgba.Bounds().Dx() {
		src = scaleImage(rgba, w, h)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 90}); err != nil {
		return nil, 0, 0, err
	}
	return buf.Bytes(), w, h, nil
}

// blankPNG is a small white image standing in for the My Number card's
// name and address images.
func blankPNG() ([]byte, error) {
	img := image.NewGray(image.Rect(0, 0, 64, 16))
	for i := range img.Pix {
		img.Pix[i] = 0xFF
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// frontTIFF draws a small card front — light background, a few dark
// "printed lines", the portrait on the right — as an uncompressed 8-bit
// grayscale baseline TIFF of at most limit bytes.
func frontTIFF(photo []byte, limit int) ([]byte, error) {
	const w, h = 96, 60 // ID-1 aspect ratio
	card := image.NewGray(image.Rect(0, 0, w, h))
	for i := range card.Pix {
		card.Pix[i] = 0xE8
	}
	for _, line := range []image.Rectangle{image.Rect(6, 8, 58, 11), image.Rect(6, 16, 50, 19), image.Rect(6, 24, 58, 27), image.Rect(6, 44, 40, 47)} {
		draw.Draw(card, line, image.NewUniform(color.Gray{Y: 0x30}), image.Point{}, draw.Src)
	}
	if !isJ2K(photo) {
		img, err := decodePhoto(photo)
		if err != nil {
			return nil, err
		}
		face := scaleGray(img, 28, 36)
		draw.Draw(card, image.Rect(62, 12, 90, 48), face, image.Point{}, draw.Src)
	}
	t := tiffGray(card)
	if len(t) > limit {
		return nil, fmt.Errorf("%w: card front of %d bytes exceeds %d", ErrPhoto, len(t), limit)
	}
	return t, nil
}

// tiffGray encodes img as a little-endian baseline TIFF, one strip,
// uncompressed.
func tiffGray(img *image.Gray) []byte {
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	type entry struct{ tag, typ, count, value uint32 }
	const short, long = 3, 4
	entries := []entry{
		{256, long, 1, uint32(w)},     // ImageWidth
		{257, long, 1, uint32(h)},     // ImageLength
		{258, short, 1, 8},            // BitsPerSample
		{259, short, 1, 1},            // Compression: none
		{262, short, 1, 1},            // Photometric: black is zero
		{273, long, 1, 0},             // StripOffsets (set below)
		{277, short, 1, 1},            // SamplesPerPixel
		{278, long, 1, uint32(h)},     // RowsPerStrip
		{279, long, 1, uint32(w * h)}, // StripByteCounts
	}
	ifdSize := 2 + 12*len(entries) + 4
	entries[5].value = uint32(8 + ifdSize)
	out := []byte{'I', 'I', 42, 0}
	out = binary.LittleEndian.AppendUint32(out, 8)
	out = binary.LittleEndian.AppendUint16(out, uint16(len(entries)))
	for _, e := range entries {
		out = binary.LittleEndian.AppendUint16(out, uint16(e.tag))
		out = binary.LittleEndian.AppendUint16(out, uint16(e.typ))
		out = binary.LittleEndian.AppendUint32(out, e.count)
		if e.typ == short {
			out = binary.LittleEndian.AppendUint16(out, uint16(e.value))
			out = append(out, 0, 0)
		} else {
			out = binary.LittleEndian.AppendUint32(out, e.value)
		}
	}
	out = binary.LittleEndian.AppendUint32(out, 0) // no next IFD
	for y := range h {
		out = append(out, img.Pix[y*img.Stride:y*img.Stride+w]...)
	}
	return out
}
