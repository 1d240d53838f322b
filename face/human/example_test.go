package human_test

import (
	"context"
	"fmt"
	"image"
	"log"

	"github.com/madoguchi/madoguchi/face/human"
)

// Example runs human's face pipeline: BlazeFace, the 192x192 crop, the
// FaceMesh score gate, the 1024-D descriptor and both PAD scores.
func Example() {
	dir := "/var/lib/madoguchi/models/human"
	bf, err := human.LoadBlazeFace(dir)
	if err != nil {
		log.Fatal(err)
	}
	mesh, _ := human.LoadFaceMesh(dir)
	res, _ := human.LoadFaceRes(dir)
	anti, _ := human.LoadAntispoof(dir)
	live, _ := human.LoadLiveness(dir)
	var img *image.RGBA // a decoded photo
	ctx := context.Background()
	faces, err := bf.Detect(ctx, img)
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range faces {
		crop, err := human.Crop(img, f.Box, human.CropSize)
		if err != nil {
			log.Fatal(err)
		}
		m, _ := mesh.Detect(ctx, crop, f.Box)
		if m.Score < human.MinFaceScore {
			continue // human drops this face
		}
		desc, _ := res.Embed(ctx, crop)
		real, _ := anti.Score(ctx, crop)
		alive, _ := live.Score(ctx, crop)
		fmt.Println(len(desc), real, alive)
	}
}
