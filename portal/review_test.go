package portal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/portal/session"
	"github.com/madoguchi/madoguchi/staff"
)

// flash returns (and clears) the flash key the last answer set.
func (b *browser) flash() string {
	k := b.cookies[session.CookieFlash]
	delete(b.cookies, session.CookieFlash)
	return k
}

// approveForm approves with every checklist item of method m.
func approveForm(m ekyc.Method, reasons ...string) url.Values {
	if len(reasons) == 0 {
		reasons = []string{ekyc.ReviewIdentityConfirmed}
	}
	f := url.Values{"verdict": {"approve"}, "reason": reasons, "note": {"portrait matches, live person"}}
	for _, it := range ekyc.ReviewChecklist(m) {
		f.Add("check", it.Code)
	}
	return f
}

func TestReviewQueue(t *testing.T) {
	e := newEnv(t)
	a1 := e.referred("tn_a", "he", true)
	e.clock.Add(time.Minute)
	a2 := e.referred("tn_a", "ho", true)
	b1 := e.referred("tn_b", "he", true)
	ra := e.signedIn("a-reviewer")
	rb := e.signedIn("b-reviewer")
	op := e.signedIn("op-reviewer")
	ids := func(body string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`class="session-link">(ses_[A-Za-z0-9]+)<`).FindAllStringSubmatch(body, -1) {
			out = append(out, m[1])
		}
		return out
	}
	for _, tc := range []struct {
		name string
		b    *browser
		path string
		want []string
	}{
		{"tenant A", ra, "/portal/review", []string{a1.ID, a2.ID}},
		{"tenant A, method he", ra, "/portal/review?method=he", []string{a1.ID}},
		{"tenant A, method ho", ra, "/portal/review?method=ho", []string{a2.ID}},
		{"tenant A, unknown method is all", ra, "/portal/review?method=zz", []string{a1.ID, a2.ID}},
		{"tenant B", rb, "/portal/review", []string{b1.ID}},
		{"operator without consent", op, "/portal/review", nil},
	} {
		r := tc.b.get(tc.path)
		if r.status != http.StatusOK || !slices.Equal(ids(r.body), tc.want) {
			t.Errorf("%s: GET %s = %d %v, want %v", tc.name, tc.path, r.status, ids(r.body), tc.want)
		}
	}
	e.operatorReview["tn_b"] = true
	e.setPolicy("tn_b", func(p *ekyc.Policy) { p.OperatorReview = true })
	if r := op.get("/portal/review"); !slices.Equal(ids(r.body), []string{b1.ID}) || !strings.Contains(r.body, "Bank B") {
		t.Errorf("operator with B's consent: %v, want %s with the tenant's name", ids(r.body), b1.ID)
	}
	// The SLA: overdue after the tenant's deadline.
	if r := ra.get("/portal/review"); strings.Contains(r.body, `class="overdue"`) {
		t.Error("a fresh session is shown overdue")
	}
	e.clock.Add(25 * time.Hour)
	ra = e.signedIn("a-reviewer")
	if r := ra.get("/portal/review"); strings.Count(r.body, `<tr class="overdue">`) != 2 {
		t.Error("sessions past the default SLA (24 h) are not shown overdue")
	}
	// Claimed by whom.
	if r := ra.post("/portal/review/"+a1.ID+"/claim", nil); r.status != http.StatusSeeOther {
		t.Fatalf("claim = %d", r.status)
	}
	if r := ra.get("/portal/review"); !strings.Contains(r.body, "あなたが審査中") {
		t.Error("the queue does not show the claim as the reviewer's own")
	}
	ra2 := e.signedIn("a-auditor")
	if r := ra2.get("/portal/review"); r.status != http.StatusForbidden {
		t.Errorf("auditor opens the queue = %d, want 403", r.status)
	}
}

