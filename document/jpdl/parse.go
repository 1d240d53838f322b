package jpdl

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/internal/jis"
	"github.com/madoguchi/madoguchi/document/internal/tlv"
)

// Size limits per file, generous against the spec's file sizes.
const (
	MaxCommon    = 64
	MaxMatters   = 2048
	MaxHonseki   = 1024
	MaxChanges   = 4096
	MaxSignature = 2048
	MaxPhoto     = 32 << 10
)

// Tags.
const (
	tagCommonVersion = 0x45
	tagCommonMaker   = 0x46

	tagJISYear     = 0x11
	tagName        = 0x12
	tagKana        = 0x13
	tagAlias       = 0x14
	tagUnifiedName = 0x15
	tagBirth       = 0x16
	tagAddress     = 0x17
	tagIssued      = 0x18
	tagRefNumber   = 0x19
	tagColour      = 0x1A
	tagExpiry      = 0x1B
	tagCond1       = 0x1C
	tagCond4       = 0x1F
	tagPSC         = 0x20
	tagNumber      = 0x21
	tagCatFirst    = 0x22
	tagCatLast     = 0x33

	tagHonseki = 0x31

	tagSigValue   = 0xB1
	tagSigSerial  = 0xB2
	tagSigIssuer  = 0xB3
	tagSigSubject = 0xB4
	tagSigSKI     = 0xB5

	tagPhoto = 0x5F40

	// Change records (EF04/EF06): a record starts with its JIS year (51),
	// then the change date (52), one item, and the 公安委員会 (5A).
	tagChgJISYear = 0x51
	tagChgDate    = 0x52
	tagChgName    = 0x53
	tagChgKana    = 0x54
	tagChgAddress = 0x55
	tagChgCond    = 0x56
	tagChgCondDel = 0x57
	tagChgRemark  = 0x58
	tagChgSpare   = 0x59
	tagChgPSC     = 0x5A
	tagChgHonseki = 0x5B
	tagChgFlag    = 0x50 // 追記の有無
)

// objects decodes a file: TLV objects followed by optional 0xFF padding.
// It returns the objects and the encoded objects without padding.
func objects(name string, b []byte, limit int) ([]tlv.Object, []byte, error) {
	if len(b) > limit {
		return nil, nil, document.Refuse(document.KindJPDL, "file."+name, document.ErrTooLarge, "%s is %d bytes, limit %d", name, len(b), limit)
	}
	var out []tlv.Object
	rest := b
	for len(rest) > 0 {
		if rest[0] == 0xFF {
			if len(bytes.TrimLeft(rest, "\xff")) != 0 {
				// The shared decoder refuses a first tag byte of 0xFF; the
				// My Number objects FF20/FF30 start with it.
				if len(rest) >= 2 {
					t := tlv.Tag(uint16(rest[0])<<8 | uint16(rest[1]))
					if _, ok := foreign[t]; ok {
						return nil, nil, unexpected(name, tlv.Object{Tag: t})
					}
				}
				return nil, nil, document.Refuse(document.KindJPDL, "file."+name, document.ErrMalformed, "%s: data after 0xFF padding at offset %d", name, len(b)-len(rest))
			}
			break
		}
		o, r, err := tlv.Next(rest)
		if err != nil {
			return nil, nil, document.Refuse(document.KindJPDL, "file."+name, fmt.Errorf("%w: %w", document.ErrMalformed, err), "%s does not decode at offset %d", name, len(b)-len(rest))
		}
		out = append(out, o)
		rest = r
	}
	return out, b[:len(b)-len(rest)], nil
}

// foreign names structures of other cards, so a mixed bundle is refused
// with a reason a reviewer can read.
var foreign = map[tlv.Tag]string{
	0xFF30: "a My Number 券面事項入力補助AP signature object",
	0xFF20: "a My Number 券面事項入力補助AP basic-4 file",
	0x7F21: "a My Number card-verifiable certificate",
	0xDA:   "a residence card check code",
	0xDB:   "a residence card certificate",
	0xD0:   "a residence card front image",
	0xD1:   "a residence card face image",
	0xC0:   "residence card common data",
	0x77:   "an ICAO EF.SOD",
	0x60:   "an ICAO EF.COM",
	0x61:   "an ICAO DG1",
	0x75:   "an ICAO DG2",
}

