package jpdl

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/madoguchi/madoguchi/document/internal/pkcs1"
	"math/big"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/internal/jis"
)

// TestAnchorMarker is put in the subject organisation of every test
// anchor certificate (jpdltest); CheckProduction refuses such anchors.
const TestAnchorMarker = document.TestAnchorMarker

// Files are the raw files read from the licence chip. Gaiji (EF03) and
// ChangesGaiji (EF05) are optional and only digested; Changes (EF04) and
// HonsekiChanges (EF06) are optional.
type Files struct {
	Common         []byte // MF/EF01
	Matters        []byte // DF1/EF01
	Honseki        []byte // DF1/EF02
	Gaiji          []byte // DF1/EF03
	Changes        []byte // DF1/EF04
	ChangesGaiji   []byte // DF1/EF05
	HonsekiChanges []byte // DF1/EF06
	Signature      []byte // DF1/EF07
	Photo          []byte // DF2/EF01
}

type anchor struct {
	cert *x509.Certificate
	key  *rsa.PublicKey
	test bool
}

// Verifier verifies licence files against configured 公安委員会 keys.
type Verifier struct {
	anchors []anchor
}

// Errors about the trust configuration.
var ErrAnchor = errors.New("jpdl: unusable trust anchor")

// NewVerifier returns a verifier trusting the given 公安委員会 signer
// certificates. Each must carry an RSA key of at least 2048 bits and a
// subject key identifier (the EF07 B5 value selects it). At least one is
// required: a verifier with no anchors is a configuration error.
func NewVerifier(certs []*x509.Certificate) (*Verifier, error) {
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w: no 公安委員会 certificates configured", ErrAnchor)
	}
	v := &Verifier{}
	for i, c := range certs {
		k, ok := c.PublicKey.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%w: certificate %d (%s) has a %T key, want RSA", ErrAnchor, i, c.Subject, c.PublicKey)
		}
		if k.N.BitLen() < MinRSABits {
			return nil, fmt.Errorf("%w: certificate %d (%s) has RSA-%d, minimum %d", ErrAnchor, i, c.Subject, k.N.BitLen(), MinRSABits)
		}
		if len(c.SubjectKeyId) == 0 {
			return nil, fmt.Errorf("%w: certificate %d (%s) has no subject key identifier", ErrAnchor, i, c.Subject)
		}
		for _, a := range v.anchors {
			if bytes.Equal(a.cert.SubjectKeyId, c.SubjectKeyId) {
				return nil, fmt.Errorf("%w: certificate %d (%s) repeats key identifier %X", ErrAnchor, i, c.Subject, c.SubjectKeyId)
			}
		}
		v.anchors = append(v.anchors, anchor{cert: c, key: k, test: document.IsTestAnchor(c)})
	}
	return v, nil
}

// CheckProduction returns document.ErrTestAnchor if any configured anchor
// is a test anchor. The server calls it at start-up in production.
func (v *Verifier) CheckProduction() error {
	for _, a := range v.anchors {
		if a.test {
			return fmt.Errorf("%w: jpdl anchor %s", document.ErrTestAnchor, a.cert.Subject)
		}
	}
	return nil
}

func (v *Verifier) find(ski []byte) (anchor, bool) {
	for _, a := range v.anchors {
		if bytes.Equal(a.cert.SubjectKeyId, ski) {
			return a, true
		}
	}
	return anchor{}, false
}

const kind = document.KindJPDL

