package ekyc

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

func checklistCodes(m Method) []string {
	var out []string
	for _, it := range ReviewChecklist(m) {
		out = append(out, it.Code)
	}
	return out
}

// presence is a ReviewerPresence the test switches.
type presence struct {
	mu      sync.Mutex
	out     map[string]bool
	batches int // SignedInAmong calls
}

func (p *presence) SignedIn(_ context.Context, id string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.out[id], nil
}

func (p *presence) SignedInAmong(_ context.Context, ids []string) (map[string]bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.batches++
	out := map[string]bool{}
	for _, id := range ids {
		if !p.out[id] {
			out[id] = true
		}
	}
	return out, nil
}

func (p *presence) signOut(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out[id] = true
}

// referred runs a ヘ session of tenant that the policy refers to review;
// padLow makes the engine's liveness check fail (a default-reject reason
// the test's policy refers instead).
func (e *env) referred(tenant string, padLow bool) *Session {
	e.t.Helper()
	pad := -1.0 // no PAD score: review by default
	if padLow {
		pad = 0.3
	}
	ss := e.runHe(tenant, e.licence(7), func(p *page) { p.selfies(7, pad) })
	if ss.Outcome != OutcomeReview {
		e.t.Fatalf("outcome %s %v, want review", ss.Outcome, ss.Decision.ReasonCodes())
	}
	return ss
}

func (e *env) setPolicy(tenant string, edit func(*Policy)) {
	e.t.Helper()
	p := ExamplePolicy(0.5)
	p.Methods = []string{"he", "ho"}
	edit(&p)
	if _, err := e.svc.SetPolicy(e.ctx, System, tenant, p); err != nil {
		e.t.Fatal(err)
	}
}

func approve(m Method, reasons ...string) ReviewDecision {
	if len(reasons) == 0 {
		reasons = []string{ReviewIdentityConfirmed}
	}
	return ReviewDecision{Approve: true, Note: "portrait matches, live person", Reasons: reasons, Checked: checklistCodes(m)}
}

func TestReviewScope(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		a := e.referred(e.tenantA, false)
		b := e.referred(e.tenantB, false)
		ra := Staff{ID: "st_a", Roles: []string{RoleReviewer}, TenantID: e.tenantA}
		op := Staff{ID: "st_op", Roles: []string{RoleReviewer}}
		ids := func(st Staff) []string {
			t.Helper()
			q, err := e.svc.Queue(e.ctx, st, QueueFilter{})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, p := range q {
				out = append(out, p.SessionID)
			}
			return out
		}
		if got := ids(ra); !slices.Equal(got, []string{a.ID}) {
			t.Errorf("tenant A reviewer's queue = %v, want only %s", got, a.ID)
		}
		if got := ids(op); len(got) != 0 {
			t.Errorf("operator reviewer's queue without consent = %v, want empty", got)
		}
		for _, call := range []func() error{
			func() error { _, err := e.svc.Claim(e.ctx, ra, b.ID); return err },
			func() error { _, err := e.svc.Summary(e.ctx, ra, b.ID); return err },
			func() error { _, err := e.svc.Claim(e.ctx, op, a.ID); return err },
			func() error { _, err := e.svc.Evidence(e.ctx, op, a.ID); return err },
		} {
			if err := call(); !errors.Is(err, ErrNotFound) {
				t.Errorf("out-of-scope call = %v, want ErrNotFound", err)
			}
		}
		e.setPolicy(e.tenantB, func(p *Policy) { p.OperatorReview = true })
		if got := ids(op); !slices.Equal(got, []string{b.ID}) {
			t.Errorf("operator reviewer's queue with B's consent = %v, want %s", got, b.ID)
		}
		if _, err := e.svc.Claim(e.ctx, op, b.ID); err != nil {
			t.Errorf("operator claim with consent = %v", err)
		}
		if q, err := e.svc.Queue(e.ctx, ra, QueueFilter{Method: "ho"}); err != nil || len(q) != 0 {
			t.Errorf("Queue(method ho) = %v, %v, want none", q, err)
		}
		if _, err := e.svc.Queue(e.ctx, ra, QueueFilter{Method: "xx"}); err == nil {
			t.Error("Queue(unknown method) = nil error")
		}
	})
}

