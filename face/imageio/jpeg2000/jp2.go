package jpeg2000

import (
	"bytes"
	"encoding/binary"
)

// JP2 file format (ISO/IEC 15444-1 Annex I).

var jp2Signature = []byte{0, 0, 0, 12, 'j', 'P', ' ', ' ', 0x0D, 0x0A, 0x87, 0x0A}

// Enumerated colour spaces of the colr box.
const (
	csSRGB  = 16
	csGray  = 17
	csSYCC  = 18
	csNone  = 0
	maxBoxs = 1024 // boxes examined at one level; real files have a handful
)

// jp2Info is what the JP2 header says about the image; the zero value (a raw
// codestream) checks nothing.
type jp2Info struct {
	present       bool
	width, height uint32
	nc            int
	colorspace    int   // csNone when absent or not enumerated
	order         []int // from cdef: output channel i is component order[i]
}

// check verifies that the JP2 header agrees with the codestream.
func (j jp2Info) check(s *siz) error {
	if !j.present {
		return nil
	}
	if j.width != s.x1-s.x0 || j.height != s.y1-s.y0 || j.nc != len(s.comps) {
		return formatErr("JP2 ihdr disagrees with the codestream SIZ")
	}
	return nil
}

type box struct {
	typ     string
	payload []byte
}

// nextBox splits the first box off b.
func nextBox(b []byte) (box, []byte, error) {
	if len(b) < 8 {
		return box{}, nil, truncated("box header")
	}
	l := uint64(binary.BigEndian.Uint32(b))
	typ := string(b[4:8])
	hdr := uint64(8)
	switch l {
	case 0:
		l = uint64(len(b))
	case 1:
		if len(b) < 16 {
			return box{}, nil, truncated("box header")
		}
		l = binary.BigEndian.Uint64(b[8:])
		hdr = 16
	}
	if l < hdr {
		return box{}, nil, formatErr("box %q length %d", typ, l)
	}
	if l > uint64(len(b)) {
		return box{}, nil, truncated("box %q", typ)
	}
	return box{typ: typ, payload: b[hdr:l]}, b[l:], nil
}

// unwrap returns the codestream inside b (a JP2 file or a raw codestream)
// and what the JP2 header says.
func unwrap(b []byte) ([]byte, jp2Info, error) {
	if len(b) >= 2 && b[0] == 0xFF && b[1] == 0x4F {
		return b, jp2Info{}, nil
	}
	if !bytes.HasPrefix(b, jp2Signature) {
		if len(b) > 0 && len(b) < len(jp2Signature) && bytes.HasPrefix(jp2Signature, b) {
			return nil, jp2Info{}, truncated("JP2 signature")
		}
		return nil, jp2Info{}, formatErr("neither a JP2 file nor a codestream")
	}
	rest := b[len(jp2Signature):]
	var info jp2Info
	seenFtyp, seenHeader := false, false
	for i := 0; len(rest) > 0; i++ {
		if i == maxBoxs {
			return nil, info, formatErr("more than %d boxes", maxBoxs)
		}
		bx, r, err := nextBox(rest)
		if err != nil {
			return nil, info, err
		}
		rest = r
		switch bx.typ {
		case "ftyp":
			if i != 0 {
				return nil, info, formatErr("ftyp box not first")
			}
			if err := checkFtyp(bx.payload); err != nil {
				return nil, info, err
			}
			seenFtyp = true
		case "jp2h":
			if !seenFtyp || seenHeader {
				return nil, info, formatErr("misplaced jp2h box")
			}
			if err := info.parseHeader(bx.payload); err != nil {
				return nil, info, err
			}
			seenHeader = true
		case "jp2c":
			if !seenHeader {
				return nil, info, formatErr("jp2c box before jp2h")
			}
			return bx.payload, info, nil
		}
	}
	if !seenHeader {
		return nil, info, truncated("no jp2h box")
	}
	return nil, info, truncated("no jp2c box")
}

func checkFtyp(p []byte) error {
	if len(p) < 8 || (len(p)-8)%4 != 0 {
		return formatErr("ftyp box length %d", len(p))
	}
	if string(p[:4]) == "jp2 " {
		return nil
	}
	for cl := p[8:]; len(cl) >= 4; cl = cl[4:] {
		if string(cl[:4]) == "jp2 " {
			return nil
		}
	}
	return unsupported("file type is not JP2 compatible")
}

