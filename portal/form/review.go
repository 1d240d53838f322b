package form

import (
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Decision is the review workbench's decision form (目視審査): the verdict,
// reason codes, the checklist items confirmed, a note, and for a method-ホ
// approval what the reviewer read off the document images.
type Decision struct {
	Verdict string   // "approve" or "reject"
	Reasons []string // reason codes
	Checked []string // checklist item codes
	Note    string
	// ホ: the 本人特定事項 read off the document images.
	FamilyName, GivenName, Birthdate, Address string
	DocType, DocNumber, DocExpiry             string
}

// Bounds of the decision form.
const (
	MaxNote        = 500
	maxCodes       = 16
	maxCode        = 64
	maxNameField   = 100
	maxAddress     = 300
	maxDocumentNum = 32
)

// ParseDecision reads the decision form.
func ParseDecision(r *http.Request) Decision {
	multi := func(name string) []string {
		var out []string
		for _, v := range r.PostForm[name] {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, v)
			}
		}
		return out
	}
	return Decision{
		Verdict: value(r, "verdict"), Reasons: multi("reason"), Checked: multi("check"), Note: value(r, "note"),
		FamilyName: value(r, "family_name"), GivenName: value(r, "given_name"), Birthdate: value(r, "birthdate"),
		Address: value(r, "address"), DocType: value(r, "doc_type"), DocNumber: value(r, "doc_number"), DocExpiry: value(r, "doc_expiry"),
	}
}

// DocumentTypes are the document types a reviewer may record for ホ.
var DocumentTypes = []string{"driving_permit", "residence_permit", "passport", "idcard"}

// Validate checks the form against the session's checklist (checklist:
// every code an approval must confirm) and the reason codes that fit each
// verdict; claims says whether an approval must carry what was read off
// the document images (ホ, unless confirming a first approval).
func (d Decision) Validate(checklist, approveReasons, rejectReasons []string, claims bool) Errors {
	e := Errors{}
	if d.Verdict != "approve" && d.Verdict != "reject" {
		e.Add("verdict", "form.required")
	}
	allowed := rejectReasons
	if d.Verdict == "approve" {
		allowed = approveReasons
	}
	switch {
	case len(d.Reasons) == 0:
		e.Add("reason", "review.err_reason_required")
	case len(d.Reasons) > 4:
		e.Add("reason", "review.err_reason_count")
	case d.Verdict != "approve" && d.Verdict != "reject":
		// Which reasons fit depends on the verdict.
	default:
		for i, r := range d.Reasons {
			if len(r) > maxCode || !slices.Contains(allowed, r) || slices.Contains(d.Reasons[:i], r) {
				e.Add("reason", "review.err_reason_mismatch")
			}
		}
	}
	if len(d.Checked) > maxCodes {
		e.Add("check", "form.too_long")
	}
	for _, c := range d.Checked {
		if !slices.Contains(checklist, c) {
			e.Add("check", "review.err_checklist")
		}
	}
	if d.Verdict == "approve" {
		for _, c := range checklist {
			if !slices.Contains(d.Checked, c) {
				e.Add("check", "review.err_checklist")
			}
		}
	}
	checkText(e, "note", d.Note, MaxNote)
	if d.Note != "" && !printable(d.Note) {
		e.Add("note", "review.err_note")
	}
	if d.Verdict == "approve" && (claims || d.anyClaim()) {
		for _, f := range []struct {
			name, v string
			max     int
		}{{"family_name", d.FamilyName, maxNameField}, {"given_name", d.GivenName, maxNameField}, {"address", d.Address, maxAddress}} {
			checkText(e, f.name, f.v, f.max)
			if f.v != "" && !printable(f.v) {
				e.Add(f.name, "form.too_long")
			}
		}
		if _, err := time.Parse(time.DateOnly, d.Birthdate); err != nil {
			e.Add("birthdate", "review.err_date")
		}
		if !slices.Contains(DocumentTypes, d.DocType) {
			e.Add("doc_type", "form.required")
		}
		if d.DocExpiry != "" {
			if _, err := time.Parse(time.DateOnly, d.DocExpiry); err != nil {
				e.Add("doc_expiry", "review.err_date")
			}
		}
		switch {
		case len(d.DocNumber) > maxDocumentNum || strings.Trim(d.DocNumber, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "":
			e.Add("doc_number", "review.err_doc_number")
		case d.DocType == "idcard" && d.DocNumber != "":
			e.Add("doc_number", "review.err_my_number")
		}
	}
	return e
}

func (d Decision) anyClaim() bool {
	return d.FamilyName != "" || d.GivenName != "" || d.Birthdate != "" || d.Address != "" || d.DocType != "" || d.DocNumber != "" || d.DocExpiry != ""
}

// Claims returns what was read off the document images, in the ekyc
// domain's claim shape, or nil if nothing was entered.
func (d Decision) Claims() map[string]any {
	if !d.anyClaim() {
		return nil
	}
	return map[string]any{"family_name": d.FamilyName, "given_name": d.GivenName, "birthdate": d.Birthdate,
		"address": map[string]any{"formatted": d.Address, "country": "JP"}}
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// RecordSearch is the records page's search: a session id or the tenant's
// reference, never personal data.
type RecordSearch struct {
	Session, Reference string
}

// ParseRecordSearch reads the query string.
func ParseRecordSearch(r *http.Request) RecordSearch {
	q := r.URL.Query()
	return RecordSearch{Session: strings.TrimSpace(q.Get("session")), Reference: strings.TrimSpace(q.Get("reference"))}
}

// Empty reports whether nothing was searched for.
func (s RecordSearch) Empty() bool { return s.Session == "" && s.Reference == "" }

// Validate requires exactly one bounded, printable key.
func (s RecordSearch) Validate() Errors {
	e := Errors{}
	switch {
	case s.Session != "" && s.Reference != "":
		e.Add("", "records.err_one_key")
	case len(s.Session) > 64 || !printable(s.Session) || s.Session != "" && !strings.HasPrefix(s.Session, "ses_"):
		e.Add("session", "records.err_session")
	case len(s.Reference) > 128 || !printable(s.Reference):
		e.Add("reference", "form.too_long")
	}
	return e
}
