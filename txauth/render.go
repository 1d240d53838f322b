package txauth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
)

// Card front geometry at print resolution: an ID-1 card (85.6 x 54 mm) at
// 300 dpi is 1011 x 638 pixels.
const (
	CardDPI     = 300
	cardW       = 1011
	cardH       = 638
	cardMarginX = 60 // row labels
	cardMarginY = 70 // column labels and title band
	cellW       = (cardW - cardMarginX - 15) / CardCols
	cellH       = (cardH - cardMarginY - 15) / CardRows
	cellPicture = 80 // picture side inside a cell, pixels
)

// renderCardFront draws the grid: column labels 1-0 on top, row labels A-E
// on the left, one picture per cell, thin grid lines, the serial at the
// bottom right. Text beyond labels and serial is added by the PDF.
func renderCardFront(lay *layout, serial string) (*image.NRGBA, error) {
	img := image.NewNRGBA(image.Rect(0, 0, cardW, cardH))
	fill(img, img.Bounds(), color.NRGBA{255, 255, 255, 255})
	ink := color.NRGBA{30, 30, 60, 255}
	line := color.NRGBA{150, 160, 190, 255}
	gx0, gy0 := cardMarginX, cardMarginY-10
	for c := range CardCols {
		label := string(rune('0' + (c+1)%10))
		drawText(img, label, gx0+c*cellW+cellW/2-9, gy0-36, 4, ink)
	}
	for r := range CardRows {
		drawText(img, string(rune('A'+r)), 18, gy0+r*cellH+cellH/2-14, 4, ink)
		for c := range CardCols {
			pic, err := pictureImage(lay.Cells[r*CardCols+c])
			if err != nil {
				return nil, err
			}
			x := gx0 + c*cellW + (cellW-cellPicture)/2
			y := gy0 + r*cellH + (cellH-cellPicture)/2
			drawScaled(img, pic, image.Rect(x, y, x+cellPicture, y+cellPicture), nil)
		}
	}
	for r := 0; r <= CardRows; r++ {
		fill(img, image.Rect(gx0, gy0+r*cellH, gx0+CardCols*cellW+1, gy0+r*cellH+2), line)
	}
	for c := 0; c <= CardCols; c++ {
		fill(img, image.Rect(gx0+c*cellW, gy0, gx0+c*cellW+2, gy0+CardRows*cellH+1), line)
	}
	drawText(img, serial, cardW-len(serial)*12-20, cardH-22, 2, ink)
	return img, nil
}

// renderCandidate draws one candidate picture for one challenge: the
// picture at a slightly different position and size on a slightly tinted
// background with sensor-like noise, all derived from the challenge's own
// seed. The same candidate of the same challenge always renders the same
// bytes (a reload changes nothing), while the bytes of a picture differ
// from one challenge to the next, so no image hash or URL identifies a
// picture across challenges.
func renderCandidate(picture int, seed []byte, slot int) ([]byte, error) {
	pic, err := pictureImage(picture)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, seed)
	m.Write([]byte{byte(slot >> 8), byte(slot)})
	r := rand.New(rand.NewChaCha8([32]byte(m.Sum(nil))))
	const side = 96
	img := image.NewNRGBA(image.Rect(0, 0, side, side))
	bg := color.NRGBA{uint8(238 + r.IntN(18)), uint8(238 + r.IntN(18)), uint8(238 + r.IntN(18)), 255}
	fill(img, img.Bounds(), bg)
	size := 68 + r.IntN(9)
	x, y := (side-size)/2+r.IntN(7)-3, (side-size)/2+r.IntN(7)-3
	drawScaled(img, pic, image.Rect(x, y, x+size, y+size), r)
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func fill(img *image.NRGBA, r image.Rectangle, c color.NRGBA) {
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetNRGBA(x, y, c)
		}
	}
}