func TestReviewSLA(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	a := e.referred(e.tenantA, false)
	ra := Staff{ID: "st_a", Roles: []string{RoleReviewer}, TenantID: e.tenantA}
	q, err := e.svc.Queue(e.ctx, ra, QueueFilter{})
	if err != nil || len(q) != 1 || !q[0].Due.Equal(a.DecidedAt.Add(DefaultReviewSLA)) || q[0].Reference != "cust-0001" {
		t.Fatalf("Queue = %+v, %v, want due after the default SLA", q, err)
	}
	e.setPolicy(e.tenantA, func(p *Policy) { p.ReviewSLASeconds = 3600 })
	q, _ = e.svc.Queue(e.ctx, ra, QueueFilter{})
	if !q[0].Due.Equal(a.DecidedAt.Add(time.Hour)) || q[0].Overdue(e.clock.Now()) {
		t.Errorf("due %v overdue %v, want decided+1h, not overdue", q[0].Due, q[0].Overdue(e.clock.Now()))
	}
	e.clock.Add(61 * time.Minute)
	if !q[0].Overdue(e.clock.Now()) {
		t.Error("not overdue after the SLA")
	}
	p := ExamplePolicy(0.5)
	p.ReviewSLASeconds = 10
	if err := p.Validate(); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("Validate(review_sla_seconds 10) = %v, want ErrInvalidInput", err)
	}
}

func TestReviewChecklistAndReasons(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	ss := e.referred(e.tenantA, false)
	r := Staff{ID: "st_1", Roles: []string{RoleReviewer}, TenantID: e.tenantA}
	if _, err := e.svc.Claim(e.ctx, r, ss.ID); err != nil {
		t.Fatal(err)
	}
	full := checklistCodes(ss.Method)
	for _, tc := range []struct {
		name string
		rd   ReviewDecision
		is   error
	}{
		{"no checklist", ReviewDecision{Approve: true, Note: "ok", Reasons: []string{ReviewIdentityConfirmed}}, ErrChecklist},
		{"one item missing", ReviewDecision{Approve: true, Note: "ok", Reasons: []string{ReviewIdentityConfirmed}, Checked: full[1:]}, ErrChecklist},
		{"unknown item", ReviewDecision{Approve: true, Note: "ok", Reasons: []string{ReviewIdentityConfirmed}, Checked: append(full, "x")}, ErrInvalidInput},
		{"no reason", ReviewDecision{Approve: true, Note: "ok", Checked: full}, ErrInvalidInput},
		{"reject reason on approval", ReviewDecision{Approve: true, Note: "ok", Reasons: []string{ReviewFaceMismatch}, Checked: full}, ErrInvalidInput},
		{"approve reason on rejection", ReviewDecision{Note: "no", Reasons: []string{ReviewIdentityConfirmed}}, ErrInvalidInput},
		{"repeated reason", ReviewDecision{Note: "no", Reasons: []string{ReviewOther, ReviewOther}}, ErrInvalidInput},
		{"no note", ReviewDecision{Note: "", Reasons: []string{ReviewOther}}, ErrInvalidInput},
		{"note with a control character", ReviewDecision{Note: "a\x00b", Reasons: []string{ReviewOther}}, ErrInvalidInput},
	} {
		if _, err := e.svc.Decide(e.ctx, r, ss.ID, tc.rd); !errors.Is(err, tc.is) {
			t.Errorf("%s: Decide = %v, want %v", tc.name, err, tc.is)
		}
	}
	got, err := e.svc.Decide(e.ctx, r, ss.ID, ReviewDecision{Note: "selfie is a photo of a screen", Reasons: []string{ReviewPresentation}})
	if err != nil || got.Outcome != OutcomeRejected || !slices.Equal(got.Decision.ReviewReasons, []string{ReviewPresentation}) {
		t.Fatalf("Decide(reject) = %+v, %v", got, err)
	}
	if _, err := e.svc.Decide(e.ctx, r, ss.ID, approve(ss.Method)); !errors.Is(err, ErrState) {
		t.Errorf("Decide(again) = %v, want ErrState", err)
	}
}

