package face

import (
	"image"
	"image/color"
	"math"
	"testing"
)

// templateLandmarks places dlib's mean face (points 17..67; 0..16 on a
// plausible jaw) in a size x size chip with dlib's padding, then maps it
// through the similarity (scale, angle, tx, ty).
func templateLandmarks(size int, scale, angle, tx, ty float64) [68]Point {
	var lm [68]Point
	p := dlibPadding
	place := func(x, y float64) Point {
		cx := (p + x) / (2*p + 1) * float64(size)
		cy := (p + y) / (2*p + 1) * float64(size)
		c, s := math.Cos(angle), math.Sin(angle)
		return Point{float32(scale*(c*cx-s*cy) + tx), float32(scale*(s*cx+c*cy) + ty)}
	}
	for i := 0; i < 17; i++ { // jaw: an arc from ear to ear below the eyes
		a := math.Pi * float64(i) / 16
		lm[i] = place(0.490127-0.49*math.Cos(a), 0.2+0.75*math.Sin(a)) // centred on the mean face's midline
	}
	for i := 17; i < 68; i++ {
		lm[i] = place(dlibMeanFace[i-17][0], dlibMeanFace[i-17][1])
	}
	return lm
}

func TestFitSimilarity(t *testing.T) {
	want := similarity{a: 1.7 * math.Cos(0.35), b: 1.7 * math.Sin(0.35), tx: 12.5, ty: -4}
	var from, to [][2]float64
	for _, p := range [][2]float64{{0, 0}, {10, 3}, {-4, 8}, {7, -9}} {
		x, y := want.apply(p[0], p[1])
		from = append(from, p)
		to = append(to, [2]float64{x, y})
	}
	got, ok := fitSimilarity(from, to)
	if !ok {
		t.Fatal("fitSimilarity = not ok")
	}
	for _, d := range []float64{got.a - want.a, got.b - want.b, got.tx - want.tx, got.ty - want.ty} {
		if math.Abs(d) > 1e-9 {
			t.Fatalf("fitSimilarity = %+v, want %+v", got, want)
		}
	}
	if _, ok := fitSimilarity([][2]float64{{1, 1}, {1, 1}}, [][2]float64{{0, 0}, {2, 2}}); ok {
		t.Errorf("fitSimilarity(coincident points) ok, want degenerate")
	}
}

// TestDlibChipMapConvention checks dlib's corner convention: landmarks that
// already sit on the template give a chip rect of exactly size x size
// centred on the chip, whose corners (0,0), (size,0), (0,size) map to chip
// pixels (0,0), (size-1,0), (0,size-1).
func TestDlibChipMapConvention(t *testing.T) {
	lm := templateLandmarks(ChipSize, 1, 0, 0, 0)
	m, ok := dlibChipMap(&lm, ChipSize, dlibPadding)
	if !ok {
		t.Fatal("dlibChipMap not ok")
	}
	k := float64(ChipSize) / float64(ChipSize-1)
	want := chipMap{k, 0, 0, 0, k, 0}
	for i := range m {
		if math.Abs(m[i]-want[i]) > 1e-5 {
			t.Fatalf("dlibChipMap(template) = %v, want %v", m, want)
		}
	}
}

// TestDlibChipUndoesRotation draws two bright eyes on a face rotated by
// 30 degrees and scaled by 1.6, and checks they land on the template's eye
// positions in the chip.
func TestDlibChipUndoesRotation(t *testing.T) {
	const angle, scale = math.Pi / 6, 1.6
	lm := templateLandmarks(ChipSize, scale, angle, 120, 40)
	img := image.NewRGBA(image.Rect(0, 0, 420, 420))
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 255
	}
	disc := func(c Point) {
		for y := -6; y <= 6; y++ {
			for x := -6; x <= 6; x++ {
				if x*x+y*y <= 36 {
					img.SetRGBA(int(c[0])+x, int(c[1])+y, color.RGBA{255, 255, 255, 255})
				}
			}
		}
	}
	lx, ly := mean(&lm, 36, 42)
	rx, ry := mean(&lm, 42, 48)
	disc(Point{float32(lx), float32(ly)})
	disc(Point{float32(rx), float32(ry)})

	chip, inFrame, ok := DlibChip(img, &lm, ChipSize)
	if !ok || inFrame != 1 {
		t.Fatalf("DlibChip = ok %v, inFrame %v; want ok, 1", ok, inFrame)
	}
	tl := templateLandmarks(ChipSize, 1, 0, 0, 0)
	for _, eye := range [][2]int{{36, 42}, {42, 48}} {
		ex, ey := mean(&tl, eye[0], eye[1])
		if c := chip.RGBAAt(int(math.Round(ex)), int(math.Round(ey))); c.R < 200 {
			t.Errorf("chip at template eye (%.0f,%.0f) = %v, want bright", ex, ey, c)
		}
	}
	if c := chip.RGBAAt(75, 120); c.R != 0 {
		t.Errorf("chip at mouth = %v, want dark", c)
	}
}

