package imaging

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"
)

// Synthetic captures: a card texture (ID-1 proportions, a printed frame,
// text-like bars, a portrait block) projected by a pinhole camera onto a
// textured background, with optional thickness band, blur, glare and
// exposure changes. Every test image is generated here; none is committed.

const (
	cardW, cardH = 856, 540 // texture pixels, 10 px per mm
)

// cardSpec describes one synthetic card's printed face.
type cardSpec struct {
	seed     uint64
	base     color.RGBA // background tint of the card face
	portrait bool       // draw a portrait block (front side)
	faceTex  image.Image
}

// portraitRect is where the portrait sits on the texture (right side, as on
// Japanese driver's licences, My Number and residence cards).
var portraitRect = image.Rect(600, 150, 810, 420)

func cardTexture(s cardSpec) *image.RGBA {
	r := rand.New(rand.NewPCG(s.seed, 7))
	m := image.NewRGBA(image.Rect(0, 0, cardW, cardH))
	for y := range cardH {
		for x := range cardW {
			// A gentle guilloche-like modulation of the base tint.
			f := 12 * math.Sin(float64(x)/23+3*math.Sin(float64(y)/41))
			m.SetRGBA(x, y, color.RGBA{clamp8(float64(s.base.R) + f), clamp8(float64(s.base.G) + f), clamp8(float64(s.base.B) - f), 255})
		}
	}
	fill := func(rc image.Rectangle, c color.RGBA) {
		for y := rc.Min.Y; y < rc.Max.Y; y++ {
			for x := rc.Min.X; x < rc.Max.X; x++ {
				m.SetRGBA(x, y, c)
			}
		}
	}
	dark := color.RGBA{30, 30, 40, 255}
	// Header band and text bars.
	fill(image.Rect(30, 25, 826, 60), color.RGBA{uint8(r.IntN(120)), uint8(60 + r.IntN(120)), 160, 255})
	right := 570
	if !s.portrait {
		right = 826
	}
	for y := 85; y < 500; y += 38 + r.IntN(10) {
		x := 40
		for x < right-40 {
			n := 20 + r.IntN(90)
			if x+n > right {
				break
			}
			fill(image.Rect(x, y, x+n, y+16+r.IntN(6)), dark)
			x += n + 10 + r.IntN(25)
		}
	}
	if s.portrait {
		if s.faceTex != nil {
			b := s.faceTex.Bounds()
			for y := portraitRect.Min.Y; y < portraitRect.Max.Y; y++ {
				for x := portraitRect.Min.X; x < portraitRect.Max.X; x++ {
					sx := b.Min.X + (x-portraitRect.Min.X)*b.Dx()/portraitRect.Dx()
					sy := b.Min.Y + (y-portraitRect.Min.Y)*b.Dy()/portraitRect.Dy()
					m.Set(x, y, s.faceTex.At(sx, sy))
				}
			}
		} else {
			fill(portraitRect, color.RGBA{150, 170, 190, 255})
			c := image.Pt(portraitRect.Min.X+portraitRect.Dx()/2, portraitRect.Min.Y+portraitRect.Dy()/2)
			for y := portraitRect.Min.Y; y < portraitRect.Max.Y; y++ {
				for x := portraitRect.Min.X; x < portraitRect.Max.X; x++ {
					dx, dy := float64(x-c.X)/70, float64(y-c.Y+10)/95
					if dx*dx+dy*dy < 1 {
						m.SetRGBA(x, y, color.RGBA{220, 180, 150, 255})
					}
				}
			}
		}
	}
	return m
}

func clamp8(f float64) uint8 { return uint8(min(max(math.Round(f), 0), 255)) }

// pose places the card in front of a pinhole camera.
type pose struct {
	tiltX, tiltY, roll float64 // degrees: top away from camera, right away, in-plane
	dist               float64 // mm from the camera
	shiftX, shiftY     float64 // mm
	halfH              float64 // card half height in mm (0: ID-1, 26.99)
}