// drawScaled draws src scaled into dst (bilinear, alpha-blended over what is
// there); noise, if set, adds ±3 to each channel.
func drawScaled(dst *image.NRGBA, src *image.NRGBA, to image.Rectangle, noise *rand.Rand) {
	sw, sh := src.Bounds().Dx(), src.Bounds().Dy()
	for y := to.Min.Y; y < to.Max.Y; y++ {
		fy := (float64(y-to.Min.Y)+0.5)*float64(sh)/float64(to.Dy()) - 0.5
		for x := to.Min.X; x < to.Max.X; x++ {
			if !(image.Point{x, y}).In(dst.Bounds()) {
				continue
			}
			fx := (float64(x-to.Min.X)+0.5)*float64(sw)/float64(to.Dx()) - 0.5
			var px [4]float64
			x0, y0 := int(fx), int(fy)
			if fx < 0 {
				x0 = -1
			}
			if fy < 0 {
				y0 = -1
			}
			ax, ay := fx-float64(x0), fy-float64(y0)
			for _, t := range [4]struct {
				dx, dy int
				w      float64
			}{{0, 0, (1 - ax) * (1 - ay)}, {1, 0, ax * (1 - ay)}, {0, 1, (1 - ax) * ay}, {1, 1, ax * ay}} {
				sx, sy := min(max(x0+t.dx, 0), sw-1), min(max(y0+t.dy, 0), sh-1)
				c := src.NRGBAAt(src.Bounds().Min.X+sx, src.Bounds().Min.Y+sy)
				a := float64(c.A) / 255
				px[0] += t.w * float64(c.R) * a
				px[1] += t.w * float64(c.G) * a
				px[2] += t.w * float64(c.B) * a
				px[3] += t.w * a
			}
			d := dst.NRGBAAt(x, y)
			var out [3]float64
			for i, v := range []uint8{d.R, d.G, d.B} {
				out[i] = px[i] + float64(v)*(1-px[3])
				if noise != nil {
					out[i] += float64(noise.IntN(7) - 3)
				}
			}
			dst.SetNRGBA(x, y, color.NRGBA{clamp8(out[0]), clamp8(out[1]), clamp8(out[2]), 255})
		}
	}
}

func clamp8(v float64) uint8 { return uint8(min(max(v+0.5, 0), 255)) }

// glyphs is a 5x7 bitmap font for the characters printed on the card.
var glyphs = map[rune][7]string{
	'0': {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."},
	'1': {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'2': {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"},
	'3': {"####.", "....#", "....#", ".###.", "....#", "....#", "####."},
	'4': {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."},
	'5': {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."},
	'6': {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."},
	'7': {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."},
	'8': {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."},
	'9': {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."},
	'A': {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'B': {"####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."},
	'C': {".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."},
	'D': {"####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."},
	'E': {"#####", "#....", "#....", "####.", "#....", "#....", "#####"},
	'F': {"#####", "#....", "#....", "####.", "#....", "#....", "#...."},
	'G': {".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"},
	'H': {"#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'J': {"..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."},
	'K': {"#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"},
	'M': {"#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"},
	'N': {"#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"},
	'P': {"####.", "#...#", "#...#", "####.", "#....", "#....", "#...."},
	'Q': {".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"},
	'R': {"####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"},
	'S': {".####", "#....", "#....", ".###.", "....#", "....#", "####."},
	'T': {"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."},
	'V': {"#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."},
	'W': {"#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."},
	'X': {"#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"},
	'Y': {"#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."},
	'Z': {"#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"},
	'-': {".....", ".....", ".....", "#####", ".....", ".....", "....."},
}

// drawText draws s with the 5x7 font, each font pixel scale x scale.
func drawText(img *image.NRGBA, s string, x, y, scale int, c color.NRGBA) {
	for _, ch := range s {
		if g, ok := glyphs[ch]; ok {
			for gy, row := range g {
				for gx, p := range row {
					if p == '#' {
						fill(img, image.Rect(x+gx*scale, y+gy*scale, x+(gx+1)*scale, y+(gy+1)*scale), c)
					}
				}
			}
		}
		x += 6 * scale
	}
}
