package document

import (
	"fmt"
	"time"
)

// OpenID Connect for Identity Assurance 1.0 evidence, as produced from a
// verified chip read. Field names follow the IDA schema (verified_claims.json).

// IDAEvidence is one element of verified_claims.verification.evidence with
// type "document".
type IDAEvidence struct {
	Type            string             `json:"type"` // always "document"
	CheckDetails    []IDACheckDetail   `json:"check_details"`
	DocumentDetails IDADocumentDetails `json:"document_details"`
}

// IDACheckDetail is one check_details entry.
type IDACheckDetail struct {
	CheckMethod  string `json:"check_method"`
	Organization string `json:"organization,omitempty"`
	CheckID      string `json:"check_id,omitempty"`
	Time         string `json:"time,omitempty"`
}

// IDADocumentDetails is the document_details object.
type IDADocumentDetails struct {
	Type           string     `json:"type"`
	DocumentNumber string     `json:"document_number,omitempty"`
	DateOfExpiry   string     `json:"date_of_expiry,omitempty"`
	Issuer         *IDAIssuer `json:"issuer,omitempty"`
}

// IDAIssuer is document_details.issuer.
type IDAIssuer struct {
	Name        string `json:"name,omitempty"`
	CountryCode string `json:"country_code,omitempty"` // ISO 3166-1 alpha-3
}

// IDADocumentType maps a kind to the IDA document type identifier.
func IDADocumentType(k Kind) (string, error) {
	switch k {
	case KindICAO:
		return "passport", nil
	case KindJPDL:
		return "driving_permit", nil
	case KindMyNumber:
		return "idcard", nil
	case KindResidence:
		return "residence_permit", nil
	}
	return "", fmt.Errorf("%w: kind %q", ErrNotAccepted, k)
}

// IDAEvidence maps verified evidence to an OIDC4IDA "document" evidence
// element with check_method "vcrypt" (the chip's cryptographic security
// features are intact and correct). checkID names the check for
// assurance_details references; at is when the check ran. The document
// number is never emitted for a My Number card. It returns ErrNotVerified
// for evidence that is not verified.
func (e *Evidence) IDAEvidence(checkID string, at time.Time) (IDAEvidence, error) {
	if !e.Verified {
		return IDAEvidence{}, ErrNotVerified
	}
	typ, err := IDADocumentType(e.Kind)
	if err != nil {
		return IDAEvidence{}, err
	}
	d := IDADocumentDetails{Type: typ}
	if e.Kind != KindMyNumber {
		d.DocumentNumber = e.DocumentNumber.Reveal()
	}
	if !e.Expiry.IsZero() {
		d.DateOfExpiry = e.Expiry.Format(time.DateOnly)
	}
	if e.Issuer != "" || e.IssuingCountry != "" {
		d.Issuer = &IDAIssuer{Name: e.Issuer, CountryCode: e.IssuingCountry}
	}
	cd := IDACheckDetail{CheckMethod: "vcrypt", CheckID: checkID}
	if !at.IsZero() {
		cd.Time = at.Format(time.RFC3339)
	}
	return IDAEvidence{Type: "document", CheckDetails: []IDACheckDetail{cd}, DocumentDetails: d}, nil
}

// SignedClaims returns the OIDC claims backed by signed attributes only:
// family_name, given_name, name, birthdate, gender, nationalities, address
// ({"formatted": …}). Unsigned attributes (e.g. a driver's licence change
// record) are left out; the caller decides whether to use them.
func (e *Evidence) SignedClaims() map[string]any {
	out := make(map[string]any)
	for _, a := range e.Attributes {
		if !a.Signed {
			continue
		}
		v := a.Value.Reveal()
		switch a.Name {
		case "family_name", "given_name", "name", "birthdate", "gender":
			if _, dup := out[a.Name]; !dup {
				out[a.Name] = v
			}
		case "nationality":
			out["nationalities"] = []string{v}
		case "address":
			out["address"] = map[string]string{"formatted": v}
		}
	}
	return out
}
