package jpeg2000

import (
	"bytes"
	"testing"
)

// The benchmark files: a 480x640 RGB 9/7 portrait at 40:1 (23 KB, the
// shape of an ICAO chip photo) and a 160x200 lossless face.
func benchmarkDecode(b *testing.B, file string) {
	data := mustRead(b, "testdata/"+file)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodePortrait97(b *testing.B) { benchmarkDecode(b, "portrait_97.jp2") }
func BenchmarkDecodeFace97(b *testing.B)     { benchmarkDecode(b, "face_97.jp2") }
func BenchmarkDecodeFace53(b *testing.B)     { benchmarkDecode(b, "face_53.jp2") }
