package ekyc

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/document/jpdl/jpdltest"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
	"github.com/madoguchi/madoguchi/vault"
)

var kiosk = Actor{Kind: "client", ID: "cl_kiosk"}

// runHe runs a ヘ session: chip with identity chipID, selfies of selfieID.
func (e *env) runHe(tenant string, files map[string][]byte, selfies func(*page)) *Session {
	e.t.Helper()
	c := e.create(tenant, "he")
	p := e.open(c)
	if files != nil {
		if _, err := e.svc.SubmitChip(e.ctx, kiosk, tenant, c.Session.ID, "jpdl", files); err != nil {
			e.t.Fatalf("SubmitChip = %v, want nil", err)
		}
	}
	selfies(p)
	ss, err := e.svc.Submit(e.ctx, p.start.Key)
	if err != nil {
		e.t.Fatalf("Submit = %v, want nil", err)
	}
	return ss
}

func TestHeApproved(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ss := e.runHe(e.tenantA, e.licence(7), func(p *page) { p.selfies(7, 0.95) })
		if ss.State != StateDecided || ss.Outcome != OutcomeApproved {
			t.Fatalf("Submit = %s/%s reasons %v, want decided/approved", ss.State, ss.Outcome, ss.Decision.ReasonCodes())
		}
		d := ss.Decision
		if d.Models["face"] != testModel || d.Scores["face_match"] < 0.99 || math.Abs(d.Scores["liveness"]-0.95) > 0.01 ||
			d.Thresholds["face_match"] != 0.5 || d.Thresholds["face_match_target_fmr"] != 1e-4 || d.PolicyVersion != 1 || d.DecidedBy != "system" {
			t.Errorf("Decision = models %v scores %v thresholds %v policy %d", d.Models, d.Scores, d.Thresholds, d.PolicyVersion)
		}
		if d.Liveness == nil || !d.Liveness.Passed || d.Liveness.Done != 3 {
			t.Errorf("Decision.Liveness = %+v, want passed with 3 steps", d.Liveness)
		}
		jws, err := e.svc.Result(e.ctx, client, e.tenantA, ss.ID)
		if err != nil {
			t.Fatal(err)
		}
		payload, err := VerifyResult(jws, e.svc.JWKS())
		if err != nil {
			t.Fatalf("VerifyResult = %v, want nil", err)
		}
		var res ResultPayload
		if err := json.Unmarshal(payload, &res); err != nil {
			t.Fatal(err)
		}
		if res.Outcome != OutcomeApproved || res.Audience != client.ID || res.EventID != eventID(ss.ID) || res.VerifiedClaims == nil {
			t.Fatalf("result = %+v", res)
		}
		vc := res.VerifiedClaims
		if vc.Verification.TrustFramework != "jp_aml" || vc.Verification.VerificationProcess != recordID(ss.ID) ||
			!strings.Contains(vc.Verification.AssuranceProcess.Procedure, "/he@2018-11-30") {
			t.Errorf("verification = %+v", vc.Verification)
		}
		var methods []string
		for _, c := range vc.Verification.Evidence[0].CheckDetails {
			methods = append(methods, c.CheckMethod)
		}
		if !slices.Equal(methods, []string{"vcrypt", "bvr", "https://madoguchi.test/check/biopad"}) {
			t.Errorf("check methods = %v, want vcrypt, bvr, biopad", methods)
		}
		if dd := vc.Verification.Evidence[0].DocumentDetails; dd == nil || dd.Type != "driving_permit" || dd.DocumentNumber != "301234567890" {
			t.Errorf("document_details = %+v", dd)
		}
		if vc.Claims["birthdate"] != "1990-01-02" {
			t.Errorf("claims birthdate = %v, want 1990-01-02", vc.Claims["birthdate"])
		}
		want := []string{"ekyc.session.create", "ekyc.capture.start", "ekyc.chip.add"}
		got := e.auditActions(ss.ID)
		if !slices.Equal(got[:3], want) || !slices.Contains(got, "ekyc.session.submit") || !slices.Contains(got, "ekyc.session.decide") ||
			!slices.Contains(got, "ekyc.result.read") || slices.Index(got, "ekyc.frame.add") < 0 {
			t.Errorf("audit trail = %v", got)
		}
		if got := e.auditActions(recordID(ss.ID)); !slices.Equal(got, []string{"ekyc.record.create"}) {
			t.Errorf("record audit = %v", got)
		}
		// Personal data is nowhere in clear in the database.
		for _, q := range []string{`SELECT evidence FROM ekyc_chips`, `SELECT body FROM ekyc_records`} {
			var b []byte
			if err := db.QueryRow(e.ctx, q).Scan(&b); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), "1990-01-02") || strings.Contains(string(b), "301234567890") {
				t.Errorf("%s holds personal data in clear", q)
			}
		}
		// Closing is final.
		if _, err := e.svc.Close(e.ctx, client, e.tenantA, ss.ID); err != nil {
			t.Errorf("Close = %v", err)
		}
		if _, err := e.svc.Close(e.ctx, client, e.tenantA, ss.ID); !errors.Is(err, ErrState) {
			t.Errorf("Close(closed) = %v, want ErrState", err)
		}
	})
}

