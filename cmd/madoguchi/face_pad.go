package main

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/madoguchi/madoguchi/face/imageio"
	"github.com/madoguchi/madoguchi/face/padsynth"
)

// padScores are the passive PAD scores of one presentation, 1 = bona fide.
type padScores struct {
	Antispoof, Liveness, MiniFAS float64
}

// padScoreNames are the scores and fusions reported, in order.
var padScoreNames = []string{"antispoof", "liveness", "minifas", "min(antispoof,liveness)", "mean(antispoof,minifas)", "min(antispoof,liveness,minifas)"}

func (p padScores) get(name string) float64 {
	switch name {
	case "antispoof":
		return p.Antispoof
	case "liveness":
		return p.Liveness
	case "minifas":
		return p.MiniFAS
	case "min(antispoof,liveness)":
		return math.Min(p.Antispoof, p.Liveness)
	case "mean(antispoof,minifas)":
		return (p.Antispoof + p.MiniFAS) / 2
	case "min(antispoof,liveness,minifas)":
		return math.Min(p.MiniFAS, math.Min(p.Antispoof, p.Liveness))
	}
	return math.NaN()
}

// padReport is the ISO/IEC 30107-3 report of one run: BPCER on bona fide
// presentations, APCER per presentation-attack instrument species.
type padReport struct {
	Model   string                   `json:"model"`
	Species map[string]speciesReport `json:"species"` // "bona-fide" and each attack species
	Scores  []scoreReport            `json:"scores"`
}

type speciesReport struct {
	Presentations   int  `json:"presentations"`
	FailedToAcquire int  `json:"failed_to_acquire"` // no face found: not scored
	Synthetic       bool `json:"synthetic,omitempty"`
}

type scoreReport struct {
	Score string `json:"score"`
	// At fixed thresholds (attack if score < threshold).
	Fixed []padPoint `json:"fixed"`
	// At the thresholds where BPCER is 1 % and 5 % on this set.
	AtBPCER []padPoint `json:"at_bpcer"`
}

type padPoint struct {
	Threshold float64            `json:"threshold"`
	BPCER     float64            `json:"bpcer"`
	APCER     map[string]float64 `json:"apcer"` // per species
}

// faceEvaluatePAD measures presentation-attack detection: BPCER on a folder
// of bona fide presentations, APCER on folders of attack presentations of
// named species, and optionally on synthetic prints and screen replays
// rendered from the bona fide images (face/padsynth), labelled synthetic.
func faceEvaluatePAD(ctx context.Context, e *env, args []string, load engineLoader) error {
	fs := newFlagSet(e, "face evaluate-pad", "face evaluate-pad --bona-fide FOLDER [--attack SPECIES=FOLDER]... [--synthetic] [--json FILE]")
	var ef engineFlags
	ef.register(fs, e)
	bona := fs.String("bona-fide", "", "`folder` of bona fide presentations (live faces as the capture device saw them)")
	var attacks stringList
	fs.Var(&attacks, "attack", "`SPECIES=FOLDER` of attack presentations of one species, e.g. print=/data/nuaa-imposter (repeatable)")
	synthetic := fs.Bool("synthetic", false, "also render a synthetic print and a synthetic screen replay of every bona fide image (labelled synthetic)")
	limit := fs.Int("limit", 2000, "use at most this many images per folder (evenly spaced by sorted name)")
	jsonOut := fs.String("json", "", "also write the report as JSON to this `file`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *bona == "" || fs.NArg() != 0 || (len(attacks) == 0 && !*synthetic) {
		return usageError{"face evaluate-pad needs --bona-fide and at least one --attack or --synthetic"}
	}
	eng, err := load(&ef)
	if err != nil {
		return err
	}
	type source struct {
		species string
		files   []string
	}
	bonaFiles, err := imageFiles(*bona, *limit)
	if err != nil {
		return err
	}
	sources := []source{{"bona-fide", bonaFiles}}
	for _, a := range attacks {
		sp, dir, ok := strings.Cut(a, "=")
		if !ok || sp == "" || sp == "bona-fide" || strings.HasPrefix(sp, "synthetic") {
			return usageError{fmt.Sprintf("--attack %q: want SPECIES=FOLDER (species not 'bona-fide' or 'synthetic-*')", a)}
		}
		files, err := imageFiles(dir, *limit)
		if err != nil {
			return err
		}
		sources = append(sources, source{sp, files})
	}
	rep := padReport{Model: eng.Model(), Species: map[string]speciesReport{}}
	scores := map[string][]padScores{}
	var mu sync.Mutex
	record := func(sp string, synth bool, s *padScores) {
		mu.Lock()
		defer mu.Unlock()
		r := rep.Species[sp]
		r.Presentations++
		r.Synthetic = synth
		if s == nil {
			r.FailedToAcquire++
		} else {
			scores[sp] = append(scores[sp], *s)
		}
		rep.Species[sp] = r
	}
	score := func(img *image.RGBA) *padScores {
		faces, err := eng.Analyze(ctx, img)
		if err != nil || len(faces) == 0 || !faces[0].Liveness.Available {
			return nil
		}
		l := faces[0].Liveness // the largest face, as eKYC
		if !l.HasMiniFAS {
			l.MiniFAS = float32(math.NaN())
		}
		return &padScores{float64(l.Real), float64(l.Live), float64(l.MiniFAS)}
	}
	type job struct {
		species string
		file    string
		seed    uint64
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	for i := 0; i < runtime.GOMAXPROCS(0); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				img, err := readImageFile(j.file)
				if err != nil {
					record(j.species, false, nil)
					continue
				}
				record(j.species, false, score(img))
				if j.species == "bona-fide" && *synthetic {
					for _, sp := range []padsynth.Species{padsynth.Print, padsynth.Screen} {
						att, ok := padsynth.Render(sp, img, j.seed)
						if !ok {
							record(string(sp), true, nil)
							continue
						}
						record(string(sp), true, score(att))
					}
				}
			}
		}()
	}
	n := 0
	for _, s := range sources {
		for i, f := range s.files {
			select {
			case jobs <- job{s.species, f, uint64(i + 1)}:
			case <-ctx.Done():
			}
			if n++; n%200 == 0 {
				fmt.Fprintf(e.stderr, "scored %d images\n", n)
			}
		}
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(scores["bona-fide"]) == 0 {
		return fmt.Errorf("%s: no bona fide face was acquired", *bona)
	}
	var species []string
	for sp := range scores {
		if sp != "bona-fide" {
			species = append(species, sp)
		}
	}
	sort.Strings(species)
	for _, name := range padScoreNames {
		rep.Scores = append(rep.Scores, padScoreReport(name, scores, species))
	}
	writePADReport(e.stdout, rep, species)
	if *jsonOut != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(*jsonOut, append(b, '\n'), 0o644)
	}
	return nil
}

