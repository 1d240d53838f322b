package main

// Plots written by face evaluate and face calibrate (--plots DIR): the DET
// curve (FNMR against FMR, log scales) and the genuine and impostor score
// distributions of each model, as standalone SVG (package internal/plot).

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/internal/atomicfile"
	"github.com/madoguchi/madoguchi/internal/plot"
)

// scoreSet is one model's genuine and impostor comparison scores.
type scoreSet struct {
	model    string
	gen, imp []float64
}

// detPoints is how many operating points a DET curve is sampled at.
const detPoints = 200

// facePlots builds the DET and score-distribution charts of sets,
// measured on dataset.
func facePlots(dataset string, sets []scoreSet) (det, scores *plot.Chart) {
	var names []string
	det = &plot.Chart{
		ID:    "det",
		Title: "DET curve: " + dataset,
		X:     plot.Axis{Label: "false match rate (FMR)", Log: true, Percent: true},
		Y:     plot.Axis{Label: "false non-match rate (FNMR)", Log: true, Percent: true},
	}
	scores = &plot.Chart{
		ID:    "scores",
		Title: "Comparison scores: " + dataset,
		X:     plot.Axis{Label: "cosine similarity", Min: -1, Max: 1},
		Y:     plot.Axis{Label: "share of pairs per bin (bins of 0.04)"},
	}
	for _, s := range sets {
		names = append(names, fmt.Sprintf("%s (%d genuine, %d impostor pairs)", s.model, len(s.gen), len(s.imp)))
		var pts []plot.Point
		for _, p := range face.DETCurve(s.gen, s.imp, detPoints) {
			pts = append(pts, plot.Point{X: p.FMR, Y: p.FNMR})
		}
		label := s.model
		if len(sets) == 1 {
			label = "DET"
		}
		det.Series = append(det.Series, plot.Series{Name: label, Points: pts})
		prefix := ""
		if len(sets) > 1 {
			prefix = s.model + " "
		}
		scores.Series = append(scores.Series,
			plot.Series{Name: prefix + "genuine", Points: plot.Histogram(s.gen, -1, 1, 50), Step: true},
			plot.Series{Name: prefix + "impostor", Points: plot.Histogram(s.imp, -1, 1, 50), Step: true})
	}
	det.Desc = "Detection error trade-off on " + dataset + ": the false non-match rate against the false match rate, both on log scales, as the decision threshold varies, for " +
		strings.Join(names, "; ") + ". Lower left is better. Operating points with a rate of zero cannot be drawn on a log scale and are left out."
	scores.Desc = "Distribution of comparison scores on " + dataset + " for genuine pairs (same person) and impostor pairs (different persons), for " +
		strings.Join(names, "; ") + ". The less the two overlap, the better the model separates people."
	return det, scores
}

// writeFacePlots writes det.svg and scores.svg into dir.
func writeFacePlots(dir, dataset string, sets []scoreSet) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	det, scores := facePlots(dataset, sets)
	var written []string
	for _, f := range []struct {
		name string
		c    *plot.Chart
	}{{"det.svg", det}, {"scores.svg", scores}} {
		name, c := f.name, f.c
		s, err := c.SVG()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		p := filepath.Join(dir, name)
		if err := atomicfile.Write(p, []byte(s), 0o644); err != nil {
			return nil, err
		}
		written = append(written, p)
	}
	return written, nil
}
