package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/fraud"
	"github.com/madoguchi/madoguchi/web"
)

// TestFraudEndToEnd runs method ヘ through a real server process with the
// real face engine and test chips minted by the development issuer: a
// person is verified under one name and approved by a reviewer (in another
// process, as a staff tool would: the server learns of the enrolment from
// the store); the same face then comes back with a chip under another
// name and the decision names the first session as a duplicate identity;
// the first person re-verifying under their own name is no duplicate.
func TestFraudEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process with the face engine")
	}
	ctx := context.Background()
	modelDir := e2eModels(t)
	data := t.TempDir()
	srv := startServer(t, data, "--models", modelDir, "--rate-limit", "0")
	a := testApp(t, data)
	cl := newTenantClient(t, a, srv.url(), "bank", web.ScopeEKYCSessions, web.ScopeEKYCDevice, web.ScopeEKYCResults)

	// Still selfies cannot pass the liveness challenge: this tenant sends
	// those reasons to a reviewer, who approves the first person.
	pol := ekyc.ExamplePolicy(0.5)
	pol.Actions = map[string]ekyc.Action{ekyc.ReasonChallengeFailed: ekyc.Review, ekyc.ReasonStaticFrames: ekyc.Review, ekyc.ReasonPADLow: ekyc.Review}
	if _, err := ekyc.StorePolicy(ctx, a.db, a.audit, ekyc.System, cl.tenantID, pol, time.Now()); err != nil {
		t.Fatal(err)
	}
	// Each licence carries its own portrait file: the same photo object on
	// two chips is chip reuse (chip.reused), which is not what is tested.
	chip := func(name, photo string) map[string][]byte {
		out := filepath.Join(t.TempDir(), "chip")
		if code, o, e := runCLI(t, "dev", "chip", "--kind", "jpdl", "--photo", "../../face/testdata/golden/images/"+photo,
			"--name", name, "--birthdate", "1990-01-02", "--data", data, "--out", out); code != 0 {
			t.Fatalf("dev chip = exit %d\n%s%s", code, o, e)
		}
		_, files, _, err := readChipDir(out, document.KindJPDL)
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	var selfies [][]byte
	for _, n := range []string{"astronaut_512.png", "astronaut_face_250.png", "astronaut_wide_256x170.png", "astronaut_gray_250.png"} {
		b, err := os.ReadFile("../../face/testdata/golden/images/" + n)
		if err != nil {
			t.Fatal(err)
		}
		selfies = append(selfies, b)
	}
	run := func(files map[string][]byte) *devSessionResult {
		t.Helper()
		res, err := runDevSession(ctx, cl.apiClient, sessionPlan{method: "he", kind: document.KindJPDL, chip: files, selfies: selfies, wait: 3 * time.Minute})
		if err != nil {
			t.Fatalf("session: %v\nserver: %s", err, tail(srv.logText(), 3000))
		}
		return res
	}
	hanako := chip("見本 花子", "astronaut_face_250.png")
	first := run(hanako)
	if first.Decision != string(ekyc.OutcomeReview) {
		t.Fatalf("first session = %s %v, want review", first.Decision, first.Reasons)
	}

	// The reviewer approves it from another process.
	svc, err := a.newEKYC(srv.url())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.fraud.Load(ctx); err != nil {
		t.Fatal(err)
	}
	held, err := svc.Get(ctx, cl.tenantID, first.Session)
	if err != nil {
		t.Fatal(err)
	}
	var checked []string
	for _, it := range ekyc.ReviewChecklist(held.Method) {
		checked = append(checked, it.Code)
	}
	// The still selfies fail the liveness challenge, a reason the engine
	// rejects by default: approving it needs two reviewers (four eyes).
	var ss *ekyc.Session
	reviewer := ekyc.Staff{Roles: []string{ekyc.RoleReviewer}, TenantID: cl.tenantID}
	for i, id := range []string{"stf_e2e_1", "stf_e2e_2"} {
		reviewer.ID = id
		if _, err := svc.Claim(ctx, reviewer, first.Session); err != nil {
			t.Fatal(err)
		}
		ss, err = svc.Decide(ctx, reviewer, first.Session, ekyc.ReviewDecision{Approve: true, Note: "liveness checked by video call",
			Reasons: []string{ekyc.ReviewIdentityConfirmed}, Checked: checked})
		want := ekyc.OutcomeApproved
		if i == 0 {
			want = ekyc.OutcomeReview
		}
		if err != nil || ss.Outcome != want {
			t.Fatalf("approval %d: Decide = %v, %v; want outcome %s", i+1, ss.Outcome, err, want)
		}
	}
	model := ss.Decision.Models["face"]
	st, err := a.fraud.GalleryStatus(ctx, cl.tenantID)
	if err != nil || st.Models[model]["active"] != 1 {
		t.Fatalf("gallery after approval = %+v, %v, want one active %s template", st, err, model)
	}
	// A model change: another process fills the resnet128 gallery from the
	// approved session's sealed selfies with the real engine; a second run
	// has nothing left to do.
	resnet, err := face.ModelID(face.LoadOptions{Recognizer: "resnet128"})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{1, 0} {
		code, out, errOut := runCLI(t, "fraud", "gallery", "reenrol", "--tenant", cl.tenantID, "--recognizer", "resnet128", "--models", modelDir, "--data", data)
		var rep fraud.ReenrolReport
		if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Enrolled != want || rep.Model != resnet {
			t.Fatalf("fraud gallery reenrol (run %d) = exit %d %+v\n%s%s", i+1, code, rep, out, errOut)
		}
	}
	if st, err := a.fraud.GalleryStatus(ctx, cl.tenantID); err != nil || st.Models[resnet]["active"] != 1 || st.Models[model]["active"] != 1 {
		t.Fatalf("gallery after re-enrolment = %+v, %v, want one active template of each model", st, err)
	}
	if code, _, errOut := runCLI(t, "fraud", "gallery", "reenrol", "--tenant", cl.tenantID, "--recognizer", "facenet", "--data", data); code == 0 || !strings.Contains(errOut, "recognizer") {
		t.Errorf("reenrol with an unknown recogniser = exit %d %s", code, errOut)
	}

	// The tenant turns the duplicate search on for the engine's model.
	if _, err := a.fraud.SetPolicy(ctx, fraud.System, cl.tenantID, fraud.Policy{DocumentReuse: true,
		Duplicates: fraud.DuplicateRule{Enabled: true, Thresholds: map[string]float64{model: 0.95}}}); err != nil {
		t.Fatal(err)
	}

	// The same face under another name.
	second := run(chip("別人 次郎", "astronaut_512.png"))
	var dup *ekyc.Reason
	for i, r := range second.Reasons {
		if r.Code == ekyc.ReasonDuplicateIdentity {
			dup = &second.Reasons[i]
		}
	}
	if dup == nil || !slices.Equal(dup.Sessions, []string{first.Session}) || dup.Action != ekyc.Review {
		t.Fatalf("second session reasons = %+v, want %s naming %s", second.Reasons, ekyc.ReasonDuplicateIdentity, first.Session)
	}
	if second.Decision != string(ekyc.OutcomeReview) {
		t.Errorf("second session = %s %+v, want review (a person looks at the duplicate)", second.Decision, second.Reasons)
	}
	// The reviewer's view of the second session names the first.
	if _, err := svc.Claim(ctx, reviewer, second.Session); err != nil {
		t.Fatal(err)
	}
	ev, err := svc.Evidence(ctx, reviewer, second.Session)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range ev.Decision.Reasons {
		found = found || r.Code == ekyc.ReasonDuplicateIdentity && slices.Contains(r.Sessions, first.Session)
	}
	if !found {
		t.Errorf("review evidence reasons = %+v, want the duplicate naming the first session", ev.Decision.Reasons)
	}
	// ... and opens the first session beside it.
	rel, err := svc.RelatedEvidence(ctx, reviewer, second.Session, first.Session)
	if err != nil || rel.SessionID != first.Session || len(rel.Frames) != len(selfies) || rel.Chip == nil {
		t.Errorf("RelatedEvidence(first) = %+v, %v", rel, err)
	}

	// The first person again, under their own name (a new licence): no
	// duplicate.
	third := run(chip("見本 花子", "astronaut_gray_250.png"))
	for _, r := range third.Reasons {
		if r.Code == ekyc.ReasonDuplicateIdentity {
			t.Errorf("re-verification under the same identity reported as duplicate: %+v", r)
		}
	}
	if strings.Contains(srv.logText(), "見本") || strings.Contains(srv.logText(), "別人") {
		t.Error("a name reached the server log")
	}
}