// project returns the image positions of the card's corners (texture order:
// top left, top right, bottom right, bottom left) in a w x h image whose
// focal length is 0.9*w pixels.
func (p pose) project(w, h int) [4]Point {
	f := 0.9 * float64(w)
	ax, ay, az := p.tiltX*math.Pi/180, p.tiltY*math.Pi/180, p.roll*math.Pi/180
	hh := p.halfH
	if hh == 0 {
		hh = 26.99
	}
	var out [4]Point
	for i, c := range [4][2]float64{{-42.8, -hh}, {42.8, -hh}, {42.8, hh}, {-42.8, hh}} {
		x, y, z := c[0], c[1], 0.0
		// In-plane roll, then tilt about x (top away: y<0 goes to +z), then about y.
		x, y = x*math.Cos(az)-y*math.Sin(az), x*math.Sin(az)+y*math.Cos(az)
		y, z = y*math.Cos(ax), -y*math.Sin(ax)
		x, z = x*math.Cos(ay)-z*math.Sin(ay), x*math.Sin(ay)+z*math.Cos(ay)
		x += p.shiftX
		y += p.shiftY
		z += p.dist
		out[i] = Point{float64(w)/2 + f*x/z, float64(h)/2 + f*y/z}
	}
	return out
}

// scene describes one synthetic capture.
type scene struct {
	w, h    int
	card    cardSpec
	pose    pose
	bgSeed  uint64
	band    float64 // thickness band width in pixels along the near side (0: none)
	blur    int     // box-blur radius, 3 passes
	glare   float64 // glare blob radius as a fraction of the card height (0: none)
	gain    float64 // exposure multiplier (0: 1)
	offset  float64 // added after gain
	noCard  bool
	texture *image.RGBA // precomputed card texture (optional)
}

func (s scene) corners() [4]Point { return s.pose.project(s.w, s.h) }

func (s scene) render() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, s.w, s.h))
	r := rand.New(rand.NewPCG(s.bgSeed, 11))
	// Background: a wood-like gradient with noise.
	for y := range s.h {
		for x := range s.w {
			v := 90 + 30*math.Sin(float64(x+2*y)/57) + 10*r.NormFloat64()
			img.SetRGBA(x, y, color.RGBA{clamp8(v + 20), clamp8(v), clamp8(v - 25), 255})
		}
	}
	if !s.noCard {
		tex := s.texture
		if tex == nil {
			tex = cardTexture(s.card)
		}
		c := s.corners()
		if s.band > 0 {
			s.drawBand(img, c)
		}
		drawWarped(img, tex, c)
		if s.glare > 0 {
			ctr := mid(c[0], c[2])
			rad := s.glare * dist(c[1], c[2])
			for y := range s.h {
				for x := range s.w {
					d := dist(Point{float64(x) + 0.5, float64(y) + 0.5}, ctr.add(Point{rad * 0.3, -rad * 0.2}))
					if d < rad {
						img.SetRGBA(x, y, color.RGBA{255, 255, 255, 255})
					}
				}
			}
		}
	}
	for range 3 {
		if s.blur > 0 {
			img = boxBlurRGBA(img, s.blur)
		}
	}
	if s.gain != 0 || s.offset != 0 {
		g := s.gain
		if g == 0 {
			g = 1
		}
		for i := range img.Pix {
			if i%4 != 3 {
				img.Pix[i] = clamp8(float64(img.Pix[i])*g + s.offset)
			}
		}
	}
	return img
}

// drawBand paints the card's visible edge: a strip of width s.band pixels
// beyond the longer of the two horizontal sides (the one nearer the camera).
func (s scene) drawBand(img *image.RGBA, c [4]Point) {
	a, b := c[3], c[2] // bottom side
	if dist(c[0], c[1]) > dist(c[3], c[2]) {
		a, b = c[0], c[1]
	}
	ctr := mid(c[0], c[2])
	d := b.sub(a)
	n := Point{-d.Y, d.X}.scale(1 / d.norm())
	if n.dot(mid(a, b).sub(ctr)) < 0 {
		n = n.scale(-1)
	}
	q := [4]Point{a, b, b.add(n.scale(s.band)), a.add(n.scale(s.band))}
	fillPoly(img, q, color.RGBA{60, 60, 60, 255})
}

