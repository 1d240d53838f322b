package fraud

import (
	"cmp"
	"math"
	mrand "math/rand/v2"
	"runtime"
	"slices"
	"sync"
)

// ivf is the approximate index of the 10,000,000-template design
// (docs/fraud.md): an inverted file. k-means (cosine) over a sample gives
// nlist centroids; every template is stored, as its int8 code, in the list
// of its nearest centroid; a query scores the centroids exactly and scans
// the nprobe nearest lists with the int8 kernel. Cost per query is about
// nlist + n*nprobe/nlist template scores instead of n. It is measured
// (recall of true matches above the threshold, speed, memory) by the
// benchmarks in ivf_test.go; the exact index (index.go) is what the
// service runs up to the sizes docs/fraud.md states.
type ivf struct {
	dim, stride int
	// replicas is how many nearest lists each template is stored in (1:
	// plain IVF; more trades memory for recall at a given nprobe).
	replicas  int
	centroids []float32 // nlist*stride (padded, unit length)
	nlist     int
	lists     []ivfList
}

type ivfList struct {
	codes []int8
	inv   []float32
	ids   []int64
}

// trainIVF runs spherical k-means on sample (unit vectors of dim values)
// for iters rounds and returns an empty index with nlist lists.
func trainIVF(sample [][]float32, dim, nlist, iters int, seed uint64) *ivf {
	stride := (dim + 15) &^ 15
	r := mrand.New(mrand.NewPCG(seed, 0x1f))
	ix := &ivf{dim: dim, stride: stride, nlist: nlist, centroids: make([]float32, nlist*stride), lists: make([]ivfList, nlist)}
	for c, i := range r.Perm(len(sample))[:nlist] {
		copy(ix.centroids[c*stride:], sample[i])
	}
	assign := make([]int, len(sample))
	for range iters {
		ix.assignAll(sample, assign)
		sums := make([]float64, nlist*dim)
		counts := make([]int, nlist)
		for i, v := range sample {
			c := assign[i]
			counts[c]++
			for j, x := range v {
				sums[c*dim+j] += float64(x)
			}
		}
		for c := range nlist {
			dst := ix.centroids[c*stride : c*stride+dim]
			if counts[c] == 0 { // re-seed an empty list
				copy(dst, sample[r.IntN(len(sample))])
				continue
			}
			var ss float64
			for j := range dim {
				ss += sums[c*dim+j] * sums[c*dim+j]
			}
			inv := 1 / math.Sqrt(ss)
			for j := range dim {
				dst[j] = float32(sums[c*dim+j] * inv)
			}
		}
	}
	return ix
}

// nearest returns the list of v's nearest centroid.
func (ix *ivf) nearest(q []float32, buf []float32) int {
	dotsFloat32(q, ix.centroids, ix.stride, buf)
	best := 0
	for c, s := range buf {
		if s > buf[best] {
			best = c
		}
	}
	return best
}

func (ix *ivf) pad(v []float32) []float32 {
	q := make([]float32, ix.stride)
	copy(q, v)
	return q
}

// assignAll sets assign[i] to the nearest centroid of vs[i], on every core.
func (ix *ivf) assignAll(vs [][]float32, assign []int) {
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	per := (len(vs) + workers - 1) / workers
	for w := range workers {
		lo, hi := w*per, min(len(vs), (w+1)*per)
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]float32, ix.nlist)
			for i := lo; i < hi; i++ {
				assign[i] = ix.nearest(ix.pad(vs[i]), buf)
			}
		}()
	}
	wg.Wait()
}

// addAll stores vs (ids 0..len-1) in their ix.replicas nearest lists.
func (ix *ivf) addAll(vs [][]float32) {
	reps := max(1, ix.replicas)
	assign := make([][]int, len(vs))
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	per := (len(vs) + workers - 1) / workers
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]float32, ix.nlist)
			order := make([]int, ix.nlist)
			for i := w * per; i < min(len(vs), (w+1)*per); i++ {
				dotsFloat32(ix.pad(vs[i]), ix.centroids, ix.stride, buf)
				for c := range order {
					order[c] = c
				}
				slices.SortFunc(order, func(a, b int) int { return cmp.Compare(buf[b], buf[a]) })
				assign[i] = slices.Clone(order[:reps])
			}
		}()
	}
	wg.Wait()
	st := strideFor(ix.dim)
	for i, v := range vs {
		for _, c := range assign[i] {
			l := &ix.lists[c]
			n := len(l.ids)
			l.codes = slices.Grow(l.codes, st)[:(n+1)*st]
			l.inv = append(l.inv, quantise(v, l.codes[n*st:]))
			l.ids = append(l.ids, int64(i))
		}
	}
}

// search scans the nprobe lists nearest to v and returns the entries at or
// above floor, best first (at most limit).
func (ix *ivf) search(v []float32, nprobe int, floor float32, limit int) []hit {
	cs := make([]float32, ix.nlist)
	dotsFloat32(ix.pad(v), ix.centroids, ix.stride, cs)
	order := make([]int, ix.nlist)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(cs[b], cs[a]) })
	st := strideFor(ix.dim)
	q, qinv := quantiseQuery(v, st)
	var (
		out []hit
		buf []int32
	)
	for _, c := range order[:min(nprobe, ix.nlist)] {
		l := &ix.lists[c]
		if len(l.ids) == 0 {
			continue
		}
		if cap(buf) < len(l.ids) {
			buf = make([]int32, len(l.ids))
		}
		buf = buf[:len(l.ids)]
		dotsInt8(q, l.codes, st, buf)
		for i, d := range buf {
			if s := float32(d) * qinv * l.inv[i]; s >= floor {
				out = append(out, hit{id: l.ids[i], score: s})
			}
		}
	}
	if ix.replicas > 1 { // a template can be found in several lists
		slices.SortFunc(out, func(a, b hit) int { return cmp.Or(cmp.Compare(a.id, b.id), cmp.Compare(b.score, a.score)) })
		out = slices.CompactFunc(out, func(a, b hit) bool { return a.id == b.id })
	}
	return topK(out, limit)
}

// bytes is the index's memory: codes, scales, ids and centroids.
func (ix *ivf) bytes() int {
	n := 4 * len(ix.centroids)
	for _, l := range ix.lists {
		n += cap(l.codes) + 4*cap(l.inv) + 8*cap(l.ids)
	}
	return n
}
