package face

import "fmt"

// loadStages wires the networks of face/faceapi (and face/human) into
// Stages. The network runtime is being written in those packages; until it
// lands in this tree no pipeline can run, and Load says so instead of
// returning anything that pretends to analyse faces.
func loadStages(dir, detector string) (Stages, error) {
	return Stages{}, fmt.Errorf("%w: the %s pipeline needs face/faceapi, which this build does not contain yet", ErrModels, detector)
}
