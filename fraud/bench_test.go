package fraud

import (
	"fmt"
	"math"
	mrand "math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Synthetic templates for the speed and recall benchmarks. They are
// generated, never derived from real people: a common direction (weight
// a) plus noise whose variances fall as j^-exp over the coordinates, the
// whole normalised. Two profiles:
//   - dlibLike: 128-D, impostor similarity 0.84 on average with a spread
//     of about 0.035, a second capture of one person about 0.955 — the
//     statistics measured for the default 128-D model on LFW
//     (docs/fraud.md: mean 0.838, sd 0.035; genuine 0.956);
//   - arcLike: 512-D, impostors about 0.0 ± 0.06 and second captures
//     about 0.70, the shape ArcFace-class models are reported to have.
type coneGen struct {
	dim     int
	a       float64 // weight of the common direction (noise power is 1)
	mateCos float64
	mean    []float32
	sigma   []float64
}

type profile struct {
	name         string
	dim          int
	impostorMean float64
	exp, mateCos float64
	threshold    float64
}

var (
	dlibLike = profile{name: "dlib-like", dim: 128, impostorMean: 0.84, exp: 1, mateCos: 0.955, threshold: 0.93}
	arcLike  = profile{name: "arcface-like", dim: 512, impostorMean: 0, exp: 0.5, mateCos: 0.70, threshold: 0.45}
)

func newConeGen(p profile, seed uint64) *coneGen {
	r := mrand.New(mrand.NewPCG(seed, 1))
	g := &coneGen{dim: p.dim, a: math.Sqrt(p.impostorMean / (1 - p.impostorMean)), mateCos: p.mateCos,
		mean: randUnit(r, p.dim), sigma: make([]float64, p.dim)}
	var total float64
	for j := range p.dim {
		g.sigma[j] = math.Pow(float64(j+1), -p.exp)
		total += g.sigma[j]
	}
	for j := range p.dim {
		g.sigma[j] = math.Sqrt(g.sigma[j] / total)
	}
	return g
}

// fill writes a new person's unit template into dst.
func (g *coneGen) fill(r *mrand.Rand, dst []float32) {
	for j := range g.dim {
		dst[j] = float32(g.a) * g.mean[j]
	}
	g.noisy(r, dst, 1, dst)
}

// mateOf writes another capture of the person of unit v into dst: v plus
// noise of power 1/mateCos^2 - 1, so that their similarity is about mateCos.
func (g *coneGen) mateOf(r *mrand.Rand, v, dst []float32) {
	g.noisy(r, v, math.Sqrt(1/(g.mateCos*g.mateCos)-1), dst)
}

func (g *coneGen) noisy(r *mrand.Rand, base []float32, scale float64, dst []float32) {
	var ss float64
	for j := range g.dim {
		x := float64(base[j]) + scale*g.sigma[j]*r.NormFloat64()
		dst[j] = float32(x)
		ss += x * x
	}
	inv := float32(1 / math.Sqrt(ss))
	for j := range g.dim {
		dst[j] *= inv
	}
}

// gallery is n synthetic templates in one flat array (stride dim).
func syntheticGallery(g *coneGen, n int, seed uint64) []float32 {
	flat := make([]float32, n*g.dim)
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	per := (n + workers - 1) / workers
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := mrand.New(mrand.NewPCG(seed, uint64(w)))
			for i := w * per; i < min(n, (w+1)*per); i++ {
				g.fill(r, flat[i*g.dim:(i+1)*g.dim])
			}
		}()
	}
	wg.Wait()
	return flat
}

func benchEnv(name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}

func benchSize(b *testing.B, def int) int {
	if s := os.Getenv("MADOGUCHI_BENCH_GALLERY"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1000 {
			b.Fatalf("MADOGUCHI_BENCH_GALLERY=%q", s)
		}
		return n
	}
	return def
}

// BenchmarkExactSearch: one 1:N query over the whole gallery (default
// 1,000,000 templates; MADOGUCHI_BENCH_GALLERY overrides) on every core:
// int8 codes with the AVX2 kernel (what the service runs), the same codes
// with the portable Go kernel, and float32 templates with the AVX2/FMA
// kernel (the exact baseline). It also reports, for probes that are
// another capture of a gallery person, the share of mates above the
// threshold 0.93 that the int8 search (with its margin) returns, against
// float32: the quantisation's loss.
func BenchmarkExactSearch(b *testing.B) {
	for _, pr := range []profile{dlibLike, {name: "dlib-like", dim: 512, impostorMean: 0.84, exp: 1, mateCos: 0.955, threshold: 0.93}} {
		dim := pr.dim
		n := benchSize(b, 1_000_000)
		g := newConeGen(pr, 11)
		flat := syntheticGallery(g, n, 12)
		ix := newIndex()
		for i := range n {
			if err := ix.add(int64(i), "t", "m", flat[i*dim:(i+1)*dim]); err != nil {
				b.Fatal(err)
			}
		}
		sh := ix.shards[shardKey{"t", "m"}]
		stride := strideFor(dim)
		frows := make([]float32, n*stride)
		for i := range n {
			copy(frows[i*stride:], flat[i*dim:(i+1)*dim])
		}
		r := mrand.New(mrand.NewPCG(13, 14))
		probes := make([][]float32, 64)
		mates := make([]int, len(probes))
		for i := range probes {
			mates[i] = r.IntN(n)
			probes[i] = make([]float32, dim)
			g.mateOf(r, flat[mates[i]*dim:(mates[i]+1)*dim], probes[i])
		}
		const threshold = 0.93
		b.Run(fmt.Sprintf("n=%d/dim=%d/int8-avx2", n, dim), func(b *testing.B) {
			found, above := 0, 0
			for i := 0; b.Loop(); i++ {
				p := probes[i%len(probes)]
				hs := ix.search([]string{"t"}, "m", p, threshold-quantMargin, maxCandidates)
				if i < len(probes) {
					exact := dot32(p, flat[mates[i]*dim:(mates[i]+1)*dim])
					if exact > threshold {
						above++
						for _, h := range hs {
							if h.id == int64(mates[i]) {
								found++
							}
						}
					}
				}
			}
			if above > 0 {
				b.ReportMetric(float64(found)/float64(above), "mate-recall")
			}
			b.ReportMetric(float64(sh.stride+4+8), "bytes/template")
		})
		b.Run(fmt.Sprintf("n=%d/dim=%d/int8-go", n, dim), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				q, _ := quantiseQuery(probes[i%len(probes)], sh.stride)
				parallelRows(n, func(lo, hi int) {
					out := make([]int32, block)
					for s := lo; s < hi; s += block {
						m := min(block, hi-s)
						dotsInt8Go(q, sh.codes[s*sh.stride:(s+m)*sh.stride], sh.stride, out[:m])
					}
				})
			}
		})
		b.Run(fmt.Sprintf("n=%d/dim=%d/float32-avx2", n, dim), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				q := make([]float32, stride)
				copy(q, probes[i%len(probes)])
				parallelRows(n, func(lo, hi int) {
					out := make([]float32, block)
					for s := lo; s < hi; s += block {
						m := min(block, hi-s)
						dotsFloat32(q, frows[s*stride:(s+m)*stride], stride, out[:m])
					}
				})
			}
			b.ReportMetric(float64(4*stride+8), "bytes/template")
		})
		ix, flat, frows = nil, nil, nil
		runtime.GC()
	}
}