var shortCases = map[string]bool{"still selfies": true, "another person": true, "forged chip": true}

func TestHeOutcomes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		still := func(p *page) {
			img := faceSpec{ID: 7, EAR: 0.3, PAD: 0.95, Faces: 1}
			for range 7 {
				p.frame(FrameSelfie, specPNG(t, img)) // the same photo, re-encoded: no movement
			}
		}
		forged := e.licence(7)
		forged["df1_ef01"] = append([]byte(nil), forged["df1_ef01"]...)
		forged["df1_ef01"][10] ^= 1
		for _, tc := range []struct {
			name    string
			files   map[string][]byte
			selfies func(*page)
			setup   func()
			outcome Outcome
			reason  string
		}{
			{"still selfies", e.licence(7), still, nil, OutcomeRejected, ReasonStaticFrames},
			{"another person", e.licence(7), func(p *page) { p.selfies(9, 0.95) }, nil, OutcomeRejected, ReasonFaceMismatch},
			{"PAD low", e.licence(7), func(p *page) { p.selfies(7, 0.3) }, nil, OutcomeRejected, ReasonPADLow},
			{"PAD unavailable", e.licence(7), func(p *page) { p.selfies(7, -1) }, nil, OutcomeReview, ReasonPADUnavailable},
			{"uncalibrated engine", e.licence(7), func(p *page) { p.selfies(7, 0.95) }, func() { e.face.uncalibrated = true }, OutcomeReview, ReasonFaceUncalibrated},
			{"forged chip", forged, func(p *page) { p.selfies(7, 0.95) }, nil, OutcomeRejected, ReasonChipInvalid},
			{"expired licence", e.licence(7, func(l *jpdltest.Licence) {
				l.Issued, l.Expiry = time.Date(2018, 1, 2, 0, 0, 0, 0, time.UTC), time.Date(2023, 1, 2, 0, 0, 0, 0, time.UTC)
			}), func(p *page) { p.selfies(7, 0.95) }, nil, OutcomeRejected, ReasonChipInvalid}, // the verifier's own expiry check
			{"unsigned change record", e.licence(7, func(l *jpdltest.Licence) {
				l.Changes = []jpdltest.Change{{Date: time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC), Item: "address", Value: "大阪府大阪市１", PSC: "大阪府公安委員会"}}
			}), func(p *page) { p.selfies(7, 0.95) }, nil, OutcomeReview, ReasonUnsignedAttributes},
			{"two faces", e.licence(7), func(p *page) {
				p.frame(FrameSelfie, specPNG(t, faceSpec{ID: 7, EAR: .3, PAD: .95, Faces: 2}))
				p.selfies(7, 0.95)
			}, nil, OutcomeReview, ReasonMultipleFaces},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if testing.Short() && !shortCases[tc.name] {
					t.Skip("-short runs the still-image, mismatch and forged-chip cases only")
				}
				e.face.uncalibrated = false
				if tc.setup != nil {
					tc.setup()
				}
				ss := e.runHe(e.tenantA, tc.files, tc.selfies)
				codes := ss.Decision.ReasonCodes()
				if ss.Outcome != tc.outcome || !slices.Contains(codes, tc.reason) {
					t.Errorf("decision = %s %v, want %s with %s", ss.Outcome, codes, tc.outcome, tc.reason)
				}
			})
		}
		// A still selfie's reasons say why, in words a kit can print.
		ss := e.runHe(e.tenantA, e.licence(7), still)
		for _, r := range ss.Decision.Reasons {
			if r.Code == ReasonStaticFrames && !strings.Contains(r.Detail, "still image cannot pass an active liveness challenge") {
				t.Errorf("still-image reason detail = %q", r.Detail)
			}
		}
		// Files holding the My Number are refused before anything is stored.
		c := e.create(e.tenantA, "he")
		if _, err := e.svc.SubmitChip(e.ctx, kiosk, e.tenantA, c.Session.ID, "mynumber", map[string][]byte{"textap_ef01": []byte("123456789012")}); !errors.Is(err, ErrMyNumber) {
			t.Errorf("SubmitChip(My Number file) = %v, want ErrMyNumber", err)
		}
		if _, err := e.svc.SubmitChip(e.ctx, kiosk, e.tenantA, c.Session.ID, "jpdl", e.licence(7)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.SubmitChip(e.ctx, kiosk, e.tenantA, c.Session.ID, "jpdl", e.licence(7)); !errors.Is(err, ErrAlreadyReceived) {
			t.Errorf("SubmitChip(second) = %v, want ErrAlreadyReceived", err)
		}
		ho := e.create(e.tenantA, "ho")
		if _, err := e.svc.SubmitChip(e.ctx, kiosk, e.tenantA, ho.Session.ID, "jpdl", e.licence(7)); !errors.Is(err, ErrState) {
			t.Errorf("SubmitChip(ho session) = %v, want ErrState", err)
		}
	})
}

