package jpki

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// TrustFramework is the OpenID Identity Assurance trust framework of every
// result: the Act on Prevention of Transfer of Criminal Proceeds.
const TrustFramework = "jp_aml"

// ElectronicSignature is OpenID Identity Assurance evidence of type
// "electronic_signature".
type ElectronicSignature struct {
	Type          string `json:"type"` // "electronic_signature"
	SignatureType string `json:"signature_type"`
	Issuer        string `json:"issuer"`
	SerialNumber  string `json:"serial_number"`
	CreatedAt     string `json:"created_at,omitempty"` // RFC 3339
}

// Evidence returns the electronic_signature evidence of a successful result.
// namespace is the deployment's URI prefix for custom identifiers (for
// example "https://hub.example.jp"); signature_type is namespace +
// "/signature/jpki_sign" or "/signature/jpki_auth".
func (r *Result) Evidence(namespace string) (ElectronicSignature, error) {
	if r.Certificate == nil {
		return ElectronicSignature{}, fmt.Errorf("jpki: no evidence for a failed verification")
	}
	issuer, err := issuerString(r.Certificate.RawIssuer)
	if err != nil {
		return ElectronicSignature{}, err
	}
	return ElectronicSignature{
		Type:          "electronic_signature",
		SignatureType: strings.TrimSuffix(namespace, "/") + "/signature/jpki_" + r.Usage.String(),
		Issuer:        issuer,
		SerialNumber:  strings.ToUpper(r.Certificate.SerialNumber.Text(16)),
		CreatedAt:     r.SigningTime.UTC().Format(time.RFC3339),
	}, nil
}

// issuerString renders a DER Name in its encoded order as "C=JP, O=JPKI,
// OU=…", the form the reference memo uses for J-LIS issuers.
func issuerString(raw []byte) (string, error) {
	var rdns pkix.RDNSequence
	if rest, err := asn1.Unmarshal(raw, &rdns); err != nil || len(rest) != 0 {
		return "", fmt.Errorf("%w: issuer name", ErrCertificate)
	}
	short := map[string]string{"2.5.4.6": "C", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.3": "CN", "2.5.4.7": "L", "2.5.4.8": "ST"}
	var parts []string
	for _, rdn := range rdns {
		for _, atv := range rdn {
			k, ok := short[atv.Type.String()]
			if !ok {
				k = atv.Type.String()
			}
			parts = append(parts, fmt.Sprintf("%s=%v", k, atv.Value))
		}
	}
	return strings.Join(parts, ", "), nil
}

// Claims are the verified claims of a signing-certificate result, in OpenID
// Connect claim names. Values are Secrets; Reveal builds the JSON object.
type Claims struct {
	Name      Secret `json:"name"`               // as registered, full-width space between family and given name
	Birthdate Secret `json:"birthdate,omitzero"` // YYYY-MM-DD; empty when the registry has only part of it
	Gender    Secret `json:"gender,omitzero"`    // "male", "female", or empty for another code
	Address   Secret `json:"address"`            // formatted address
	// NameExact and AddressExact are false when a substitute character
	// (代替文字) may stand in the value, or the flags could not be matched.
	NameExact    bool `json:"-"`
	AddressExact bool `json:"-"`
}

// LogValue implements slog.LogValuer.
func (c Claims) LogValue() slog.Value { return slog.StringValue(redacted) }

// Claims returns the verified claims, or an error for a failed or
// authentication result (the 利用者証明用 certificate has no attributes).
func (r *Result) Claims() (Claims, error) {
	if r.Attributes == nil || r.Certificate == nil {
		return Claims{}, fmt.Errorf("jpki: no verified attributes in this result")
	}
	a := r.Attributes
	return Claims{
		Name:         a.Name.Value,
		Birthdate:    a.DateOfBirth.ISO(),
		Gender:       a.Gender(),
		Address:      a.Address.Value,
		NameExact:    a.Name.Exact,
		AddressExact: a.Address.Exact,
	}, nil
}

// Reveal returns the claims as the "claims" object of verified_claims, in
// clear. Call it only to build the signed result for the relying service.
func (c Claims) Reveal() map[string]any {
	m := map[string]any{"name": c.Name.Reveal(), "address": map[string]string{"formatted": c.Address.Reveal(), "country": "JP"}}
	if !c.Birthdate.IsZero() {
		m["birthdate"] = c.Birthdate.Reveal()
	}
	if !c.Gender.IsZero() {
		m["gender"] = c.Gender.Reveal()
	}
	return m
}

// Record is what the verification record (確認記録) keeps of a JPKI
// verification: the exact signed bytes, the signature as received, the
// certificate chain, and the revocation evidence. It holds personal data
// (the certificate) and must be stored encrypted; it logs redacted.
type Record struct {
	Usage          string    `json:"usage"`
	Form           string    `json:"form"`
	SignedBytes    []byte    `json:"signed_bytes"`
	Signature      []byte    `json:"signature"`
	Chain          [][]byte  `json:"chain"` // DER, leaf first
	SigningTime    time.Time `json:"signing_time"`
	VerifiedAt     time.Time `json:"verified_at"`
	RevocationType string    `json:"revocation_method"`
	Revocation     []byte    `json:"revocation"` // DER CRL or OCSP response
	RevocationAt   time.Time `json:"revocation_this_update"`
	Checks         []Check   `json:"checks"`
}

// LogValue implements slog.LogValuer.
func (rec *Record) LogValue() slog.Value {
	return slog.GroupValue(slog.String("usage", rec.Usage), slog.Time("verified_at", rec.VerifiedAt))
}

// Record returns the record of a successful result.
func (r *Result) Record() (*Record, error) {
	if r.Certificate == nil || r.Revocation == nil {
		return nil, fmt.Errorf("jpki: no record for a failed verification")
	}
	rec := &Record{
		Usage:          r.Usage.String(),
		Form:           r.Form.String(),
		SignedBytes:    r.SignedBytes,
		Signature:      r.SignatureBytes,
		SigningTime:    r.SigningTime,
		VerifiedAt:     r.VerifiedAt,
		RevocationType: r.Revocation.Method,
		Revocation:     r.Revocation.Raw,
		RevocationAt:   r.Revocation.ThisUpdate,
		Checks:         r.Checks,
	}
	for _, c := range r.Chain {
		rec.Chain = append(rec.Chain, c.Raw)
	}
	return rec, nil
}
