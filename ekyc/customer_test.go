package ekyc

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
	"github.com/madoguchi/madoguchi/vault"
)

func TestCustomers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		approved := e.runHe(e.tenantA, e.licence(9), func(p *page) { p.selfies(9, 0.95) })
		rejected := e.runHe(e.tenantA, e.licence(10), func(p *page) { p.selfies(11, 0.95) })
		if approved.Outcome != OutcomeApproved || rejected.Outcome != OutcomeRejected {
			t.Fatalf("sessions = %s, %s; want approved, rejected", approved.Outcome, rejected.Outcome)
		}
		for _, tc := range []struct {
			name, tenant, session, ref string
			want                       error
		}{
			{"rejected session", e.tenantA, rejected.ID, "C-1", ErrState},
			{"other tenant's session", e.tenantB, approved.ID, "C-1", ErrNotFound},
			{"empty reference", e.tenantA, approved.ID, "", ErrInvalidInput},
			{"control character", e.tenantA, approved.ID, "C\n1", ErrInvalidInput},
		} {
			if _, err := e.svc.CreateCustomer(e.ctx, client, tc.tenant, tc.session, tc.ref); !errors.Is(err, tc.want) {
				t.Errorf("CreateCustomer(%s) = %v, want %v", tc.name, err, tc.want)
			}
		}
		c, err := e.svc.CreateCustomer(e.ctx, client, e.tenantA, approved.ID, "C-1")
		if err != nil {
			t.Fatalf("CreateCustomer = %v", err)
		}
		if c.SessionID != approved.ID || c.Method != CodeHe || c.Subject().Subject == "" || c.Shredded() {
			t.Errorf("customer = %+v", c)
		}
		if _, err := e.svc.CreateCustomer(e.ctx, client, e.tenantA, approved.ID, "C-2"); !errors.Is(err, ErrState) {
			t.Errorf("CreateCustomer(same session again) = %v, want ErrState", err)
		}
		if got, err := e.svc.Customer(e.ctx, e.tenantA, c.ID); err != nil || got.Reference != "C-1" || got.Subject() != c.Subject() {
			t.Errorf("Customer = %+v, %v", got, err)
		}
		if _, err := e.svc.Customer(e.ctx, e.tenantB, c.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("Customer(other tenant) = %v, want ErrNotFound", err)
		}
		if got, err := e.svc.CustomerByReference(e.ctx, e.tenantA, "C-1"); err != nil || got.ID != c.ID {
			t.Errorf("CustomerByReference = %+v, %v", got, err)
		}
		if !slices.Contains(e.auditActions(c.ID), "ekyc.customer.create") {
			t.Errorf("audit lacks the creation: %v", e.auditActions(c.ID))
		}

		// Re-verification: an approved session under the customer's
		// reference, decided after the given time.
		before := e.clock.Now()
		e.clock.Add(time.Minute)
		again, err := e.svc.Create(e.ctx, client, e.tenantA, CreateRequest{Method: "he", Reference: "C-1"})
		if err != nil {
			t.Fatal(err)
		}
		p := e.open(again)
		if _, err := e.svc.SubmitChip(e.ctx, kiosk, e.tenantA, again.Session.ID, "jpdl", e.licence(9)); err != nil {
			t.Fatal(err)
		}
		p.selfies(9, 0.95)
		if _, err := e.svc.Submit(e.ctx, p.start.Key); err != nil {
			t.Fatal(err)
		}
		if ok, err := e.svc.ReverifiedSince(e.ctx, e.tenantA, c.ID, again.Session.ID, before); err != nil || !ok {
			t.Errorf("ReverifiedSince(new approved session) = %v, %v, want true", ok, err)
		}
		if ok, err := e.svc.ReverifiedSince(e.ctx, e.tenantA, c.ID, again.Session.ID, e.clock.Now().Add(time.Hour)); err != nil || ok {
			t.Errorf("ReverifiedSince(session decided before the lock) = %v, %v, want false", ok, err)
		}
		if ok, err := e.svc.ReverifiedSince(e.ctx, e.tenantA, c.ID, rejected.ID, before.Add(-time.Hour)); err != nil || ok {
			t.Errorf("ReverifiedSince(rejected session) = %v, %v, want false", ok, err)
		}

		// Shredding the subject marks the customer erased.
		if _, err := e.svc.ContractEnded(e.ctx, client, e.tenantA, approved.ID, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		e.clock.Add(time.Until(time.Now().AddDate(7, 0, 2)))
		if _, err := e.svc.ShredExpired(e.ctx); err != nil {
			t.Fatal(err)
		}
		got, err := e.svc.Customer(e.ctx, e.tenantA, c.ID)
		if err != nil || !got.Shredded() {
			t.Fatalf("Customer(after shred) = %+v, %v, want shredded", got, err)
		}
		if _, err := e.vault.Open(e.ctx, db, got.Subject(), vault.AAD("x"), []byte("MDV")); !errors.Is(err, vault.ErrShredded) && !errors.Is(err, vault.ErrFormat) {
			t.Errorf("vault.Open(shredded subject) = %v", err)
		}
		if shredded, err := e.vault.Shredded(e.ctx, db, got.Subject()); err != nil || !shredded {
			t.Errorf("vault.Shredded(customer subject) = %v, %v, want true", shredded, err)
		}
		if _, err := e.svc.ReverifiedSince(e.ctx, e.tenantA, c.ID, again.Session.ID, before); !errors.Is(err, ErrShredded) {
			t.Errorf("ReverifiedSince(shredded) = %v, want ErrShredded", err)
		}
	})
}
