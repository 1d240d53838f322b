package face

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// scoreSets returns n genuine scores spread in [0.6, 1) and m impostor
// scores spread in [-0.2, 0.7): overlapping, deterministic.
func scoreSets(n, m int) (gen, imp []float64) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < n; i++ {
		gen = append(gen, 0.6+0.4*r.Float64())
	}
	for i := 0; i < m; i++ {
		imp = append(imp, -0.2+0.9*r.Float64())
	}
	return gen, imp
}

func TestAtFMR(t *testing.T) {
	gen := []float64{0.95, 0.9, 0.85, 0.5}
	imp := make([]float64, 100)
	for i := range imp {
		imp[i] = float64(i) / 100 // 0.00 .. 0.99
	}
	tests := []struct {
		fmr           float64
		wantThreshold float64
		wantFMR       float64
		wantFNMR      float64
		resolved      bool
	}{
		{0.1, 0.89, 0.10, 0.5, true},   // accept > 0.89: impostors 0.90..0.99; genuine 0.85 and 0.5 rejected
		{0.05, 0.94, 0.05, 0.75, true}, // accept > 0.94
		{0.001, 0.99, 0, 1, false},     // 100 impostors cannot resolve 1e-3
	}
	for _, tt := range tests {
		p := AtFMR(gen, imp, tt.fmr)
		if math.Abs(p.Threshold-tt.wantThreshold) > 1e-12 || math.Abs(p.FMR-tt.wantFMR) > 1e-12 || math.Abs(p.FNMR-tt.wantFNMR) > 1e-12 || p.Resolved != tt.resolved {
			t.Errorf("AtFMR(%g) = %+v, want threshold %v FMR %v FNMR %v resolved %v", tt.fmr, p, tt.wantThreshold, tt.wantFMR, tt.wantFNMR, tt.resolved)
		}
	}
}

func TestAtFMRTies(t *testing.T) {
	// Ten impostors all at 0.5: accepting "> 0.5" admits none.
	imp := []float64{0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5}
	p := AtFMR([]float64{0.5, 0.6}, imp, 0.1)
	if p.Threshold != 0.5 || p.FMR != 0 || p.FNMR != 0.5 {
		t.Errorf("AtFMR(ties) = %+v, want threshold 0.5, FMR 0, FNMR 0.5", p)
	}
}

func TestEvaluate(t *testing.T) {
	// Separable sets: EER 0.
	ev := Evaluate([]float64{0.8, 0.9}, []float64{0.1, 0.2, 0.3})
	if ev.EER != 0 || ev.Genuine != 2 || ev.Impostor != 3 {
		t.Errorf("Evaluate(separable) = %+v, want EER 0", ev)
	}
	// Identical distributions: EER 0.5.
	same := []float64{0.1, 0.2, 0.3, 0.4}
	if ev := Evaluate(same, same); math.Abs(ev.EER-0.5) > 0.13 {
		t.Errorf("Evaluate(same) EER = %v, want about 0.5", ev.EER)
	}
	gen, imp := scoreSets(1000, 100000)
	ev = Evaluate(gen, imp)
	if len(ev.DET) != 6 || !ev.DET[4].Resolved || ev.DET[5].Resolved { // 1e-1..1e-5 resolved, 1e-6 not
		t.Errorf("Evaluate DET = %+v, want 5 resolved rows then one unresolved", ev.DET)
	}
	for i := 1; i < len(ev.DET); i++ {
		if ev.DET[i].FNMR < ev.DET[i-1].FNMR || ev.DET[i].Threshold < ev.DET[i-1].Threshold {
			t.Errorf("DET not monotone at row %d: %+v", i, ev.DET)
		}
	}
	// genuine U[0.6,1), impostor U[-0.2,0.7): EER where (0.7-t)/0.9 = (t-0.6)/0.4
	wantEER := (0.7 - (0.7*0.4+0.6*0.9)/1.3) / 0.9
	if math.Abs(ev.EER-wantEER) > 0.01 {
		t.Errorf("Evaluate EER = %v, want about %v", ev.EER, wantEER)
	}
}