func TestHoReview(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		p := e.open(e.create(e.tenantA, "ho"))
		for _, k := range []FrameKind{FrameDocFront, FrameDocBack, FrameDocTilt} {
			p.frame(k, specPNG(t, faceSpec{ID: 5, EAR: .3, PAD: 1, Faces: 1}))
		}
		p.selfies(5, 0.95)
		ss, err := e.svc.Submit(e.ctx, p.start.Key)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.ChipPhoto(e.ctx, Staff{ID: "st_1", Roles: []string{"reviewer"}, TenantID: e.tenantA}, ss.ID); !errors.Is(err, ErrClaimed) {
			t.Errorf("ChipPhoto(unclaimed) = %v, want ErrClaimed", err)
		}
		if ss.Outcome != OutcomeReview || !slices.Contains(ss.Decision.ReasonCodes(), ReasonDocumentImages) {
			t.Fatalf("ho decision = %s %v, want review for document inspection", ss.Outcome, ss.Decision.ReasonCodes())
		}
		if _, err := e.svc.Result(e.ctx, client, e.tenantA, ss.ID); !errors.Is(err, ErrState) {
			t.Errorf("Result(review) = %v, want ErrState", err)
		}
		r1 := Staff{ID: "st_1", Roles: []string{"reviewer"}, TenantID: e.tenantA}
		r2 := Staff{ID: "st_2", Roles: []string{"reviewer"}, TenantID: e.tenantA}
		auditor := Staff{ID: "st_3", Roles: []string{"auditor"}, TenantID: e.tenantA}
		if _, err := e.svc.ListPending(e.ctx, auditor, 10); !errors.Is(err, ErrForbidden) {
			t.Errorf("ListPending(auditor) = %v, want ErrForbidden", err)
		}
		pend, err := e.svc.ListPending(e.ctx, r1, 10)
		if err != nil || len(pend) != 1 || pend[0].SessionID != ss.ID {
			t.Fatalf("ListPending = %+v, %v", pend, err)
		}
		if _, err := e.svc.Evidence(e.ctx, r1, ss.ID); !errors.Is(err, ErrClaimed) {
			t.Errorf("Evidence(unclaimed) = %v, want ErrClaimed", err)
		}
		if _, err := e.svc.Claim(e.ctx, r1, ss.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Claim(e.ctx, r2, ss.ID); !errors.Is(err, ErrClaimed) {
			t.Errorf("Claim(second reviewer) = %v, want ErrClaimed", err)
		}
		v, err := e.svc.Evidence(e.ctx, r1, ss.ID)
		if err != nil || len(v.Frames) != 10 {
			t.Fatalf("Evidence = %v frames, %v", v, err)
		}
		img, err := e.svc.FrameImage(e.ctx, r1, ss.ID, 1)
		if err != nil || len(img) == 0 {
			t.Fatalf("FrameImage = %d bytes, %v", len(img), err)
		}
		if _, err := e.svc.FrameImage(e.ctx, r2, ss.ID, 1); !errors.Is(err, ErrClaimed) {
			t.Errorf("FrameImage(not holding the claim) = %v, want ErrClaimed", err)
		}
		// The claim times out; another reviewer may then take it.
		e.clock.Add(16 * time.Minute)
		if _, err := e.svc.Claim(e.ctx, r2, ss.ID); err != nil {
			t.Fatalf("Claim(after timeout) = %v, want nil", err)
		}
		if _, err := e.svc.Decide(e.ctx, r1, ss.ID, ReviewDecision{Approve: true, Note: "ok", Reasons: []string{ReviewDocumentGenuine}, Checked: checklistCodes(ss.Method)}); !errors.Is(err, ErrClaimed) {
			t.Errorf("Decide(lapsed claim) = %v, want ErrClaimed", err)
		}
		if _, err := e.svc.Decide(e.ctx, r2, ss.ID, ReviewDecision{Approve: true, Note: "document genuine", Reasons: []string{ReviewDocumentGenuine}, Checked: checklistCodes(ss.Method)}); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("Decide(approve ho without claims) = %v, want ErrInvalidInput", err)
		}
		rd := ReviewDecision{Approve: true, Note: "document genuine, faces match", Reasons: []string{ReviewDocumentGenuine, ReviewIdentityConfirmed},
			Checked: checklistCodes(ss.Method),
			Claims: map[string]any{"family_name": "佐藤", "given_name": "花子", "birthdate": "1985-03-04",
				"address": map[string]any{"formatted": "東京都港区１", "country": "JP"}},
			Document: &documentDetails{Type: "driving_permit", DocumentNumber: "123456789012", DateOfExpiry: "2030-01-01"}}
		got, err := e.svc.Decide(e.ctx, r2, ss.ID, rd)
		if err != nil || got.Outcome != OutcomeApproved || got.Decision.DecidedBy != "staff:st_2" || got.Decision.Automated == nil {
			t.Fatalf("Decide = %+v, %v", got, err)
		}
		jws, err := e.svc.Result(e.ctx, client, e.tenantA, ss.ID)
		if err != nil {
			t.Fatal(err)
		}
		payload, err := VerifyResult(jws, e.svc.JWKS())
		if err != nil {
			t.Fatal(err)
		}
		var res ResultPayload
		_ = json.Unmarshal(payload, &res)
		if res.VerifiedClaims == nil || res.VerifiedClaims.Claims["family_name"] != "佐藤" ||
			res.VerifiedClaims.Verification.Evidence[0].CheckDetails[0].CheckMethod != "vri" {
			t.Errorf("ho result = %+v", res.VerifiedClaims)
		}
		acts := e.auditActions(ss.ID)
		for _, a := range []string{"ekyc.review.claim", "ekyc.review.view", "ekyc.review.view_frame", "ekyc.review.decide"} {
			if !slices.Contains(acts, a) {
				t.Errorf("audit trail lacks %s: %v", a, acts)
			}
		}
	})
}