// TestReviewDecideHe: a reviewer claims a referred ヘ session, sees the
// evidence side by side (the chip photo converted to PNG, selfies, the
// challenge step by step, chip checks with signed and unsigned
// attributes), every view audited; bad forms re-render with a message and
// record nothing; a valid approval decides the session.
func TestReviewDecideHe(t *testing.T) {
	e := newEnv(t)
	ss := e.referred("tn_a", "he", true)
	b := e.signedIn("a-reviewer")
	page := b.get("/portal/review/" + ss.ID)
	if page.status != http.StatusOK || !strings.Contains(page.body, `id="claim"`) || strings.Contains(page.body, "chip-photo") {
		t.Fatalf("unclaimed page = %d; want a claim button and no evidence", page.status)
	}
	if r := b.post("/portal/review/"+ss.ID+"/claim", nil); r.status != http.StatusSeeOther || r.header.Get("Location") != "/portal/review/"+ss.ID {
		t.Fatalf("claim = %d %s", r.status, r.header.Get("Location"))
	}
	page = b.get("/portal/review/" + ss.ID)
	for _, want := range []string{`id="chip-photo"`, `class="selfie-frame"`, `id="liveness"`, `id="chip-checks"`, `id="chip-attributes"`,
		"見本", `id="face-score"`, `id="decide-form"`, `name="check" value="he.portrait_matches"`, `name="check" value="selfie.live"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("evidence page lacks %s", want)
		}
	}
	if n := strings.Count(page.body, `class="st-done"`); n != len(ss.Challenge) {
		t.Errorf("%d challenge steps shown done, want %d", n, len(ss.Challenge))
	}
	photo := b.get("/portal/review/" + ss.ID + "/chip-photo")
	if photo.status != http.StatusOK || photo.header.Get("Content-Type") != "image/png" {
		t.Fatalf("chip photo = %d %s", photo.status, photo.header.Get("Content-Type"))
	}
	img, err := png.Decode(strings.NewReader(photo.body))
	if err != nil || img.Bounds().Dx() == 0 {
		t.Fatalf("chip photo is not a PNG with pixels: %v", err)
	}
	if r := b.get("/portal/review/" + ss.ID + "/frames/1"); r.status != http.StatusOK || r.header.Get("Content-Type") != "image/png" {
		t.Errorf("frame 1 = %d %s", r.status, r.header.Get("Content-Type"))
	}
	for _, p := range []string{"/frames/0", "/frames/99", "/frames/x", "/cards/front"} {
		if r := b.get("/portal/review/" + ss.ID + p); r.status != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, r.status)
		}
	}
	var acts []string
	for _, en := range e.audit.entries {
		if en.Object == ss.ID {
			acts = append(acts, en.Action)
		}
	}
	for _, want := range []string{"ekyc.review.claim", "ekyc.review.view", "ekyc.review.view_chip_photo", "ekyc.review.view_frame"} {
		if !slices.Contains(acts, want) {
			t.Errorf("audit trail lacks %s: %v", want, acts)
		}
	}

	full := approveForm(ss.Method)
	for _, tc := range []struct {
		name   string
		edit   func(url.Values)
		status int
		msg    string
	}{
		{"no verdict", func(f url.Values) { f.Del("verdict") }, 422, `id="verdict-error"`},
		{"a checklist item missing", func(f url.Values) { f["check"] = f["check"][1:] }, 422, `id="check-error"`},
		{"an unknown checklist item", func(f url.Values) { f.Add("check", "x.y") }, 422, `id="check-error"`},
		{"no reason", func(f url.Values) { f.Del("reason") }, 422, `id="reason-error"`},
		{"a rejection reason on an approval", func(f url.Values) { f.Set("reason", ekyc.ReviewFaceMismatch) }, 422, `id="reason-error"`},
		{"five reasons", func(f url.Values) {
			f["reason"] = []string{ekyc.ReviewIdentityConfirmed, ekyc.ReviewLivenessConfirmed, ekyc.ReviewDocumentGenuine, ekyc.ReviewOther, "x"}
		}, 422, `id="reason-error"`},
		{"no note", func(f url.Values) { f.Set("note", "") }, 422, `id="note-error"`},
		{"a note over 500 bytes", func(f url.Values) { f.Set("note", strings.Repeat("長", 200)) }, 422, `id="note-error"`},
		{"a note with a control character", func(f url.Values) { f.Set("note", "ok\x07") }, 422, `id="note-error"`},
		{"a body over 16 KiB", func(f url.Values) { f.Set("note", strings.Repeat("x", 17<<10)) }, 413, ""},
	} {
		f := url.Values{}
		for k, v := range full {
			f[k] = append([]string(nil), v...)
		}
		tc.edit(f)
		r := b.post("/portal/review/"+ss.ID+"/decide", f)
		if r.status != tc.status || !strings.Contains(r.body, tc.msg) {
			t.Errorf("%s: decide = %d (want %d), message %s shown: %v", tc.name, r.status, tc.status, tc.msg, strings.Contains(r.body, tc.msg))
		}
		if tc.status == 422 && (!strings.Contains(r.body, `id="decide-errors"`) || !strings.Contains(r.body, `aria-invalid`) && tc.msg == `id="note-error"`) {
			t.Errorf("%s: the page does not say what is wrong", tc.name)
		}
	}
	if got, _ := e.rv.svc.Get(context.Background(), "tn_a", ss.ID); got.Outcome != ekyc.OutcomeReview {
		t.Fatalf("a refused form changed the session: %s", got.Outcome)
	}
	// Deciding needs a recent sign-in.
	e.clock.Add(6 * time.Minute)
	if r := b.post("/portal/review/"+ss.ID+"/decide", full); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/portal/reauth?next=") {
		t.Errorf("decide with an old sign-in = %d %s, want re-authentication", r.status, r.header.Get("Location"))
	}
	b = e.signedIn("a-reviewer")
	e.claimAs("a-reviewer", ss.ID) // renew the claim
	full.Del("csrf")               // the new browser's token
	r := b.post("/portal/review/"+ss.ID+"/decide", full)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/portal/review" || b.flash() != "review.flash_decided_approved" {
		t.Fatalf("approve = %d %s\n%s", r.status, r.header.Get("Location"), r.body)
	}
	got, _ := e.rv.svc.Get(context.Background(), "tn_a", ss.ID)
	if got.Outcome != ekyc.OutcomeApproved || !slices.Equal(got.Decision.Checklist, full["check"]) || got.Decision.DecidedBy != "staff:"+e.people["a-reviewer"].id {
		t.Errorf("decision = %+v", got.Decision)
	}
	if r := b.get("/portal/review/" + ss.ID); !strings.Contains(r.body, `id="final-notice"`) {
		t.Error("a decided session's page does not say it was decided")
	}
	full.Del("csrf")
	if r := b.post("/portal/review/"+ss.ID+"/decide", full); r.status != http.StatusSeeOther || b.flash() != "review.err_decided" {
		t.Errorf("deciding again = %d, want a redirect with review.err_decided", r.status)
	}
}

// TestReviewFourEyes: approving a session whose automated checks failed
// takes two reviewers; the first cannot be the second; a tenant policy can
// ask for four eyes on every approval; a rejection takes one.
func TestReviewFourEyes(t *testing.T) {
	e := newEnv(t)
	e.addPerson("a-reviewer2", "tn_a", staff.RoleReviewer)
	ss := e.referred("tn_a", "he", false) // still frames: the liveness check failed
	if !ss.Decision.EngineRejected() {
		t.Fatalf("reasons %v: want a failed check", ss.Decision.ReasonCodes())
	}
	r1 := e.signedIn("a-reviewer")
	r1.post("/portal/review/"+ss.ID+"/claim", nil)
	if r := r1.get("/portal/review/" + ss.ID); !strings.Contains(r.body, `id="four-eyes"`) || !strings.Contains(r.body, `<tr class="failed">`) {
		t.Error("the page does not say approval needs two reviewers, or which check failed")
	}
	if r := r1.post("/portal/review/"+ss.ID+"/decide", approveForm(ss.Method, ekyc.ReviewLivenessConfirmed)); r.status != http.StatusSeeOther || r1.flash() != "review.flash_first_approval" {
		t.Fatalf("first approval = %d", r.status)
	}
	if r := r1.get("/portal/review"); !strings.Contains(r.body, "2人目の承認待ち") {
		t.Error("the queue does not show the session waiting for a second reviewer")
	}
	r1.post("/portal/review/"+ss.ID+"/claim", nil)
	if r := r1.post("/portal/review/"+ss.ID+"/decide", approveForm(ss.Method)); r.status != http.StatusSeeOther || r1.flash() != "review.err_same_reviewer" {
		t.Errorf("second approval by the first reviewer = %d, want refused", r.status)
	}
	r1.post("/portal/review/"+ss.ID+"/release", nil)
	r2 := e.signedIn("a-reviewer2")
	r2.post("/portal/review/"+ss.ID+"/claim", nil)
	if r := r2.get("/portal/review/" + ss.ID); !strings.Contains(r.body, `id="first-approval"`) || !strings.Contains(r.body, "a-reviewer") {
		t.Error("the second reviewer does not see the first approval")
	}
	if r := r2.post("/portal/review/"+ss.ID+"/decide", approveForm(ss.Method)); r.status != http.StatusSeeOther || r2.flash() != "review.flash_decided_approved" {
		t.Fatalf("second approval = %d", r.status)
	}
	got, _ := e.rv.svc.Get(context.Background(), "tn_a", ss.ID)
	if got.Outcome != ekyc.OutcomeApproved || len(got.Decision.Approvals) != 2 {
		t.Errorf("decision = %s approvals %v", got.Outcome, got.Decision.Approvals)
	}

	// review_four_eyes: every approval takes two, even of a session whose
	// checks only need a person.
	e.setPolicy("tn_a", func(p *ekyc.Policy) { p.ReviewFourEyes = true })
	live := e.referred("tn_a", "he", true)
	r1 = e.signedIn("a-reviewer")
	r1.post("/portal/review/"+live.ID+"/claim", nil)
	if r := r1.post("/portal/review/"+live.ID+"/decide", approveForm(live.Method)); r1.flash() != "review.flash_first_approval" {
		t.Errorf("approval under review_four_eyes = %d, want a first approval", r.status)
	}
	// A rejection takes one reviewer.
	rej := e.referred("tn_a", "he", false)
	r1.post("/portal/review/"+rej.ID+"/claim", nil)
	if r := r1.post("/portal/review/"+rej.ID+"/decide", rejectForm()); r.status != http.StatusSeeOther || r1.flash() != "review.flash_decided_rejected" {
		t.Errorf("rejection = %d", r.status)
	}
}

// TestReviewHoClaims: approving ホ needs what was read off the document
// images; the rectified card is shown; the second reviewer of a four-eyes
// approval confirms the first's reading, which the record keeps.
func TestReviewHoClaims(t *testing.T) {
	e := newEnv(t)
	e.addPerson("a-reviewer2", "tn_a", staff.RoleReviewer)
	ss := e.referred("tn_a", "ho", true)
	b := e.signedIn("a-reviewer")
	b.post("/portal/review/"+ss.ID+"/claim", nil)
	page := b.get("/portal/review/" + ss.ID)
	for _, want := range []string{`class="doc-frame"`, `class="card"`, `id="doc-checks"`, `name="family_name"`, `value="ho.security_features"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("ホ page lacks %s", want)
		}
	}
	card := b.get("/portal/review/" + ss.ID + "/cards/front")
	if img, err := png.Decode(strings.NewReader(card.body)); card.status != http.StatusOK || err != nil || img.Bounds().Dx() != 856 {
		t.Fatalf("rectified card = %d, %v", card.status, err)
	}
	f := approveForm(ss.Method, ekyc.ReviewDocumentGenuine)
	r := b.post("/portal/review/"+ss.ID+"/decide", f)
	for _, field := range []string{"family_name", "given_name", "birthdate", "address", "doc_type"} {
		if r.status != 422 || !strings.Contains(r.body, `id="`+field+`-error"`) {
			t.Errorf("approve ホ without %s = %d, want 422 with the field marked", field, r.status)
		}
	}
	for k, v := range map[string]string{"family_name": "見本", "given_name": "花子", "birthdate": "1990-01-02", "address": "東京都千代田区千代田１－１",
		"doc_type": "idcard", "doc_number": "123456789012"} {
		f.Set(k, v)
	}
	if r := b.post("/portal/review/"+ss.ID+"/decide", f); r.status != 422 || !strings.Contains(r.body, `id="doc_number-error"`) {
		t.Errorf("a My Number card's number = %d, want refused", r.status)
	}
	f.Set("doc_type", "driving_permit")
	if r := b.post("/portal/review/"+ss.ID+"/decide", f); b.flash() != "review.flash_first_approval" {
		t.Fatalf("first approval of ホ = %d", r.status) // document checks failed: four eyes
	}
	r2 := e.signedIn("a-reviewer2")
	r2.post("/portal/review/"+ss.ID+"/claim", nil)
	if p := r2.get("/portal/review/" + ss.ID); !strings.Contains(p.body, `id="first-claims"`) || !strings.Contains(p.body, "花子") {
		t.Error("the second reviewer does not see the first reviewer's reading")
	}
	if r := r2.post("/portal/review/"+ss.ID+"/decide", approveForm(ss.Method, ekyc.ReviewDocumentGenuine)); r2.flash() != "review.flash_decided_approved" {
		t.Fatalf("second approval = %d %s", r.status, r.body)
	}
	ri, err := ekyc.RecordByID(context.Background(), e.db, recordOf(ss))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := e.rv.svc.OpenRecord(context.Background(), e.db, ri)
	if err != nil || rec.Claims["given_name"] != "花子" || rec.Document == nil || rec.Document.Type != "driving_permit" {
		t.Errorf("record = %+v, %v; want the first reviewer's reading", rec, err)
	}
}

