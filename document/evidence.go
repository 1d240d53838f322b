package document

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"time"
)

// Kind names an accepted document kind.
type Kind string

// The accepted document kinds.
const (
	KindICAO      Kind = "icao"      // ICAO 9303 eMRTD (passport)
	KindJPDL      Kind = "jpdl"      // Japanese driver's licence (IC免許証)
	KindMyNumber  Kind = "mynumber"  // My Number card (個人番号カード)
	KindResidence Kind = "residence" // residence card / special permanent resident certificate
)

// Kinds lists the accepted kinds in a stable order.
func Kinds() []Kind { return []Kind{KindICAO, KindJPDL, KindMyNumber, KindResidence} }

// Valid reports whether k is one of the accepted kinds.
func (k Kind) Valid() bool {
	for _, x := range Kinds() {
		if k == x {
			return true
		}
	}
	return false
}

// Result is the outcome of one check.
type Result string

// Check outcomes.
const (
	Pass    Result = "pass"
	Fail    Result = "fail"
	Skipped Result = "skipped" // not applicable (e.g. no CRL given); never for a mandatory check
)

// Check is one verification step and its outcome. Name is a stable
// machine-readable identifier ("sod.signature", "dg.hash.DG1"); Detail is a
// short reviewer-readable explanation that contains no personal data.
type Check struct {
	Name      string `json:"name"`
	Result    Result `json:"result"`
	Mandatory bool   `json:"mandatory"`
	Detail    string `json:"detail,omitempty"`
}

// Attribute is one holder or document attribute read from the chip, e.g.
// "family_name", "given_name", "birthdate" (YYYY-MM-DD), "nationality",
// "sex", "address". Signed reports whether the value is covered by a
// verified issuer signature.
type Attribute struct {
	Name   string `json:"name"`
	Value  Secret `json:"value"`
	Signed bool   `json:"signed"`
}

// Photo is the holder's face image as stored on the chip.
type Photo struct {
	Format string // "jpeg" or "jpeg2000"
	Data   []byte
	Signed bool
}

// LogValue implements slog.LogValuer without the image bytes.
func (p *Photo) LogValue() slog.Value {
	if p == nil {
		return slog.StringValue("<nil>")
	}
	return slog.GroupValue(slog.String("format", p.Format), slog.Int("bytes", len(p.Data)), slog.Bool("signed", p.Signed))
}

// String describes the photo without its bytes.
func (p *Photo) String() string {
	if p == nil {
		return "<nil>"
	}
	return "photo(" + p.Format + ", [redacted])"
}

type photoJSON struct {
	Format string `json:"format"`
	Size   int    `json:"size"`
	SHA256 string `json:"sha256"`
	Signed bool   `json:"signed"`
	Data   []byte `json:"data,omitempty"`
}

func (p *Photo) json(reveal bool) photoJSON {
	sum := sha256.Sum256(p.Data)
	j := photoJSON{Format: p.Format, Size: len(p.Data), SHA256: base64.StdEncoding.EncodeToString(sum[:]), Signed: p.Signed}
	if reveal {
		j.Data = p.Data
	}
	return j
}

// MarshalJSON encodes the photo's format, size, digest and signed flag, never
// its bytes.
func (p *Photo) MarshalJSON() ([]byte, error) { return json.Marshal(p.json(false)) }

// Evidence is the verified content of one document read.
type Evidence struct {
	Kind           Kind
	Issuer         string    // issuing authority, e.g. "Japanese Government / e-passportCSCA"
	IssuingCountry string    // ISO 3166-1 alpha-3, e.g. "JPN"
	DocumentNumber Secret    // never the My Number
	Expiry         time.Time // zero if the document has none
	Attributes     []Attribute
	Photo          *Photo
	Checks         []Check
	Digests        map[string][]byte // file name -> SHA-256 of the raw bytes received
	Verified       bool              // every mandatory check passed
}

// AddCheck appends a check result.
func (e *Evidence) AddCheck(name string, r Result, mandatory bool, detail string) {
	e.Checks = append(e.Checks, Check{Name: name, Result: r, Mandatory: mandatory, Detail: detail})
}