// receiver is a webhook endpoint that is down for the first fail calls.
type receiver struct {
	mu     sync.Mutex
	fail   int
	calls  int
	bodies []string
	ids    []string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.calls++
	if rc.calls <= rc.fail {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	b, _ := io.ReadAll(r.Body)
	rc.bodies = append(rc.bodies, string(b))
	rc.ids = append(rc.ids, r.Header.Get("Webhook-Id"))
	w.WriteHeader(http.StatusNoContent)
}

func TestWebhookRetriedUntilDelivered(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		rc := &receiver{fail: 2}
		srv := httptest.NewServer(rc)
		defer srv.Close()
		c, err := e.svc.Create(e.ctx, client, e.tenantA, CreateRequest{Method: "he", Reference: "r-1", Webhook: srv.URL + "/hook"})
		if err != nil {
			t.Fatal(err)
		}
		p := e.open(c)
		if _, err := e.svc.SubmitChip(e.ctx, kiosk, e.tenantA, c.Session.ID, "jpdl", e.licence(4)); err != nil {
			t.Fatal(err)
		}
		p.selfies(4, 0.9)
		if _, err := e.svc.Submit(e.ctx, p.start.Key); err != nil {
			t.Fatal(err)
		}
		for i, want := range []int{0, 0, 1} {
			if i > 0 {
				if n, _ := e.notify.DeliverDue(e.ctx); n != 0 {
					t.Fatalf("DeliverDue before the backoff elapsed delivered %d", n)
				}
				e.clock.Add(Backoff(i, 1) + time.Second)
			}
			n, err := e.notify.DeliverDue(e.ctx)
			if err != nil || n != want {
				t.Fatalf("DeliverDue #%d = %d, %v, want %d", i+1, n, err, want)
			}
		}
		if n, _ := e.notify.DeliverDue(e.ctx); n != 0 || rc.calls != 3 {
			t.Errorf("after delivery: DeliverDue = %d, endpoint calls %d, want 0 and 3", n, rc.calls)
		}
		if len(rc.bodies) != 1 || rc.ids[0] != eventID(c.Session.ID) {
			t.Fatalf("received %d bodies, ids %v", len(rc.bodies), rc.ids)
		}
		payload, err := VerifyResult(rc.bodies[0], e.svc.JWKS())
		if err != nil {
			t.Fatalf("receiver VerifyResult = %v", err)
		}
		var res ResultPayload
		_ = json.Unmarshal(payload, &res)
		if res.EventID != rc.ids[0] || res.Outcome != OutcomeApproved {
			t.Errorf("webhook payload = %+v", res)
		}
		// A receiver refuses a tampered result.
		parts := strings.Split(rc.bodies[0], ".")
		tampered := parts[0] + "." + b64([]byte(strings.Replace(string(payload), `"approved"`, `"rejected"`, 1))) + "." + parts[2]
		if _, err := VerifyResult(tampered, e.svc.JWKS()); !errors.Is(err, ErrSignature) {
			t.Errorf("VerifyResult(tampered payload) = %v, want ErrSignature", err)
		}
		if got := e.auditActions(eventID(c.Session.ID)); !slices.Equal(got, []string{"ekyc.webhook.queue", "ekyc.webhook.delivered"}) {
			t.Errorf("webhook audit = %v", got)
		}
	})
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{{1, 10 * time.Second}, {2, 20 * time.Second}, {4, 80 * time.Second}, {12, time.Hour}, {40, time.Hour}} {
		if got := Backoff(tc.n, 0); got != tc.want {
			t.Errorf("Backoff(%d, 0) = %v, want %v", tc.n, got, tc.want)
		}
	}
	if got := Backoff(1, 1); got != 12*time.Second {
		t.Errorf("Backoff(1, 1) = %v, want 12s (20%% jitter)", got)
	}
}