func unexpected(name string, o tlv.Object) error {
	if what, ok := foreign[o.Tag]; ok {
		return document.Refuse(document.KindJPDL, "kind", document.ErrNotAccepted, "%s holds tag %s, %s, not licence data", name, o.Tag, what)
	}
	return document.Refuse(document.KindJPDL, "file."+name, document.ErrMalformed, "%s: unexpected tag %s", name, o.Tag)
}

// Common is MF/EF01.
type Common struct {
	SpecVersion  string
	Issued       time.Time
	Expiry       time.Time
	Manufacturer byte
	CryptoID     byte
}

// ParseCommon decodes MF/EF01 共通データ要素.
func ParseCommon(b []byte) (Common, error) {
	objs, _, err := objects("MF/EF01", b, MaxCommon)
	if err != nil {
		return Common{}, err
	}
	var c Common
	var seenVer, seenMaker bool
	for _, o := range objs {
		switch o.Tag {
		case tagCommonVersion:
			if len(o.Value) != 11 || seenVer {
				return Common{}, document.Refuse(document.KindJPDL, "file.MF/EF01", document.ErrMalformed, "common data element 45 has %d bytes, want 11", len(o.Value))
			}
			seenVer = true
			v := o.Value[:3]
			for _, d := range v {
				if d < '0' || d > '9' {
					return Common{}, document.Refuse(document.KindJPDL, "file.MF/EF01", document.ErrMalformed, "spec version is not 3 digits")
				}
			}
			c.SpecVersion = string(v)
			if c.Issued, err = bcdDate(o.Value[3:7]); err != nil {
				return Common{}, document.Refuse(document.KindJPDL, "file.MF/EF01", document.ErrMalformed, "issue date: %v", err)
			}
			if c.Expiry, err = bcdDate(o.Value[7:11]); err != nil {
				return Common{}, document.Refuse(document.KindJPDL, "file.MF/EF01", document.ErrMalformed, "expiry date: %v", err)
			}
		case tagCommonMaker:
			if len(o.Value) != 2 || seenMaker {
				return Common{}, document.Refuse(document.KindJPDL, "file.MF/EF01", document.ErrMalformed, "common data element 46 has %d bytes, want 2", len(o.Value))
			}
			seenMaker = true
			c.Manufacturer, c.CryptoID = o.Value[0], o.Value[1]
		default:
			return Common{}, unexpected("MF/EF01", o)
		}
	}
	if !seenVer || !seenMaker {
		return Common{}, document.Refuse(document.KindJPDL, "kind", document.ErrNotAccepted, "MF/EF01 lacks the licence common data elements 45 and 46")
	}
	return c, nil
}

var errDate = errors.New("invalid date")

func bcdDate(b []byte) (time.Time, error) {
	var digits [8]int
	for i, x := range b {
		hi, lo := int(x>>4), int(x&0x0F)
		if hi > 9 || lo > 9 {
			return time.Time{}, fmt.Errorf("%w: not BCD", errDate)
		}
		digits[2*i], digits[2*i+1] = hi, lo
	}
	y := digits[0]*1000 + digits[1]*100 + digits[2]*10 + digits[3]
	m := digits[4]*10 + digits[5]
	d := digits[6]*10 + digits[7]
	return civil(y, m, d)
}

var jst = time.FixedZone("JST", 9*3600)

func civil(y, m, d int) (time.Time, error) {
	if y < 1868 || y > 2200 || m < 1 || m > 12 || d < 1 || d > 31 {
		return time.Time{}, errDate
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, jst)
	if t.Day() != d || int(t.Month()) != m {
		return time.Time{}, errDate
	}
	return t, nil
}