func fillPoly(img *image.RGBA, q [4]Point, col color.RGBA) {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			p := Point{float64(x) + 0.5, float64(y) + 0.5}
			in := true
			var sgn float64
			for i := range 4 {
				cr := q[(i+1)%4].sub(q[i]).cross(p.sub(q[i]))
				if sgn == 0 {
					sgn = cr
				} else if cr*sgn < 0 {
					in = false
					break
				}
			}
			if in {
				img.SetRGBA(x, y, col)
			}
		}
	}
}

// drawWarped paints tex into img through the homography taking the texture
// rectangle to the corners c, with 2x2 supersampling.
func drawWarped(img *image.RGBA, tex *image.RGBA, c [4]Point) {
	hm, ok := rectToQuad(float64(cardW), float64(cardH), c)
	if !ok {
		panic("degenerate test pose")
	}
	inv, ok := invert(hm)
	if !ok {
		panic("degenerate test pose")
	}
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, p := range c {
		minX, minY, maxX, maxY = math.Min(minX, p.X), math.Min(minY, p.Y), math.Max(maxX, p.X), math.Max(maxY, p.Y)
	}
	b := img.Bounds()
	for y := max(int(minY)-1, b.Min.Y); y < min(int(maxY)+2, b.Max.Y); y++ {
		for x := max(int(minX)-1, b.Min.X); x < min(int(maxX)+2, b.Max.X); x++ {
			var acc [3]float64
			n := 0
			for _, o := range [4][2]float64{{0.25, 0.25}, {0.75, 0.25}, {0.25, 0.75}, {0.75, 0.75}} {
				uv := inv.apply(float64(x)+o[0], float64(y)+o[1])
				if uv.X < 0 || uv.Y < 0 || uv.X >= cardW || uv.Y >= cardH {
					continue
				}
				t := tex.RGBAAt(int(uv.X), int(uv.Y))
				acc[0] += float64(t.R)
				acc[1] += float64(t.G)
				acc[2] += float64(t.B)
				n++
			}
			if n == 0 {
				continue
			}
			bg := img.RGBAAt(x, y)
			f := float64(n) / 4
			img.SetRGBA(x, y, color.RGBA{
				clamp8(acc[0]/4 + float64(bg.R)*(1-f)),
				clamp8(acc[1]/4 + float64(bg.G)*(1-f)),
				clamp8(acc[2]/4 + float64(bg.B)*(1-f)), 255})
		}
	}
}

func boxBlurRGBA(src *image.RGBA, r int) *image.RGBA {
	b := src.Bounds()
	tmp := image.NewRGBA(b)
	out := image.NewRGBA(b)
	w, h := b.Dx(), b.Dy()
	for y := range h {
		for x := range w {
			var s [3]int
			for d := -r; d <= r; d++ {
				p := src.RGBAAt(min(max(x+d, 0), w-1), y)
				s[0] += int(p.R)
				s[1] += int(p.G)
				s[2] += int(p.B)
			}
			n := 2*r + 1
			tmp.SetRGBA(x, y, color.RGBA{uint8(s[0] / n), uint8(s[1] / n), uint8(s[2] / n), 255})
		}
	}
	for y := range h {
		for x := range w {
			var s [3]int
			for d := -r; d <= r; d++ {
				p := tmp.RGBAAt(x, min(max(y+d, 0), h-1))
				s[0] += int(p.R)
				s[1] += int(p.G)
				s[2] += int(p.B)
			}
			n := 2*r + 1
			out.SetRGBA(x, y, color.RGBA{uint8(s[0] / n), uint8(s[1] / n), uint8(s[2] / n), 255})
		}
	}
	return out
}

var (
	frontSpec = cardSpec{seed: 1, base: color.RGBA{225, 235, 215, 255}, portrait: true}
	backSpec  = cardSpec{seed: 2, base: color.RGBA{235, 235, 230, 255}}
	otherSpec = cardSpec{seed: 3, base: color.RGBA{200, 215, 240, 255}, portrait: true}
	flatPose  = pose{roll: 4, dist: 170}
	tiltPose  = pose{tiltX: 35, roll: 3, dist: 175, shiftY: -3}
)