func TestCalibrationRoundTrip(t *testing.T) {
	gen, imp := scoreSets(300, 5000)
	c, err := NewCalibration("m+dlib-chip", 1e-3, gen, imp)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := c.Write(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := ReadCalibration(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if got.Threshold != c.Threshold || got.Model != c.Model || got.Evaluation.Impostor != 5000 {
		t.Errorf("ReadCalibration(Write(c)) = %+v, want %+v", got, c)
	}
	if d := got.Decide(Score(c.Threshold + 1e-9)); d != Match {
		t.Errorf("Decide(above threshold) = %v, want match", d)
	}
}

func TestCalibrationRefuses(t *testing.T) {
	gen, imp := scoreSets(10, 500)
	if _, err := NewCalibration("m", 1e-3, gen, imp); !errors.Is(err, ErrCalibration) {
		t.Errorf("NewCalibration(500 impostors, FMR 1e-3) = %v, want ErrCalibration", err)
	}
	if _, err := NewCalibration("m", 1e-2, nil, imp); !errors.Is(err, ErrCalibration) {
		t.Errorf("NewCalibration(no genuine) = %v, want ErrCalibration", err)
	}
	if _, err := NewCalibration("m", 1e-2, []float64{2}, imp); !errors.Is(err, ErrCalibration) {
		t.Errorf("NewCalibration(score 2) = %v, want ErrCalibration", err)
	}
	bad := []string{
		``,
		`{`,
		`{"version":2,"model":"m","metric":"cosine","target_fmr":0.001,"threshold":0.5,"evaluation":{"impostor":5000}}`,
		`{"version":1,"model":"","metric":"cosine","target_fmr":0.001,"threshold":0.5,"evaluation":{"impostor":5000}}`,
		`{"version":1,"model":"m","metric":"euclid","target_fmr":0.001,"threshold":0.5,"evaluation":{"impostor":5000}}`,
		`{"version":1,"model":"m","metric":"cosine","target_fmr":0,"threshold":0.5,"evaluation":{"impostor":5000}}`,
		`{"version":1,"model":"m","metric":"cosine","target_fmr":0.001,"threshold":7,"evaluation":{"impostor":5000}}`,
		`{"version":1,"model":"m","metric":"cosine","target_fmr":0.001,"threshold":0.5,"evaluation":{"impostor":50}}`,
		strings.Repeat(" ", maxCalibrationFile+1),
	}
	for _, s := range bad {
		if _, err := ReadCalibration(strings.NewReader(s)); !errors.Is(err, ErrCalibration) {
			t.Errorf("ReadCalibration(%.60q) = %v, want ErrCalibration", s, err)
		}
	}
}

func FuzzReadCalibration(f *testing.F) {
	gen, imp := scoreSets(30, 2000)
	c, _ := NewCalibration("m", 1e-3, gen, imp)
	var buf bytes.Buffer
	c.Write(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ReadCalibration(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrCalibration) {
				t.Fatalf("ReadCalibration error %v does not wrap ErrCalibration", err)
			}
			return
		}
		if c.check() != nil || math.IsNaN(c.Threshold) {
			t.Fatalf("ReadCalibration accepted an invalid calibration %+v", c)
		}
	})
}

// TestDETCurve: on the known set of TestAtFMR the curve runs from FMR
// 1/100 to 1, FMR rising and FNMR falling, each point AtFMR's, and with 3
// points it samples FMR 0.01, 0.1 and 1.
func TestDETCurve(t *testing.T) {
	gen := []float64{0.95, 0.9, 0.85, 0.5}
	imp := make([]float64, 100)
	for i := range imp {
		imp[i] = float64(i) / 100
	}
	got := DETCurve(gen, imp, 3)
	want := []DETPoint{
		{Threshold: 0.98, FMR: 0.01, FNMR: 1, Resolved: true},
		{Threshold: 0.89, FMR: 0.1, FNMR: 0.5, Resolved: true},
		{Threshold: 0, FMR: 0.99, FNMR: 0, Resolved: true},
	}
	if len(got) != len(want) {
		t.Fatalf("DETCurve(3) = %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if math.Abs(g.Threshold-w.Threshold) > 1e-12 || math.Abs(g.FMR-w.FMR) > 1e-12 || g.FNMR != w.FNMR || g.Resolved != w.Resolved {
			t.Errorf("DETCurve(3)[%d] = %+v, want %+v", i, g, w)
		}
	}
	full := DETCurve(gen, imp, 200)
	if len(full) > 200 || len(full) < 10 {
		t.Fatalf("DETCurve(200) has %d points", len(full))
	}
	for i := 1; i < len(full); i++ {
		if full[i].FMR < full[i-1].FMR || full[i].FNMR > full[i-1].FNMR || full[i].Threshold == full[i-1].Threshold {
			t.Errorf("DETCurve point %d %+v after %+v: FMR must rise, FNMR fall, thresholds differ", i, full[i], full[i-1])
		}
	}
	if DETCurve(nil, imp, 10) != nil || DETCurve(gen, nil, 10) != nil {
		t.Errorf("DETCurve without genuine or impostor scores is not nil")
	}
}