// TestReviewRace: two reviewers at once. A claim ends with its holder's
// sign-in (the idle timeout); the next reviewer takes it and decides; the
// first reviewer's late decision is refused with a clear message and
// nothing is recorded. The same decision posted twice at once is recorded
// once.
func TestReviewRace(t *testing.T) {
	e := newEnv(t)
	e.addPerson("a-reviewer2", "tn_a", staff.RoleReviewer)
	ss := e.referred("tn_a", "he", true)
	r1 := e.signedIn("a-reviewer")
	r1.post("/portal/review/"+ss.ID+"/claim", nil)
	r2 := e.signedIn("a-reviewer2")
	if r := r2.post("/portal/review/"+ss.ID+"/claim", nil); r2.flash() != "review.err_claimed" {
		t.Errorf("claiming a held session = %d, want review.err_claimed", r.status)
	}
	// a-reviewer's sign-in idles out: the claim is released.
	e.clock.Add(16 * time.Minute)
	r2 = e.signedIn("a-reviewer2")
	if r := r2.get("/portal/review"); strings.Contains(r.body, "他の審査担当者が審査中") {
		t.Error("the queue still shows the idle reviewer's claim")
	}
	if r := r2.post("/portal/review/"+ss.ID+"/claim", nil); r.status != http.StatusSeeOther || r2.flash() != "" {
		t.Fatalf("claiming after the holder's sign-in ended = %d", r.status)
	}
	r1 = e.signedIn("a-reviewer")
	if r := r1.post("/portal/review/"+ss.ID+"/decide", approveForm(ss.Method)); r.status != http.StatusSeeOther || r1.flash() != "review.err_claimed" {
		t.Errorf("the first reviewer's late decision = %d, want review.err_claimed", r.status)
	}
	if p := r1.get("/portal/review/" + ss.ID); !strings.Contains(p.body, `id="claimed-notice"`) {
		t.Error("the page does not tell the first reviewer someone else holds the session")
	}
	// Both tabs of the holder post at once: one decision.
	tabs := []*browser{r2, {e: e, cookies: map[string]string{}, remote: r2.remote, auth: r2.auth}}
	for k, v := range r2.cookies {
		tabs[1].cookies[k] = v
	}
	forms := []url.Values{approveForm(ss.Method), rejectForm()}
	for i := range forms {
		forms[i].Set("csrf", r2.csrf())
	}
	var wg sync.WaitGroup
	outs := make([]resp, 2)
	for i := range tabs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i] = tabs[i].request(http.MethodPost, "/portal/review/"+ss.ID+"/decide", forms[i], nil)
		}()
	}
	wg.Wait()
	won := 0
	for _, o := range outs {
		if o.header.Get("Location") == "/portal/review" {
			won++
		}
	}
	n := 0
	for _, en := range e.audit.find("ekyc.review.decide", "") {
		if en.Object == ss.ID {
			n++
		}
	}
	if won != 1 || n != 1 {
		t.Errorf("%d decisions won, %d recorded; want exactly one", won, n)
	}
}

