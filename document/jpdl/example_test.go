package jpdl_test

import (
	"crypto/x509"
	"fmt"
	"time"

	"github.com/madoguchi/madoguchi/document/jpdl"
	"github.com/madoguchi/madoguchi/document/jpdl/jpdltest"
)

// A relying party configures the 公安委員会 certificates once, then verifies
// the files a kiosk read from each licence.
func ExampleVerifier_Verify() {
	is, err := jpdltest.New(nil, "test 公安委員会") // a test issuer stands in for a real card
	if err != nil {
		panic(err)
	}
	files, err := is.Issue(jpdltest.Licence{
		Name: "山田　太郎", Address: "東京都千代田区", Honseki: "東京都", PSC: "東京都公安委員会",
		Birth:  time.Date(1990, 1, 2, 0, 0, 0, 0, time.UTC),
		Issued: time.Date(2024, 2, 15, 0, 0, 0, 0, time.UTC), Expiry: time.Date(2029, 3, 15, 0, 0, 0, 0, time.UTC),
		Number: "301234567890",
	})
	if err != nil {
		panic(err)
	}
	v, err := jpdl.NewVerifier([]*x509.Certificate{is.Certificate()})
	if err != nil {
		panic(err)
	}
	ev, err := v.Verify(files, time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	fmt.Println("verified:", ev.Verified)
	for _, a := range ev.Attributes[:3] {
		fmt.Println(a.Name, a.Value, a.Signed) // values redact themselves
	}
	fmt.Println("test anchor refused in production:", v.CheckProduction() != nil)
	// Output:
	// verified: true
	// name [redacted] true
	// birthdate [redacted] true
	// address [redacted] true
	// test anchor refused in production: true
}
