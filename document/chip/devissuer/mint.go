package devissuer

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/icao"
	"github.com/madoguchi/madoguchi/document/icao/icaotest"
	"github.com/madoguchi/madoguchi/document/internal/jis"
	"github.com/madoguchi/madoguchi/document/internal/tlv"
	"github.com/madoguchi/madoguchi/document/jpdl/jpdltest"
	"github.com/madoguchi/madoguchi/document/residence"
)

// ErrHolder reports holder data that cannot go on a chip of the kind.
var ErrHolder = errors.New("devissuer: holder data not representable")

// Limits on holder data.
const (
	MaxName    = 100     // bytes of Holder.Name
	MaxAddress = 200     // bytes of Holder.Address
	MaxPhoto   = 8 << 20 // bytes of Holder.Photo
)

// Holder is who a development chip is minted for.
type Holder struct {
	// Name as printed. Passports need Latin letters ("SURNAME GIVEN
	// NAMES"); licences take kanji, kana and ASCII (written full-width).
	Name  string
	Birth time.Time
	// Sex is "male", "female" or "" (unknown).
	Sex string
	// Address (Japanese cards); a fixed test address when empty.
	Address string
	// Photo is the face image: JPEG, PNG, PGM or JPEG 2000.
	Photo []byte
}

const defaultAddress = "東京都千代田区霞が関１丁目１番１号"

// Mint returns the chip files of a kind-of-document for h, issued at now,
// keyed by the canonical file names of package chip.
func (is *Issuers) Mint(kind document.Kind, h Holder, now time.Time) (map[string][]byte, error) {
	if h.Name == "" || len(h.Name) > MaxName || !utf8.ValidString(h.Name) || strings.ContainsAny(h.Name, "\x00\r\n") {
		return nil, fmt.Errorf("%w: name must be 1-%d bytes of text", ErrHolder, MaxName)
	}
	if h.Address == "" {
		h.Address = defaultAddress
	}
	if len(h.Address) > MaxAddress || !utf8.ValidString(h.Address) {
		return nil, fmt.Errorf("%w: address must be at most %d bytes of text", ErrHolder, MaxAddress)
	}
	if h.Birth.IsZero() || h.Birth.After(now) || h.Birth.Year() < 1900 {
		return nil, fmt.Errorf("%w: birth date must be between 1900 and today", ErrHolder)
	}
	if len(h.Photo) == 0 || len(h.Photo) > MaxPhoto {
		return nil, fmt.Errorf("%w: photo must be 1 byte to %d bytes", ErrHolder, MaxPhoto)
	}
	switch h.Sex {
	case "", "male", "female":
	default:
		return nil, fmt.Errorf("%w: sex must be male, female or empty", ErrHolder)
	}
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	switch kind {
	case document.KindJPDL:
		return is.mintJPDL(h, day)
	case document.KindMyNumber:
		return is.mintMyNumber(h, day)
	case document.KindResidence:
		return is.mintResidence(h, day)
	case document.KindICAO:
		return is.mintICAO(h, day, now)
	}
	return nil, fmt.Errorf("%w: unknown document kind %q", ErrHolder, kind)
}

func signSHA256(k *rsa.PrivateKey, msg []byte) ([]byte, error) {
	d := sha256.Sum256(msg)
	return rsa.SignPKCS1v15(nil, k, crypto.SHA256, d[:])
}

func randomDigits(n int) (string, error) {
	var b strings.Builder
	for range n {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			return "", err
		}
		b.WriteByte(byte('0' + d.Int64()))
	}
	return b.String(), nil
}

// --- driver's licence (document/jpdl) ---

// fullWidth writes ASCII as JIS X 0208 full-width characters.
func fullWidth(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == ' ':
			return '\u3000'
		case r > ' ' && r <= '~':
			return r + 0xFEE0
		}
		return r
	}, s)
}

func jisText(dst []byte, tag tlv.Tag, what, s string) ([]byte, error) {
	b, err := jis.Encode(fullWidth(s))
	if err != nil {
		return nil, fmt.Errorf("%w: the licence %s must be JIS X 0208 text (kanji, kana, Latin letters)", ErrHolder, what)
	}
	return tlv.Append(dst, tag, b), nil
}

