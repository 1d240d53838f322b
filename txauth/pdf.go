package txauth

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"image"
	"strings"
	"unicode/utf16"
)

// The printable card is a two-page A4 PDF written here with the standard
// library: page 1 carries the card's front at its real size (85.6 x 54 mm)
// as a 300 dpi image with cut marks; page 2 carries the back at the mirrored
// position, so that long-edge duplex printing puts it behind the front. The
// back says, in Japanese and English, never to photograph, copy or type
// the card anywhere, and that the bank never asks for the whole card.
// Latin text uses the standard Helvetica font; Japanese text uses the
// non-embedded Adobe-Japan1 font HeiseiKakuGo-W5 through the UniJIS-UCS2-H
// CMap, which every Japanese-capable PDF reader substitutes with its own
// Gothic font (no font file ships with the binary).

const (
	a4W, a4H   = 595.28, 841.89
	mmPt       = 72 / 25.4
	cardWPt    = 85.6 * mmPt
	cardHPt    = 54.0 * mmPt
	cardLeftPt = (a4W - cardWPt) / 2
	cardTopPt  = 110.0 // from the top of the page
)

// cardBackJA and cardBackEN are the back's text, one line each.
var cardBackJA = []string{
	"画像認証カード",
	"このカードを撮影・コピー・スキャンしないでください。",
	"カードの絵柄をメール・電話・ウェブ画面に入力しないでください。",
	"当社がカード全体の絵柄をお尋ねすることは決してありません。",
	"紛失・盗難のときは、すぐにお取引先へご連絡ください。",
}

var cardBackEN = []string{
	"Never photograph, copy or scan this card.",
	"Never type its pictures into an e-mail, a call or a web page.",
	"We will never ask you for the whole card.",
	"If it is lost or stolen, tell your bank at once.",
}

