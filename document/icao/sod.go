package icao

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/internal/cms"
	"github.com/madoguchi/madoguchi/document/internal/tlv"
)

// OIDLDSSecurityObject is the eContentType of EF.SOD.
var OIDLDSSecurityObject = asn1.ObjectIdentifier{2, 23, 136, 1, 1, 1}

// OIDData is CMS id-data (RFC 5652 §4). Chinese passports label their
// LDSSecurityObject with it instead of id-icao-ldsSecurityObject; ParseSOD
// accepts it and Verify accepts it only for the issuing states in
// DataContentTypeStates.
var OIDData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}

// DataContentTypeStates are the issuing states (DG1 codes) whose EF.SOD may
// carry eContentType id-data instead of id-icao-ldsSecurityObject: a known
// deviation of real documents (seen on passports of the People's Republic
// of China, as gmrtd records). It is harmless: the content must still
// decode as an LDSSecurityObject, the signed content-type attribute must
// name the same type, and the signature covers both; only the label
// differs. The verifier records it as the note "sod.content_type".
var DataContentTypeStates = []string{"CHN"}

// SOD is a decoded EF.SOD: the CMS SignedData and its LDS security object.
type SOD struct {
	SignedData *cms.SignedData
	// ContentType is the eContentType: OIDLDSSecurityObject, or OIDData
	// for the deviation described at DataContentTypeStates.
	ContentType   asn1.ObjectIdentifier
	Version       int
	HashAlgorithm pkix.AlgorithmIdentifier
	Hashes        map[int][]byte // data-group number → hash
}

type ldsSecurityObject struct {
	Version       int
	HashAlgorithm pkix.AlgorithmIdentifier
	Hashes        []struct {
		Number int
		Hash   []byte
	}
	LDSVersion asn1.RawValue `asn1:"optional"`
}

// ParseSOD decodes EF.SOD (tag 0x77 around a CMS ContentInfo).
func ParseSOD(b []byte) (*SOD, error) {
	if len(b) > MaxSOD {
		return nil, fmt.Errorf("icao: EF.SOD: %w: %d bytes", document.ErrTooLarge, len(b))
	}
	o, err := tlv.Parse(b)
	if err != nil {
		return nil, malformed("EF.SOD: %v", err)
	}
	if o.Tag != 0x77 {
		return nil, malformed("EF.SOD has tag %s, want 77", o.Tag)
	}
	sd, err := cms.Parse(o.Value)
	if err != nil {
		return nil, malformed("EF.SOD: %v", err)
	}
	if !sd.EContentType.Equal(OIDLDSSecurityObject) && !sd.EContentType.Equal(OIDData) {
		return nil, malformed("EF.SOD content type %v is not ldsSecurityObject", sd.EContentType)
	}
	if sd.EContent == nil {
		return nil, malformed("EF.SOD content is detached")
	}
	var lso ldsSecurityObject
	if rest, err := asn1.Unmarshal(sd.EContent, &lso); err != nil || len(rest) != 0 {
		return nil, malformed("LDSSecurityObject does not decode")
	}
	if lso.Version < 0 || lso.Version > 1 || len(lso.Hashes) == 0 || len(lso.Hashes) > 16 {
		return nil, malformed("LDSSecurityObject version %d with %d hashes", lso.Version, len(lso.Hashes))
	}
	s := &SOD{SignedData: sd, ContentType: sd.EContentType, Version: lso.Version, HashAlgorithm: lso.HashAlgorithm, Hashes: map[int][]byte{}}
	for _, h := range lso.Hashes {
		if _, ok := DGTag(h.Number); !ok {
			return nil, malformed("LDSSecurityObject lists data group %d", h.Number)
		}
		if _, dup := s.Hashes[h.Number]; dup {
			return nil, malformed("LDSSecurityObject lists DG%d twice", h.Number)
		}
		if len(h.Hash) < 20 || len(h.Hash) > 64 {
			return nil, malformed("DG%d hash of %d bytes", h.Number, len(h.Hash))
		}
		s.Hashes[h.Number] = h.Hash
	}
	return s, nil
}