// AddDigest records the SHA-256 of a raw file.
func (e *Evidence) AddDigest(name string, raw []byte) {
	if e.Digests == nil {
		e.Digests = make(map[string][]byte)
	}
	sum := sha256.Sum256(raw)
	e.Digests[name] = sum[:]
}

// Attribute returns the first attribute with the given name.
func (e *Evidence) Attribute(name string) (Attribute, bool) {
	for _, a := range e.Attributes {
		if a.Name == name {
			return a, true
		}
	}
	return Attribute{}, false
}

// Failed returns the checks that did not pass and were mandatory.
func (e *Evidence) Failed() []Check {
	var out []Check
	for _, c := range e.Checks {
		if c.Mandatory && c.Result != Pass {
			out = append(out, c)
		}
	}
	return out
}

// Finish sets Verified: true if there is at least one mandatory check and
// every mandatory check passed. Verifiers call it last.
func (e *Evidence) Finish() {
	mandatory := 0
	for _, c := range e.Checks {
		if c.Mandatory {
			mandatory++
		}
	}
	e.Verified = mandatory > 0 && len(e.Failed()) == 0
}

// LogValue implements slog.LogValuer: kind, verification outcome and check
// names, no personal data.
func (e *Evidence) LogValue() slog.Value {
	if e == nil {
		return slog.StringValue("<nil>")
	}
	failed := make([]string, 0)
	for _, c := range e.Failed() {
		failed = append(failed, c.Name)
	}
	return slog.GroupValue(
		slog.String("kind", string(e.Kind)),
		slog.String("country", e.IssuingCountry),
		slog.Bool("verified", e.Verified),
		slog.Int("checks", len(e.Checks)),
		slog.Any("failed", failed),
	)
}

type attributeJSON struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Signed bool   `json:"signed"`
}

type evidenceJSON struct {
	Kind           Kind              `json:"kind"`
	Issuer         string            `json:"issuer,omitempty"`
	IssuingCountry string            `json:"issuing_country,omitempty"`
	DocumentNumber string            `json:"document_number,omitempty"`
	Expiry         string            `json:"expiry,omitempty"`
	Attributes     []attributeJSON   `json:"attributes,omitempty"`
	Photo          *photoJSON        `json:"photo,omitempty"`
	Checks         []Check           `json:"checks"`
	Digests        map[string][]byte `json:"digests_sha256,omitempty"`
	Verified       bool              `json:"verified"`
}

func (e *Evidence) toJSON(reveal bool) evidenceJSON {
	show := func(s Secret) string {
		if s == "" {
			return ""
		}
		if reveal {
			return s.Reveal()
		}
		return redacted
	}
	j := evidenceJSON{
		Kind: e.Kind, Issuer: e.Issuer, IssuingCountry: e.IssuingCountry,
		DocumentNumber: show(e.DocumentNumber), Checks: e.Checks, Digests: e.Digests, Verified: e.Verified,
	}
	if j.Checks == nil {
		j.Checks = []Check{}
	}
	if !e.Expiry.IsZero() {
		j.Expiry = e.Expiry.Format(time.DateOnly)
	}
	for _, a := range e.Attributes {
		j.Attributes = append(j.Attributes, attributeJSON{Name: a.Name, Value: show(a.Value), Signed: a.Signed})
	}
	if e.Photo != nil {
		p := e.Photo.json(reveal)
		j.Photo = &p
	}
	return j
}

// MarshalJSON encodes the evidence with personal data redacted.
func (e *Evidence) MarshalJSON() ([]byte, error) { return json.Marshal(e.toJSON(false)) }

// RevealedJSON encodes the evidence with personal data (document number,
// attribute values, photo bytes) in clear. Use it only where the caller is
// entitled to the data (an operator's --reveal, the encrypted record).
func (e *Evidence) RevealedJSON() ([]byte, error) { return json.Marshal(e.toJSON(true)) }