func TestCrashBetweenSubmitAndDecision(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		c := e.create(e.tenantA, "he")
		p := e.open(c)
		if _, err := e.svc.SubmitChip(e.ctx, kiosk, e.tenantA, c.Session.ID, "jpdl", e.licence(3)); err != nil {
			t.Fatal(err)
		}
		p.selfies(3, 0.9)
		e.face.busy = true // the engine is saturated (or the server dies) after the submit commits
		ss, err := e.svc.Submit(e.ctx, p.start.Key)
		if err != nil || ss.State != StateSubmitted {
			t.Fatalf("Submit(busy engine) = %v, %v, want state submitted", ss, err)
		}
		// A new service over the same store (the restarted server) resumes it.
		e.face.busy = false
		svc2, err := New(e.svc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := svc2.DecidePending(e.ctx); err != nil || n != 0 {
			t.Fatalf("DecidePending(within the grace period) = %d, %v, want 0", n, err)
		}
		e.clock.Add(PendingGrace)
		if n, err := svc2.DecidePending(e.ctx); err != nil || n != 1 {
			t.Fatalf("DecidePending = %d, %v, want 1", n, err)
		}
		got, _ := svc2.Get(e.ctx, e.tenantA, c.Session.ID)
		if got.State != StateDecided || got.Outcome != OutcomeApproved {
			t.Errorf("after resume: %s/%s", got.State, got.Outcome)
		}
		if n, err := svc2.DecidePending(e.ctx); err != nil || n != 0 {
			t.Errorf("DecidePending again = %d, %v, want 0", n, err)
		}
		// Every blob the session refers to exists.
		refs, err := e.blobs.Refs(e.ctx, e.tenantA, c.Session.ID)
		if err != nil || len(refs) < 8 {
			t.Fatalf("blob refs = %d, %v", len(refs), err)
		}
		for _, r := range refs {
			if _, err := e.blobs.Get(e.ctx, r); err != nil {
				t.Errorf("blob %s: %v", r, err)
			}
		}
	})
}

func TestRetentionShreds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ss := e.runHe(e.tenantA, e.licence(8), func(p *page) { p.selfies(8, 0.9) })
		if _, err := e.svc.ContractEnded(e.ctx, client, e.tenantA, ss.ID, e.clock.Now().Add(48*time.Hour)); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("ContractEnded(future) = %v, want ErrInvalidInput", err)
		}
		until, err := e.svc.ContractEnded(e.ctx, client, e.tenantA, ss.ID, e.clock.Now())
		if err != nil || !until.Equal(e.clock.Now().AddDate(7, 0, 0)) {
			t.Fatalf("ContractEnded = %v, %v", until, err)
		}
		if _, err := e.svc.ContractEnded(e.ctx, client, e.tenantA, ss.ID, e.clock.Now()); !errors.Is(err, ErrState) {
			t.Errorf("ContractEnded(twice) = %v, want ErrState", err)
		}
		if n, err := e.svc.ShredExpired(e.ctx); err != nil || n != 0 {
			t.Errorf("ShredExpired(day 0) = %d, %v, want 0", n, err)
		}
		e.clock.Add(time.Until(time.Now().AddDate(7, 0, 1)))
		if n, err := e.svc.ShredExpired(e.ctx); err != nil || n != 1 {
			t.Fatalf("ShredExpired(7 years on) = %d, %v, want 1", n, err)
		}
		if _, err := e.svc.Result(e.ctx, client, e.tenantA, ss.ID); !errors.Is(err, vault.ErrShredded) {
			t.Errorf("Result(shredded) = %v, want vault.ErrShredded", err)
		}
		if got := e.auditActions(ss.ID); !slices.Contains(got, "ekyc.retention.shred") {
			t.Errorf("audit lacks the shred: %v", got)
		}
	})
}