// Verify checks the licence files at time now. It returns the evidence and
// nil when every mandatory check passed; otherwise a *document.RefusalError
// (test with errors.Is against the document sentinels) and, when the files
// parsed, the evidence with the failed check recorded (Verified=false).
func (v *Verifier) Verify(f Files, now time.Time) (*document.Evidence, error) {
	for _, req := range []struct {
		name string
		b    []byte
		why  string
	}{
		{"MF/EF01", f.Common, "common data"},
		{"DF1/EF01", f.Matters, "記載事項"},
		{"DF1/EF02", f.Honseki, "本籍, covered by the signature (needs PIN2)"},
		{"DF1/EF07", f.Signature, "signature"},
		{"DF2/EF01", f.Photo, "photo, covered by the signature (needs PIN2)"},
	} {
		if len(req.b) == 0 {
			return nil, document.Refuse(kind, "file."+req.name, document.ErrMalformed, "%s (%s) missing", req.name, req.why)
		}
	}
	common, err := ParseCommon(f.Common)
	if err != nil {
		return nil, err
	}
	m, err := ParseMatters(f.Matters)
	if err != nil {
		return nil, err
	}
	honseki, err := ParseHonseki(f.Honseki)
	if err != nil {
		return nil, err
	}
	sig, err := ParseSignature(f.Signature)
	if err != nil {
		return nil, err
	}
	photo, err := ParsePhoto(f.Photo)
	if err != nil {
		return nil, err
	}
	changes, err := ParseChanges("DF1/EF04", f.Changes)
	if err != nil {
		return nil, err
	}
	hchanges, err := ParseChanges("DF1/EF06", f.HonsekiChanges)
	if err != nil {
		return nil, err
	}
	for _, o := range []struct {
		name string
		b    []byte
	}{{"DF1/EF03", f.Gaiji}, {"DF1/EF05", f.ChangesGaiji}} {
		if len(o.b) > MaxChanges {
			return nil, document.Refuse(kind, "file."+o.name, document.ErrTooLarge, "%s is %d bytes, limit %d", o.name, len(o.b), MaxChanges)
		}
	}

	ev := &document.Evidence{Kind: kind, IssuingCountry: "JPN", Issuer: m.PSC.S}
	for _, d := range []struct {
		name string
		b    []byte
	}{
		{"MF/EF01", f.Common}, {"DF1/EF01", f.Matters}, {"DF1/EF02", f.Honseki}, {"DF1/EF03", f.Gaiji},
		{"DF1/EF04", f.Changes}, {"DF1/EF05", f.ChangesGaiji}, {"DF1/EF06", f.HonsekiChanges},
		{"DF1/EF07", f.Signature}, {"DF2/EF01", f.Photo},
	} {
		if len(d.b) > 0 {
			ev.AddDigest(d.name, d.b)
		}
	}
	ev.AddCheck("structure", document.Pass, true, "licence files decode (spec version "+common.SpecVersion+")")

	refuse := func(check string, sentinel error, cause error, format string, args ...any) (*document.Evidence, error) {
		detail := fmt.Sprintf(format, args...)
		ev.AddCheck(check, document.Fail, true, detail)
		ev.Finish()
		err := sentinel
		if cause != nil {
			err = cause
		}
		return ev, document.Refuse(kind, check, err, "%s", detail)
	}

	a, ok := v.find(sig.SKI)
	if !ok {
		return refuse("signature.key", document.ErrUnknownIssuer, nil, "no configured 公安委員会 key has identifier %X", sig.SKI)
	}
	if len(sig.Serial) > 0 && new(big.Int).SetBytes(sig.Serial).Cmp(a.cert.SerialNumber) != 0 {
		return refuse("signature.key", document.ErrUnknownIssuer, nil, "key identifier %X matches %s but the serial number differs", sig.SKI, a.cert.Subject)
	}
	ev.AddCheck("signature.key", document.Pass, true, fmt.Sprintf("key %X of %s", sig.SKI, a.cert.Subject))

	// The licence was signed when it was issued: the signer certificate
	// must have been valid on the issue date (it may have expired since).
	if m.Issued.Before(dayOf(a.cert.NotBefore)) || m.Issued.After(a.cert.NotAfter) {
		return refuse("signature.key_validity", document.ErrExpired, nil, "issue date %s outside the signer certificate's validity %s to %s",
			m.Issued.Format(time.DateOnly), a.cert.NotBefore.Format(time.DateOnly), a.cert.NotAfter.Format(time.DateOnly))
	}
	ev.AddCheck("signature.key_validity", document.Pass, true, "signer certificate valid on the issue date")

	_, p1, _ := objects("DF1/EF01", f.Matters, MaxMatters)
	_, p2, _ := objects("DF1/EF02", f.Honseki, MaxHonseki)
	_, p3, _ := objects("DF2/EF01", f.Photo, MaxPhoto)
	h := sha256.New()
	h.Write(p1)
	h.Write(p2)
	h.Write(p3)
	if err := pkcs1.VerifySHA256(a.key, h.Sum(nil), sig.Value); err != nil {
		return refuse("signature", nil, err, "RSA/SHA-256 signature over DF1/EF01, DF1/EF02 and DF2/EF01: %v", err)
	}
	ev.AddCheck("signature", document.Pass, true, "RSA PKCS#1 v1.5 SHA-256 signature over DF1/EF01, DF1/EF02 and DF2/EF01 verified")

	if !common.Expiry.Equal(m.Expiry) || !common.Issued.Equal(m.Issued) {
		ev.AddCheck("common.consistent", document.Fail, false, "unsigned common data (MF/EF01) dates differ from the signed 記載事項")
	} else {
		ev.AddCheck("common.consistent", document.Pass, false, "common data dates match the signed 記載事項")
	}
	if now.After(m.Expiry.AddDate(0, 0, 1)) {
		return refuse("document.expiry", document.ErrExpired, nil, "licence expired on %s", m.Expiry.Format(time.DateOnly))
	}
	ev.AddCheck("document.expiry", document.Pass, true, "licence valid until "+m.Expiry.Format(time.DateOnly))

	ev.DocumentNumber = document.Secret(m.Number)
	ev.Expiry = m.Expiry
	ev.Photo = &document.Photo{Format: "jpeg2000", Data: photo, Signed: true}
	ev.Attributes = attributes(ev, m, honseki, append(changes, hchanges...))
	ev.Finish()
	return ev, nil
}