// TestFourEyes: approving a session whose automated checks failed (the
// policy referred a default-reject reason) takes two reviewers; so does
// every approval under a review_four_eyes policy. A rejection takes one.
func TestFourEyes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.setPolicy(e.tenantA, func(p *Policy) { p.Actions = map[string]Action{ReasonPADLow: Review} })
		r1 := Staff{ID: "st_1", Roles: []string{RoleReviewer}, TenantID: e.tenantA}
		r2 := Staff{ID: "st_2", Roles: []string{RoleReviewer}, TenantID: e.tenantA}

		ss := e.referred(e.tenantA, true)
		if !ss.Decision.EngineRejected() || !slices.Contains(ss.Decision.ReasonCodes(), ReasonPADLow) {
			t.Fatalf("reasons %v: want a referred liveness failure", ss.Decision.ReasonCodes())
		}
		if _, err := e.svc.Claim(e.ctx, r1, ss.ID); err != nil {
			t.Fatal(err)
		}
		got, err := e.svc.Decide(e.ctx, r1, ss.ID, approve(ss.Method, ReviewLivenessConfirmed))
		if err != nil || got.Outcome != OutcomeReview {
			t.Fatalf("first approval = %+v, %v, want still in review", got, err)
		}
		sum, err := e.svc.Summary(e.ctx, r2, ss.ID)
		if err != nil || !sum.FourEyes || sum.First == nil || sum.First.StaffID != "st_1" || sum.ClaimedBy != "" {
			t.Fatalf("Summary = %+v, %v, want four eyes, first approval by st_1, claim released", sum, err)
		}
		// The first reviewer cannot be the second.
		if _, err := e.svc.Claim(e.ctx, r1, ss.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Decide(e.ctx, r1, ss.ID, approve(ss.Method)); !errors.Is(err, ErrSameReviewer) || !errors.Is(err, ErrForbidden) {
			t.Fatalf("second approval by the same reviewer = %v, want ErrSameReviewer", err)
		}
		if err := e.svc.Release(e.ctx, r1, ss.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Claim(e.ctx, r2, ss.ID); err != nil {
			t.Fatal(err)
		}
		got, err = e.svc.Decide(e.ctx, r2, ss.ID, approve(ss.Method))
		if err != nil || got.Outcome != OutcomeApproved || len(got.Decision.Approvals) != 2 ||
			got.Decision.Approvals[0].By != "staff:st_1" || got.Decision.Approvals[1].By != "staff:st_2" {
			t.Fatalf("second approval = %+v, %v", got, err)
		}
		acts := e.auditActions(ss.ID)
		for _, a := range []string{"ekyc.review.approve_first", "ekyc.review.release", "ekyc.review.decide"} {
			if !slices.Contains(acts, a) {
				t.Errorf("audit trail lacks %s: %v", a, acts)
			}
		}

		// A rejection of such a session takes one reviewer.
		ss = e.referred(e.tenantA, true)
		if _, err := e.svc.Claim(e.ctx, r1, ss.ID); err != nil {
			t.Fatal(err)
		}
		if got, err := e.svc.Decide(e.ctx, r1, ss.ID, ReviewDecision{Note: "spoof", Reasons: []string{ReviewPresentation}}); err != nil || got.Outcome != OutcomeRejected {
			t.Errorf("single rejection = %+v, %v", got, err)
		}

		// A session whose checks only need a person: one approval, unless
		// the policy asks four eyes for every approval.
		ss = e.referred(e.tenantA, false)
		if ss.Decision.EngineRejected() {
			t.Fatalf("reasons %v: want only needs-a-person reasons", ss.Decision.ReasonCodes())
		}
		e.setPolicy(e.tenantA, func(p *Policy) { p.ReviewFourEyes = true })
		if _, err := e.svc.Claim(e.ctx, r1, ss.ID); err != nil {
			t.Fatal(err)
		}
		if got, err := e.svc.Decide(e.ctx, r1, ss.ID, approve(ss.Method)); err != nil || got.Outcome != OutcomeReview {
			t.Fatalf("approval under review_four_eyes = %+v, %v, want a first approval", got, err)
		}
		e.setPolicy(e.tenantA, func(p *Policy) {})
		ss2 := e.referred(e.tenantA, false)
		if _, err := e.svc.Claim(e.ctx, r1, ss2.ID); err != nil {
			t.Fatal(err)
		}
		if got, err := e.svc.Decide(e.ctx, r1, ss2.ID, approve(ss2.Method)); err != nil || got.Outcome != OutcomeApproved {
			t.Errorf("single approval = %+v, %v", got, err)
		}
		// The second reviewer disagrees with a first approval: rejected.
		if _, err := e.svc.Claim(e.ctx, r2, ss.ID); err != nil {
			t.Fatal(err)
		}
		if got, err := e.svc.Decide(e.ctx, r2, ss.ID, ReviewDecision{Note: "not the same person", Reasons: []string{ReviewFaceMismatch}}); err != nil || got.Outcome != OutcomeRejected {
			t.Errorf("second reviewer rejects = %+v, %v", got, err)
		}
	})
}