// TestRecords: records are found by session id or reference only, in the
// person's scope; a record shows its retention; the JSON download carries
// an audit proof that verifies offline and binds the record; the PDF is
// read back by poppler.
func TestRecords(t *testing.T) {
	e := newEnv(t)
	ss := e.decided("tn_a")
	other := e.decided("tn_b")
	b := e.signedIn("a-admin")
	rid := recordOf(ss)
	for _, tc := range []struct {
		name, query string
		status      int
		hit         bool
	}{
		{"by session id", "session=" + ss.ID, 200, true},
		{"by reference", "reference=cust-he", 200, true},
		{"another tenant's session", "session=" + other.ID, 200, false},
		{"a name is not a key", "reference=" + url.QueryEscape("見本"), 200, false},
		{"both keys", "session=" + ss.ID + "&reference=cust-he", 422, false},
		{"not a session id", "session=rec_1", 422, false},
		{"a reference over 128 bytes", "reference=" + strings.Repeat("x", 129), 422, false},
	} {
		r := b.get("/portal/records?" + tc.query)
		if r.status != tc.status || strings.Contains(r.body, `href="/portal/records/`+rid+`"`) != tc.hit {
			t.Errorf("%s: %d, hit %v; want %d, %v", tc.name, r.status, !tc.hit, tc.status, tc.hit)
		}
	}
	page := b.get("/portal/records/" + rid)
	for _, want := range []string{"見本", `id="retain-until"`, "契約終了から7年", `id="download-json"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("record page lacks %s", want)
		}
	}
	if len(e.audit.find("portal.view", audit.OutcomeOK)) == 0 {
		t.Error("viewing a record is not audited")
	}
	// The contract ends: the retention date appears.
	if _, err := e.rv.svc.ContractEnded(context.Background(), ekyc.Actor{Kind: audit.ActorClient, ID: "cl_test"}, "tn_a", ss.ID, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if page := b.get("/portal/records/" + rid); !strings.Contains(page.body, e.clock.Now().AddDate(7, 0, 0).Format("2006-01-02")) {
		t.Error("the record page does not show the retention date after the contract ended")
	}

	dl := b.get("/portal/records/" + rid + "/record.json")
	if dl.status != 200 || !strings.Contains(dl.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("JSON download = %d", dl.status)
	}
	var doc struct {
		Format     string            `json:"format"`
		Record     json.RawMessage   `json:"record"`
		Key        string            `json:"audit_verifier_key"`
		AuditProof audit.ProofBundle `json:"audit_proof"`
	}
	if err := json.Unmarshal([]byte(dl.body), &doc); err != nil {
		t.Fatal(err)
	}
	entries, cp, err := audit.VerifyProofBundle(doc.AuditProof, e.audit.log.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	export := false
	// The record member of the file, compacted as the portal hashed it.
	var compact bytes.Buffer
	if err := json.Compact(&compact, doc.Record); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(compact.Bytes())
	for _, en := range entries {
		actions = append(actions, en.Action)
		export = export || en.Action == "ekyc.record.export" && en.Details["record_sha256"] == hex.EncodeToString(sum[:])
	}
	for _, want := range []string{"ekyc.session.create", "ekyc.review.decide", "ekyc.record.create", "ekyc.contract.ended", "ekyc.record.export"} {
		if !slices.Contains(actions, want) {
			t.Errorf("the proof lacks %s: %v", want, actions)
		}
	}
	if !export || cp.Size == 0 {
		t.Error("no export entry binds the record's bytes")
	}
	// The proof carries the record's history and this export only: a
	// second download proves no page view and one export (its own, newer
	// than the first's), so it does not grow with every reader.
	var firstExport uint64
	for i, en := range entries {
		if en.Action == "ekyc.record.export" {
			firstExport = doc.AuditProof.Entries[i].Index
		}
	}
	b.get("/portal/records/" + rid)
	again := b.get("/portal/records/" + rid + "/record.json")
	if err := json.Unmarshal([]byte(again.body), &doc); err != nil {
		t.Fatal(err)
	}
	entries2, _, err := audit.VerifyProofBundle(doc.AuditProof, e.audit.log.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	var exports []uint64
	for i, en := range entries2 {
		if en.Action == "portal.view" {
			t.Errorf("the second download's proof carries a page view: %+v", en.Details)
		}
		if en.Action == "ekyc.record.export" {
			exports = append(exports, doc.AuditProof.Entries[i].Index)
		}
	}
	if len(entries2) != len(entries) || len(exports) != 1 || exports[0] <= firstExport {
		t.Errorf("second download: %d entries (first: %d), exports at %v; want the same history and only its own export", len(entries2), len(entries), exports)
	}
	if r := e.signedIn("b-admin").get("/portal/records/" + rid + "/record.json"); r.status != http.StatusNotFound {
		t.Errorf("another tenant's download = %d, want 404", r.status)
	}

	pdf := b.get("/portal/records/" + rid + "/record.pdf")
	if e.cfg.PDFFont == nil {
		if pdf.status != http.StatusServiceUnavailable {
			t.Errorf("PDF without a font = %d, want 503", pdf.status)
		}
		return
	}
	if pdf.status != 200 || !strings.HasPrefix(pdf.body, "%PDF-") {
		t.Fatalf("PDF download = %d", pdf.status)
	}
	pdftotext, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no pdftotext (poppler-utils)")
		}
		t.Skip("no pdftotext")
	}
	file := filepath.Join(t.TempDir(), "r.pdf")
	if err := os.WriteFile(file, []byte(pdf.body), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(pdftotext, "-enc", "UTF-8", file, "-").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "見本") || !strings.Contains(string(out), rid) {
		t.Errorf("pdftotext = %v\n%s", err, out)
	}
}