// eraBase is the Gregorian year of year 1 of each era digit.
var eraBase = [...]int{1: 1868, 2: 1912, 3: 1926, 4: 1989, 5: 2019}

// eraDate decodes an era digit and YYMMDD in ASCII, e.g. "4020102" for
// 平成2年1月2日.
func eraDate(b []byte) (time.Time, error) {
	if len(b) != 7 {
		return time.Time{}, fmt.Errorf("%w: %d bytes, want 7", errDate, len(b))
	}
	var n [7]int
	for i, c := range b {
		if c < '0' || c > '9' {
			return time.Time{}, fmt.Errorf("%w: not digits", errDate)
		}
		n[i] = int(c - '0')
	}
	if n[0] < 1 || n[0] >= len(eraBase) {
		return time.Time{}, fmt.Errorf("%w: era %d", errDate, n[0])
	}
	yy := n[1]*10 + n[2]
	if yy == 0 {
		return time.Time{}, fmt.Errorf("%w: year 0", errDate)
	}
	return civil(eraBase[n[0]]+yy-1, n[3]*10+n[4], n[5]*10+n[6])
}

// Matters is DF1/EF01 記載事項(本籍除く).
type Matters struct {
	JISYear     byte
	Name        jis.Text
	Kana        jis.Text
	Alias       jis.Text
	UnifiedName jis.Text
	Birth       time.Time
	Address     jis.Text
	Issued      time.Time
	RefNumber   string
	Colour      jis.Text
	Expiry      time.Time
	Conditions  [4]jis.Text
	PSC         jis.Text // 公安委員会名
	Number      string   // 免許証の番号 (12 digits)
	Categories  map[byte]time.Time
}

func text(name string, o tlv.Object) (jis.Text, error) {
	t, err := jis.Decode(o.Value)
	if err != nil {
		return jis.Text{}, document.Refuse(document.KindJPDL, "file."+name, fmt.Errorf("%w: %w", document.ErrMalformed, err), "%s: tag %s is not JIS X 0208 text", name, o.Tag)
	}
	return t, nil
}

func digits(name string, o tlv.Object, n int) (string, error) {
	if len(o.Value) != n {
		return "", document.Refuse(document.KindJPDL, "file."+name, document.ErrMalformed, "%s: tag %s has %d bytes, want %d digits", name, o.Tag, len(o.Value), n)
	}
	for _, c := range o.Value {
		if c < '0' || c > '9' {
			return "", document.Refuse(document.KindJPDL, "file."+name, document.ErrMalformed, "%s: tag %s is not digits", name, o.Tag)
		}
	}
	return string(o.Value), nil
}

func date(name string, o tlv.Object) (time.Time, error) {
	t, err := eraDate(o.Value)
	if err != nil {
		return time.Time{}, document.Refuse(document.KindJPDL, "file."+name, document.ErrMalformed, "%s: tag %s: %v", name, o.Tag, err)
	}
	return t, nil
}