// TestClaimReleasedWhenSignedOut: a claim lasts while its holder is signed
// in; once their staff session ends (idle timeout, sign-out), another
// reviewer may take the session and the holder can no longer decide it.
func TestClaimReleasedWhenSignedOut(t *testing.T) {
	pr := &presence{out: map[string]bool{}}
	e := newEnv(t, storetest.SQLite(t), func(c *Config) { c.Reviewers = pr })
	ss := e.referred(e.tenantA, false)
	r1 := Staff{ID: "st_1", Roles: []string{RoleReviewer}, TenantID: e.tenantA}
	r2 := Staff{ID: "st_2", Roles: []string{RoleReviewer}, TenantID: e.tenantA}
	if _, err := e.svc.Claim(e.ctx, r1, ss.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Claim(e.ctx, r2, ss.ID); !errors.Is(err, ErrClaimed) {
		t.Fatalf("Claim(held) = %v, want ErrClaimed", err)
	}
	if q, _ := e.svc.Queue(e.ctx, r2, QueueFilter{}); q[0].ClaimedBy != "st_1" {
		t.Errorf("queue claimed by %q, want st_1", q[0].ClaimedBy)
	}
	pr.signOut("st_1")
	if q, _ := e.svc.Queue(e.ctx, r2, QueueFilter{}); q[0].ClaimedBy != "" {
		t.Errorf("queue claimed by %q after sign-out, want nobody", q[0].ClaimedBy)
	}
	if _, err := e.svc.Claim(e.ctx, r2, ss.ID); err != nil {
		t.Fatalf("Claim(holder signed out) = %v", err)
	}
	if _, err := e.svc.Decide(e.ctx, r1, ss.ID, approve(ss.Method)); !errors.Is(err, ErrClaimed) {
		t.Errorf("Decide by the signed-out holder = %v, want ErrClaimed", err)
	}
	var details string
	if err := e.db.QueryRow(e.ctx, `SELECT leaf FROM audit_entries WHERE object = ? AND action = 'ekyc.review.claim' ORDER BY idx DESC LIMIT 1`, ss.ID).Scan(&details); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(details, "lapsed_claim_of") {
		t.Error("taking over a lapsed claim is not recorded with whose it was")
	}
}

// TestDecideRace: reviewers deciding the same session at once (the same
// claim in several tabs, and a second reviewer taking a lapsed claim while
// the first decides): exactly one decision wins, the rest get ErrClaimed or
// ErrState, and one decision is recorded.
func TestDecideRace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		r1 := Staff{ID: "st_1", Roles: []string{RoleReviewer}, TenantID: e.tenantA}
		r2 := Staff{ID: "st_2", Roles: []string{RoleReviewer}, TenantID: e.tenantA}
		for round := range 2 {
			ss := e.referred(e.tenantA, false)
			if _, err := e.svc.Claim(e.ctx, r1, ss.ID); err != nil {
				t.Fatal(err)
			}
			const n = 6
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					switch {
					case round == 1 && i%2 == 1:
						// A second reviewer takes the claim (lapsed at
						// round 1) and decides.
						if _, err := e.svc.Claim(e.ctx, r2, ss.ID); err != nil {
							errs[i] = err
							return
						}
						_, errs[i] = e.svc.Decide(e.ctx, r2, ss.ID, ReviewDecision{Note: "no", Reasons: []string{ReviewOther}})
					case i%2 == 0:
						_, errs[i] = e.svc.Decide(e.ctx, r1, ss.ID, approve(ss.Method))
					default:
						_, errs[i] = e.svc.Decide(e.ctx, r1, ss.ID, ReviewDecision{Note: "no", Reasons: []string{ReviewOther}})
					}
				}()
				if round == 1 && i == 0 {
					e.clock.Add(16 * time.Minute) // the first claim lapses
				}
			}
			wg.Wait()
			wins := 0
			for _, err := range errs {
				switch {
				case err == nil:
					wins++
				case errors.Is(err, ErrClaimed), errors.Is(err, ErrState):
				default:
					t.Errorf("round %d: unexpected error %v", round, err)
				}
			}
			n1 := 0
			for _, a := range e.auditActions(ss.ID) {
				if a == "ekyc.review.decide" {
					n1++
				}
			}
			if wins != 1 || n1 != 1 {
				t.Errorf("round %d: %d decisions won, %d recorded; want exactly one (errors %v)", round, wins, n1, errs)
			}
		}
	})
}

