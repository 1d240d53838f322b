package face

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

// DETPoint is one operating point of a detection-error trade-off: a pair
// is accepted when its score is strictly greater than Threshold.
type DETPoint struct {
	Threshold float64 `json:"threshold"`
	FMR       float64 `json:"fmr"`  // impostor pairs accepted / impostor pairs
	FNMR      float64 `json:"fnmr"` // genuine pairs rejected / genuine pairs
	// Resolved is false when there are too few impostor pairs to measure
	// this FMR (fewer than 1/FMR): the threshold is then the highest
	// impostor score and the true FMR is unknown, only below 1/impostors.
	Resolved bool `json:"resolved"`
}

// Evaluation summarises genuine and impostor score sets (ISO/IEC 19795-1
// terms: FMR, FNMR, EER).
type Evaluation struct {
	Genuine  int        `json:"genuine"`
	Impostor int        `json:"impostor"`
	EER      float64    `json:"eer"`
	EERAt    float64    `json:"eer_threshold"`
	DET      []DETPoint `json:"det"` // at FMR 1e-1 .. 1e-6, where measurable
}

// detFMRs are the FMR targets tabulated in an Evaluation.
func detFMRs() []float64 { return []float64{1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6} }

// AtFMR returns the operating point with FMR <= target: the lowest
// threshold (accept if score > threshold) whose measured FMR does not exceed
// target, and the FNMR there. genuine and impostor need not be sorted.
func AtFMR(genuine, impostor []float64, target float64) DETPoint {
	imp := slices.Clone(impostor)
	slices.Sort(imp)
	gen := slices.Clone(genuine)
	slices.Sort(gen)
	return atFMRSorted(gen, imp, target)
}

func atFMRSorted(gen, imp []float64, target float64) DETPoint {
	m := len(imp)
	if m == 0 {
		return DETPoint{Threshold: math.Inf(1), FNMR: 1}
	}
	// Allow k impostors above the threshold: k = floor(target*m).
	k := int(math.Floor(target * float64(m)))
	k = min(k, m-1)
	t := imp[m-1-k]
	// Ties: accepting "> t" admits only impostors strictly above t.
	fm := m - upperBound(imp, t)
	fn := upperBound(gen, t)
	p := DETPoint{Threshold: t, FMR: float64(fm) / float64(m), Resolved: float64(m)*target >= 1}
	if len(gen) > 0 {
		p.FNMR = float64(fn) / float64(len(gen))
	}
	return p
}

// upperBound is the number of elements of sorted s that are <= v.
func upperBound(s []float64, v float64) int {
	i, _ := slices.BinarySearchFunc(s, v, func(e, t float64) int {
		if e <= t {
			return -1
		}
		return 1
	})
	return i
}

// Evaluate computes the DET table and the equal error rate.
func Evaluate(genuine, impostor []float64) Evaluation {
	gen := slices.Clone(genuine)
	imp := slices.Clone(impostor)
	slices.Sort(gen)
	slices.Sort(imp)
	ev := Evaluation{Genuine: len(gen), Impostor: len(imp)}
	for _, f := range detFMRs() {
		p := atFMRSorted(gen, imp, f)
		ev.DET = append(ev.DET, p)
		if !p.Resolved {
			break
		}
	}
	// EER: sweep candidate thresholds (every score); minimise |FMR-FNMR|.
	best := math.Inf(1)
	cands := append(slices.Clone(gen), imp...)
	slices.Sort(cands)
	for i, t := range cands {
		if i > 0 && t == cands[i-1] {
			continue
		}
		fmr := float64(len(imp)-upperBound(imp, t)) / float64(max(len(imp), 1))
		fnmr := float64(upperBound(gen, t)) / float64(max(len(gen), 1))
		if d := math.Abs(fmr - fnmr); d < best {
			best = d
			ev.EER = (fmr + fnmr) / 2
			ev.EERAt = t
		}
	}
	return ev
}

// Calibration fixes the decision threshold of one model for one
// deployment. It is produced by `madoguchi face calibrate` from the
// operator's own labelled, consented faces.
type Calibration struct {
	Version   int       `json:"version"`
	Model     string    `json:"model"`  // Engine.Model() it was measured with
	Metric    string    `json:"metric"` // "cosine"
	TargetFMR float64   `json:"target_fmr"`
	Threshold float64   `json:"threshold"` // accept if score > threshold
	FNMR      float64   `json:"fnmr"`      // measured at Threshold
	Dataset   string    `json:"dataset"`   // free text: what it was measured on
	Created   time.Time `json:"created"`
	// Identities and Images describe the labelled set; FailedToAcquire is
	// the number of its images where no face was found.
	Identities      int        `json:"identities"`
	Images          int        `json:"images"`
	FailedToAcquire int        `json:"failed_to_acquire"`
	Evaluation      Evaluation `json:"evaluation"`
}