func padScoreReport(name string, scores map[string][]padScores, species []string) scoreReport {
	vals := func(sp string) []float64 {
		var v []float64
		for _, s := range scores[sp] {
			if x := s.get(name); !math.IsNaN(x) { // minifas: not every engine runs it
				v = append(v, x)
			}
		}
		slices.Sort(v)
		return v
	}
	bona := vals("bona-fide")
	r := scoreReport{Score: name}
	if len(bona) == 0 {
		return r
	}
	att := map[string][]float64{}
	for _, sp := range species {
		att[sp] = vals(sp)
	}
	// a presentation is classified as an attack when its score is below t
	point := func(t float64) padPoint {
		p := padPoint{Threshold: t, BPCER: fracBelow(bona, t), APCER: map[string]float64{}}
		for _, sp := range species {
			p.APCER[sp] = 1 - fracBelow(att[sp], t)
		}
		return p
	}
	for _, t := range []float64{0.1, 0.3, 0.5, 0.7, 0.9} {
		r.Fixed = append(r.Fixed, point(t))
	}
	for _, target := range []float64{0.01, 0.05} {
		// the highest threshold with BPCER <= target
		k := int(math.Floor(target * float64(len(bona))))
		t := bona[min(k, len(bona)-1)]
		r.AtBPCER = append(r.AtBPCER, point(t))
	}
	return r
}

// fracBelow is the fraction of sorted v strictly below t.
func fracBelow(v []float64, t float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	i, _ := slices.BinarySearch(v, t)
	return float64(i) / float64(len(v))
}

func writePADReport(w io.Writer, r padReport, species []string) {
	fmt.Fprintf(w, "model %s\n", r.Model)
	for _, sp := range append([]string{"bona-fide"}, species...) {
		s := r.Species[sp]
		label := ""
		if s.Synthetic {
			label = " (synthetic, rendered by face/padsynth)"
		}
		fmt.Fprintf(w, "%s: %d presentations, %d without a face (not scored)%s\n", sp, s.Presentations, s.FailedToAcquire, label)
	}
	for _, s := range r.Scores {
		if len(s.Fixed) == 0 {
			continue
		}
		fmt.Fprintf(w, "\nscore %s (attack if below the threshold)\n| threshold | BPCER |", s.Score)
		for _, sp := range species {
			fmt.Fprintf(w, " APCER %s |", sp)
		}
		fmt.Fprint(w, "\n|---|---|")
		for range species {
			fmt.Fprint(w, "---|")
		}
		fmt.Fprintln(w)
		rows := append(slices.Clone(s.Fixed), s.AtBPCER...)
		for i, p := range rows {
			tag := ""
			if i >= len(s.Fixed) {
				tag = fmt.Sprintf(" (BPCER %s)", []string{"1 %", "5 %"}[i-len(s.Fixed)])
			}
			fmt.Fprintf(w, "| %.4f%s | %.2f %% |", p.Threshold, tag, 100*p.BPCER)
			for _, sp := range species {
				fmt.Fprintf(w, " %.2f %% |", 100*p.APCER[sp])
			}
			fmt.Fprintln(w)
		}
	}
}

// imageFiles lists the JPEG and PNG files under dir (recursively, sorted),
// at most limit of them, evenly spaced.
func imageFiles(dir string, limit int) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		ext := strings.ToLower(filepath.Ext(p))
		if err == nil && d.Type().IsRegular() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no images", dir)
	}
	if limit > 0 && len(files) > limit {
		out := make([]string, limit)
		for i := range out {
			out[i] = files[i*len(files)/limit]
		}
		files = out
	}
	return files, nil
}

func readImageFile(path string) (*image.RGBA, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	img, _, err := imageio.Read(fh, imageio.DefaultLimits())
	return img, err
}
