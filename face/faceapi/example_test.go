package faceapi_test

import (
	"context"
	"fmt"
	"image"
	"log"

	"github.com/madoguchi/madoguchi/face/faceapi"
)

// Example runs face-api's own pipeline: SSD detection, 68 landmarks, the
// dlib alignment box and the 128-D descriptor. dir is the folder holding
// face-api's model files.
func Example() {
	dir := "/var/lib/madoguchi/models/face-api"
	ssd, err := faceapi.LoadSSD(dir)
	if err != nil {
		log.Fatal(err)
	}
	lm, err := faceapi.LoadLandmarks68(dir)
	if err != nil {
		log.Fatal(err)
	}
	rec, err := faceapi.LoadRecognizer(dir)
	if err != nil {
		log.Fatal(err)
	}
	var img *image.RGBA // a decoded photo
	ctx := context.Background()
	dets, err := ssd.Detect(ctx, img, 0.5)
	if err != nil || len(dets) == 0 {
		log.Fatal("no face", err)
	}
	pts, err := lm.Detect(ctx, img, dets[0].Box)
	if err != nil {
		log.Fatal(err)
	}
	desc, err := rec.EmbedBox(ctx, img, faceapi.AlignBox(pts))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(desc)) // 128, raw (not L2-normalised)
}
