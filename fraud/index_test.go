package fraud

import (
	"math"
	mrand "math/rand/v2"
	"testing"
)

// randUnit returns a random unit vector of dim values.
func randUnit(r *mrand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	var ss float64
	for i := range v {
		x := r.NormFloat64()
		v[i] = float32(x)
		ss += x * x
	}
	inv := float32(1 / math.Sqrt(ss))
	for i := range v {
		v[i] *= inv
	}
	return v
}

// mate returns a unit vector at cosine about cos from v (a "same person"
// template: v plus independent noise).
func mate(r *mrand.Rand, v []float32, cos float64) []float32 {
	n := randUnit(r, len(v))
	// Remove n's component along v, then mix.
	var d float64
	for i := range v {
		d += float64(v[i]) * float64(n[i])
	}
	var ss float64
	for i := range n {
		n[i] -= float32(d) * v[i]
		ss += float64(n[i]) * float64(n[i])
	}
	s := math.Sqrt(1-cos*cos) / math.Sqrt(ss)
	out := make([]float32, len(v))
	for i := range v {
		out[i] = float32(cos)*v[i] + float32(s)*n[i]
	}
	return out
}

func exactDot(a, b []float32) float64 {
	var d float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
	}
	return d
}

func TestKernelsAgree(t *testing.T) {
	r := mrand.New(mrand.NewPCG(1, 2))
	for _, dim := range []int{1, 31, 32, 100, 128, 512, 1024} {
		stride := strideFor(dim)
		n := 37
		rows := make([]int8, n*stride)
		frows := make([]float32, n*stride)
		for i := range n {
			for j := range dim {
				rows[i*stride+j] = int8(r.IntN(255) - 127)
				frows[i*stride+j] = float32(r.NormFloat64())
			}
		}
		q := make([]int16, stride)
		fq := make([]float32, stride)
		for j := range dim {
			q[j] = int16(r.IntN(255) - 127)
			fq[j] = float32(r.NormFloat64())
		}
		got, want := make([]int32, n), make([]int32, n)
		dotsInt8(q, rows, stride, got)
		dotsInt8Go(q, rows, stride, want)
		for i := range got {
			var exact int32
			for j := range stride {
				exact += int32(q[j]) * int32(rows[i*stride+j])
			}
			if got[i] != exact || want[i] != exact {
				t.Fatalf("dim %d row %d: dotsInt8 = %d, Go = %d, want %d", dim, i, got[i], want[i], exact)
			}
		}
		fgot, fwant := make([]float32, n), make([]float32, n)
		dotsFloat32(fq, frows, stride, fgot)
		dotsFloat32Go(fq, frows, stride, fwant)
		for i := range fgot {
			exact := exactDot(fq[:stride], frows[i*stride:(i+1)*stride])
			if math.Abs(float64(fgot[i])-exact) > 1e-3 || math.Abs(float64(fwant[i])-exact) > 1e-3 {
				t.Fatalf("dim %d row %d: dotsFloat32 = %g, Go = %g, want %g", dim, i, fgot[i], fwant[i], exact)
			}
		}
	}
}

// TestIndexQuantisationError bounds the int8 codes' score error on unit
// templates of the dimensions the recognisers produce.
func TestIndexQuantisationError(t *testing.T) {
	r := mrand.New(mrand.NewPCG(3, 4))
	for _, dim := range []int{128, 512, 1024} {
		ix := newIndex()
		vs := make([][]float32, 500)
		for i := range vs {
			vs[i] = randUnit(r, dim)
			if err := ix.add(int64(i), "t", "m", vs[i]); err != nil {
				t.Fatal(err)
			}
		}
		worst := 0.0
		for range 20 {
			q := mate(r, vs[r.IntN(len(vs))], 0.7)
			for _, h := range ix.search([]string{"t"}, "m", q, -2, len(vs)) {
				worst = math.Max(worst, math.Abs(float64(h.score)-exactDot(q, vs[h.id])))
			}
		}
		if worst > quantMargin {
			t.Errorf("dim %d: worst |approx - exact| = %.4f, above the search margin %.4f", dim, worst, quantMargin)
		}
		t.Logf("dim %d: worst |approx - exact| = %.4f", dim, worst)
	}
}

func TestIndexSearchAddRemove(t *testing.T) {
	r := mrand.New(mrand.NewPCG(5, 6))
	ix := newIndex()
	const n = 3 * block // crosses kernel blocks
	vs := make([][]float32, n)
	for i := range vs {
		vs[i] = randUnit(r, 128)
		tenant := "a"
		if i%3 == 0 {
			tenant = "b"
		}
		if err := ix.add(int64(i), tenant, "m1", vs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.add(999999, "a", "m1", make([]float32, 64)); err == nil {
		t.Error("add(64-D into a 128-D shard) = nil, want an error")
	}
	probe := mate(r, vs[4], 0.8) // entry 4 is tenant a's
	hs := ix.search([]string{"a"}, "m1", probe, 0.5, 5)
	if len(hs) != 1 || hs[0].id != 4 {
		t.Fatalf("search(a) = %+v, want entry 4 alone", hs)
	}
	if hs := ix.search([]string{"b"}, "m1", probe, 0.5, 5); len(hs) != 0 {
		t.Errorf("search(b) = %+v, want nothing: entry 4 is tenant a's", hs)
	}
	if hs := ix.search([]string{"a"}, "m2", probe, 0.5, 5); len(hs) != 0 {
		t.Errorf("search(model m2) = %+v, want nothing: no template of another model is compared", hs)
	}
	ix.remove(4)
	ix.remove(4)
	if hs := ix.search([]string{"a"}, "m1", probe, 0.5, 5); len(hs) != 0 {
		t.Errorf("search after remove = %+v, want nothing", hs)
	}
	// The row moved into 4's place is still found.
	last := int64(n - 1)
	if hs := ix.search([]string{"a", "b"}, "m1", mate(r, vs[last], 0.8), 0.5, 5); len(hs) != 1 || hs[0].id != last {
		t.Errorf("search(last entry after a swap-remove) = %+v, want %d", hs, last)
	}
	if got := ix.size(); got != n-1 {
		t.Errorf("size = %d, want %d", got, n-1)
	}
	if c := ix.counts("b"); c["m1"] != n/3 {
		t.Errorf("counts(b) = %v, want m1:%d", c, n/3)
	}
}
