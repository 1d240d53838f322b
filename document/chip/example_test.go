package chip_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/chip"
)

// A server builds one Verifier from its trust directory at start-up,
// refuses test anchors in production, and verifies each chip read with the
// challenge it issued for the session.
func ExampleVerifier() {
	cfg, err := chip.LoadDir("/nonexistent/trust") // a missing directory: every kind disabled
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := chip.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := v.CheckProduction(); err != nil {
		fmt.Println("refuse to start:", err)
		return
	}
	fmt.Println("enabled kinds:", len(v.Enabled()))
	files := map[string][]byte{"MF_EF01.bin": {0x45, 0}, "DF1_EF07.bin": {0xB1, 0}}
	_, err = v.Verify(context.Background(), document.KindJPDL, files, nil)
	fmt.Println(errors.Is(err, chip.ErrNoAnchors), errors.Is(err, document.ErrNotAccepted))
	// Output:
	// enabled kinds: 0
	// true true
}

// Detect names the kind of a bundle from its file names, or says why not.
func ExampleDetect() {
	for _, names := range [][]string{
		{"EF.SOD", "DG1.bin", "DG2.bin"},
		{"mf_ef01", "df1_ef01", "df3_ef01"},
		{"df1_ef07", "textap_ef02"},
	} {
		k, err := chip.Detect(names)
		if err != nil {
			var re *document.RefusalError
			errors.As(err, &re)
			fmt.Println("refused:", re.Reason)
			continue
		}
		fmt.Println(k)
	}
	// Output:
	// icao
	// residence
	// refused: "textap_ef02" is a mynumber file, but the other files are not: mixed bundle
}