func parallelRows(n int, fn func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	per := (n + workers - 1) / workers
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(w*per, min(n, (w+1)*per))
		}()
	}
	wg.Wait()
}

// BenchmarkIVF: the approximate index of the 10,000,000 design, built over
// the synthetic gallery (default 1,000,000 templates of the dlib-like
// profile; MADOGUCHI_BENCH_PROFILE=arcface-like for the other), at several
// nprobe: time per query, the share of mates above the profile's
// threshold it finds (against the exact answer), and memory per template.
func BenchmarkIVF(b *testing.B) {
	pr := dlibLike
	if os.Getenv("MADOGUCHI_BENCH_PROFILE") == arcLike.name {
		pr = arcLike
	}
	dim, thr := pr.dim, float32(pr.threshold)
	n := benchSize(b, 1_000_000)
	nlist := int(math.Sqrt(float64(n)))
	g := newConeGen(pr, 21)
	flat := syntheticGallery(g, n, 22)
	vs := make([][]float32, n)
	for i := range vs {
		vs[i] = flat[i*dim : (i+1)*dim]
	}
	start := time.Now()
	r := mrand.New(mrand.NewPCG(23, 24))
	sample := make([][]float32, min(n, 64*nlist))
	for i, j := range r.Perm(n)[:len(sample)] {
		sample[i] = vs[j]
	}
	ix := trainIVF(sample, dim, nlist, 8, 25)
	ix.replicas = benchEnv("MADOGUCHI_BENCH_REPLICAS")
	ix.addAll(vs)
	b.Logf("IVF over %d templates (each in %d list(s)): %d lists, built in %s, %.1f bytes/template", n, max(1, ix.replicas), nlist, time.Since(start).Round(time.Second), float64(ix.bytes())/float64(n))
	probes := make([][]float32, 400)
	mates := make([]int, len(probes))
	var above []int
	for i := range probes {
		mates[i] = r.IntN(n)
		probes[i] = make([]float32, dim)
		g.mateOf(r, vs[mates[i]], probes[i])
		if dot32(probes[i], vs[mates[i]]) > float64(thr) {
			above = append(above, i)
		}
	}
	for _, nprobe := range []int{16, 64, 128, 256, 400, 600, 800} {
		b.Run(fmt.Sprintf("%s/n=%d/nlist=%d/replicas=%d/nprobe=%d", pr.name, n, nlist, max(1, ix.replicas), nprobe), func(b *testing.B) {
			found := 0
			for _, i := range above {
				for _, h := range ix.search(probes[i], nprobe, thr-quantMargin, maxCandidates) {
					if h.id == int64(mates[i]) {
						found++
						break
					}
				}
			}
			for i := 0; b.Loop(); i++ {
				ix.search(probes[i%len(probes)], nprobe, thr-quantMargin, maxCandidates)
			}
			b.ReportMetric(float64(found)/float64(len(above)), "mate-recall")
			b.ReportMetric(float64(ix.bytes())/float64(n), "bytes/template")
		})
	}
}

// BenchmarkIndexMemory reports the heap the exact index holds per template
// (codes, scales, ids and the maps that make removal O(1)), measured with
// runtime.MemStats around adding 200,000 templates.
func BenchmarkIndexMemory(b *testing.B) {
	for _, dim := range []int{128, 512} {
		b.Run(fmt.Sprintf("dim=%d", dim), func(b *testing.B) {
			const n = 200_000
			g := newConeGen(profile{dim: dim, impostorMean: 0.84, exp: 1, mateCos: 0.955}, 41)
			r := mrand.New(mrand.NewPCG(42, 43))
			v := make([]float32, dim)
			for b.Loop() {
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				ix := newIndex()
				for i := range n {
					g.fill(r, v)
					_ = ix.add(int64(i), "t", "m", v)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heap-bytes/template")
				runtime.KeepAlive(ix)
			}
		})
	}
}
