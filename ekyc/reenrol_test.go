package ekyc

import (
	"errors"
	"slices"
	"testing"

	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
	"github.com/madoguchi/madoguchi/vault"
)

// TestReenrolFace: the template of an approved session is re-computed by
// the current engine from its sealed selfie frames (the decision's
// choice: the first frame with a face), the read audited on the session;
// a session that was not approved, another tenant's and a shredded
// subject's give nothing.
func TestReenrolFace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ss := e.runHe(e.tenantA, e.licence(7), func(p *page) { p.selfies(7, 0.95) })
		if ss.Outcome != OutcomeApproved {
			t.Fatalf("session %s, want approved", ss.Outcome)
		}
		got, err := e.svc.ReenrolFace(e.ctx, System, e.tenantA, ss.ID)
		if err != nil || got == nil {
			t.Fatalf("ReenrolFace(approved) = %v, %v", got, err)
		}
		want, err := face.NewTemplate(testModel, identityVector(7))
		if err != nil {
			t.Fatal(err)
		}
		if sc, err := face.Compare(*got, want); err != nil || sc < 0.9999 || got.Model() != testModel {
			t.Errorf("ReenrolFace = model %s, score against the person %v (%v); want the person's template of the engine's model", got.Model(), sc, err)
		}
		if acts := e.auditActions(ss.ID); !slices.Contains(acts, "ekyc.fraud.reenrol") {
			t.Errorf("audit of %s lacks ekyc.fraud.reenrol: %v", ss.ID, acts)
		}
		if _, err := e.svc.ReenrolFace(e.ctx, System, e.tenantB, ss.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("ReenrolFace(another tenant) = %v, want ErrNotFound", err)
		}
		rejected := e.runHe(e.tenantA, e.licence(8), func(p *page) { p.selfies(8, 0.3) })
		if rejected.Outcome == OutcomeApproved {
			t.Fatal("low-PAD session approved")
		}
		if _, err := e.svc.ReenrolFace(e.ctx, System, e.tenantA, rejected.ID); !errors.Is(err, ErrState) {
			t.Errorf("ReenrolFace(not approved) = %v, want ErrState", err)
		}
		sub, err := getSession(e.ctx, db, e.tenantA, ss.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.InTx(e.ctx, func(tx *store.Tx) error {
			return e.vault.Shred(e.ctx, tx, subjectOf(e.tenantA, sub.subject), vault.System)
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ReenrolFace(e.ctx, System, e.tenantA, ss.ID); !errors.Is(err, vault.ErrShredded) {
			t.Errorf("ReenrolFace(shredded) = %v, want vault.ErrShredded", err)
		}
	})
}
