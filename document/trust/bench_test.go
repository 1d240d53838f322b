package trust_test

import (
	"testing"

	"github.com/madoguchi/madoguchi/document/internal/cert"
	"github.com/madoguchi/madoguchi/document/trust"
)

// BenchmarkParseMasterList verifies and parses the German master list
// (~590 CSCA certificates).
func BenchmarkParseMasterList(b *testing.B) {
	der, root := readML(b)
	for b.Loop() {
		if _, err := trust.ParseMasterList(der, [][]byte{root}, importTime, cert.DefaultPolicy()); err != nil {
			b.Fatal(err)
		}
	}
}
