package txauth

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestFaceLockout: consecutive refused face re-authentications lock the
// factor for the customer (warned one before, alerted, audited); a lock
// cannot be bypassed by an open confirmation, a capture in flight, a new
// confirmation or re-enrolling the template; concurrent submissions of one
// capture count once; only two staff members of the tenant unlock it after
// a re-verification decided after the lock, and a request filed for an
// earlier lock cannot lift a later one.
func TestFaceLockout(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, withFace)
		e.svc.cfg.Selfies = e.ekyc
		cu := e.selfieCustomer(t, "C-FLOCK", 31)
		pol, _, _ := e.svc.Policy(e.ctx, e.tenantA)
		pol.Require = []Factor{FactorFace}
		pol.Face.MaxFailures = 3
		pol.Webhook = "https://bank.example/txauth-events"
		if _, err := e.svc.SetPolicy(e.ctx, System, e.tenantA, pol); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.EnrollFace(e.ctx, client, e.tenantA, cu.ID); err != nil {
			t.Fatal(err)
		}
		open := func() string {
			t.Helper()
			cr, err := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: sampleTx()})
			if err != nil {
				t.Fatalf("Create = %v", err)
			}
			return tokenOf(t, cr.ConfirmURL)
		}
		// capture films person id for a fresh challenge on tok.
		capture := func(tok string, id uint8) {
			t.Helper()
			fc, err := e.svc.FaceStart(e.ctx, tok)
			if err != nil {
				t.Fatalf("FaceStart = %v", err)
			}
			nonce := fc.Nonce
			for _, img := range performance(t, id, fc.Steps) {
				if nonce, err = e.svc.FaceFrame(e.ctx, tok, nonce, img); err != nil {
					t.Fatalf("FaceFrame = %v", err)
				}
			}
		}
		refused := func(id uint8, wantLeft int, wantLocked bool) {
			t.Helper()
			e.clock.Add(time.Second) // events are listed in time order
			tok := open()
			capture(tok, id)
			_, err := e.svc.FaceSubmit(e.ctx, tok)
			var fe *FaceError
			if !errors.As(err, &fe) || fe.AttemptsLeft != wantLeft || fe.Locked != wantLocked {
				t.Fatalf("FaceSubmit(another person) = %v (%+v), want %d left, locked %v", err, fe, wantLeft, wantLocked)
			}
		}
		confirmed := func() {
			t.Helper()
			tok := open()
			capture(tok, 31)
			if v, err := e.svc.FaceSubmit(e.ctx, tok); err != nil || v.State != StateConfirmed {
				t.Fatalf("FaceSubmit(the customer) = %+v, %v", v, err)
			}
		}

		refused(32, 2, false)
		confirmed() // a success resets the count

		// Concurrent submissions of one capture: exactly one is decided.
		tok := open()
		capture(tok, 32)
		var (
			wg                    sync.WaitGroup
			mu                    sync.Mutex
			counted, replays, bad int
		)
		for range 6 {
			wg.Go(func() {
				_, err := e.svc.FaceSubmit(e.ctx, tok)
				mu.Lock()
				defer mu.Unlock()
				var fe *FaceError
				switch {
				case errors.As(err, &fe):
					counted++
				case errors.Is(err, ErrReplay), errors.Is(err, ErrState):
					replays++
				default:
					bad++
					t.Errorf("concurrent FaceSubmit = %v", err)
				}
			})
		}
		wg.Wait()
		if counted != 1 || replays != 5 || bad != 0 {
			t.Errorf("concurrent submissions: %d decided, %d replays, %d other; want exactly one decided", counted, replays, bad)
		}
		if n, _, _ := faceLock(e.ctx, e.db, e.tenantA, cu.ID); n != 1 {
			t.Errorf("refusals after the concurrent submissions = %d, want 1", n)
		}

		refused(32, 1, false) // the last attempt: the tenant is warned

		// A confirmation left open and a capture in flight when the lock falls.
		openTok := open()
		flightTok := open()
		capture(flightTok, 31)
		refused(32, 0, true)

		if _, err := e.svc.FaceSubmit(e.ctx, flightTok); !errors.Is(err, ErrLocked) {
			t.Errorf("FaceSubmit(capture in flight, the right person) = %v, want ErrLocked", err)
		}
		if _, err := e.svc.FaceStart(e.ctx, openTok); !errors.Is(err, ErrLocked) {
			t.Errorf("FaceStart(open confirmation) = %v, want ErrLocked", err)
		}
		if _, err := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: sampleTx()}); !errors.Is(err, ErrLocked) {
			t.Errorf("Create(locked face) = %v, want ErrLocked", err)
		}
		if _, err := e.svc.EnrollFace(e.ctx, client, e.tenantA, cu.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: sampleTx()}); !errors.Is(err, ErrLocked) {
			t.Errorf("Create(after re-enrolling the template) = %v, want ErrLocked", err)
		}
		ev := e.events(e.tenantA)
		warn, lock := slices.Index(ev, EventNotice+":"+NoticeFaceWarning), slices.Index(ev, EventNotice+":"+NoticeFaceLocked)
		if warn < 0 || lock < 0 || warn > lock || !slices.Contains(ev, EventAlert+":"+AlertFaceLocked) {
			t.Errorf("events %v: want the warning, then the lock notice, and the alert", ev)
		}
		if got := e.auditActions(cu.ID); !slices.Contains(got, "txauth.face.lock") {
			t.Errorf("customer audit %v lacks txauth.face.lock", got)
		}

		locks, err := e.svc.Locks(e.ctx, staffA)
		if err != nil || !slices.ContainsFunc(locks, func(l Lock) bool { return l.Kind == LockFace && l.CustomerID == cu.ID && l.TenantID == e.tenantA }) {
			t.Errorf("Locks = %+v, %v; want the face lock", locks, err)
		}
		if l, err := e.svc.Locks(e.ctx, Staff{ID: "st_carol", Roles: []string{"reviewer"}, TenantID: e.tenantB}); err != nil || len(l) != 0 {
			t.Errorf("Locks(another tenant's staff) = %+v, %v; want none", l, err)
		}

		// Unlock: reviewer or admin, the tenant's own, re-verified after the lock, two people.
		staffOther := Staff{ID: "st_carol", Roles: []string{"reviewer"}, TenantID: e.tenantB}
		if _, err := e.svc.RequestFaceUnlock(e.ctx, Staff{ID: "st_x", Roles: []string{"auditor"}}, e.tenantA, cu.ID, "ses_x"); !errors.Is(err, ErrForbidden) {
			t.Errorf("RequestFaceUnlock(auditor) = %v, want ErrForbidden", err)
		}
		before := e.approvedSession(e.tenantA, "C-FLOCK") // decided at the lock's time, not after
		if _, err := e.svc.RequestFaceUnlock(e.ctx, staffA, e.tenantA, cu.ID, before); !errors.Is(err, ErrState) {
			t.Errorf("RequestFaceUnlock(no re-verification after the lock) = %v, want ErrState", err)
		}
		e.clock.Add(time.Hour)
		other := e.approvedSession(e.tenantA, "C-OTHER")
		if _, err := e.svc.RequestFaceUnlock(e.ctx, staffA, e.tenantA, cu.ID, other); !errors.Is(err, ErrState) {
			t.Errorf("RequestFaceUnlock(another customer's session) = %v, want ErrState", err)
		}
		fresh := e.approvedSession(e.tenantA, "C-FLOCK")
		if _, err := e.svc.RequestFaceUnlock(e.ctx, staffOther, e.tenantA, cu.ID, fresh); !errors.Is(err, ErrNotFound) {
			t.Errorf("RequestFaceUnlock(another tenant's staff) = %v, want ErrNotFound", err)
		}
		if _, err := e.svc.RequestFaceUnlock(e.ctx, staffA, e.tenantB, cu.ID, fresh); !errors.Is(err, ErrNotFound) {
			t.Errorf("RequestFaceUnlock(customer under another tenant) = %v, want ErrNotFound", err)
		}
		u, err := e.svc.RequestFaceUnlock(e.ctx, staffA, e.tenantA, cu.ID, fresh)
		if err != nil || u.Factor != FactorFace || u.CustomerID != cu.ID {
			t.Fatalf("RequestFaceUnlock = %+v, %v", u, err)
		}
		e.clock.Add(time.Second)
		stale, err := e.svc.RequestFaceUnlock(e.ctx, staffA, e.tenantA, cu.ID, fresh)
		if err != nil {
			t.Fatal(err)
		}
		if l, _ := e.svc.Unlocks(e.ctx, staffOther, "pending"); len(l) != 0 {
			t.Errorf("Unlocks(another tenant's staff) = %+v, want none", l)
		}
		if l, _ := e.svc.Unlocks(e.ctx, staffB, "pending"); len(l) != 2 || l[0].ID != u.ID {
			t.Errorf("Unlocks(pending) = %+v, want the two requests", l)
		}
		if _, err := e.svc.ApproveUnlock(e.ctx, staffA, u.ID); !errors.Is(err, ErrForbidden) {
			t.Errorf("ApproveUnlock(by the requester) = %v, want ErrForbidden", err)
		}
		if _, err := e.svc.ApproveUnlock(e.ctx, staffOther, u.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("ApproveUnlock(another tenant's staff) = %v, want ErrNotFound", err)
		}
		if got, err := e.svc.ApproveUnlock(e.ctx, staffB, u.ID); err != nil || got.State != "approved" {
			t.Fatalf("ApproveUnlock = %+v, %v", got, err)
		}
		if _, err := e.svc.ApproveUnlock(e.ctx, staffB, u.ID); !errors.Is(err, ErrState) {
			t.Errorf("ApproveUnlock(twice) = %v, want ErrState", err)
		}
		for _, want := range []string{"txauth.face.unlock_request", "txauth.face.unlock_approve", "txauth.face.unlock"} {
			if !slices.Contains(e.auditActions(cu.ID), want) {
				t.Errorf("customer audit %v lacks %s", e.auditActions(cu.ID), want)
			}
		}
		confirmed() // unlocked, the count starts again
		if l, _ := e.svc.Locks(e.ctx, staffA); slices.ContainsFunc(l, func(l Lock) bool { return l.Kind == LockFace }) {
			t.Errorf("Locks after the unlock = %+v, want no face lock", l)
		}

		// Locked again: the request filed for the first lock is stale.
		e.clock.Add(time.Minute)
		refused(32, 2, false)
		refused(32, 1, false)
		refused(32, 0, true)
		if _, err := e.svc.ApproveUnlock(e.ctx, staffB, stale.ID); !errors.Is(err, ErrState) {
			t.Errorf("ApproveUnlock(request for an earlier lock) = %v, want ErrState", err)
		}
		if _, locked, _ := faceLock(e.ctx, e.db, e.tenantA, cu.ID); locked.IsZero() {
			t.Error("a request filed for an earlier lock lifted the later one")
		}
		if l, _ := e.svc.Unlocks(e.ctx, staffB, "stale"); len(l) != 1 || l[0].ID != stale.ID {
			t.Errorf("Unlocks(stale) = %+v, want the old request", l)
		}
	})
}