func (is *Issuers) mintJPDL(h Holder, issued time.Time) (map[string][]byte, error) {
	photo, err := j2kPhoto(h.Photo, jpdlPhotoBytes)
	if err != nil {
		return nil, err
	}
	expiry := issued.AddDate(5, 0, 0)
	number, err := randomDigits(12)
	if err != nil {
		return nil, err
	}
	f := map[string][]byte{}
	f["mf_ef01"] = append(tlv.Append(nil, 0x45, append([]byte("010"), append(jpdltest.BCDDate(issued), jpdltest.BCDDate(expiry)...)...)), tlv.Append(nil, 0x46, []byte{0x01, 0x02})...)
	m := tlv.Append(nil, 0x11, []byte{0x02})
	for _, t := range []struct {
		tag       tlv.Tag
		what, val string
	}{{0x12, "name", h.Name}, {0x17, "address", h.Address}, {0x1A, "colour", "ブルー"}, {0x20, "issuer", "開発用公安委員会"}} {
		if m, err = jisText(m, t.tag, t.what, t.val); err != nil {
			return nil, err
		}
	}
	m = tlv.Append(m, 0x16, jpdltest.EraDate(h.Birth))
	m = tlv.Append(m, 0x18, jpdltest.EraDate(issued))
	m = tlv.Append(m, 0x19, []byte(number[:10]))
	m = tlv.Append(m, 0x1B, jpdltest.EraDate(expiry))
	m = tlv.Append(m, 0x21, []byte(number))
	m = tlv.Append(m, 0x26, jpdltest.EraDate(issued)) // 普通
	m = tlv.Append(m, 0x22, nil)                      // 二・小・原: not held
	f["df1_ef01"] = jpdltest.PadFF(m, 880)
	hon, err := jisText(nil, 0x31, "registered domicile", "東京都")
	if err != nil {
		return nil, err
	}
	f["df1_ef02"] = jpdltest.PadFF(hon, 256)
	f["df2_ef01"] = jpdltest.PadFF(tlv.Append(nil, 0x5F40, photo), len(photo)+64)
	msg := append(append(jpdltest.TrimFF(f["df1_ef01"]), jpdltest.TrimFF(f["df1_ef02"])...), jpdltest.TrimFF(f["df2_ef01"])...)
	sig, err := signSHA256(is.jpdlKey, msg)
	if err != nil {
		return nil, err
	}
	s := tlv.Append(nil, 0xB1, sig)
	s = tlv.Append(s, 0xB2, is.jpdlCert.SerialNumber.Bytes())
	s = tlv.Append(s, 0xB3, []byte(is.jpdlCert.Issuer.CommonName))
	s = tlv.Append(s, 0xB4, []byte(is.jpdlCert.Subject.CommonName))
	s = tlv.Append(s, 0xB5, is.jpdlCert.SubjectKeyId)
	f["df1_ef07"] = jpdltest.PadFF(s, 512)
	return f, nil
}

// --- My Number card (document/mynumber) ---

func sexCode(s string) string {
	switch s {
	case "male":
		return "1"
	case "female":
		return "2"
	}
	return "9"
}

func rawRSAKey(k *rsa.PublicKey) []byte {
	return tlv.Append(tlv.Append(nil, 0x82, big.NewInt(int64(k.E)).Bytes()), 0x81, k.N.Bytes())
}

// cvCert is a card-verifiable certificate of the AP key under the root.
func (is *Issuers) cvCert(label string) ([]byte, error) {
	body := append([]byte{}, is.mnRef[:]...)
	subj := make([]byte, 16)
	copy(subj, "MADOGUCHI-"+label)
	body = append(append(body, subj...), rawRSAKey(&is.mnAP.PublicKey)...)
	bodyTLV := tlv.Append(nil, 0x5F4E, body)
	sig, err := signSHA256(is.mnRoot, bodyTLV)
	if err != nil {
		return nil, err
	}
	return tlv.Append(nil, 0x7F21, tlv.Append(bodyTLV, 0x5F37, sig)), nil
}

