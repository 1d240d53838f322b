package imageio

// Inspect: what decoding an image will cost, and whether the image is
// whole, without decoding a pixel. Upload paths call it so that an image
// that would need more memory than they allow, or that was cut short, is
// refused when it arrives, not when a decision decodes it later.

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Header is what Inspect learns from an image's headers.
type Header struct {
	Format        string // "jpeg" or "png"
	Width, Height int
	// Channels and BytesPerSample are as the standard decoder stores the
	// pixels (PNG truecolour becomes 4 channels, sub-byte depths 1 byte).
	Channels, BytesPerSample int
	// DecodedBytes bounds the memory Decode allocates for the pixels: the
	// decoder's own raster (pixels × channels × bytes per sample) plus the
	// 8-bit RGBA result (pixels × 4).
	DecodedBytes int64
}

// Inspect reads a JPEG's or PNG's headers and checks that the file is
// whole, without decoding pixels: a PNG's chunks must be intact (lengths,
// CRCs, IHDR first, IEND last, nothing after it) and its image data must
// inflate to exactly the size the header implies (streamed; nothing is
// kept); a JPEG's segments must reach a scan and end with EOI. Errors wrap
// ErrFormat, ErrTruncated, ErrCorrupt or ErrTooLarge (over lim, from the
// header alone).
func Inspect(b []byte, lim Limits) (Header, error) {
	if int64(len(b)) > lim.MaxBytes {
		return Header{}, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, lim.MaxBytes)
	}
	var (
		h   Header
		err error
	)
	switch {
	case bytes.HasPrefix(b, magicPNG):
		h, err = inspectPNG(b, lim)
	case bytes.HasPrefix(b, magicJPEG):
		h, err = inspectJPEG(b, lim)
	case len(b) < 8 && len(b) > 0 && (bytes.HasPrefix(magicJPEG, b) || bytes.HasPrefix(magicPNG, b)):
		return Header{}, fmt.Errorf("%w: %d bytes", ErrTruncated, len(b))
	default:
		return Header{}, fmt.Errorf("%w: not JPEG or PNG", ErrFormat)
	}
	if err != nil {
		return Header{}, err
	}
	px := int64(h.Width) * int64(h.Height)
	h.DecodedBytes = px*int64(h.Channels*h.BytesPerSample) + px*4
	return h, nil
}

// pngStored maps a PNG colour type and depth to the channels and bytes per
// sample of the standard decoder's image (image/png): 8-bit truecolour
// decodes to RGBA, paletted to one index byte, and so on.
func pngStored(colour, depth byte) (channels, bps int, bitsPerPixel int, ok bool) {
	valid := map[byte][]byte{0: {1, 2, 4, 8, 16}, 2: {8, 16}, 3: {1, 2, 4, 8}, 4: {8, 16}, 6: {8, 16}}
	if ds, known := valid[colour]; !known || bytes.IndexByte(ds, depth) < 0 {
		return 0, 0, 0, false
	}
	samples := map[byte]int{0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
	bitsPerPixel = samples * int(depth)
	bps = 1
	if depth == 16 {
		bps = 2
	}
	switch colour {
	case 0, 3:
		channels = 1
	default: // grey+alpha and truecolour decode to (N)RGBA or (N)RGBA64
		channels = 4
	}
	return channels, bps, bitsPerPixel, true
}

func inspectPNG(b []byte, lim Limits) (Header, error) {
	h := Header{Format: "png"}
	pos := len(magicPNG)
	var (
		idat       [][]byte
		ihdr       []byte
		idatClosed bool
		ended      bool
	)
	for first := true; !ended; first = false {
		if pos+12 > len(b) {
			return h, fmt.Errorf("%w: PNG ends inside a chunk header", ErrTruncated)
		}
		n := binary.BigEndian.Uint32(b[pos:])
		typ := string(b[pos+4 : pos+8])
		if uint64(n) > uint64(len(b)-pos-12) {
			return h, fmt.Errorf("%w: PNG chunk %q runs past the end", ErrTruncated, printableType(typ))
		}
		data := b[pos+8 : pos+8+int(n)]
		if crc32.ChecksumIEEE(b[pos+4:pos+8+int(n)]) != binary.BigEndian.Uint32(b[pos+8+int(n):]) {
			return h, fmt.Errorf("%w: PNG chunk %q fails its CRC", ErrCorrupt, printableType(typ))
		}
		pos += 12 + int(n)
		switch {
		case first && typ != "IHDR":
			return h, fmt.Errorf("%w: PNG does not start with IHDR", ErrCorrupt)
		case typ == "IHDR":
			if !first || n != 13 {
				return h, fmt.Errorf("%w: PNG IHDR misplaced or malformed", ErrCorrupt)
			}
			ihdr = data
		case typ == "IDAT":
			if idatClosed {
				return h, fmt.Errorf("%w: PNG image data is not contiguous", ErrCorrupt)
			}
			idat = append(idat, data)
		case typ == "IEND":
			ended = true
		default:
			if len(idat) > 0 {
				idatClosed = true
			}
		}
	}
	if pos != len(b) {
		return h, fmt.Errorf("%w: %d bytes after PNG IEND", ErrCorrupt, len(b)-pos)
	}
	if len(idat) == 0 {
		return h, fmt.Errorf("%w: PNG has no image data", ErrTruncated)
	}
	w, ht := binary.BigEndian.Uint32(ihdr[0:]), binary.BigEndian.Uint32(ihdr[4:])
	depth, colour, interlace := ihdr[8], ihdr[9], ihdr[12]
	if w == 0 || ht == 0 || w > 1<<31-1 || ht > 1<<31-1 {
		return h, fmt.Errorf("%w: PNG size %dx%d", ErrCorrupt, w, ht)
	}
	if err := checkDims(int64(w), int64(ht), lim); err != nil {
		return h, err
	}
	ch, bps, bpp, ok := pngStored(colour, depth)
	if !ok || ihdr[10] != 0 || ihdr[11] != 0 || interlace > 1 {
		return h, fmt.Errorf("%w: PNG colour type %d, depth %d, or method unsupported", ErrFormat, colour, depth)
	}
	h.Width, h.Height, h.Channels, h.BytesPerSample = int(w), int(ht), ch, bps
	want := pngRawSize(int64(w), int64(ht), bpp, interlace == 1)
	zr, err := zlib.NewReader(io.MultiReader(readers(idat)...))
	if err != nil {
		return h, fmt.Errorf("%w: PNG image data: %v", ErrCorrupt, err)
	}
	got, err := io.Copy(io.Discard, io.LimitReader(zr, want+1))
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), err == nil && got < want:
		return h, fmt.Errorf("%w: PNG image data holds %d of %d bytes", ErrTruncated, got, want)
	case err != nil:
		return h, fmt.Errorf("%w: PNG image data: %v", ErrCorrupt, err)
	case got > want:
		return h, fmt.Errorf("%w: PNG image data longer than its size", ErrCorrupt)
	}
	// The zlib stream must end (checksum) right after the pixels.
	if n, err := zr.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return h, fmt.Errorf("%w: PNG image data stream is cut short", ErrTruncated)
		}
		return h, fmt.Errorf("%w: PNG image data stream does not end cleanly", ErrCorrupt)
	}
	return h, nil
}