// NewCalibration derives the threshold at targetFMR from genuine and
// impostor scores. It refuses a set too small to resolve targetFMR (fewer
// than 1/targetFMR impostor pairs) or without genuine pairs.
func NewCalibration(model string, targetFMR float64, genuine, impostor []float64) (*Calibration, error) {
	if model == "" || !(targetFMR > 0 && targetFMR < 1) {
		return nil, fmt.Errorf("%w: model %q, target FMR %g", ErrCalibration, model, targetFMR)
	}
	if len(genuine) == 0 || float64(len(impostor))*targetFMR < 1 {
		return nil, fmt.Errorf("%w: %d genuine and %d impostor pairs cannot resolve FMR %g (need at least %d impostor pairs)",
			ErrCalibration, len(genuine), len(impostor), targetFMR, int(math.Ceil(1/targetFMR)))
	}
	for _, s := range append(slices.Clone(genuine), impostor...) {
		if math.IsNaN(s) || s < -1 || s > 1 {
			return nil, fmt.Errorf("%w: score %v outside [-1, 1]", ErrCalibration, s)
		}
	}
	p := AtFMR(genuine, impostor, targetFMR)
	return &Calibration{
		Version: 1, Model: model, Metric: "cosine", TargetFMR: targetFMR,
		Threshold: p.Threshold, FNMR: p.FNMR, Created: time.Now().UTC(),
		Evaluation: Evaluate(genuine, impostor),
	}, nil
}

// Decide compares s with the calibrated threshold.
func (c *Calibration) Decide(s Score) Decision {
	if float64(s) > c.Threshold {
		return Match
	}
	return NoMatch
}

const maxCalibrationFile = 1 << 20

// ReadCalibration parses and checks a calibration file (at most 1 MiB).
func ReadCalibration(r io.Reader) (*Calibration, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxCalibrationFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxCalibrationFile {
		return nil, fmt.Errorf("%w: file larger than %d bytes", ErrCalibration, maxCalibrationFile)
	}
	var c Calibration
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCalibration, err)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Calibration) check() error {
	switch {
	case c.Version != 1:
		return fmt.Errorf("%w: version %d", ErrCalibration, c.Version)
	case c.Model == "":
		return fmt.Errorf("%w: no model", ErrCalibration)
	case c.Metric != "cosine":
		return fmt.Errorf("%w: metric %q", ErrCalibration, c.Metric)
	case !(c.TargetFMR > 0 && c.TargetFMR < 1):
		return fmt.Errorf("%w: target FMR %g", ErrCalibration, c.TargetFMR)
	case math.IsNaN(c.Threshold) || c.Threshold < -1 || c.Threshold > 1:
		return fmt.Errorf("%w: threshold %g", ErrCalibration, c.Threshold)
	case float64(c.Evaluation.Impostor)*c.TargetFMR < 1:
		return fmt.Errorf("%w: %d impostor pairs cannot resolve FMR %g", ErrCalibration, c.Evaluation.Impostor, c.TargetFMR)
	}
	return nil
}

// Write stores c as indented JSON.
func (c *Calibration) Write(w io.Writer) error {
	if err := c.check(); err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(c)
}

// DETCurve samples the detection-error trade-off of genuine and impostor
// scores for a plot: at most points operating points (at least 2) at FMR
// targets spaced evenly on a log scale from 1/len(impostor) to 1, lowest
// FMR first, repeated points merged. Each is AtFMR's point for its target.
func DETCurve(genuine, impostor []float64, points int) []DETPoint {
	if len(impostor) == 0 || len(genuine) == 0 {
		return nil
	}
	points = max(points, 2)
	imp := slices.Clone(impostor)
	slices.Sort(imp)
	gen := slices.Clone(genuine)
	slices.Sort(gen)
	lo := math.Log10(1 / float64(len(imp)))
	var out []DETPoint
	for i := range points {
		target := math.Pow(10, lo+(0-lo)*float64(i)/float64(points-1))
		p := atFMRSorted(gen, imp, math.Min(target, 1))
		if n := len(out); n > 0 && out[n-1].Threshold == p.Threshold {
			continue
		}
		out = append(out, p)
	}
	return out
}