func dayOf(t time.Time) time.Time {
	t = t.In(jst)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, jst)
}

// attributes builds the attribute list: signed values from the signed
// files, overridden (as unsigned) by change records.
func attributes(ev *document.Evidence, m Matters, honseki jis.Text, changes []Change) []document.Attribute {
	var out []document.Attribute
	addText := func(name string, t jis.Text) {
		if t.S == "" {
			return
		}
		signed := t.Gaiji == 0
		if !signed {
			ev.AddCheck("text."+name, document.Fail, false, fmt.Sprintf("%s contains %d externally defined characters (外字); shown as 〓, reported unsigned", name, t.Gaiji))
		}
		out = append(out, document.Attribute{Name: name, Value: document.Secret(t.S), Signed: signed})
	}
	addText("name", m.Name)
	addText("name_kana", m.Kana)
	addText("alias", m.Alias)
	addText("unified_name", m.UnifiedName)
	out = append(out, document.Attribute{Name: "birthdate", Value: document.Secret(m.Birth.Format(time.DateOnly)), Signed: true})
	addText("address", m.Address)
	addText("honseki", honseki)
	out = append(out,
		document.Attribute{Name: "issue_date", Value: document.Secret(m.Issued.Format(time.DateOnly)), Signed: true},
		document.Attribute{Name: "expiry_date", Value: document.Secret(m.Expiry.Format(time.DateOnly)), Signed: true},
	)
	var conds []string
	gaiji := 0
	for _, c := range m.Conditions {
		if c.S != "" {
			conds = append(conds, c.S)
			gaiji += c.Gaiji
		}
	}
	if len(conds) > 0 {
		addText("conditions", jis.Text{S: strings.Join(conds, " / "), Gaiji: gaiji})
	}
	addText("licence_colour", m.Colour)
	addText("issuing_authority", m.PSC)

	// Apply the change records in order: the latest value of an item is
	// current and unsigned; the value at issue stays, signed, as
	// "<name>.at_issue".
	for _, c := range changes {
		name := c.Item
		switch name {
		case "kana":
			name = "name_kana"
		case "conditions_removed", "remarks", "spare":
			out = append(out, document.Attribute{Name: name, Value: document.Secret(c.Value.S), Signed: false})
			if name == "conditions_removed" {
				out = markUnsigned(out, "conditions")
			}
			continue
		}
		if name == "conditions" {
			out = markUnsigned(out, "conditions")
			out = append(out, document.Attribute{Name: "conditions_added", Value: document.Secret(c.Value.S), Signed: false})
			continue
		}
		replaced := false
		for i := range out {
			if out[i].Name != name {
				continue
			}
			if out[i].Signed {
				out = append(out, document.Attribute{Name: name + ".at_issue", Value: out[i].Value, Signed: true})
			}
			out[i].Value, out[i].Signed = document.Secret(c.Value.S), false
			replaced = true
			break
		}
		if !replaced {
			out = append(out, document.Attribute{Name: name, Value: document.Secret(c.Value.S), Signed: false})
		}
	}
	if len(changes) > 0 {
		ev.AddCheck("changes", document.Pass, false, fmt.Sprintf("%d change record(s) after issue (EF04/EF06), not covered by the signature: affected attributes reported unsigned", len(changes)))
	}
	return out
}

func markUnsigned(as []document.Attribute, name string) []document.Attribute {
	for i := range as {
		if as[i].Name == name && as[i].Signed {
			as = append(as, document.Attribute{Name: name + ".at_issue", Value: as[i].Value, Signed: true})
			as[i].Signed = false
		}
	}
	return as
}
