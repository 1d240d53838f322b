package imaging_test

import (
	"context"
	"fmt"
	"image"

	"github.com/madoguchi/madoguchi/document/imaging"
)

// noFaces stands in for the face engine (wire faceadapt.New(engine) in
// production).
type noFaces struct{}

func (noFaces) FindFaces(context.Context, image.Image) ([]imaging.FaceBox, error) { return nil, nil }

func ExampleChecker_CheckSet() {
	c, err := imaging.New(imaging.DefaultConfig(), noFaces{})
	if err != nil {
		panic(err)
	}
	blank := image.NewGray(image.Rect(0, 0, 800, 600)) // no card in sight
	rep, err := c.CheckSet(context.Background(), imaging.Set{Front: blank})
	if err != nil {
		panic(err)
	}
	fmt.Println(rep.Status)
	for _, ch := range rep.Frames[0].Checks {
		fmt.Println(ch.Name, ch.Status)
	}
	ch, _ := rep.Check(imaging.CheckAllFrames)
	fmt.Println(ch.Reason)
	fmt.Println(len(rep.Review) > 0)
	// Output:
	// fail
	// image_size pass
	// document_found fail
	// missing frame(s): back, tilt
	// true
}