// ParseMatters decodes DF1/EF01.
func ParseMatters(b []byte) (Matters, error) {
	const name = "DF1/EF01"
	objs, _, err := objects(name, b, MaxMatters)
	if err != nil {
		return Matters{}, err
	}
	m := Matters{Categories: map[byte]time.Time{}}
	seen := map[tlv.Tag]bool{}
	for _, o := range objs {
		if seen[o.Tag] {
			return Matters{}, document.Refuse(document.KindJPDL, "file."+name, document.ErrMalformed, "%s: tag %s repeated", name, o.Tag)
		}
		seen[o.Tag] = true
		switch {
		case o.Tag == tagJISYear:
			if len(o.Value) != 1 {
				return Matters{}, document.Refuse(document.KindJPDL, "file."+name, document.ErrMalformed, "%s: JIS year has %d bytes", name, len(o.Value))
			}
			m.JISYear = o.Value[0]
		case o.Tag == tagName:
			m.Name, err = text(name, o)
		case o.Tag == tagKana:
			m.Kana, err = text(name, o)
		case o.Tag == tagAlias:
			m.Alias, err = text(name, o)
		case o.Tag == tagUnifiedName:
			m.UnifiedName, err = text(name, o)
		case o.Tag == tagBirth:
			m.Birth, err = date(name, o)
		case o.Tag == tagAddress:
			m.Address, err = text(name, o)
		case o.Tag == tagIssued:
			m.Issued, err = date(name, o)
		case o.Tag == tagRefNumber:
			m.RefNumber, err = digits(name, o, len(o.Value))
		case o.Tag == tagColour:
			m.Colour, err = text(name, o)
		case o.Tag == tagExpiry:
			m.Expiry, err = date(name, o)
		case o.Tag >= tagCond1 && o.Tag <= tagCond4:
			m.Conditions[o.Tag-tagCond1], err = text(name, o)
		case o.Tag == tagPSC:
			m.PSC, err = text(name, o)
		case o.Tag == tagNumber:
			m.Number, err = digits(name, o, 12)
		case o.Tag >= tagCatFirst && o.Tag <= tagCatLast:
			if len(o.Value) == 0 {
				continue // category not held
			}
			var t time.Time
			t, err = date(name, o)
			m.Categories[byte(o.Tag)] = t
		default:
			return Matters{}, unexpected(name, o)
		}
		if err != nil {
			return Matters{}, err
		}
	}
	for _, need := range []tlv.Tag{tagName, tagBirth, tagAddress, tagIssued, tagExpiry, tagPSC, tagNumber} {
		if !seen[need] {
			return Matters{}, document.Refuse(document.KindJPDL, "file."+name, document.ErrMalformed, "%s: mandatory tag %s missing", name, need)
		}
	}
	return m, nil
}

// ParseHonseki decodes DF1/EF02 本籍.
func ParseHonseki(b []byte) (jis.Text, error) {
	const name = "DF1/EF02"
	objs, _, err := objects(name, b, MaxHonseki)
	if err != nil {
		return jis.Text{}, err
	}
	if len(objs) != 1 || objs[0].Tag != tagHonseki {
		if len(objs) > 0 && objs[0].Tag != tagHonseki {
			return jis.Text{}, unexpected(name, objs[0])
		}
		return jis.Text{}, document.Refuse(document.KindJPDL, "file."+name, document.ErrMalformed, "%s: want one 本籍 object, got %d", name, len(objs))
	}
	return text(name, objs[0])
}

// Change is one change record from EF04 or EF06.
type Change struct {
	Date  time.Time
	Item  string // attribute name: "name", "kana", "address", "conditions", "remarks", "honseki"
	Value jis.Text
	PSC   jis.Text
}

var changeItems = map[tlv.Tag]string{
	tagChgName:    "name",
	tagChgKana:    "kana",
	tagChgAddress: "address",
	tagChgCond:    "conditions",
	tagChgCondDel: "conditions_removed",
	tagChgRemark:  "remarks",
	tagChgSpare:   "spare",
	tagChgHonseki: "honseki",
}

