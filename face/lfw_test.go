package face

import (
	"math"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadLFWPairs(t *testing.T) {
	in := "3000\nAbel_Pacheco\t1\t4\nAbdel_Madi_Shabneh\t1\tDean_Barker\t1\n"
	pairs, err := ReadLFWPairs(strings.NewReader(in))
	if err != nil || len(pairs) != 2 {
		t.Fatalf("ReadLFWPairs = %v, %v", pairs, err)
	}
	want := LFWPair{filepath.Join("Abel_Pacheco", "Abel_Pacheco_0001.jpg"), filepath.Join("Abel_Pacheco", "Abel_Pacheco_0004.jpg"), true}
	if pairs[0] != want || pairs[1].Genuine || pairs[1].B != filepath.Join("Dean_Barker", "Dean_Barker_0001.jpg") {
		t.Errorf("ReadLFWPairs = %+v, want %+v first", pairs, want)
	}
	for _, bad := range []string{"3000\n../etc 1 2\n", "3000\na x 2\n", "3000\na 1 2 3 4 5\n"} {
		if _, err := ReadLFWPairs(strings.NewReader(bad)); err == nil {
			t.Errorf("ReadLFWPairs(%q) = nil error", bad)
		}
	}
}

func TestTenFold(t *testing.T) {
	// 200 pairs, 10 folds of 10 genuine + 10 impostor; separable except one
	// genuine pair per fold scoring low: accuracy 95 %.
	var scores []float64
	var genuine []bool
	for k := 0; k < 10; k++ {
		for i := 0; i < 10; i++ {
			s := 0.9
			if i == 0 {
				s = 0.1
			}
			scores, genuine = append(scores, s), append(genuine, true)
		}
		for i := 0; i < 10; i++ {
			scores, genuine = append(scores, 0.3), append(genuine, false)
		}
	}
	acc, sd := TenFoldAccuracy(scores, genuine, func(i int) int { return i / 20 })
	if math.Abs(acc-0.95) > 1e-9 || sd > 1e-9 {
		t.Errorf("TenFoldAccuracy = %v ± %v, want 0.95 ± 0", acc, sd)
	}
}