func (is *Issuers) mintMyNumber(h Holder, issued time.Time) (map[string][]byte, error) {
	face, err := j2kPhoto(h.Photo, myNumberPhotoBytes)
	if err != nil {
		return nil, err
	}
	blank, err := blankPNG()
	if err != nil {
		return nil, err
	}
	f := map[string][]byte{}
	sex := sexCode(h.Sex)
	b := tlv.Append(nil, 0xDF21, []byte{0x00, 0x01, 0x02, 0x03})
	b = tlv.Append(b, 0xDF22, []byte(h.Name))
	b = tlv.Append(b, 0xDF23, []byte(h.Address))
	b = tlv.Append(b, 0xDF24, []byte(h.Birth.Format("20060102")))
	b = tlv.Append(b, 0xDF25, []byte(sex))
	f["textap_ef02"] = tlv.Append(nil, 0xFF20, b)
	// The number the signature covers is random and written nowhere: no
	// file minted here holds a My Number.
	num, err := randomDigits(12)
	if err != nil {
		return nil, err
	}
	mh := sha256.Sum256(tlv.Append(nil, 0x10, []byte(num)))
	bh := sha256.Sum256(f["textap_ef02"])
	signed := append(tlv.Append(nil, 0xDF31, mh[:]), tlv.Append(nil, 0xDF32, bh[:])...)
	sig, err := signSHA256(is.mnAP, signed)
	if err != nil {
		return nil, err
	}
	f["textap_ef03"] = tlv.Append(nil, 0xFF30, tlv.Append(signed, 0xDF33, sig))
	if f["textap_ef04"], err = is.cvCert("TEXT"); err != nil {
		return nil, err
	}
	v := tlv.Append(nil, 0xDF21, []byte{0x01})
	v = tlv.Append(v, 0xDF22, []byte(h.Birth.Format("20060102")))
	v = tlv.Append(v, 0xDF23, []byte(sex))
	v = tlv.Append(v, 0xDF24, rawRSAKey(&is.mnAP.PublicKey))
	v = tlv.Append(v, 0xDF25, blank) // name image
	v = tlv.Append(v, 0xDF26, blank) // address image
	v = tlv.Append(v, 0xDF27, face)
	vsig, err := signSHA256(is.mnAP, v)
	if err != nil {
		return nil, err
	}
	v = tlv.Append(v, 0xDF28, vsig)
	v = tlv.Append(v, 0xDF29, []byte(issued.AddDate(10, 0, 0).Format("20060102")))
	v = tlv.Append(v, 0xDF2A, blank)
	f["visualap_ef02"] = tlv.Append(nil, 0xFF20, v)
	if f["visualap_ef04"], err = is.cvCert("VISU"); err != nil {
		return nil, err
	}
	return f, nil
}

// --- residence card (document/residence) ---

func (is *Issuers) mintResidence(h Holder, issued time.Time) (map[string][]byte, error) {
	face, err := j2kPhoto(h.Photo, residence.FaceSize)
	if err != nil {
		return nil, err
	}
	front, err := frontTIFF(h.Photo, residence.FrontSize)
	if err != nil {
		return nil, err
	}
	f := map[string][]byte{}
	f["mf_ef01"] = append(tlv.Append(nil, 0xC0, []byte("13")), tlv.Append(nil, 0xC1, []byte(residence.ResidenceCard))...)
	f["df1_ef01"] = tlv.Append(nil, 0xD0, front)
	f["df1_ef02"] = tlv.Append(nil, 0xD1, face)
	f["df2_ef01"] = append(tlv.Append(nil, 0xD4, []byte(issued.Format("20060102"))), tlv.Append(nil, 0xD5, []byte(h.Address))...)
	msg := make([]byte, residence.FrontSize+residence.FaceSize)
	copy(msg, front)
	copy(msg[residence.FrontSize:], face)
	sig, err := signSHA256(is.resKey, msg)
	if err != nil {
		return nil, err
	}
	f["df3_ef01"] = append(tlv.Append(nil, 0xDA, sig), tlv.Append(nil, 0xDB, is.resSigner.Raw)...)
	return f, nil
}

// --- ICAO passport (document/icao) ---

