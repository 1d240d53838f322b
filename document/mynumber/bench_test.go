package mynumber_test

import "testing"

// BenchmarkVerify verifies both APs: four RSA-2048 verifications (two CV
// certificates, two AP signatures).
func BenchmarkVerify(b *testing.B) {
	files := issue(b, card())
	v := verifier(b)
	b.ReportAllocs()
	for b.Loop() {
		f := files
		f.MyNumber, f.MyNumberImage = nil, nil
		if _, err := v.Verify(&f, now); err != nil {
			b.Fatal(err)
		}
	}
}
