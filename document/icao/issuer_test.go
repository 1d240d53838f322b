package icao

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"

	"github.com/madoguchi/madoguchi/document/internal/cert"
)

func TestSameIssuer(t *testing.T) {
	enc := func(tag int) []byte {
		rdn := pkix.RDNSequence{
			{{Type: asn1.ObjectIdentifier{2, 5, 4, 6}, Value: "UT"}},
			{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: asn1.RawValue{Tag: tag, Bytes: []byte("Test CSCA")}}},
		}
		b, err := asn1.Marshal(rdn)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	printable, utf8 := enc(asn1.TagPrintableString), enc(asn1.TagUTF8String)
	var rdn pkix.RDNSequence
	if _, err := asn1.Unmarshal(printable, &rdn); err != nil {
		t.Fatal(err)
	}
	c := &cert.Certificate{RawIssuer: printable}
	c.Issuer.FillFromRDNSequence(&rdn)
	other := enc(asn1.TagPrintableString)
	other[len(other)-1] = 'B'
	for _, tt := range []struct {
		name string
		raw  []byte
		want bool
	}{
		{"same bytes", printable, true},
		{"UTF8String re-encoding", utf8, true},
		{"other name", other, false},
		{"garbage", []byte{0x30, 0x01}, false},
	} {
		if got := sameIssuer(tt.raw, c); got != tt.want {
			t.Errorf("sameIssuer(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
