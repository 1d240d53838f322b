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
	order         []int // from cdef: output channel i is channel order[i]
	pal           *palette
	cmap          []cmapEntry // with a palette: how channels come from components
}

// palette is a pclr box: cols columns of entries values each.
type palette struct {
	entries int
	prec    []int
	signed  []bool
	values  [][]uint16 // per column, offset to unsigned like the planes
}

// cmapEntry maps one channel to a component, directly or through a
// palette column.
type cmapEntry struct {
	comp    int
	viaPal  bool
	palette int
}

// channels is the number of channels the JP2 header describes.
func (j *jp2Info) channels() int {
	if j.cmap != nil {
		return len(j.cmap)
	}
	return j.nc
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
			if err := j.parsePclr(bx.payload); err != nil {
				return err
			}
		case "cmap":
			if err := j.parseCmap(bx.payload); err != nil {
				return err
			}
		case "cdef":
			if err := j.parseCdef(bx.payload); err != nil {
				return err
			}
		}
	}
	if !seenIhdr {
		return formatErr("jp2h without ihdr")
	}
	if (j.pal == nil) != (j.cmap == nil) {
		return formatErr("pclr and cmap must come together")
	}
	if j.cmap != nil {
		for _, e := range j.cmap {
			if e.comp >= j.nc || e.viaPal && e.palette >= len(j.pal.values) {
				return formatErr("cmap entry out of range")
			}
		}
	}
	if j.order != nil && len(j.order) != j.channels() {
		return formatErr("cdef describes %d of %d channels", len(j.order), j.channels())
	}
	j.present = true
	return nil
}

// parsePclr reads a palette (I.5.3.4).
func (j *jp2Info) parsePclr(p []byte) error {
	if j.pal != nil {
		return formatErr("two pclr boxes")
	}
	if len(p) < 3 {
		return truncated("pclr")
	}
	ne, npc := int(binary.BigEndian.Uint16(p)), int(p[2])
	if ne == 0 || ne > 1024 || npc == 0 || npc > maxComponents {
		return unsupported("palette of %d entries in %d columns", ne, npc)
	}
	if len(p) < 3+npc {
		return truncated("pclr")
	}
	pal := &palette{entries: ne, prec: make([]int, npc), signed: make([]bool, npc), values: make([][]uint16, npc)}
	width := 0
	for c := 0; c < npc; c++ {
		b := p[3+c]
		pal.prec[c], pal.signed[c] = int(b&0x7F)+1, b&0x80 != 0
		if pal.prec[c] > maxPrecision {
			return unsupported("%d-bit palette", pal.prec[c])
		}
		width += (pal.prec[c] + 7) / 8
		pal.values[c] = make([]uint16, ne)
	}
	q := p[3+npc:]
	if len(q) != ne*width {
		return formatErr("pclr length")
	}
	for e := 0; e < ne; e++ {
		for c := 0; c < npc; c++ {
			var v int
			n := (pal.prec[c] + 7) / 8
			for k := 0; k < n; k++ {
				v = v<<8 | int(q[k])
			}
			q = q[n:]
			v &= 1<<pal.prec[c] - 1
			if pal.signed[c] {
				v ^= 1 << (pal.prec[c] - 1) // two's complement to offset binary
			}
			pal.values[c][e] = uint16(v)
		}
	}
	j.pal = pal
	return nil
}

// parseCmap reads a component mapping (I.5.3.5).
func (j *jp2Info) parseCmap(p []byte) error {
	if j.cmap != nil {
		return formatErr("two cmap boxes")
	}
	if len(p) == 0 || len(p)%4 != 0 || len(p)/4 > maxComponents {
		return unsupported("cmap of %d bytes", len(p))
	}
	for ; len(p) > 0; p = p[4:] {
		e := cmapEntry{comp: int(binary.BigEndian.Uint16(p)), palette: int(p[3])}
		switch p[2] {
		case 0:
		case 1:
			e.viaPal = true
		default:
			return formatErr("cmap mapping type %d", p[2])
		}
		j.cmap = append(j.cmap, e)
	}
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