// TestEvaluateExpiry covers the decision's own expiry rule, for verifiers
// that report an expired document as verified.
func TestEvaluateExpiry(t *testing.T) {
	he, _ := MethodByAPI("he")
	p := ExamplePolicy(0.5)
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		expiry string
		want   bool
	}{{"2026-04-29", true}, {"2026-04-30", true}, {"2026-05-01", false}, {"2030-01-01", false}} {
		an := &analysis{model: testModel, chip: &ChipResult{Verified: true, Expiry: tc.expiry}}
		d := evaluate(he, p, nil, an, (&testFace{}).Decide, now)
		if got := slices.Contains(d.ReasonCodes(), ReasonDocumentExpired); got != tc.want || (tc.want && d.Outcome != OutcomeRejected) {
			t.Errorf("evaluate(expiry %s) = %s %v, want expired %v", tc.expiry, d.Outcome, d.ReasonCodes(), tc.want)
		}
	}
}

// TestConcurrentSessions runs many sessions at once against a face engine
// that admits two analyses at a time: callers that find it full get busy
// at once, their sessions wait in submitted, and DecidePending decides
// them; every session ends approved and nothing is decided twice.
func TestConcurrentSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		n := 50
		if testing.Short() {
			n = 6
		}
		concurrentSessions(t, db, n)
	})
}

func concurrentSessions(t *testing.T, db *store.DB, n int) {
	e := newEnv(t, db)
	e.face.slots = make(chan struct{}, 2)
	// One card per customer: the same read in every session would be
	// chip.reused.
	lics := make(chan map[string][]byte, n)
	for range n {
		lics <- e.licence(6)
	}
	type result struct {
		id    string
		state State
		err   error
	}
	out := make(chan result, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := e.svc.Create(e.ctx, client, e.tenantA, CreateRequest{Method: "he", Reference: "c"})
			if err != nil {
				out <- result{err: err}
				return
			}
			st, err := e.svc.StartCapture(e.ctx, tokenOf(t, c))
			if err != nil {
				out <- result{err: err}
				return
			}
			if _, err := e.svc.SubmitChip(e.ctx, kiosk, e.tenantA, c.Session.ID, "jpdl", <-lics); err != nil {
				out <- result{err: err}
				return
			}
			key, _ := decodeToken(st.Key)
			p := &page{e: e, start: st, key: key, nonce: st.FrameNonce}
			for _, img := range selfieSeries(t, st.Challenge, 6) {
				if err := p.frameWith(FrameSelfie, img, nil); err != nil {
					out <- result{err: err}
					return
				}
			}
			ss, err := e.svc.Submit(e.ctx, st.Key)
			if err != nil {
				out <- result{err: err}
				return
			}
			out <- result{id: ss.ID, state: ss.State}
		}()
	}
	wg.Wait()
	close(out)
	var ids []string
	waiting := 0
	for r := range out {
		if r.err != nil {
			t.Fatalf("concurrent session: %v", r.err)
		}
		ids = append(ids, r.id)
		if r.state == StateSubmitted {
			waiting++
		}
	}
	e.clock.Add(PendingGrace)
	for range 10 {
		if _, err := e.svc.DecidePending(e.ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		ss, err := e.svc.Get(e.ctx, e.tenantA, id)
		if err != nil || ss.State != StateDecided || ss.Outcome != OutcomeApproved {
			t.Errorf("session %s = %v %v, %v; want decided approved", id, ss.State, ss.Outcome, err)
		}
		decides := 0
		for _, a := range e.auditActions(id) {
			if a == "ekyc.session.decide" {
				decides++
			}
		}
		if decides != 1 {
			t.Errorf("session %s decided %d times, want once", id, decides)
		}
	}
	t.Logf("%d sessions, %d waited for the face engine", n, waiting)
}

