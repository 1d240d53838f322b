package human

import (
	"context"
	"fmt"
	"math"

	"github.com/madoguchi/madoguchi/face/nn"
)

// MeshPoints is the number of FaceMesh landmarks.
const MeshPoints = 468

// MinFaceScore is human's gate: a detection whose FaceMesh face score is
// below it is dropped (config face.detector.minConfidence).
const MinFaceScore = 0.2

// FaceMesh is human's facemesh model (192x192 crop -> face score and 468
// 3-D landmarks). Human uses its score to accept or drop a BlazeFace box.
type FaceMesh struct{ m *model }

// Mesh is one FaceMesh result.
type Mesh struct {
	// Score is the face-presence probability (already a sigmoid in the graph).
	Score float32
	// Points are (x, y) in image pixels and z in crop units, truncated to
	// integers as human does, for a crop cut from Face.Box without rotation.
	Points [MeshPoints][3]float32
}

// LoadFaceMesh loads facemesh.json from human's models folder.
func LoadFaceMesh(dir string) (*FaceMesh, error) {
	m, err := loadModel(dir, "facemesh.json", CropSize)
	if err != nil {
		return nil, err
	}
	return &FaceMesh{m}, nil
}

// Detect runs FaceMesh on a crop made by Crop(img, box, CropSize) and maps
// the landmarks back to the image (human's transformRawCoords, no rotation).
func (f *FaceMesh) Detect(ctx context.Context, crop *nn.Tensor, box [4]float32) (Mesh, error) {
	var res Mesh
	x, err := f.m.resized(crop, 1)
	if err != nil {
		return res, err
	}
	outs, err := f.m.run(ctx, x)
	if err != nil {
		return res, err
	}
	flag, err := f.m.output(outs, 1)
	if err != nil {
		return res, err
	}
	mesh, err := f.m.output(outs, 3*MeshPoints)
	if err != nil {
		return res, err
	}
	res.Score = flag.Data[0]
	cx, cy := float64(box[0])+float64(box[2])/2, float64(box[1])+float64(box[3])/2
	sx, sy := float64(box[2])/CropSize, float64(box[3])/CropSize
	for i := range res.Points {
		p := mesh.Data[3*i:]
		res.Points[i] = [3]float32{
			float32(math.Trunc(sx*(float64(p[0])-CropSize/2) + cx)),
			float32(math.Trunc(sy*(float64(p[1])-CropSize/2) + cy)),
			float32(math.Trunc(float64(p[2]))),
		}
	}
	if math.IsNaN(float64(res.Score)) {
		return res, fmt.Errorf("human: facemesh: %w: NaN score", nn.ErrShape)
	}
	return res, nil
}
