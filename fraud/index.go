package fraud

import (
	"cmp"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
)

// index is the in-memory 1:N search structure: one shard per (tenant,
// model), each holding its templates as int8 codes (one scale per
// template) in one contiguous array, searched exhaustively with the AVX2
// kernel (dot_amd64.s). It holds no personal data besides the codes, and
// it is a cache: every candidate it returns is confirmed against the store
// before anyone sees it (gallery.go), so an entry that another instance
// removed is never reported even before this index hears of it.
//
// The int8 codes make a score approximate: |approx - exact| is bounded by
// quantError (measured, docs/fraud.md); a search returns every entry whose
// approximate score is within Margin of the threshold, and the caller
// re-scores those exactly.
type index struct {
	mu     sync.RWMutex
	shards map[shardKey]*shard
	where  map[int64]shardKey // entry → its shard
}

type shardKey struct{ tenant, model string }

type shard struct {
	dim, stride int
	codes       []int8    // n*stride; padding is zero
	inv         []float32 // per row: 1/scale
	ids         []int64   // per row: entry id
	pos         map[int64]int
}

// hit is a candidate from the index: an entry and its approximate score.
type hit struct {
	id     int64
	tenant string
	score  float32
}

func newIndex() *index {
	return &index{shards: map[shardKey]*shard{}, where: map[int64]shardKey{}}
}

// strideFor pads a dimension to the kernels' block (32 int8 values).
func strideFor(dim int) int { return (dim + 31) &^ 31 }

// quantise writes v's int8 code into dst (len stride) and returns 1/scale:
// code = round(v * 127 / max|v|).
func quantise(v []float32, dst []int8) float32 {
	var m float32
	for _, x := range v {
		m = max(m, float32(math.Abs(float64(x))))
	}
	if m == 0 {
		clear(dst)
		return 0
	}
	s := 127 / m
	for i, x := range v {
		dst[i] = int8(math.Round(float64(x * s)))
	}
	clear(dst[len(v):])
	return 1 / s
}

// quantiseQuery is quantise into int16 lanes for the kernel.
func quantiseQuery(v []float32, stride int) ([]int16, float32) {
	c := make([]int8, stride)
	inv := quantise(v, c)
	q := make([]int16, stride)
	for i, x := range c {
		q[i] = int16(x)
	}
	return q, inv
}

// add inserts (or replaces) entry id with template v under (tenant, model).
func (ix *index) add(id int64, tenant, model string, v []float32) error {
	if len(v) == 0 {
		return fmt.Errorf("fraud: empty template")
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.removeLocked(id)
	k := shardKey{tenant, model}
	sh := ix.shards[k]
	if sh == nil {
		sh = &shard{dim: len(v), stride: strideFor(len(v)), pos: map[int64]int{}}
		ix.shards[k] = sh
	}
	if len(v) != sh.dim {
		return fmt.Errorf("fraud: template of %d values in a %d-D gallery of one model", len(v), sh.dim)
	}
	n := len(sh.ids)
	sh.codes = slices.Grow(sh.codes, sh.stride)[:(n+1)*sh.stride]
	sh.inv = append(sh.inv, quantise(v, sh.codes[n*sh.stride:]))
	sh.ids = append(sh.ids, id)
	sh.pos[id] = n
	ix.where[id] = k
	return nil
}

// remove deletes entry id (a no-op if absent).
func (ix *index) remove(id int64) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.removeLocked(id)
}

func (ix *index) removeLocked(id int64) {
	k, ok := ix.where[id]
	if !ok {
		return
	}
	delete(ix.where, id)
	sh := ix.shards[k]
	i := sh.pos[id]
	last := len(sh.ids) - 1
	if i != last {
		copy(sh.codes[i*sh.stride:(i+1)*sh.stride], sh.codes[last*sh.stride:])
		sh.inv[i], sh.ids[i] = sh.inv[last], sh.ids[last]
		sh.pos[sh.ids[i]] = i
	}
	sh.codes, sh.inv, sh.ids = sh.codes[:last*sh.stride], sh.inv[:last], sh.ids[:last]
	delete(sh.pos, id)
	if last == 0 {
		delete(ix.shards, k)
	}
}

// counts returns the number of entries per model of tenant.
func (ix *index) counts(tenant string) map[string]int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	out := map[string]int{}
	for k, sh := range ix.shards {
		if k.tenant == tenant {
			out[k.model] += len(sh.ids)
		}
	}
	return out
}

func (ix *index) size() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.where)
}

// block is how many rows one kernel call scores (its output stays in L1).
const block = 2048

// search returns up to limit entries of the tenants' shards of model whose
// approximate score is at least floor, best first. Templates of another
// model are never compared (they live in other shards).
func (ix *index) search(tenants []string, model string, v []float32, floor float32, limit int) []hit {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var out []hit
	for _, t := range tenants {
		sh := ix.shards[shardKey{t, model}]
		if sh == nil || len(v) != sh.dim {
			continue
		}
		out = append(out, sh.search(t, v, floor, limit)...)
	}
	slices.SortFunc(out, func(a, b hit) int { return cmp.Compare(b.score, a.score) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

func (sh *shard) search(tenant string, v []float32, floor float32, limit int) []hit {
	q, qinv := quantiseQuery(v, sh.stride)
	n := len(sh.ids)
	workers := 1
	if n >= 4*block {
		workers = min(runtime.GOMAXPROCS(0), (n+block-1)/block)
	}
	parts := make([][]hit, workers)
	var wg sync.WaitGroup
	per := (n + workers - 1) / workers
	for w := range workers {
		lo, hi := w*per, min(n, (w+1)*per)
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[w] = sh.scan(tenant, q, qinv, lo, hi, floor, limit)
		}()
	}
	wg.Wait()
	var out []hit
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// scan scores rows [lo, hi) and keeps those at or above floor (at most
// limit, best first).
func (sh *shard) scan(tenant string, q []int16, qinv float32, lo, hi int, floor float32, limit int) []hit {
	var (
		buf [block]int32
		out []hit
	)
	for b := lo; b < hi; b += block {
		m := min(block, hi-b)
		dotsInt8(q, sh.codes[b*sh.stride:(b+m)*sh.stride], sh.stride, buf[:m])
		for i, d := range buf[:m] {
			s := float32(d) * qinv * sh.inv[b+i]
			if s >= floor {
				out = append(out, hit{id: sh.ids[b+i], tenant: tenant, score: s})
			}
		}
		if len(out) > 4*limit {
			out = topK(out, limit)
		}
	}
	return topK(out, limit)
}

func topK(h []hit, k int) []hit {
	slices.SortFunc(h, func(a, b hit) int { return cmp.Compare(b.score, a.score) })
	if len(h) > k {
		h = h[:k]
	}
	return h
}

// quantMargin is how far below the threshold the index looks: the int8
// codes' score error on unit templates of 128 to 1,024 values stays under
// it (TestIndexQuantisationError; measured in docs/fraud.md).
const quantMargin = 0.02

func (ix *index) has(id int64) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	_, ok := ix.where[id]
	return ok
}

func (ix *index) ids() []int64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	out := make([]int64, 0, len(ix.where))
	for id := range ix.where {
		out = append(out, id)
	}
	return out
}