// cardPDF renders the printable card.
func cardPDF(front *image.NRGBA, serial string) ([]byte, error) {
	b := front.Bounds()
	raw := make([]byte, 0, b.Dx()*b.Dy()*3)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := front.NRGBAAt(x, y)
			raw = append(raw, c.R, c.G, c.B)
		}
	}
	var z bytes.Buffer
	zw, err := zlib.NewWriterLevel(&z, zlib.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}

	y0 := a4H - cardTopPt - cardHPt // card's lower edge, PDF coordinates
	var front1 strings.Builder
	fmt.Fprintf(&front1, "q %.3f 0 0 %.3f %.3f %.3f cm /Im1 Do Q\n", cardWPt, cardHPt, cardLeftPt, y0)
	cutMarks(&front1, cardLeftPt, y0)
	fmt.Fprintf(&front1, "BT /F2 14 Tf %.2f %.2f Td <%s> Tj ET\n", cardLeftPt, a4H-60, ucs2("画像認証カード（表）"))
	fmt.Fprintf(&front1, "BT /F1 10 Tf %.2f %.2f Td (%s) Tj ET\n", cardLeftPt, a4H-78, pdfString("Image authentication card - front. Serial "+serial))
	fmt.Fprintf(&front1, "BT /F2 9 Tf %.2f %.2f Td <%s> Tj ET\n", cardLeftPt, y0-24, ucs2("線に沿って切り取り、裏面とともに大切に保管してください。"))
	fmt.Fprintf(&front1, "BT /F1 8 Tf %.2f %.2f Td (%s) Tj ET\n", cardLeftPt, y0-38, pdfString("Cut along the marks. Print at 100 % (no scaling), double-sided, long-edge binding."))

	backX := a4W - cardLeftPt - cardWPt // mirrored for long-edge duplex
	var back strings.Builder
	cutMarks(&back, backX, y0)
	fmt.Fprintf(&back, "0.75 0.1 0.1 rg %.2f %.2f %.2f %.2f re f 0 g\n", backX, y0+cardHPt-22, cardWPt, 22.0)
	fmt.Fprintf(&back, "BT 1 g /F2 11 Tf %.2f %.2f Td <%s> Tj ET 0 g\n", backX+8, y0+cardHPt-16, ucs2(cardBackJA[0]))
	ty := y0 + cardHPt - 36
	for _, l := range cardBackJA[1:] {
		fmt.Fprintf(&back, "BT /F2 6.6 Tf %.2f %.2f Td <%s> Tj ET\n", backX+8, ty, ucs2(l))
		ty -= 10
	}
	ty -= 4
	for _, l := range cardBackEN {
		fmt.Fprintf(&back, "BT /F1 6.6 Tf %.2f %.2f Td (%s) Tj ET\n", backX+8, ty, pdfString(l))
		ty -= 9
	}
	fmt.Fprintf(&back, "BT /F1 7 Tf %.2f %.2f Td (%s) Tj ET\n", backX+8, y0+8, pdfString(serial))

	var out bytes.Buffer
	var offsets []int
	obj := func(body string, stream []byte) {
		offsets = append(offsets, out.Len())
		fmt.Fprintf(&out, "%d 0 obj\n%s", len(offsets), body)
		if stream != nil {
			out.WriteString("\nstream\n")
			out.Write(stream)
			out.WriteString("\nendstream")
		}
		out.WriteString("\nendobj\n")
	}
	out.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	fonts := "/Font << /F1 6 0 R /F2 7 0 R >>"
	obj("<< /Type /Catalog /Pages 2 0 R >>", nil)
	obj("<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>", nil)
	obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Resources << /XObject << /Im1 5 0 R >> %s >> /Contents 8 0 R >>", a4W, a4H, fonts), nil)
	obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Resources << %s >> /Contents 9 0 R >>", a4W, a4H, fonts), nil)
	obj(fmt.Sprintf("<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /FlateDecode /Length %d >>",
		b.Dx(), b.Dy(), z.Len()), z.Bytes())
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>", nil)
	obj("<< /Type /Font /Subtype /Type0 /BaseFont /HeiseiKakuGo-W5 /Encoding /UniJIS-UCS2-H /DescendantFonts [10 0 R] >>", nil)
	obj(fmt.Sprintf("<< /Length %d >>", front1.Len()), []byte(front1.String()))
	obj(fmt.Sprintf("<< /Length %d >>", back.Len()), []byte(back.String()))
	obj("<< /Type /Font /Subtype /CIDFontType0 /BaseFont /HeiseiKakuGo-W5 /CIDSystemInfo << /Registry (Adobe) /Ordering (Japan1) /Supplement 2 >> /FontDescriptor 11 0 R /DW 1000 >>", nil)
	obj("<< /Type /FontDescriptor /FontName /HeiseiKakuGo-W5 /Flags 4 /FontBBox [-92 -250 1010 922] /ItalicAngle 0 /Ascent 752 /Descent -271 /CapHeight 737 /StemV 114 >>", nil)
	xref := out.Len()
	fmt.Fprintf(&out, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&out, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&out, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return out.Bytes(), nil
}

// cutMarks draws short corner marks around a card at (x, y).
func cutMarks(b *strings.Builder, x, y float64) {
	b.WriteString("0.5 w 0.4 G\n")
	for _, c := range [][2]float64{{x, y}, {x + cardWPt, y}, {x, y + cardHPt}, {x + cardWPt, y + cardHPt}} {
		fmt.Fprintf(b, "%.2f %.2f m %.2f %.2f l S %.2f %.2f m %.2f %.2f l S\n", c[0]-12, c[1], c[0]-4, c[1], c[0]+4, c[1], c[0]+12, c[1])
		fmt.Fprintf(b, "%.2f %.2f m %.2f %.2f l S %.2f %.2f m %.2f %.2f l S\n", c[0], c[1]-12, c[0], c[1]-4, c[0], c[1]+4, c[0], c[1]+12)
	}
	b.WriteString("0 G\n")
}

// ucs2 is s as big-endian UTF-16 in hex, for the UniJIS-UCS2-H CMap.
func ucs2(s string) string {
	var b strings.Builder
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, "%04X", u)
	}
	return b.String()
}

// pdfString escapes a Latin-1 string for a PDF literal.
func pdfString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`)
	return r.Replace(s)
}
