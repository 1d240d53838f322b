package residence_test

import (
	"testing"

	"github.com/madoguchi/madoguchi/document/residence/residencetest"
)

// BenchmarkVerify verifies a card: an X.509 chain and the check code.
func BenchmarkVerify(b *testing.B) {
	is, _ := issuers(b)
	f, err := is.Issue(residencetest.Card{Front: front})
	if err != nil {
		b.Fatal(err)
	}
	v := verifier(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(f, now); err != nil {
			b.Fatal(err)
		}
	}
}
