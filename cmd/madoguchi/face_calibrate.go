package main

// face calibrate: thresholds from a labelled folder's genuine and impostor
// scores, and the DET report.

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/madoguchi/madoguchi/face"
)

// readLabelled lists <dir>/<person>/<image> files, at most perPerson per
// person (by sorted name), persons with at least one image.
func readLabelled(dir string, perPerson, maxImages int) (map[string][]string, int, error) {
	people, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, err
	}
	out := map[string][]string{}
	total := 0
	for _, p := range people {
		if !p.IsDir() || strings.HasPrefix(p.Name(), ".") {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(dir, p.Name()))
		if err != nil {
			return nil, 0, err
		}
		var imgs []string
		for _, e := range ents {
			ext := strings.ToLower(filepath.Ext(e.Name()))
			if e.Type().IsRegular() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png") {
				imgs = append(imgs, filepath.Join(dir, p.Name(), e.Name()))
			}
		}
		sort.Strings(imgs)
		if len(imgs) > perPerson {
			imgs = imgs[:perPerson]
		}
		if len(imgs) > 0 {
			out[p.Name()] = imgs
			total += len(imgs)
		}
		if total > maxImages {
			return nil, 0, fmt.Errorf("%s holds more than %d images; raise --max-images or use a subset", dir, maxImages)
		}
	}
	return out, total, nil
}

func faceCalibrate(ctx context.Context, e *env, args []string, load engineLoader) error {
	fs := newFlagSet(e, "face calibrate", "face calibrate --dir FOLDER --out FILE [--fmr 1e-3] [--detector ...] [--align ...]")
	var ef engineFlags
	ef.register(fs, e)
	dir := fs.String("dir", "", "labelled `folder`: <person>/<image>, the operator's own consented faces")
	out := fs.String("out", "", "calibration `file` to write")
	fmr := fs.Float64("fmr", 1e-3, "target false-match rate")
	perPerson := fs.Int("max-per-person", 10, "use at most this many images per person")
	maxImages := fs.Int("max-images", 8000, "refuse folders with more images (impostor pairs grow quadratically)")
	plots := fs.String("plots", "", "also write the DET curve and score distributions as det.svg and scores.svg into this `folder`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || *out == "" || fs.NArg() != 0 {
		return usageError{"face calibrate needs --dir and --out"}
	}
	if !(*fmr > 0 && *fmr < 1) {
		return usageError{"--fmr must be in (0, 1)"}
	}
	people, total, err := readLabelled(*dir, *perPerson, *maxImages)
	if err != nil {
		return err
	}
	eng, err := load(&ef)
	if err != nil {
		return err
	}
	var files []string
	for _, imgs := range people {
		files = append(files, imgs...)
	}
	rep, err := newProgress(e, "face calibrate", int64(len(files)), "images")
	if err != nil {
		return err
	}
	tpl, failed := embedAll(ctx, eng, files, rep)
	if err := ctx.Err(); err != nil {
		return err
	}
	gen, imp := pairScores(people, tpl)
	c, err := face.NewCalibration(eng.Model(), *fmr, gen, imp)
	if err != nil {
		return err
	}
	c.Dataset = filepath.Base(*dir)
	c.Identities, c.Images, c.FailedToAcquire = len(people), total, len(failed)
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if err := c.Write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "model %s\nimages %d (%d identities), failed to acquire %d\ngenuine pairs %d, impostor pairs %d\n",
		c.Model, total, len(people), len(failed), len(gen), len(imp))
	writeDET(e.stdout, c.Evaluation)
	fmt.Fprintf(e.stdout, "threshold %.4f at FMR %g (FNMR %.4f) written to %s\n", c.Threshold, c.TargetFMR, c.FNMR, *out)
	if *plots != "" {
		written, err := writeFacePlots(*plots, c.Dataset, []scoreSet{{model: c.Model, gen: gen, imp: imp}})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "plots written to %s\n", strings.Join(written, ", "))
	}
	return nil
}

// pairScores compares every pair of embedded images: same person =
// genuine, different persons = impostor. Failed images take part in no pair
// (their count is reported as failure to acquire).
func pairScores(people map[string][]string, tpl map[string]face.Template) (gen, imp []float64) {
	type item struct {
		person int
		t      face.Template
	}
	names := slices.Sorted(maps.Keys(people))
	var items []item
	for i, n := range names {
		for _, f := range people[n] {
			if t, ok := tpl[f]; ok {
				items = append(items, item{i, t})
			}
		}
	}
	for i := range items {
		for j := i + 1; j < len(items); j++ {
			s, err := face.Compare(items[i].t, items[j].t)
			if err != nil {
				continue
			}
			if items[i].person == items[j].person {
				gen = append(gen, float64(s))
			} else {
				imp = append(imp, float64(s))
			}
		}
	}
	return gen, imp
}

func writeDET(w io.Writer, ev face.Evaluation) {
	fmt.Fprintf(w, "EER %.2f %% (threshold %.4f)\n", 100*ev.EER, ev.EERAt)
	fmt.Fprintln(w, "| FMR target | threshold (accept if >) | measured FMR | FNMR | resolved |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, p := range ev.DET {
		fmt.Fprintf(w, "| %g | %.4f | %.2e | %.2f %% | %v |\n", targetOf(p, ev), p.Threshold, p.FMR, 100*p.FNMR, p.Resolved)
	}
}

func targetOf(p face.DETPoint, ev face.Evaluation) float64 {
	for i, q := range ev.DET {
		if q == p {
			return math.Pow(10, -float64(i+1))
		}
	}
	return math.NaN()
}