// TestQueueClaimsAndFirstApprovals: the queue reads every row's claim and
// first approval in one query each for the page (one presence question
// for all holders), with the same answers the per-session reads give: a
// live claim, a claim whose holder signed out, an expired claim, a first
// approval, and nothing.
func TestQueueClaimsAndFirstApprovals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		pr := &presence{out: map[string]bool{}}
		e := newEnv(t, db, func(c *Config) { c.Reviewers = pr })
		e.setPolicy(e.tenantA, func(p *Policy) { p.ReviewFourEyes = true })
		r := func(id string) Staff { return Staff{ID: id, Roles: []string{RoleReviewer}, TenantID: e.tenantA} }
		var ids []string
		var m Method
		for range 5 {
			ss := e.referred(e.tenantA, false)
			ids, m = append(ids, ss.ID), ss.Method
		}
		// ids[0]: held by st_1 (signed in); ids[1]: held by st_2, who
		// signs out; ids[2]: first approval by st_3; ids[3]: held by
		// st_4 until the claim expires; ids[4]: untouched.
		for i, who := range []string{"st_1", "st_2", "st_3", "st_4"} {
			if _, err := e.svc.Claim(e.ctx, r(who), ids[i]); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.svc.Decide(e.ctx, r("st_3"), ids[2], approve(m)); err != nil {
			t.Fatal(err)
		}
		pr.signOut("st_2")
		e.clock.Add(e.svc.cfg.ClaimTTL / 2)
		if _, err := e.svc.Claim(e.ctx, r("st_1"), ids[0]); err != nil { // renewed: outlives st_4's
			t.Fatal(err)
		}
		e.clock.Add(e.svc.cfg.ClaimTTL/2 + time.Second)

		pr.batches = 0
		q, err := e.svc.Queue(e.ctx, r("st_9"), QueueFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if pr.batches != 1 {
			t.Errorf("presence asked %d times for one page, want once", pr.batches)
		}
		got := map[string]Pending{}
		for _, p := range q {
			got[p.SessionID] = p
		}
		type want struct {
			claimedBy, firstBy string
		}
		for i, w := range []want{{claimedBy: "st_1"}, {}, {firstBy: "st_3"}, {}, {}} {
			p, ok := got[ids[i]]
			if !ok {
				t.Fatalf("session %d missing from the queue", i)
			}
			firstBy := ""
			if p.First != nil {
				firstBy = p.First.StaffID
				if !slices.Contains(p.First.Reasons, ReviewIdentityConfirmed) || p.First.At.IsZero() {
					t.Errorf("session %d: first approval %+v, want its reasons and time", i, p.First)
				}
			}
			if p.ClaimedBy != w.claimedBy || firstBy != w.firstBy {
				t.Errorf("session %d: claimed by %q, first approval by %q; want %q, %q", i, p.ClaimedBy, firstBy, w.claimedBy, w.firstBy)
			}
			// The per-session read agrees.
			sum, err := e.svc.Summary(e.ctx, r("st_9"), ids[i])
			if err != nil {
				t.Fatal(err)
			}
			if sum.ClaimedBy != p.ClaimedBy || (sum.First == nil) != (p.First == nil) {
				t.Errorf("session %d: Summary claimed by %q first %v, queue %q %v", i, sum.ClaimedBy, sum.First, p.ClaimedBy, p.First)
			}
		}
	})
}
