package credential

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"
)

// benchDims runs fn for the template sizes of the two recognisers (512-D:
// mfn512, the default; 128-D: resnet128).
func benchDims(b *testing.B, fn func(b *testing.B, f *fixture)) {
	for _, dim := range []int{512, 128} {
		b.Run(fmt.Sprintf("%dD", dim), func(b *testing.B) {
			f := newFixture(b)
			f.tpl = randomTemplate(b, 1, dim)
			fn(b, f)
		})
	}
}

// BenchmarkIssue: Compact + HPKE seal + CWT + COSE_Sign1 (no QR rendering,
// no store); BenchmarkES256Sign is the bare signature in the same run.
func BenchmarkIssue(b *testing.B) {
	benchDims(b, func(b *testing.B, f *fixture) {
		for b.Loop() {
			f.issue(b, "tnt_a", 3, time.Hour)
		}
	})
}

// BenchmarkIssueWithQR adds the PNG and SVG rendering.
func BenchmarkIssueWithQR(b *testing.B) {
	benchDims(b, func(b *testing.B, f *fixture) {
		for b.Loop() {
			if _, err := RenderQR(f.issue(b, "tnt_a", 3, time.Hour).Text); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkES256Sign(b *testing.B) {
	f := newFixture(b)
	h := sha256.Sum256([]byte("x"))
	for b.Loop() {
		if _, _, err := ecdsa.Sign(rand.Reader, f.iss.signer.(*ecdsa.PrivateKey), h[:]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyOffline: the branch's offline check (Base45, CBOR, COSE
// signature, times, status list, HPKE open, expand), face inference
// excluded; BenchmarkES256Verify is the bare signature check.
func BenchmarkVerifyOffline(b *testing.B) {
	benchDims(b, func(b *testing.B, f *fixture) {
		text := f.issue(b, "tnt_a", 3, time.Hour).Text
		now := time.Now()
		for b.Loop() {
			if _, err := f.trust.Verify(text, now); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkES256Verify(b *testing.B) {
	f := newFixture(b)
	h := sha256.Sum256([]byte("x"))
	r, s, _ := ecdsa.Sign(rand.Reader, f.iss.signer.(*ecdsa.PrivateKey), h[:])
	for b.Loop() {
		if !ecdsa.Verify(f.iss.Public(), h[:], r, s) {
			b.Fatal("verify")
		}
	}
}