func TestDlibChipPartlyOutside(t *testing.T) {
	lm := templateLandmarks(ChipSize, 1, 0, -60, 0) // face hanging off the left edge
	img := image.NewRGBA(image.Rect(0, 0, 200, 200))
	_, inFrame, ok := DlibChip(img, &lm, ChipSize)
	if !ok || !(inFrame > 0.5 && inFrame < 0.7) {
		t.Errorf("DlibChip(off the edge) inFrame = %v, want about 0.6", inFrame)
	}
}

func TestDlibChipDownsamples(t *testing.T) {
	// A face 6x larger than the chip: the pyramid path must still map the
	// eyes to the template eyes.
	lm := templateLandmarks(ChipSize, 6, 0, 10, 10)
	img := image.NewRGBA(image.Rect(0, 0, 950, 950))
	lx, ly := mean(&lm, 36, 42)
	for y := -30; y <= 30; y++ {
		for x := -30; x <= 30; x++ {
			img.SetRGBA(int(lx)+x, int(ly)+y, color.RGBA{255, 255, 255, 255})
		}
	}
	chip, _, ok := DlibChip(img, &lm, ChipSize)
	if !ok {
		t.Fatal("DlibChip not ok")
	}
	tl := templateLandmarks(ChipSize, 1, 0, 0, 0)
	ex, ey := mean(&tl, 36, 42)
	if c := chip.RGBAAt(int(math.Round(ex)), int(math.Round(ey))); c.R < 200 {
		t.Errorf("chip at template left eye = %v, want bright", c)
	}
}

// TestFaceAPIAlignBoxGolden checks FaceAPIAlignBox against face-api's own
// alignBox recorded by the reference harness.
func TestFaceAPIAlignBoxGolden(t *testing.T) {
	g := readPipelineGolden(t)
	n := 0
	for _, im := range g.Images {
		if len(im.FaceAPI.Landmarks) != 68 {
			continue
		}
		var lm [68]Point
		for i, p := range im.FaceAPI.Landmarks {
			lm[i] = Point(p)
		}
		if got := FaceAPIAlignBox(&lm); got != Box(im.FaceAPI.AlignBox) {
			t.Errorf("FaceAPIAlignBox(%s) = %v, want %v", im.File, got, im.FaceAPI.AlignBox)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no golden faces")
	}
}

func TestFaceAPIChip(t *testing.T) {
	// A 2x1 crop at (1,1) of a 4x3 image: red 100 then red 200. Padded to
	// 2x2 (the extra row goes after), resized to 4x4 with TF's legacy
	// bilinear rule (src = dst*0.5).
	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	img.SetRGBA(1, 1, color.RGBA{100, 0, 0, 255})
	img.SetRGBA(2, 1, color.RGBA{200, 0, 0, 255})
	chip, _, ok := FaceAPIChip(img, Box{1.7, 1.2, 2.1, 1.5}, 4) // floors to (1,1,2,1)
	if !ok {
		t.Fatal("FaceAPIChip not ok")
	}
	want := [4][4]uint8{
		{100, 150, 200, 200},
		{50, 75, 100, 100},
		{0, 0, 0, 0},
		{0, 0, 0, 0},
	}
	for y := 0; y < 4; y++ {
		for x := 0; x < 4; x++ {
			if got := chip.RGBAAt(x, y).R; got != want[y][x] {
				t.Errorf("FaceAPIChip pixel (%d,%d) = %d, want %d", x, y, got, want[y][x])
			}
		}
	}
	if _, _, ok := FaceAPIChip(img, Box{10, 10, 5, 5}, 4); ok {
		t.Errorf("FaceAPIChip(box outside image) ok, want not ok")
	}
}

func TestMirror(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 3, 1))
	for x := 0; x < 3; x++ {
		img.SetRGBA(x, 0, color.RGBA{uint8(10 * (x + 1)), 0, 0, 255})
	}
	m := mirror(img)
	for x, want := range []uint8{30, 20, 10} {
		if got := m.RGBAAt(x, 0).R; got != want {
			t.Errorf("mirror pixel %d = %d, want %d", x, got, want)
		}
	}
}
