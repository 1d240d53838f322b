package imageio

import (
	"bytes"
	"encoding/binary"
	"image"
)

const tagOrientation = 0x0112

// jpegOrientation returns the EXIF orientation of the first APP1 "Exif"
// segment before the first scan, or 1.
func jpegOrientation(b []byte) int {
	exif := []byte("Exif\x00\x00")
	seg := jpegSegment(b, func(m byte) bool { return m == 0xE1 }, exif)
	if seg == nil {
		return 1
	}
	return tiffOrientation(seg[len(exif):])
}

// jpegSegment walks the JPEG marker segments before the first scan and
// returns the payload of the first segment whose marker satisfies match and
// whose payload starts with prefix, or nil. It never reads past b.
func jpegSegment(b []byte, match func(byte) bool, prefix []byte) []byte {
	pos := 2
	for pos+4 <= len(b) {
		if b[pos] != 0xFF {
			return nil
		}
		m := b[pos+1]
		switch {
		case m == 0xFF: // fill byte
			pos++
			continue
		case m == 0x01 || m == 0xD8 || (m >= 0xD0 && m <= 0xD7):
			pos += 2
			continue
		case m == 0xDA || m == 0xD9: // start of scan, end of image
			return nil
		}
		l := int(binary.BigEndian.Uint16(b[pos+2:]))
		if l < 2 || pos+2+l > len(b) {
			return nil
		}
		seg := b[pos+4 : pos+2+l]
		if match(m) && bytes.HasPrefix(seg, prefix) {
			return seg
		}
		pos += 2 + l
	}
	return nil
}

// pngOrientation returns the orientation in a PNG eXIf chunk placed before
// the image data, or 1. Chunk CRCs were already checked by the decoder for
// the chunks it reads; eXIf is ancillary, so a bad one is only ignored.
func pngOrientation(b []byte) int {
	pos := 8
	for pos+8 <= len(b) {
		n := binary.BigEndian.Uint32(b[pos:])
		typ := string(b[pos+4 : pos+8])
		if typ == "IDAT" || typ == "IEND" || uint64(n) > uint64(len(b)-pos-8) {
			return 1
		}
		data := b[pos+8 : pos+8+int(n)]
		if typ == "eXIf" {
			data = bytes.TrimPrefix(data, []byte("Exif\x00\x00"))
			return tiffOrientation(data)
		}
		pos += 12 + int(n)
	}
	return 1
}

// tiffOrientation reads tag 0x0112 from IFD0 of a TIFF structure (the body
// of an EXIF block). Anything malformed yields 1.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 1
	}
	if bo.Uint16(t[2:]) != 42 {
		return 1
	}
	off := uint64(bo.Uint32(t[4:]))
	if off+2 > uint64(len(t)) {
		return 1
	}
	n := int(bo.Uint16(t[off:]))
	entries := t[off+2:]
	n = min(n, len(entries)/12)
	for i := 0; i < n; i++ {
		e := entries[12*i : 12*i+12]
		if bo.Uint16(e) != tagOrientation {
			continue
		}
		if typ, cnt := bo.Uint16(e[2:]), bo.Uint32(e[4:]); typ != 3 || cnt != 1 {
			return 1
		}
		if v := int(bo.Uint16(e[8:])); v >= 1 && v <= 8 {
			return v
		}
		return 1
	}
	return 1
}

// orient returns img transformed so that an image stored with EXIF
// orientation o displays upright. o outside 2..8 returns img itself.
func orient(img *image.RGBA, o int) *image.RGBA {
	if o < 2 || o > 8 {
		return img
	}
	w, h := img.Rect.Dx(), img.Rect.Dy()
	ow, oh := w, h
	if o >= 5 {
		ow, oh = h, w
	}
	out := image.NewRGBA(image.Rect(0, 0, ow, oh))
	for y := 0; y < oh; y++ {
		row := out.Pix[y*out.Stride:]
		for x := 0; x < ow; x++ {
			var sx, sy int
			switch o {
			case 2:
				sx, sy = w-1-x, y
			case 3:
				sx, sy = w-1-x, h-1-y
			case 4:
				sx, sy = x, h-1-y
			case 5:
				sx, sy = y, x
			case 6:
				sx, sy = y, h-1-x
			case 7:
				sx, sy = w-1-y, h-1-x
			case 8:
				sx, sy = w-1-y, x
			}
			copy(row[4*x:4*x+4], img.Pix[sy*img.Stride+4*sx:])
		}
	}
	return out
}
