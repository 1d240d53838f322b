package icao

import (
	"strings"

	"golang.org/x/text/language"
)

// Alpha2 maps an MRZ issuing-state code (ISO 3166-1 alpha-3 with the ICAO
// 9303 Part 3 exceptions) to the alpha-2 code used in certificates.
// "UTO" (Utopia, the ICAO specimen state) maps to "UT" for test documents.
func Alpha2(code string) (string, bool) {
	code = strings.TrimRight(strings.ToUpper(code), "< ")
	switch code {
	case "D":
		return "DE", true
	case "GBD", "GBN", "GBO", "GBP", "GBS":
		return "GB", true
	case "RKS":
		return "XK", true
	case "UTO":
		return "UT", true
	case "EUE":
		return "EU", true
	case "UNO", "UNA", "UNK":
		return "UN", true
	}
	if len(code) != 3 {
		return "", false
	}
	r, err := language.ParseRegion(code)
	if err != nil {
		return "", false
	}
	return r.String(), true
}

// Alpha3 normalises an MRZ issuing-state code to ISO 3166-1 alpha-3 for
// reports ("D" → "DEU"); unknown codes are returned as printed.
func Alpha3(code string) string {
	code = strings.TrimRight(strings.ToUpper(code), "< ")
	if code == "D" {
		return "DEU"
	}
	return code
}