// pngRawSize is the inflated size of a PNG's image data: per row a filter
// byte and the row's bytes, for the whole image or each Adam7 pass.
func pngRawSize(w, h int64, bitsPerPixel int, interlaced bool) int64 {
	row := func(w int64) int64 { return 1 + (w*int64(bitsPerPixel)+7)/8 }
	if !interlaced {
		return h * row(w)
	}
	var n int64
	for _, p := range [7][4]int64{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}} {
		pw, ph := (w-p[0]+p[2]-1)/p[2], (h-p[1]+p[3]-1)/p[3]
		if pw > 0 && ph > 0 {
			n += ph * row(pw)
		}
	}
	return n
}

func readers(bs [][]byte) []io.Reader {
	out := make([]io.Reader, len(bs))
	for i, b := range bs {
		out[i] = bytes.NewReader(b)
	}
	return out
}

func printableType(t string) string {
	for _, c := range []byte(t) {
		if c < 'A' || c > 'z' || (c > 'Z' && c < 'a') {
			return "?"
		}
	}
	return t
}

func inspectJPEG(b []byte, lim Limits) (Header, error) {
	h := Header{Format: "jpeg", BytesPerSample: 1}
	pos := 2
	for {
		if pos+4 > len(b) {
			return h, fmt.Errorf("%w: JPEG ends before its image data", ErrTruncated)
		}
		if b[pos] != 0xFF {
			return h, fmt.Errorf("%w: JPEG segment marker expected", ErrCorrupt)
		}
		m := b[pos+1]
		switch {
		case m == 0xFF:
			pos++
			continue
		case m == 0x01 || m >= 0xD0 && m <= 0xD7:
			pos += 2
			continue
		case m == 0xD8 || m == 0xD9:
			return h, fmt.Errorf("%w: JPEG marker %X before the image data", ErrCorrupt, m)
		}
		l := int(binary.BigEndian.Uint16(b[pos+2:]))
		if l < 2 || pos+2+l > len(b) {
			return h, fmt.Errorf("%w: JPEG segment runs past the end", ErrTruncated)
		}
		seg := b[pos+4 : pos+2+l]
		isSOF := m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC
		if isSOF {
			if len(seg) < 6 {
				return h, fmt.Errorf("%w: JPEG frame header", ErrCorrupt)
			}
			h.Height, h.Width = int(binary.BigEndian.Uint16(seg[1:])), int(binary.BigEndian.Uint16(seg[3:]))
			h.Channels = int(seg[5])
			if h.Width == 0 || h.Height == 0 || (h.Channels != 1 && h.Channels != 3 && h.Channels != 4) {
				return h, fmt.Errorf("%w: JPEG frame %dx%d with %d components", ErrCorrupt, h.Width, h.Height, h.Channels)
			}
			if err := checkDims(int64(h.Width), int64(h.Height), lim); err != nil {
				return h, err
			}
		}
		pos += 2 + l
		if m == 0xDA { // start of scan: the entropy-coded data follows
			break
		}
	}
	if h.Width == 0 {
		return h, fmt.Errorf("%w: JPEG scan without a frame header", ErrCorrupt)
	}
	// Entropy-coded data escapes 0xFF, so FF D9 after the scan is the EOI
	// marker; trailing padding after it is tolerated.
	if bytes.LastIndex(b[pos:], []byte{0xFF, 0xD9}) < 0 {
		return h, fmt.Errorf("%w: JPEG has no end-of-image marker", ErrTruncated)
	}
	return h, nil
}