// TestFacePolicyLimits: face.max_failures is 1 to 10; a policy stored
// without it locks after 5.
func TestFacePolicyLimits(t *testing.T) {
	for _, n := range []int{-1, 11} {
		p := ExamplePolicy()
		p.Face.MaxFailures = n
		if err := p.Validate(); !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("Validate(face.max_failures %d) = %v, want ErrInvalidPolicy", n, err)
		}
	}
	if got := (FaceRule{}).maxFailures(); got != 5 {
		t.Errorf("FaceRule{}.maxFailures() = %d, want 5", got)
	}
}

// TestFaceRefusalsCountedConcurrently: refusals submitted at once on
// different confirmations of a customer with no account row yet are each
// counted (no lost update, no failed first insert), and the lock falls at
// the limit.
func TestFaceRefusalsCountedConcurrently(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, withFace)
		e.svc.cfg.Selfies = e.ekyc
		cu := e.selfieCustomer(t, "C-FCONC", 41)
		pol, _, _ := e.svc.Policy(e.ctx, e.tenantA)
		pol.Require, pol.Face.MaxFailures = []Factor{FactorFace}, 4
		if _, err := e.svc.SetPolicy(e.ctx, System, e.tenantA, pol); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.EnrollFace(e.ctx, client, e.tenantA, cu.ID); err != nil {
			t.Fatal(err)
		}
		var toks []string
		for range 4 {
			cr, err := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: sampleTx()})
			if err != nil {
				t.Fatal(err)
			}
			tok := tokenOf(t, cr.ConfirmURL)
			fc, err := e.svc.FaceStart(e.ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			nonce := fc.Nonce
			for _, img := range performance(t, 42, fc.Steps) {
				if nonce, err = e.svc.FaceFrame(e.ctx, tok, nonce, img); err != nil {
					t.Fatal(err)
				}
			}
			toks = append(toks, tok)
		}
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			locked int
		)
		for _, tok := range toks {
			wg.Go(func() {
				_, err := e.svc.FaceSubmit(e.ctx, tok)
				var fe *FaceError
				if !errors.As(err, &fe) {
					t.Errorf("FaceSubmit = %v, want a refusal", err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if fe.Locked {
					locked++
				}
			})
		}
		wg.Wait()
		n, at, err := faceLock(e.ctx, e.db, e.tenantA, cu.ID)
		if err != nil || n != 4 || at.IsZero() || locked != 1 {
			t.Errorf("after 4 concurrent refusals: count %d, locked at %v, %d answers said locked, %v; want 4, locked, exactly one", n, at, locked, err)
		}
	})
}
