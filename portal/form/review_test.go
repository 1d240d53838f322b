package form

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
)

var (
	testChecklist = []string{"he.portrait_matches", "he.chip_checks", "selfie.live"}
	approveCodes  = []string{"review.identity_confirmed", "review.other"}
	rejectCodes   = []string{"review.face_mismatch", "review.other"}
)

func postForm(v url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	_ = r.ParseForm()
	return r
}

func TestDecisionValidate(t *testing.T) {
	approve := url.Values{"verdict": {"approve"}, "reason": {"review.identity_confirmed"}, "note": {"ok"}, "check": testChecklist}
	claims := url.Values{"family_name": {"見本"}, "given_name": {"花子"}, "birthdate": {"1990-01-02"}, "address": {"東京都"}, "doc_type": {"driving_permit"}}
	with := func(base url.Values, kv ...string) url.Values {
		v := url.Values{}
		for k, vs := range base {
			v[k] = slices.Clone(vs)
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v
	}
	merge := func(a, b url.Values) url.Values {
		v := with(a)
		for k, vs := range b {
			v[k] = vs
		}
		return v
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		claims bool
		bad    []string // fields with an error
	}{
		{"approve", approve, false, nil},
		{"reject", url.Values{"verdict": {"reject"}, "reason": {"review.face_mismatch"}, "note": {"no"}}, false, nil},
		{"no verdict", with(approve, "verdict", ""), false, []string{"verdict"}},
		{"odd verdict", with(approve, "verdict", "maybe"), false, []string{"verdict"}},
		{"checklist incomplete", with(approve, "check", "selfie.live"), false, []string{"check"}},
		{"unknown checklist item on a rejection", url.Values{"verdict": {"reject"}, "reason": {"review.other"}, "note": {"x"}, "check": {"x"}}, false, []string{"check"}},
		{"reason for the other verdict", with(approve, "reason", "review.face_mismatch"), false, []string{"reason"}},
		{"no note", with(approve, "note", ""), false, []string{"note"}},
		{"long note", with(approve, "note", strings.Repeat("a", 501)), false, []string{"note"}},
		{"control character", with(approve, "note", "a\x1bb"), false, []string{"note"}},
		{"ホ without claims", approve, true, []string{"family_name", "given_name", "birthdate", "address", "doc_type"}},
		{"ホ with claims", merge(approve, claims), true, nil},
		{"bad birthdate", merge(approve, with(claims, "birthdate", "1990-13-40")), true, []string{"birthdate"}},
		{"My Number", merge(approve, with(claims, "doc_type", "idcard", "doc_number", "123456789012")), true, []string{"doc_number"}},
		{"lower-case number", merge(approve, with(claims, "doc_number", "ab12")), true, []string{"doc_number"}},
		{"claims entered when confirming", merge(approve, with(claims, "given_name", "")), false, []string{"given_name"}},
	} {
		d := ParseDecision(postForm(tc.form))
		errs := d.Validate(testChecklist, approveCodes, rejectCodes, tc.claims)
		var got []string
		for k := range errs {
			got = append(got, k)
		}
		slices.Sort(got)
		want := slices.Clone(tc.bad)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: errors on %v, want %v (%v)", tc.name, got, want, errs)
		}
	}
}

func TestRecordSearchValidate(t *testing.T) {
	for _, tc := range []struct {
		s   RecordSearch
		bad bool
	}{
		{RecordSearch{Session: "ses_abc"}, false},
		{RecordSearch{Reference: "cust-1"}, false},
		{RecordSearch{Session: "ses_abc", Reference: "x"}, true},
		{RecordSearch{Session: "rec_abc"}, true},
		{RecordSearch{Reference: strings.Repeat("x", 129)}, true},
		{RecordSearch{Reference: "a\nb"}, true},
	} {
		if got := tc.s.Validate().Any(); got != tc.bad {
			t.Errorf("Validate(%+v) errors = %v, want %v", tc.s, got, tc.bad)
		}
	}
}

// FuzzDecision: any form body parses and validates without panicking, and
// a form that validates as an approval confirms every checklist item with
// fitting reasons and a bounded note.
func FuzzDecision(f *testing.F) {
	f.Add("verdict=approve&reason=review.identity_confirmed&note=ok&check=he.portrait_matches&check=he.chip_checks&check=selfie.live")
	f.Add("verdict=reject&reason=review.other&note=%E2%80%AE&family_name=x&birthdate=2000-02-30")
	f.Add("verdict=approve&doc_type=idcard&doc_number=1&reason=review.other&reason=review.other")
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if r.ParseForm() != nil {
			return
		}
		d := ParseDecision(r)
		if d.Validate(testChecklist, approveCodes, rejectCodes, true).Any() {
			return
		}
		if d.Verdict == "approve" {
			for _, c := range testChecklist {
				if !slices.Contains(d.Checked, c) {
					t.Fatalf("approval without %s validated: %q", c, body)
				}
			}
		}
		if len(d.Note) == 0 || len(d.Note) > MaxNote || len(d.Reasons) == 0 || len(d.Reasons) > 4 {
			t.Fatalf("unbounded form validated: %q", body)
		}
	})
}
