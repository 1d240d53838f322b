package jpeg2000_test

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/madoguchi/madoguchi/face/imageio/jpeg2000"
)

func ExampleDecode() {
	// A 160x200 face, as an ID card's IC chip stores it: JP2, 9/7, 4.8 KB.
	f, err := os.Open("testdata/face_97.jp2")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	img, err := jpeg2000.Decode(f)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%T %v\n", img, img.Bounds())
	// Output: *image.RGBA (0,0)-(160,200)
}

func ExampleLimits_Decode() {
	b, err := os.ReadFile("testdata/portrait_97.jp2") // 480x640
	if err != nil {
		log.Fatal(err)
	}
	chip := jpeg2000.Limits{MaxBytes: 64 << 10, MaxPixels: 200 * 250}
	_, err = chip.Decode(bytes.NewReader(b))
	fmt.Println(errors.Is(err, jpeg2000.ErrTooLarge))
	// Output: true
}