// ParseChanges decodes DF1/EF04 or DF1/EF06 (name is the file name for
// messages). An empty file, or one with only padding, has no changes.
func ParseChanges(name string, b []byte) ([]Change, error) {
	objs, _, err := objects(name, b, MaxChanges)
	if err != nil {
		return nil, err
	}
	var out []Change
	var cur *Change
	state := 0 // 0: want year or flag, 1: want date, 2: want item, 3: want PSC
	for _, o := range objs {
		bad := func(want string) error {
			return document.Refuse(document.KindJPDL, "file."+name, document.ErrMalformed, "%s: tag %s where %s was expected", name, o.Tag, want)
		}
		switch state {
		case 0:
			switch o.Tag {
			case tagChgFlag:
				if len(o.Value) != 1 {
					return nil, bad("a 1-byte 追記 flag")
				}
				continue
			case tagChgJISYear:
				if len(o.Value) != 1 {
					return nil, bad("a 1-byte JIS year")
				}
				out = append(out, Change{})
				cur = &out[len(out)-1]
				state = 1
				continue
			}
			if _, ok := foreign[o.Tag]; ok {
				return nil, unexpected(name, o)
			}
			return nil, bad("a change record")
		case 1:
			if o.Tag != tagChgDate {
				return nil, bad("the change date")
			}
			if cur.Date, err = date(name, o); err != nil {
				return nil, err
			}
			state = 2
		case 2:
			item, ok := changeItems[o.Tag]
			if !ok {
				return nil, bad("a changed item")
			}
			if (name == "DF1/EF06") != (item == "honseki") {
				return nil, bad("an item that belongs in this file")
			}
			cur.Item = item
			if cur.Value, err = text(name, o); err != nil {
				return nil, err
			}
			state = 3
		case 3:
			if o.Tag != tagChgPSC {
				return nil, bad("the 公安委員会 of the change")
			}
			if cur.PSC, err = text(name, o); err != nil {
				return nil, err
			}
			state = 0
		}
	}
	if state != 0 {
		return nil, document.Refuse(document.KindJPDL, "file."+name, document.ErrMalformed, "%s: last change record is incomplete", name)
	}
	return out, nil
}

// Signature is DF1/EF07.
type Signature struct {
	Value   []byte
	Serial  []byte
	Issuer  []byte
	Subject []byte
	SKI     []byte
}

// ParseSignature decodes DF1/EF07.
func ParseSignature(b []byte) (Signature, error) {
	const name = "DF1/EF07"
	objs, _, err := objects(name, b, MaxSignature)
	if err != nil {
		return Signature{}, err
	}
	var s Signature
	seen := map[tlv.Tag]bool{}
	for _, o := range objs {
		if seen[o.Tag] {
			return Signature{}, document.Refuse(document.KindJPDL, "file."+name, document.ErrMalformed, "%s: tag %s repeated", name, o.Tag)
		}
		seen[o.Tag] = true
		v := bytes.Clone(o.Value)
		switch o.Tag {
		case tagSigValue:
			s.Value = v
		case tagSigSerial:
			s.Serial = v
		case tagSigIssuer:
			s.Issuer = v
		case tagSigSubject:
			s.Subject = v
		case tagSigSKI:
			s.SKI = v
		default:
			return Signature{}, unexpected(name, o)
		}
	}
	if s.Value == nil || len(s.SKI) == 0 {
		return Signature{}, document.Refuse(document.KindJPDL, "file."+name, document.ErrMalformed, "%s: signature value (B1) or key identifier (B5) missing", name)
	}
	return s, nil
}

// ParsePhoto decodes DF2/EF01 and returns the JPEG 2000 bytes.
func ParsePhoto(b []byte) ([]byte, error) {
	const name = "DF2/EF01"
	objs, _, err := objects(name, b, MaxPhoto)
	if err != nil {
		return nil, err
	}
	if len(objs) != 1 {
		return nil, document.Refuse(document.KindJPDL, "file."+name, document.ErrMalformed, "%s: want one photo object, got %d", name, len(objs))
	}
	if objs[0].Tag != tagPhoto {
		return nil, unexpected(name, objs[0])
	}
	if !isJPEG2000(objs[0].Value) {
		return nil, document.Refuse(document.KindJPDL, "file."+name, document.ErrMalformed, "%s: photo is not JPEG 2000", name)
	}
	return bytes.Clone(objs[0].Value), nil
}

// isJPEG2000 recognises a JP2 file (signature box) or a raw J2K codestream
// (SOC marker followed by SIZ).
func isJPEG2000(b []byte) bool {
	jp2 := []byte{0, 0, 0, 0x0C, 'j', 'P', ' ', ' ', 0x0D, 0x0A, 0x87, 0x0A}
	return bytes.HasPrefix(b, jp2) || bytes.HasPrefix(b, []byte{0xFF, 0x4F, 0xFF, 0x51})
}
