package main

import (
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/face"
)

// TestFacePlots: face evaluate/calibrate's plots from a known score set:
// both files are well-formed SVG naming the model and the pair counts, the
// DET curve's first point is AtFMR's point at FMR 1/impostors, and the
// score chart has a genuine and an impostor series per model.
func TestFacePlots(t *testing.T) {
	var gen, imp []float64
	for i := range 50 {
		gen = append(gen, 0.4+0.5*float64(i)/50)
	}
	for i := range 1000 {
		imp = append(imp, -0.3+0.8*float64(i)/1000)
	}
	sets := []scoreSet{{model: "m1+arcface5-flip", gen: gen, imp: imp}, {model: "m2+dlib", gen: imp[:50], imp: gen}}
	dir := filepath.Join(t.TempDir(), "plots")
	written, err := writeFacePlots(dir, "staff photos", sets)
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != 2 || filepath.Base(written[0]) != "det.svg" || filepath.Base(written[1]) != "scores.svg" {
		t.Fatalf("written %v", written)
	}
	for _, p := range written {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		dec := xml.NewDecoder(strings.NewReader(string(b)))
		for {
			_, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s is not well-formed: %v", p, err)
			}
		}
		for _, want := range []string{"m1+arcface5-flip (50 genuine, 1000 impostor pairs)", "staff photos", "<desc"} {
			if !strings.Contains(string(b), want) {
				t.Errorf("%s lacks %q", p, want)
			}
		}
	}
	det, scores := facePlots("staff photos", sets)
	first := face.AtFMR(gen, imp, 1e-3)
	if p := det.Series[0].Points[0]; p.X != first.FMR || p.Y != first.FNMR {
		t.Errorf("DET curve starts at %+v, want AtFMR(1e-3) = FMR %v FNMR %v", p, first.FMR, first.FNMR)
	}
	if len(scores.Series) != 4 || scores.Series[0].Name != "m1+arcface5-flip genuine" || scores.Series[3].Name != "m2+dlib impostor" {
		t.Errorf("score series %v", scores.Series)
	}
}
