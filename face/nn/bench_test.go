package nn

import (
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkPointwise measures the GEMM on SSD's heaviest layer shape
// (1x1 conv, 32x32 pixels, 512 -> 512 channels) and reports GFLOP/s.
//
//	go test ./face/nn -run '^$' -bench Pointwise -cpu 1
func BenchmarkPointwise(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x := randTensor(r, 1, 32, 32, 512)
	c, err := NewConv2D(randTensor(r, 1, 1, 512, 512), nil, 1, 1, Same, ReLU6)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for b.Loop() {
		if _, err := c.Forward(x); err != nil {
			b.Fatal(err)
		}
	}
	flops := 2.0 * 32 * 32 * 512 * 512 * float64(b.N)
	b.ReportMetric(flops/time.Since(start).Seconds()/1e9, "GFLOP/s")
}

// BenchmarkDepthwise measures a 3x3 depthwise layer (128x128x64, SAME).
func BenchmarkDepthwise(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	x := randTensor(r, 1, 128, 128, 64)
	d, err := NewDepthwise(randTensor(r, 3, 3, 64, 1), nil, 1, 1, Same, ReLU6)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := d.Forward(x); err != nil {
			b.Fatal(err)
		}
	}
}