// selfieSeries returns frames performing steps as a live person id.
func selfieSeries(t testing.TB, steps []Step, id uint8) [][]byte {
	frontal := faceSpec{ID: id, EAR: 0.3, PAD: 0.95, Faces: 1}
	out := [][]byte{specPNG(t, frontal)}
	for _, st := range steps {
		sp := frontal
		switch st {
		case TurnLeft:
			sp.Yaw = 0.5
		case TurnRight:
			sp.Yaw = -0.5
		case Blink:
			sp.EAR = 0.05
		}
		out = append(out, specPNG(t, sp), specPNG(t, frontal))
	}
	return out
}

// TestWebhookToPrivateAddressRefused: a production service never posts
// results inside the network, whatever URL a client registered.
func TestWebhookToPrivateAddressRefused(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewTLSServer(rc)
	defer srv.Close()
	e := newEnv(t, storetest.SQLite(t), func(c *Config) { c.AllowInsecureWebhooks = false })
	c, err := e.svc.Create(e.ctx, client, e.tenantA, CreateRequest{Method: "he", Reference: "r", Webhook: srv.URL + "/hook"})
	if err != nil {
		t.Fatal(err)
	}
	p := e.open(c)
	if _, err := e.svc.SubmitChip(e.ctx, kiosk, e.tenantA, c.Session.ID, "jpdl", e.licence(2)); err != nil {
		t.Fatal(err)
	}
	p.selfies(2, 0.9)
	if _, err := e.svc.Submit(e.ctx, p.start.Key); err != nil {
		t.Fatal(err)
	}
	if n, err := e.notify.DeliverDue(e.ctx); err != nil || n != 0 || rc.calls != 0 {
		t.Errorf("DeliverDue to 127.0.0.1 = %d, %v, endpoint calls %d; want nothing sent", n, err, rc.calls)
	}
}

// TestAbandonedSessionsShredded: images of a session that never reached a
// decision are erased AbandonedRetention after it expired.
func TestAbandonedSessionsShredded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		c := e.create(e.tenantA, "he")
		p := e.open(c)
		p.frame(FrameSelfie, specPNG(t, faceSpec{ID: 1, EAR: .3, PAD: 1, Faces: 1}))
		kept := e.runHe(e.tenantA, e.licence(7), func(p *page) { p.selfies(7, 0.95) })
		e.clock.Add(time.Hour)
		if n, err := e.svc.ExpireDue(e.ctx); err != nil || n != 1 {
			t.Fatalf("ExpireDue = %d, %v", n, err)
		}
		if n, err := e.svc.ShredExpired(e.ctx); err != nil || n != 0 {
			t.Errorf("ShredExpired(1 h after expiry) = %d, %v, want 0", n, err)
		}
		e.clock.Add(AbandonedRetention)
		if n, err := e.svc.ShredExpired(e.ctx); err != nil || n != 1 {
			t.Fatalf("ShredExpired(after AbandonedRetention) = %d, %v, want 1", n, err)
		}
		if n, err := e.svc.ShredExpired(e.ctx); err != nil || n != 0 {
			t.Errorf("ShredExpired(again) = %d, %v, want 0", n, err)
		}
		ss, _ := e.svc.Get(e.ctx, e.tenantA, c.Session.ID)
		if shredded, err := e.vault.Shredded(e.ctx, db, subjectOf(e.tenantA, ss.subject)); err != nil || !shredded {
			t.Errorf("abandoned subject shredded = %v, %v, want true", shredded, err)
		}
		// A decided session's record is kept (its clock starts at contract end).
		if _, err := e.svc.Result(e.ctx, client, e.tenantA, kept.ID); err != nil {
			t.Errorf("Result(decided session) after the sweep = %v, want nil", err)
		}
	})
}

