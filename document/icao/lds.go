package icao

import (
	"bytes"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/internal/tlv"
)

// Size limits for chip files.
const (
	MaxDataGroup = 2 << 20   // a DG2 with a large JPEG 2000 portrait fits easily
	MaxSOD       = 256 << 10 // CMS with a DS certificate and perhaps a CRL
)

// ErrMalformed wraps document.ErrMalformed for chip files that do not decode.
var ErrMalformed = fmt.Errorf("icao: %w", document.ErrMalformed)

// dgTags maps data-group numbers to their LDS application tags.
var dgTags = [17]tlv.Tag{0, 0x61, 0x75, 0x63, 0x76, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x6B, 0x6C, 0x6D, 0x6E, 0x6F, 0x70}

// DGTag returns the LDS tag of data group n (1–16).
func DGTag(n int) (tlv.Tag, bool) {
	if n < 1 || n > 16 {
		return 0, false
	}
	return dgTags[n], true
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// parseDG checks that b is exactly one TLV object with data group n's tag.
func parseDG(n int, b []byte) (tlv.Object, error) {
	if len(b) > MaxDataGroup {
		return tlv.Object{}, fmt.Errorf("icao: DG%d: %w: %d bytes", n, document.ErrTooLarge, len(b))
	}
	want, ok := DGTag(n)
	if !ok {
		return tlv.Object{}, malformed("no data group %d", n)
	}
	o, err := tlv.Parse(b)
	if err != nil {
		return tlv.Object{}, malformed("DG%d: %v", n, err)
	}
	if o.Tag != want {
		return tlv.Object{}, malformed("DG%d has tag %s, want %s", n, o.Tag, want)
	}
	return o, nil
}

// ParseDG1 returns the MRZ in DG1.
func ParseDG1(b []byte) (*MRZ, error) {
	o, err := parseDG(1, b)
	if err != nil {
		return nil, err
	}
	m, err := o.Find(0x5F1F)
	if err != nil {
		return nil, malformed("DG1: %v", err)
	}
	return ParseMRZ(string(m.Value))
}

// ParseDG2 returns the first face image in DG2 (ISO/IEC 19794-5 facial
// record, or another biometric data block holding a JPEG or JPEG 2000).
func ParseDG2(b []byte) (*document.Photo, error) {
	o, err := parseDG(2, b)
	if err != nil {
		return nil, err
	}
	group, err := o.Find(0x7F61)
	if err != nil {
		return nil, malformed("DG2: %v", err)
	}
	kids, err := group.Children()
	if err != nil {
		return nil, malformed("DG2: %v", err)
	}
	for _, k := range kids {
		if k.Tag != 0x7F60 {
			continue
		}
		parts, err := k.Children()
		if err != nil {
			return nil, malformed("DG2 biometric template: %v", err)
		}
		for _, p := range parts {
			if p.Tag == 0x5F2E || p.Tag == 0x7F2E {
				format, img, err := extractImage(p.Value)
				if err != nil {
					return nil, err
				}
				return &document.Photo{Format: format, Data: bytes.Clone(img)}, nil
			}
		}
	}
	return nil, malformed("DG2: no biometric data block")
}

var (
	jpegMagic = []byte{0xFF, 0xD8, 0xFF}
	jp2Magic  = []byte{0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20}
	j2kMagic  = []byte{0xFF, 0x4F, 0xFF, 0x51}
)

func imageFormat(b []byte) string {
	switch {
	case bytes.HasPrefix(b, jpegMagic):
		return "jpeg"
	case bytes.HasPrefix(b, jp2Magic), bytes.HasPrefix(b, j2kMagic):
		return "jpeg2000"
	}
	return ""
}

// extractImage finds the image in a biometric data block. For ISO/IEC
// 19794-5:2005 ("FAC\0") it follows the record structure; otherwise (ISO/IEC
// 39794-5) it takes the data from the first image signature.
func extractImage(bdb []byte) (string, []byte, error) {
	if bytes.HasPrefix(bdb, []byte("FAC\x00")) {
		const header, record, info = 14, 20, 12
		if len(bdb) < header+record {
			return "", nil, malformed("DG2: facial record header truncated")
		}
		r := bdb[header:]
		blockLen := binary.BigEndian.Uint32(r[0:4])
		points := int(binary.BigEndian.Uint16(r[4:6]))
		if uint64(blockLen) > uint64(len(r)) || int(blockLen) < record+8*points+info {
			return "", nil, malformed("DG2: facial record length %d", blockLen)
		}
		img := r[record+8*points+info : blockLen]
		// The declared image data type is not trusted (the ICAO Part 10
		// worked example declares JPEG 2000 for a JFIF image): the format is
		// taken from the image's own signature.
		format := imageFormat(img)
		if format == "" {
			return "", nil, malformed("DG2: image data is neither JPEG nor JPEG 2000")
		}
		return format, img, nil
	}
	// ISO/IEC 39794-5 (BER): the image is the value of a primitive data
	// object that starts with an image signature.
	var found []byte
	_ = tlv.Walk(bdb, func(_ int, o tlv.Object) error {
		if found == nil && !o.Tag.Constructed() && imageFormat(o.Value) != "" {
			found = o.Value
		}
		return nil
	})
	if found != nil {
		return imageFormat(found), found, nil
	}
	best := -1
	for _, m := range [][]byte{jpegMagic, jp2Magic, j2kMagic} {
		if i := bytes.Index(bdb, m); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	if best < 0 {
		return "", nil, malformed("DG2: no JPEG or JPEG 2000 image found")
	}
	return imageFormat(bdb[best:]), bdb[best:], nil
}

// DG11 holds the additional personal details the holder attributes come from.
type DG11 struct {
	FullName     string // "PRIMARY<<SECONDARY" → "PRIMARY, SECONDARY"
	BirthDate    string // YYYYMMDD as stored
	PlaceOfBirth string
	Address      string
}

// ParseDG11 decodes the fields of DG11 that Evidence reports.
func ParseDG11(b []byte) (*DG11, error) {
	o, err := parseDG(11, b)
	if err != nil {
		return nil, err
	}
	kids, err := o.Children()
	if err != nil {
		return nil, malformed("DG11: %v", err)
	}
	d := &DG11{}
	text := func(v []byte) string {
		return strings.Join(strings.Fields(strings.ReplaceAll(string(v), "<", " ")), " ")
	}
	for _, k := range kids {
		switch k.Tag {
		case 0x5F0E:
			p, s, _ := strings.Cut(string(k.Value), "<<")
			d.FullName = text([]byte(p))
			if s != "" {
				d.FullName += ", " + text([]byte(s))
			}
		case 0x5F2B:
			d.BirthDate = string(k.Value)
		case 0x5F11:
			d.PlaceOfBirth = text(k.Value)
		case 0x5F42:
			d.Address = text(k.Value)
		}
	}
	return d, nil
}

// ParseDG15 returns the Active Authentication SubjectPublicKeyInfo.
func ParseDG15(b []byte) ([]byte, error) {
	o, err := parseDG(15, b)
	if err != nil {
		return nil, err
	}
	return o.Value, nil
}

var oidAAProtocol = asn1.ObjectIdentifier{2, 23, 136, 1, 1, 5}

// AASignatureAlgorithm returns the signature algorithm OID of the
// ActiveAuthenticationInfo in DG14, or nil if DG14 has none.
func AASignatureAlgorithm(dg14 []byte) (asn1.ObjectIdentifier, error) {
	o, err := parseDG(14, dg14)
	if err != nil {
		return nil, err
	}
	var infos []asn1.RawValue
	if rest, err := asn1.UnmarshalWithParams(o.Value, &infos, "set"); err != nil || len(rest) != 0 {
		return nil, malformed("DG14 SecurityInfos")
	}
	for _, raw := range infos {
		var info struct {
			Protocol asn1.ObjectIdentifier
			Version  int
			SigAlg   asn1.ObjectIdentifier
		}
		if _, err := asn1.Unmarshal(raw.FullBytes, &info); err != nil {
			continue // other SecurityInfo shapes (PACE, CA, TA)
		}
		if info.Protocol.Equal(oidAAProtocol) {
			return info.SigAlg, nil
		}
	}
	return nil, nil
}
