package main

// face bench: per-stage timings of the engine beside face-api's own
// pipeline under Node, in the same run.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/face/imageio"
)

// faceBench times the engine per stage on a folder of images and, with
// --reference, runs face-api's own pipeline (tools/face-reference/harness.js
// under Node) on the same images in the same run, and prints both.
func faceBench(ctx context.Context, e *env, args []string, load engineLoader) error {
	fs := newFlagSet(e, "face bench", "face bench --images FOLDER [--limit N] [--runs N] [--reference tools/face-reference]")
	var ef engineFlags
	ef.register(fs, e)
	dir := fs.String("images", "", "image `folder` (walked recursively, sorted)")
	limit := fs.Int("limit", 50, "use the first N images")
	runs := fs.Int("runs", 3, "timed runs per image (the median is kept), after one warm-up pass")
	ref := fs.String("reference", "", "reference harness `folder` (runs 'node harness.js --engine faceapi' there)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || *runs < 1 || *limit < 1 || fs.NArg() != 0 {
		return usageError{"face bench needs --images, --runs >= 1, --limit >= 1"}
	}
	var files []string
	err := filepath.WalkDir(*dir, func(p string, d os.DirEntry, err error) error {
		ext := strings.ToLower(filepath.Ext(p))
		if err == nil && d.Type().IsRegular() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	if len(files) > *limit {
		files = files[:*limit]
	}
	if len(files) == 0 {
		return fmt.Errorf("%s: no images", *dir)
	}
	if *ref != "" {
		list := filepath.Join(os.TempDir(), fmt.Sprintf("madoguchi-bench-%d.txt", os.Getpid()))
		out := list + ".jsonl"
		defer os.Remove(list)
		defer os.Remove(out)
		defer os.Remove(out + ".summary.json")
		var rel []string
		for _, f := range files {
			r, _ := filepath.Rel(*dir, f)
			rel = append(rel, r)
		}
		if err := os.WriteFile(list, []byte(strings.Join(rel, "\n")+"\n"), 0o644); err != nil {
			return err
		}
		abs, _ := filepath.Abs(*dir)
		cmd := exec.CommandContext(ctx, "node", "harness.js", "--input", abs, "--list", list, "--out", out,
			"--engine", "faceapi", "--runs", strconv.Itoa(*runs), "--warmup", "3")
		cmd.Dir = *ref
		cmd.Stderr = e.stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("reference harness: %w", err)
		}
		if err := printReference(e.stdout, out); err != nil {
			return err
		}
	}
	eng, err := load(&ef)
	if err != nil {
		return err
	}
	imgs := make([]*image.RGBA, len(files))
	for i, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return err
		}
		imgs[i], _, err = imageio.Read(fh, imageio.DefaultLimits())
		fh.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	for _, img := range imgs { // warm-up
		if _, err := eng.Analyze(ctx, img); err != nil {
			return err
		}
	}
	// total covers the stages face-api also runs; pad is reported beside it.
	stages := []string{"detect", "landmarks", "align", "embed", "quality", "total", "pad"}
	per := map[string][]float64{}
	for _, img := range imgs {
		var rs []face.Timing
		for r := 0; r < *runs; r++ {
			_, tm, err := eng.AnalyzeTimed(ctx, img)
			if err != nil {
				return err
			}
			rs = append(rs, tm)
		}
		for _, st := range stages {
			var v []float64
			for _, tm := range rs {
				m := tm.Map()
				if st == "total" {
					v = append(v, m["detect"]+m["landmarks"]+m["align"]+m["embed"]+m["quality"])
				} else {
					v = append(v, m[st])
				}
			}
			per[st] = append(per[st], median(v))
		}
	}
	fmt.Fprintf(e.stdout, "madoguchi %s, %d images, GOMAXPROCS %d, median over images of the per-image median of %d runs:\n",
		eng.Model(), len(imgs), runtime.GOMAXPROCS(0), *runs)
	for _, st := range stages {
		fmt.Fprintf(e.stdout, "  %-10s %8.1f ms\n", st, median(per[st]))
	}
	return nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// printReference summarises the harness's per-image face-api timings.
func printReference(w io.Writer, jsonl string) error {
	fh, err := os.Open(jsonl)
	if err != nil {
		return err
	}
	defer fh.Close()
	var det, lm, emb, tot []float64
	sc := bufio.NewScanner(io.LimitReader(fh, 256<<20))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var rec struct {
			FaceAPI *struct {
				Timing struct {
					Detect    float64 `json:"detect_ms"`
					Landmarks float64 `json:"landmarks_ms"`
					Embed     float64 `json:"embed_ms"`
				} `json:"timing"`
			} `json:"faceapi"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.FaceAPI == nil {
			continue
		}
		t := rec.FaceAPI.Timing
		det, lm, emb = append(det, t.Detect), append(lm, t.Landmarks), append(emb, t.Embed)
		tot = append(tot, t.Detect+t.Landmarks+t.Embed)
	}
	if len(det) == 0 {
		return fmt.Errorf("reference harness wrote no face-api timings to %s", jsonl)
	}
	fmt.Fprintf(w, "reference face-api (tfjs-wasm, Node), %d images, median over images:\n", len(det))
	fmt.Fprintf(w, "  %-10s %8.1f ms\n  %-10s %8.1f ms\n  %-10s %8.1f ms\n  %-10s %8.1f ms\n",
		"detect", median(det), "landmarks", median(lm), "embed", median(emb), "total", median(tot))
	return sc.Err()
}
