package nn

import (
	"errors"
	"testing"
)

func TestTranspose(t *testing.T) {
	x := NewTensor(2, 3, 4)
	for i := range x.Data {
		x.Data[i] = float32(i)
	}
	y, err := Transpose(x, []int{2, 0, 1})
	if err != nil {
		t.Fatal(err)
	}
	if y.Shape[0] != 4 || y.Shape[1] != 2 || y.Shape[2] != 3 {
		t.Fatalf("Transpose shape = %v, want [4 2 3]", y.Shape)
	}
	for a := 0; a < 2; a++ {
		for b := 0; b < 3; b++ {
			for c := 0; c < 4; c++ {
				if got, want := y.Data[(c*2+a)*3+b], x.Data[(a*3+b)*4+c]; got != want {
					t.Fatalf("y[%d,%d,%d] = %v, want %v", c, a, b, got, want)
				}
			}
		}
	}
	for _, perm := range [][]int{{0, 1}, {0, 0, 1}, {0, 1, 3}, {-1, 0, 1}} {
		if _, err := Transpose(x, perm); !errors.Is(err, ErrShape) {
			t.Errorf("Transpose(%v) error = %v, want ErrShape", perm, err)
		}
	}
	if _, err := Transpose(&Tensor{Shape: []int{2, 2}, Data: make([]float32, 3)}, []int{1, 0}); !errors.Is(err, ErrShape) {
		t.Errorf("Transpose of a lying tensor: error = %v, want ErrShape", err)
	}
}

func TestPreluRows(t *testing.T) {
	for _, c := range []int{1, 7, 8, 13, 64} {
		a := make([]float32, c)
		for i := range a {
			a[i] = float32(i%5)*0.1 - 0.15
		}
		d := make([]float32, 3*c)
		for i := range d {
			d[i] = float32((i*37)%19) - 9.5
		}
		want := make([]float32, len(d))
		for i, v := range d {
			want[i] = v
			if v < 0 {
				want[i] = v * a[i%c]
			}
		}
		preluRows(d, a)
		for i := range d {
			if d[i] != want[i] {
				t.Fatalf("c=%d: preluRows[%d] = %v, want %v", c, i, d[i], want[i])
			}
		}
	}
}