// mrzName writes "SURNAME GIVEN NAMES" as the MRZ name field.
func mrzName(name string, width int) (string, error) {
	up := strings.ToUpper(strings.TrimSpace(name))
	for _, r := range up {
		if (r < 'A' || r > 'Z') && r != ' ' && r != '-' && r != '\'' {
			return "", fmt.Errorf("%w: a passport name must be Latin letters (SURNAME GIVEN NAMES)", ErrHolder)
		}
	}
	parts := strings.Fields(strings.NewReplacer("-", " ", "'", "").Replace(up))
	if len(parts) == 0 {
		return "", fmt.Errorf("%w: empty passport name", ErrHolder)
	}
	s := parts[0] + "<<" + strings.Join(parts[1:], "<")
	if len(s) > width {
		s = s[:width]
	}
	return s + strings.Repeat("<", width-len(s)), nil
}

func checkDigit(s string) string {
	c, _ := icao.CheckDigit(s)
	return string(c)
}

func (is *Issuers) mintICAO(h Holder, day, now time.Time) (map[string][]byte, error) {
	name, err := mrzName(h.Name, 39)
	if err != nil {
		return nil, err
	}
	jpg, w, ht, err := jpegPhoto(h.Photo)
	if err != nil {
		return nil, err
	}
	digits, err := randomDigits(7)
	if err != nil {
		return nil, err
	}
	num := "MD" + digits
	sex := map[string]string{"male": "M", "female": "F"}[h.Sex]
	if sex == "" {
		sex = "<"
	}
	dob := h.Birth.Format("060102")
	exp := day.AddDate(10, 0, 0).Format("060102")
	const state = "UTO"
	personal := strings.Repeat("<", 14)
	l1 := "P<" + state + name
	l2 := num + checkDigit(num) + state + dob + checkDigit(dob) + sex + exp + checkDigit(exp) + personal + checkDigit(personal)
	l2 += checkDigit(l2[0:10] + l2[13:20] + l2[21:43])
	if _, err := icao.ParseMRZ(l1 + l2); err != nil {
		return nil, fmt.Errorf("devissuer: built an MRZ that does not parse: %w", err)
	}
	dgs := map[int][]byte{1: tlv.Append(nil, 0x61, tlv.Append(nil, 0x5F1F, []byte(l1+l2)))}
	dgs[2] = dg2(jpg, w, ht)
	v := tlv.Append(nil, 0x5C, []byte{0x5F, 0x0E, 0x5F, 0x2B})
	v = tlv.Append(v, 0x5F0E, []byte(strings.TrimRight(name, "<")))
	v = tlv.Append(v, 0x5F2B, []byte(h.Birth.Format("20060102")))
	dgs[11] = tlv.Append(nil, 0x6B, v)
	sod, err := is.icao.SOD(dgs, icaotest.Options{Hash: crypto.SHA256})
	if err != nil {
		return nil, err
	}
	f := map[string][]byte{"sod": sod}
	for n, b := range dgs {
		f[fmt.Sprintf("dg%d", n)] = b
	}
	return f, nil
}

// dg2 wraps a JPEG in an ISO/IEC 19794-5 facial record inside DG2's
// biometric information template.
func dg2(img []byte, w, h int) []byte {
	rec := make([]byte, 20+12)
	binary.BigEndian.PutUint32(rec[0:4], uint32(len(rec)+len(img)))
	rec[20] = 1 // full frontal
	rec[21] = 0 // JPEG
	binary.BigEndian.PutUint16(rec[22:24], uint16(w))
	binary.BigEndian.PutUint16(rec[24:26], uint16(h))
	rec = append(rec, img...)
	hdr := []byte("FAC\x00010\x00")
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(14+len(rec)))
	hdr = binary.BigEndian.AppendUint16(hdr, 1)
	bdb := append(hdr, rec...)
	header := tlv.Append(nil, 0x80, []byte{1, 1})
	inst := tlv.Append(tlv.Append(nil, 0xA1, header), 0x5F2E, bdb)
	group := tlv.Append(tlv.Append(nil, 0x02, []byte{1}), 0x7F60, inst)
	return tlv.Append(nil, 0x75, tlv.Append(nil, 0x7F61, group))
}
