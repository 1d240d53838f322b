package document_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/madoguchi/madoguchi/document"
)

func ExampleEvidence_IDAEvidence() {
	ev := &document.Evidence{
		Kind: document.KindICAO, Issuer: "Japanese Government", IssuingCountry: "JPN",
		DocumentNumber: "TR1234567", Expiry: time.Date(2034, 4, 15, 0, 0, 0, 0, time.UTC),
	}
	ev.AddCheck("sod.signature", document.Pass, true, "")
	ev.Finish()
	ida, err := ev.IDAEvidence("chk-ic-01", time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC))
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := json.Marshal(ida)
	fmt.Println(string(b))
	// Output:
	// {"type":"document","check_details":[{"check_method":"vcrypt","check_id":"chk-ic-01","time":"2026-05-01T10:00:00Z"}],"document_details":{"type":"passport","document_number":"TR1234567","date_of_expiry":"2034-04-15","issuer":{"name":"Japanese Government","country_code":"JPN"}}}
}

func ExampleSecret() {
	s := document.Secret("TR1234567")
	fmt.Println(s, s.Reveal())
	// Output: [redacted] TR1234567
}