// TestReviewChipPhoto: a reviewer holding the claim sees the chip portrait
// of a ヘ session referred to review; the view is audited.
func TestReviewChipPhoto(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	ss := e.runHe(e.tenantA, e.licence(7), func(p *page) { p.selfies(7, -1) }) // no PAD score: review
	if ss.Outcome != OutcomeReview {
		t.Fatalf("outcome %s, want review", ss.Outcome)
	}
	r := Staff{ID: "st_1", Roles: []string{RoleReviewer}, TenantID: e.tenantA}
	if _, err := e.svc.Claim(e.ctx, r, ss.ID); err != nil {
		t.Fatal(err)
	}
	img, format, err := e.svc.ChipPhoto(e.ctx, r, ss.ID)
	if err != nil || format != "jpeg2000" || !bytes.HasPrefix(img, jpdltest.MinimalJ2K[:4]) {
		t.Fatalf("ChipPhoto = %d bytes %q, %v", len(img), format, err)
	}
	if !slices.Contains(e.auditActions(ss.ID), "ekyc.review.view_chip_photo") {
		t.Error("chip photo view not audited")
	}
	got, err := e.svc.Decide(e.ctx, r, ss.ID, ReviewDecision{Approve: true, Note: "live person, portrait matches",
		Reasons: []string{ReviewIdentityConfirmed}, Checked: checklistCodes(ss.Method)})
	if err != nil || got.Outcome != OutcomeApproved {
		t.Fatalf("Decide(approve he) = %v, %v", got, err)
	}
	jws, err := e.svc.Result(e.ctx, client, e.tenantA, ss.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyResult(jws, e.svc.JWKS()); err != nil {
		t.Fatal(err)
	}
}

// TestTransactionRecordsExtendRetention: a transaction record is kept 7
// years from the transaction, so the subject outlives the verification
// record's own retention until the last transaction record runs out.
func TestTransactionRecordsExtendRetention(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ss := e.runHe(e.tenantA, e.licence(8), func(p *page) { p.selfies(8, 0.9) })
		rejected := e.runHe(e.tenantA, e.licence(8), func(p *page) { p.selfies(9, 0.9) })
		tr := TransactionRecord{Date: e.clock.Now(), Kind: "account.open", Content: map[string]any{"account": "普通 1234567"}}
		for _, tc := range []struct {
			name string
			id   string
			tr   TransactionRecord
			want error
		}{
			{"rejected customer", rejected.ID, tr, ErrState},
			{"no date", ss.ID, TransactionRecord{Kind: "x", Content: map[string]any{"a": 1}}, ErrInvalidInput},
			{"future", ss.ID, TransactionRecord{Date: e.clock.Now().Add(72 * time.Hour), Kind: "x", Content: map[string]any{"a": 1}}, ErrInvalidInput},
			{"no content", ss.ID, TransactionRecord{Date: e.clock.Now(), Kind: "x"}, ErrInvalidInput},
			{"my number", ss.ID, TransactionRecord{Date: e.clock.Now(), Kind: "x", Content: map[string]any{"my_number": "1"}}, ErrMyNumber},
			{"too large", ss.ID, TransactionRecord{Date: e.clock.Now(), Kind: "x", Content: map[string]any{"a": strings.Repeat("x", MaxTransactionBytes)}}, ErrTooLarge},
			{"other tenant", ss.ID, tr, ErrNotFound},
		} {
			tenant := e.tenantA
			if tc.name == "other tenant" {
				tenant = e.tenantB
			}
			if _, _, err := e.svc.RecordTransaction(e.ctx, client, tenant, tc.id, tc.tr); !errors.Is(err, tc.want) {
				t.Errorf("RecordTransaction(%s) = %v, want %v", tc.name, err, tc.want)
			}
		}
		if _, err := e.svc.ContractEnded(e.ctx, client, e.tenantA, ss.ID, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		start := e.clock.Now()
		e.clock.Add(start.AddDate(5, 0, 0).Sub(start))
		tr.Date = e.clock.Now()
		id, until, err := e.svc.RecordTransaction(e.ctx, client, e.tenantA, ss.ID, tr)
		if err != nil || !until.Equal(start.AddDate(12, 0, 0)) {
			t.Fatalf("RecordTransaction = %s %v, %v", id, until, err)
		}
		var sealed []byte
		if err := db.QueryRow(e.ctx, `SELECT body FROM ekyc_transactions WHERE id = ?`, id).Scan(&sealed); err != nil || strings.Contains(string(sealed), "1234567") {
			t.Errorf("transaction body stored in clear or missing (%v)", err)
		}
		e.clock.Add(start.AddDate(7, 0, 1).Sub(e.clock.Now()))
		if n, err := e.svc.ShredExpired(e.ctx); err != nil || n != 0 {
			t.Errorf("ShredExpired(record expired, transaction kept) = %d, %v, want 0", n, err)
		}
		e.clock.Add(start.AddDate(12, 0, 1).Sub(e.clock.Now()))
		if n, err := e.svc.ShredExpired(e.ctx); err != nil || n != 1 {
			t.Errorf("ShredExpired(all run out) = %d, %v, want 1", n, err)
		}
		tr.Date = e.clock.Now()
		if _, _, err := e.svc.RecordTransaction(e.ctx, client, e.tenantA, ss.ID, tr); !errors.Is(err, ErrState) {
			t.Errorf("RecordTransaction(after erasure) = %v, want ErrState", err)
		}
	})
}
