package ekyc

import (
	"fmt"
	"time"
)

// Method is a legal identity-verification method under 犯罪による収益の移転防止に
// 関する法律施行規則 (Ordinance for Enforcement of the Act on Prevention of
// Transfer of Criminal Proceeds) Art. 6(1)(i). Sessions store the stable
// Code, never the letter: the 2027-04-01 amendment renumbers the letters.
type Method struct {
	// Code is the stable internal identifier, e.g. "jp_aml.6-1-1-he".
	Code string
	// API is the name clients use in requests: "he", "ho" or "wa".
	API string
	// Letter is the item letter as of the citation below.
	Letter string
	// Citation is the legal basis in Japanese.
	Citation string
	// CitationEN is an English rendering of Citation.
	CitationEN string
	// EffectiveFrom is when the method became available (JST midnight).
	EffectiveFrom time.Time
	// AbolishedFrom, if not zero, is when the method is abolished in
	// principle; tenants may still offer it only where the amendment's
	// exceptions apply (Policy.OfferHoAfterAmendment).
	AbolishedFrom time.Time
	// Amendment describes the 2025 amendment's effect on the method.
	Amendment string
	// Needs lists what a session of this method must capture.
	NeedsDocumentImages bool // front, back and thickness frames (ホ)
	NeedsChip           bool // IC chip files from a device (ヘ)
	NeedsSelfie         bool // live selfie frames with an active challenge
	NeedsSignature      bool // JPKI signature (ワ)
}

var jst = time.FixedZone("JST", 9*60*60)

// Dates of the legal texts.
var (
	// Amendment2018 created ホ, ヘ and ト (promulgated and in force 2018-11-30).
	Amendment2018 = time.Date(2018, 11, 30, 0, 0, 0, 0, jst)
	// Amendment2027 is when the 2025 amendment (promulgated 2025-06-24) comes
	// into force: image-based methods (ホ) are abolished in principle and the
	// letters of Art. 6(1)(i) are renumbered.
	Amendment2027 = time.Date(2027, 4, 1, 0, 0, 0, 0, jst)
	// jpkiSince is when the JPKI method (then ワ) was already in force in its
	// current form; JPKI-based verification predates the 2018 amendment.
	jpkiSince = time.Date(2016, 1, 1, 0, 0, 0, 0, jst)
)

// Method codes.
const (
	CodeHe = "jp_aml.6-1-1-he"
	CodeHo = "jp_aml.6-1-1-ho"
	CodeWa = "jp_aml.6-1-1-wa"
)

var methods = []Method{
	{
		Code: CodeHe, API: "he", Letter: "ヘ",
		Citation:      "犯罪による収益の移転防止に関する法律施行規則 第6条第1項第1号ヘ",
		CitationEN:    "Ordinance for Enforcement of the Act on Prevention of Transfer of Criminal Proceeds, Art. 6(1)(i)(f)",
		EffectiveFrom: Amendment2018,
		Amendment:     "retained by the 2025 amendment (in force 2027-04-01) under a new letter",
		NeedsChip:     true, NeedsSelfie: true,
	},
	{
		Code: CodeHo, API: "ho", Letter: "ホ",
		Citation:            "犯罪による収益の移転防止に関する法律施行規則 第6条第1項第1号ホ",
		CitationEN:          "Ordinance for Enforcement of the Act on Prevention of Transfer of Criminal Proceeds, Art. 6(1)(i)(e)",
		EffectiveFrom:       Amendment2018,
		AbolishedFrom:       Amendment2027,
		Amendment:           "abolished in principle by the 2025 amendment from 2027-04-01 (narrow exceptions remain)",
		NeedsDocumentImages: true, NeedsSelfie: true,
	},
	{
		Code: CodeWa, API: "wa", Letter: "ワ",
		Citation:       "犯罪による収益の移転防止に関する法律施行規則 第6条第1項第1号ワ",
		CitationEN:     "Ordinance for Enforcement of the Act on Prevention of Transfer of Criminal Proceeds, Art. 6(1)(i)(wa)",
		EffectiveFrom:  jpkiSince,
		Amendment:      "becomes the principal online method from 2027-04-01 under a new letter",
		NeedsSignature: true,
	},
}

// Methods returns every known method.
func Methods() []Method { return append([]Method(nil), methods...) }

// MethodByCode returns the method with the stable code c.
func MethodByCode(c string) (Method, error) {
	for _, m := range methods {
		if m.Code == c {
			return m, nil
		}
	}
	return Method{}, fmt.Errorf("%w: unknown method code", ErrInvalidInput)
}

// MethodByAPI returns the method a client names ("he", "ho", "wa").
func MethodByAPI(name string) (Method, error) {
	for _, m := range methods {
		if m.API == name {
			return m, nil
		}
	}
	return Method{}, fmt.Errorf("%w: method must be one of he, ho, wa", ErrInvalidInput)
}

// InForce reports whether m is legally available at t, ignoring tenant
// policy: after its effective date and before its abolition.
func (m Method) InForce(t time.Time) bool {
	if t.Before(m.EffectiveFrom) {
		return false
	}
	return m.AbolishedFrom.IsZero() || t.Before(m.AbolishedFrom)
}

// ProcedureURI names the method and the text version it was applied under,
// for verified_claims assurance_process.procedure.
func (m Method) ProcedureURI(base string) string {
	return base + "/policy/jp_aml/ordinance-art6-1-1/" + m.API + "@" + m.EffectiveFrom.Format(time.DateOnly)
}
