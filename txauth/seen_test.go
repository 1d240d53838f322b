package txauth

import (
	"bytes"
	"crypto/sha256"
	"slices"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/fraud"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestSeenKeysAreKeyed: the payees, devices and networks a customer
// confirmed before are stored only as HMAC digests under the server's key
// (not the plain SHA-256 they were, which anyone can recompute for a
// guessed account); a payee with one digit changed, another customer, or
// another tenant is new; a server with another key recognises nothing;
// and a service without a key does not start.
func TestSeenKeysAreKeyed(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		// confirm has the customer confirm r with the card and returns the
		// signals raised.
		confirm := func(svc *Service, tenant string, card *Card, r Request) []string {
			t.Helper()
			e.clock.Add(time.Second)
			cr, err := svc.Create(e.ctx, client, tenant, r)
			if err != nil {
				t.Fatal(err)
			}
			tok := tokenOf(t, cr.ConfirmURL)
			v, err := svc.Page(e.ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			if v, err := svc.Answer(e.ctx, tok, v.Challenge.ID, e.rightPicks(card, v.Challenge)); err != nil || v.State != StateConfirmed {
				t.Fatalf("Answer = %+v, %v", v, err)
			}
			return cr.Confirmation.Assessment.Signals
		}
		all := []string{SignalNewPayee, SignalNewDevice, SignalNewNetwork}
		cu := e.customer(e.tenantA, "C-SEEN")
		card := e.activeCard(e.tenantA, cu.ID)
		r := Request{Customer: cu.ID, Transaction: sampleTx(), Network: "203.0.113.7"}
		if got := confirm(e.svc, e.tenantA, card, r); !slices.Equal(got, all) {
			t.Fatalf("first transfer signals = %v, want %v", got, all)
		}
		if got := confirm(e.svc, e.tenantA, card, r); len(got) != 0 {
			t.Fatalf("second transfer signals = %v, want none", got)
		}

		// What is stored: the keyed digest, never an unkeyed hash.
		key, _ := fraud.NewKey(bytes.Repeat([]byte{9}, 32)) // newEnv's key
		tx := sampleTx()
		values := map[string]string{"payee": tx.PayeeKey(), "device": tx.Device, "network": "203.0.113.0/24"}
		rows, err := db.Query(e.ctx, `SELECT kind, key_hash FROM txauth_seen WHERE tenant_id = ? AND customer_id = ?`, e.tenantA, cu.ID)
		if err != nil {
			t.Fatal(err)
		}
		stored := map[string][]byte{}
		for rows.Next() {
			var (
				kind string
				h    []byte
			)
			if err := rows.Scan(&kind, &h); err != nil {
				t.Fatal(err)
			}
			stored[kind] = h
		}
		rows.Close()
		if len(stored) != 3 {
			t.Fatalf("seen rows = %d kinds, want payee, device and network", len(stored))
		}
		for kind, v := range values {
			if want := key.Digest(seenLabel, e.tenantA, cu.ID, kind, v); !bytes.Equal(stored[kind], want) {
				t.Errorf("%s: stored digest is not HMAC under the server key", kind)
			}
			plain := sha256.Sum256([]byte("madoguchi/txauth/seen/v1\x00" + e.tenantA + "\x00" + cu.ID + "\x00" + kind + "\x00" + v))
			bare := sha256.Sum256([]byte(v))
			if bytes.Equal(stored[kind], plain[:]) || bytes.Equal(stored[kind], bare[:]) {
				t.Errorf("%s: stored digest is an unkeyed SHA-256", kind)
			}
		}

		// A tampered payee (one digit of the account) is a new payee.
		tampered := r
		tampered.Transaction.Payee.AccountNumber = "1234568"
		if got := confirm(e.svc, e.tenantA, card, tampered); !slices.Equal(got, []string{SignalNewPayee}) {
			t.Errorf("tampered payee signals = %v, want [%s]", got, SignalNewPayee)
		}
		// The same payee, device and network are new for another customer
		// of the tenant and for a customer of another tenant.
		other := e.customer(e.tenantA, "C-SEEN-2")
		if got := confirm(e.svc, e.tenantA, e.activeCard(e.tenantA, other.ID), Request{Customer: other.ID, Transaction: sampleTx(), Network: "203.0.113.7"}); !slices.Equal(got, all) {
			t.Errorf("another customer's signals = %v, want %v", got, all)
		}
		cuB := e.customer(e.tenantB, "C-SEEN")
		if got := confirm(e.svc, e.tenantB, e.activeCard(e.tenantB, cuB.ID), Request{Customer: cuB.ID, Transaction: sampleTx(), Network: "203.0.113.7"}); !slices.Equal(got, all) {
			t.Errorf("another tenant's customer's signals = %v, want %v", got, all)
		}

		// Under another key the database recognises nothing.
		cfg := e.svc.cfg
		if cfg.Digests, err = fraud.NewKey(bytes.Repeat([]byte{10}, 32)); err != nil {
			t.Fatal(err)
		}
		rotated, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := confirm(rotated, e.tenantA, card, r); !slices.Equal(got, all) {
			t.Errorf("signals under another key = %v, want %v", got, all)
		}

		// No key, no service.
		cfg.Digests = nil
		if _, err := New(cfg); err == nil {
			t.Error("New(no digest key) = nil error, want a startup error")
		}
	})
}
