// Command gen writes the synthetic source images that generate.sh encodes
// with opj_compress. It lives under testdata, so the go tool ignores it.
package main

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
)

func main() {
	if len(os.Args) != 3 {
		log.Fatal("usage: gen FACEDIR OUTDIR")
	}
	faces, out := os.Args[1], os.Args[2]
	rng := rand.New(rand.NewPCG(1, 2))

	// 8-bit grey gradient with texture, odd size.
	g := image.NewGray(image.Rect(0, 0, 67, 45))
	for y := 0; y < 45; y++ {
		for x := 0; x < 67; x++ {
			v := (x*3 + y*2 + rng.IntN(9)) % 256
			if (x/8+y/8)%2 == 0 {
				v = 255 - v
			}
			g.SetGray(x, y, color.Gray{uint8(v)})
		}
	}
	save(filepath.Join(out, "gray.png"), g)

	// 8-bit RGB pattern.
	c := image.NewRGBA(image.Rect(0, 0, 96, 80))
	for y := 0; y < 80; y++ {
		for x := 0; x < 96; x++ {
			c.Set(x, y, color.RGBA{uint8(x * 255 / 95), uint8(y * 255 / 79), uint8((x ^ y) * 2), 255})
		}
	}
	for i := 0; i < 300; i++ {
		x, y := rng.IntN(96), rng.IntN(80)
		c.Set(x, y, color.RGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255})
	}
	save(filepath.Join(out, "rgb.png"), c)

	// 12-bit grey as PGM (maxval 4095).
	f, err := os.Create(filepath.Join(out, "gray12.pgm"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(f, "P5\n50 40\n4095\n")
	for y := 0; y < 40; y++ {
		for x := 0; x < 50; x++ {
			v := (x*80 + y*50 + rng.IntN(200)) % 4096
			f.Write([]byte{byte(v >> 8), byte(v)})
		}
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}

	// A face: crops of the astronaut photograph already in face/testdata.
	src := load(filepath.Join(faces, "astronaut_512.png"))
	crop := func(r image.Rectangle) *image.RGBA {
		m := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
		draw.Draw(m, m.Bounds(), src, r.Min, draw.Src)
		return m
	}
	face := crop(image.Rect(150, 20, 310, 220)) // 160x200, chip-photo-like
	save(filepath.Join(out, "face.png"), face)
	fg := image.NewGray(face.Bounds())
	draw.Draw(fg, fg.Bounds(), face, image.Point{}, draw.Src)
	save(filepath.Join(out, "facegray.png"), fg)
	// A 480x640 portrait (the usual chip-photo size) for the benchmark.
	big := image.NewRGBA(image.Rect(0, 0, 480, 640))
	for y := 0; y < 640; y++ {
		for x := 0; x < 480; x++ {
			big.Set(x, y, src.At(16+x*15/16, y*511/640))
		}
	}
	save(filepath.Join(out, "portrait.png"), big)
}

func load(p string) image.Image {
	f, err := os.Open(p)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	m, err := png.Decode(f)
	if err != nil {
		log.Fatal(err)
	}
	return m
}

func save(p string, m image.Image) {
	f, err := os.Create(p)
	if err != nil {
		log.Fatal(err)
	}
	if err := png.Encode(f, m); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}