func (j *jp2Info) parseHeader(p []byte) error {
	seenIhdr := false
	for i := 0; len(p) > 0; i++ {
		if i == maxBoxs {
			return formatErr("more than %d boxes in jp2h", maxBoxs)
		}
		bx, r, err := nextBox(p)
		if err != nil {
			return err
		}
		p = r
		switch bx.typ {
		case "ihdr":
			// The standard puts ihdr first; some writers do not, and
			// nothing here depends on the order.
			if seenIhdr {
				return formatErr("two ihdr boxes")
			}
			q := bx.payload
			if len(q) != 14 {
				return formatErr("ihdr length %d", len(q))
			}
			j.height = binary.BigEndian.Uint32(q)
			j.width = binary.BigEndian.Uint32(q[4:])
			j.nc = int(binary.BigEndian.Uint16(q[8:]))
			if q[11] != 7 {
				return unsupported("compression type %d", q[11])
			}
			seenIhdr = true
		case "colr":
			q := bx.payload
			if len(q) < 3 {
				return formatErr("colr length %d", len(q))
			}
			if j.colorspace != csNone {
				continue // the first colr box wins
			}
			if q[0] == 1 {
				if len(q) < 7 {
					return formatErr("colr length %d", len(q))
				}
				cs := int(binary.BigEndian.Uint32(q[3:]))
				switch cs {
				case csSRGB, csGray, csSYCC:
					j.colorspace = cs
				default:
					return unsupported("colour space %d", cs)
				}
			}
			// Method 2 (restricted ICC) is accepted and the profile
			// ignored: samples are returned as coded.
		case "pclr":
			return unsupported("JP2 palette")
		case "cdef":
			if err := j.parseCdef(bx.payload); err != nil {
				return err
			}
		}
	}
	if !seenIhdr {
		return formatErr("jp2h without ihdr")
	}
	if j.order != nil && len(j.order) != j.nc {
		return formatErr("cdef describes %d of %d channels", len(j.order), j.nc)
	}
	j.present = true
	return nil
}

// parseCdef reads the channel definitions (I.5.3.6): colour channels go
// to the position their association names, opacity goes last.
func (j *jp2Info) parseCdef(p []byte) error {
	if len(p) < 2 {
		return formatErr("cdef length %d", len(p))
	}
	n := int(binary.BigEndian.Uint16(p))
	if n == 0 || n > maxComponents || len(p) != 2+6*n {
		return unsupported("cdef with %d channels", n)
	}
	order := make([]int, n)
	for i := range order {
		order[i] = -1
	}
	var alpha, whole []int
	for i := 0; i < n; i++ {
		e := p[2+6*i:]
		cn, typ, asoc := int(binary.BigEndian.Uint16(e)), binary.BigEndian.Uint16(e[2:]), int(binary.BigEndian.Uint16(e[4:]))
		if cn >= n {
			return formatErr("cdef channel %d", cn)
		}
		switch {
		case typ == 0 && asoc >= 1 && asoc <= n:
			if order[asoc-1] != -1 {
				return formatErr("cdef association %d twice", asoc)
			}
			order[asoc-1] = cn
		case typ == 0 && asoc == 0:
			// "Whole image": encoders write it for a grey channel.
			whole = append(whole, cn)
		case typ == 1 || typ == 2:
			alpha = append(alpha, cn)
		default:
			return unsupported("cdef channel type %d association %d", typ, asoc)
		}
	}
	// Unassociated colour channels, then opacity, fill the free positions.
	rest := append(whole, alpha...)
	k := 0
	for i := range order {
		if order[i] == -1 {
			if k == len(rest) {
				return formatErr("cdef leaves channel %d undefined", i)
			}
			order[i] = rest[k]
			k++
		}
	}
	if k != len(rest) {
		return formatErr("cdef defines more channels than positions")
	}
	seen := make([]bool, n)
	for _, c := range order {
		if seen[c] {
			return formatErr("cdef names channel %d twice", c)
		}
		seen[c] = true
	}
	j.order = order
	return nil
}
