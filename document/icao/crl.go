package icao

import (
	"crypto/x509/pkix"
	"encoding/asn1"
)

// crlSignatureAlgorithm returns the outer signatureAlgorithm of a DER CRL
// (crypto/x509 reduces it to an enum that loses PSS parameters and
// brainpool-ECDSA combinations).
func crlSignatureAlgorithm(der []byte) (pkix.AlgorithmIdentifier, error) {
	var outer struct {
		TBS asn1.RawValue
		Alg pkix.AlgorithmIdentifier
		Sig asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &outer); err != nil {
		return pkix.AlgorithmIdentifier{}, err
	}
	return outer.Alg, nil
}
