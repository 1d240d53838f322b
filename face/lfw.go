package face

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// LFWPair is one line of LFW's pairs.txt.
type LFWPair struct {
	A, B    string // image paths relative to the LFW folder
	Genuine bool
}

// ReadLFWPairs parses pairs.txt (View 2 with a "3000" header, or the
// official "10 300" header): genuine "name i j", impostor "name1 i name2 j".
func ReadLFWPairs(r io.Reader) ([]LFWPair, error) {
	sc := bufio.NewScanner(io.LimitReader(r, 1<<20))
	img := func(name, num string) (string, error) {
		n, err := strconv.Atoi(num)
		if err != nil || n <= 0 || n > 9999 || strings.ContainsAny(name, `/\.`) {
			return "", fmt.Errorf("bad pair entry %q %q", name, num)
		}
		return filepath.Join(name, fmt.Sprintf("%s_%04d.jpg", name, n)), nil
	}
	var pairs []LFWPair
	first := true
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if first {
			first = false
			if len(f) <= 2 {
				continue // header
			}
		}
		var p LFWPair
		var err1, err2 error
		switch len(f) {
		case 0:
			continue
		case 3:
			p.A, err1 = img(f[0], f[1])
			p.B, err2 = img(f[0], f[2])
			p.Genuine = true
		case 4:
			p.A, err1 = img(f[0], f[1])
			p.B, err2 = img(f[2], f[3])
		default:
			return nil, fmt.Errorf("pairs line %d: %d fields", len(pairs)+2, len(f))
		}
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		pairs = append(pairs, p)
		if len(pairs) > 100000 {
			return nil, errors.New("pairs file has more than 100000 pairs")
		}
	}
	return pairs, sc.Err()
}

// TenFoldAccuracy returns the mean and standard deviation of LFW 10-fold accuracy:
// for each fold the threshold maximising accuracy on the other nine is
// applied to it. fold(i) gives pair i's fold.
func TenFoldAccuracy(scores []float64, genuine []bool, fold func(int) int) (float64, float64) {
	var accs []float64
	for k := 0; k < 10; k++ {
		var train []int
		for i := range scores {
			if fold(i) != k {
				train = append(train, i)
			}
		}
		cands := make([]float64, 0, len(train))
		for _, i := range train {
			cands = append(cands, scores[i])
		}
		slices.Sort(cands)
		bestT, bestAcc := 0.0, -1.0
		for _, t := range cands {
			acc := accuracy(scores, genuine, train, t)
			if acc > bestAcc {
				bestAcc, bestT = acc, t
			}
		}
		var test []int
		for i := range scores {
			if fold(i) == k {
				test = append(test, i)
			}
		}
		accs = append(accs, accuracy(scores, genuine, test, bestT))
	}
	var m, v float64
	for _, a := range accs {
		m += a / 10
	}
	for _, a := range accs {
		v += (a - m) * (a - m) / 10
	}
	return m, math.Sqrt(v)
}

// accuracy: a pair is called genuine if its score is > t.
func accuracy(scores []float64, genuine []bool, idx []int, t float64) float64 {
	ok := 0
	for _, i := range idx {
		if (scores[i] > t) == genuine[i] {
			ok++
		}
	}
	return float64(ok) / float64(max(len(idx), 1))
}
