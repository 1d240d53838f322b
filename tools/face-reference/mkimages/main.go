//go:build ignore

// Command mkimages derives the committed test images of face/testdata/golden/images
// from scikit-image's public-domain astronaut.png and CC0 chelsea.png:
//
//	go run tools/face-reference/mkimages/main.go <astronaut.png> <chelsea.png> <out dir>
package main

import (
	"image"
	"image/color"
	"image/png"
	"os"
)

func load(p string) *image.RGBA {
	f, _ := os.Open(p)
	defer f.Close()
	m, err := png.Decode(f)
	if err != nil {
		panic(err)
	}
	b := m.Bounds()
	r := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			r.Set(x, y, m.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	return r
}
func save(p string, m image.Image) { f, _ := os.Create(p); png.Encode(f, m); f.Close() }
func crop(m *image.RGBA, r image.Rectangle) *image.RGBA {
	o := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	for y := 0; y < r.Dy(); y++ {
		for x := 0; x < r.Dx(); x++ {
			o.Set(x, y, m.At(r.Min.X+x, r.Min.Y+y))
		}
	}
	return o
}

// half: box-filter downscale by 2
func half(m *image.RGBA) *image.RGBA {
	w, h := m.Bounds().Dx()/2, m.Bounds().Dy()/2
	o := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var s [3]int
			for dy := 0; dy < 2; dy++ {
				for dx := 0; dx < 2; dx++ {
					c := m.RGBAAt(2*x+dx, 2*y+dy)
					s[0] += int(c.R)
					s[1] += int(c.G)
					s[2] += int(c.B)
				}
			}
			o.SetRGBA(x, y, color.RGBA{uint8((s[0] + 2) / 4), uint8((s[1] + 2) / 4), uint8((s[2] + 2) / 4), 255})
		}
	}
	return o
}
func main() {
	a := load(os.Args[1])
	c := load(os.Args[2])
	out := os.Args[3]
	save(out+"/astronaut_512.png", a)
	face := crop(a, image.Rect(80, 0, 330, 250))
	save(out+"/astronaut_face_250.png", face)
	// landscape, non-square: exercises the bottom/right padding of SSD and the x/y scaling
	save(out+"/astronaut_wide_256x170.png", half(crop(a, image.Rect(0, 0, 512, 340))).SubImage(image.Rect(0, 0, 256, 170)))
	g := image.NewRGBA(face.Bounds())
	for i := 0; i < len(face.Pix); i += 4 {
		y := uint8((299*int(face.Pix[i]) + 587*int(face.Pix[i+1]) + 114*int(face.Pix[i+2]) + 500) / 1000)
		g.Pix[i], g.Pix[i+1], g.Pix[i+2], g.Pix[i+3] = y, y, y, 255
	}
	save(out+"/astronaut_gray_250.png", g)
	// two faces side by side: the 250 crop and a half-size copy
	two := image.NewRGBA(image.Rect(0, 0, 400, 250))
	for i := range two.Pix {
		two.Pix[i] = 200
	}
	small := half(face)
	for y := 0; y < 250; y++ {
		for x := 0; x < 250; x++ {
			two.Set(x, y, face.At(x, y))
		}
	}
	for y := 0; y < 125; y++ {
		for x := 0; x < 125; x++ {
			two.Set(265+x, 60+y, small.At(x, y))
		}
	}
	save(out+"/two_faces_400x250.png", two)
	save(out+"/chelsea_cat_noface.png", half(c))
}
