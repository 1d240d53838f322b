// Package jpeg2000 is a pure-Go, bounded decoder for JPEG 2000 Part 1
// (ISO/IEC 15444-1) images: raw codestreams (.j2k, starting with SOC FF4F)
// and the JP2 file format (.jp2). It exists because IC chips of identity
// documents (ICAO 9303 DG2, the residence card, the My Number card) store
// the holder's face as JPEG 2000, and the face engine must read it without
// cgo.
//
// Supported: 1 to 4 components of 1 to 16 bits (signed or unsigned, with
// subsampling), the reversible (5/3, RCT) and irreversible (9/7, ICT) paths,
// any number of tiles, tile-parts, quality layers and resolution levels, all
// five progression orders and POC progression changes, user-defined
// precincts, SOP/EPH markers, packed packet headers (PPM, PPT), every
// code-block style flag (selective arithmetic coding bypass, context reset,
// termination on each pass, vertically causal context, predictable
// termination, segmentation symbols), no / scalar derived / scalar
// expounded quantization, and ROI by maxshift. It decodes the ISO/IEC
// 15444-4 conformance codestreams it has limits for (see TestConformance).
// Refused with ErrUnsupported: more than 4 components or 16 bits, JP2
// JPX-only colour spaces, and Part 2 or HTJ2K codestreams.
// A codestream must carry every tile and every packet; a missing one is
// ErrTruncated (OpenJPEG would fill it in).
//
// Invariants:
//   - Input is read into memory only up to Limits.MaxBytes; longer input is
//     refused with ErrTooLarge.
//   - Every size the header declares (pixels, components, precision, tiles,
//     code-blocks, precincts, bit-planes) is checked against Limits or the
//     standard's bounds before anything proportional to it is allocated.
//   - Every marker and box length is checked against the bytes present; a
//     stream that ends before its last packet is refused with ErrTruncated
//     (a complete stream that only lacks its EOC marker is accepted, as
//     some writers omit it). Nothing is read past the input.
//   - The decoder never panics on any input (see FuzzDecode); errors wrap
//     exactly one of ErrFormat, ErrUnsupported, ErrTooLarge, ErrTruncated
//     and never contain image content.
//   - Lossless (5/3) streams decode bit-exactly; irreversible (9/7) streams
//     use float32 arithmetic and midpoint reconstruction like OpenJPEG, and
//     agree with opj_decompress within ±1 per sample.
//
// The output is *image.Gray (one component, up to 8 bits), *image.Gray16
// (one component, 9 to 16 bits), *image.RGBA (three components, up to 8
// bits), *image.RGBA64 (three components, 9 to 16 bits) or *image.NRGBA /
// *image.NRGBA64 (two or four components, the last one being alpha).
// Samples of other precisions are scaled to the full range of the output
// type; subsampled components are upsampled by replication. In a JP2 file
// a palette (pclr, cmap) maps components to channels, the channel
// definitions (cdef) order the channels, and an sYCC colour
// space is converted to RGB; an ICC profile (colr method 2) is not applied,
// the samples are returned as coded. The package registers nothing with
// image.RegisterFormat: callers wire Decode into their own intake.
package jpeg2000

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"io"
)

// Sentinel errors. Every error returned by this package wraps one of them.
var (
	// ErrFormat reports input that is not a valid JPEG 2000 stream.
	ErrFormat = errors.New("jpeg2000: invalid format")
	// ErrUnsupported reports a valid feature this decoder does not implement.
	ErrUnsupported = errors.New("jpeg2000: unsupported feature")
	// ErrTooLarge reports input or a declared size over the Limits.
	ErrTooLarge = errors.New("jpeg2000: too large")
	// ErrTruncated reports a stream that ends early.
	ErrTruncated = errors.New("jpeg2000: truncated")
)

// Limits bound the resources one decode may use. A zero field takes its
// default, so the zero Limits is what Decode and DecodeConfig use.
type Limits struct {
	// MaxBytes is the largest input accepted (default 32 MiB).
	MaxBytes int64
	// MaxPixels is the largest image area, width × height, accepted
	// (default 16 Mpx; chip photos are far smaller). Decoding an RGB image
	// allocates about 40 bytes per pixel in all (coefficients, transformed
	// tiles, sample planes, output image): some 650 MB at the default.
	MaxPixels int64
	// MaxTiles is the largest number of tiles accepted (default 4096).
	MaxTiles int
	// MaxCodeBlocks is the largest number of code-blocks (and, separately,
	// of precincts) in the image, over all tiles and components (default
	// 1 << 18; a 16 Mpx RGB image in 64x64 blocks has about 12 000).
	MaxCodeBlocks int
}

// The defaults of the Limits fields.
const (
	defaultMaxBytes      = 32 << 20
	defaultMaxPixels     = 16 << 20
	defaultMaxTiles      = 4096
	defaultMaxCodeBlocks = 1 << 18
)

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = defaultMaxBytes
	}
	if l.MaxPixels <= 0 {
		l.MaxPixels = defaultMaxPixels
	}
	if l.MaxTiles <= 0 {
		l.MaxTiles = defaultMaxTiles
	}
	if l.MaxCodeBlocks <= 0 {
		l.MaxCodeBlocks = defaultMaxCodeBlocks
	}
	return l
}

// Decode decodes a JPEG 2000 codestream or JP2 file under the default
// Limits.
func Decode(r io.Reader) (image.Image, error) {
	return Limits{}.Decode(r)
}

// DecodeConfig returns the colour model and dimensions of a JPEG 2000
// codestream or JP2 file without decoding its pixels.
func DecodeConfig(r io.Reader) (image.Config, error) {
	return Limits{}.DecodeConfig(r)
}

// Decode decodes a JPEG 2000 codestream or JP2 file under l.
func (l Limits) Decode(r io.Reader) (image.Image, error) {
	l = l.withDefaults()
	b, err := readAll(r, l.MaxBytes)
	if err != nil {
		return nil, err
	}
	cs, info, err := unwrap(b)
	if err != nil {
		return nil, err
	}
	d := &decoder{lim: l, data: cs}
	if err := d.readMainHeader(); err != nil {
		return nil, err
	}
	if err := info.check(&d.siz); err != nil {
		return nil, err
	}
	if err := d.readTiles(); err != nil {
		return nil, err
	}
	if err := d.mapChannels(info, true); err != nil {
		return nil, err
	}
	return d.image(info)
}

// DecodeConfig returns the colour model and dimensions of a JPEG 2000
// codestream or JP2 file under l.
func (l Limits) DecodeConfig(r io.Reader) (image.Config, error) {
	l = l.withDefaults()
	b, err := readAll(r, l.MaxBytes)
	if err != nil {
		return image.Config{}, err
	}
	cs, info, err := unwrap(b)
	if err != nil {
		return image.Config{}, err
	}
	d := &decoder{lim: l, data: cs}
	if err := d.readSIZOnly(); err != nil {
		return image.Config{}, err
	}
	if err := info.check(&d.siz); err != nil {
		return image.Config{}, err
	}
	if err := d.mapChannels(info, false); err != nil {
		return image.Config{}, err
	}
	return d.config(), nil
}

func readAll(r io.Reader, max int64) ([]byte, error) {
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading input: %w", ErrFormat, err)
	}
	if n > max {
		return nil, fmt.Errorf("%w: input over %d bytes", ErrTooLarge, max)
	}
	return buf.Bytes(), nil
}

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrFormat}, args...)...)
}

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnsupported}, args...)...)
}

func truncated(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrTruncated}, args...)...)
}

func tooLarge(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrTooLarge}, args...)...)
}
