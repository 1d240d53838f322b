package signin

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/oauth"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
	"github.com/madoguchi/madoguchi/txauth"
)

// stepFor is a customer step as the authorization server hands it over:
// a fresh interaction of client in tenant, for hint (CIBA) or none.
func stepFor(tenantID, clientID, hint string, details []oauth.Detail) oauth.CustomerStep {
	return oauth.CustomerStep{TenantID: tenantID, ClientID: clientID, Interaction: b64(random(32)), LoginHint: hint, Details: details}
}

func transferDetails(t testing.TB) []oauth.Detail {
	ds, err := oauth.ParseDetails(transferJSON, []string{oauth.DetailTransfer})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// opened runs the first customer submission (the reference) and returns
// the confirmation link the next page shows.
func (e *env) opened(step oauth.CustomerStep, reference string) string {
	e.t.Helper()
	if _, err := e.authn.Verify(e.ctx, step, url.Values{FieldCustomer: {reference}}); !errors.Is(err, oauth.ErrCustomerPending) {
		e.t.Fatalf("Verify(reference) = %v, want ErrCustomerPending", err)
	}
	f, err := e.authn.Form(e.ctx, step)
	if err != nil || f.Link == nil || f.Link.URL == "" {
		e.t.Fatalf("Form after opening = %+v, %v; want the confirmation link", f, err)
	}
	return f.Link.URL
}

// refusals returns the audit leaves of the refused steps of client.
func (e *env) refusals(clientID string) []string { return e.audited("oauth.signin.refused", clientID) }

// audited returns the audit leaves of action that mention needle.
func (e *env) audited(action, needle string) []string {
	e.t.Helper()
	rows, err := e.db.Query(e.ctx, `SELECT leaf FROM audit_entries WHERE action = ? ORDER BY idx`, action)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var leaf []byte
		if err := rows.Scan(&leaf); err != nil {
			e.t.Fatal(err)
		}
		if strings.Contains(string(leaf), needle) {
			out = append(out, string(leaf))
		}
	}
	return out
}

// TestRefusals: every way a customer step must fail, each ending in
// oauth.ErrCustomer with its reason audited as denied, on both stores.
func TestRefusals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, pkA := e.customer(e.tenantA, "C-A")
		cuB, pkB := e.customer(e.tenantA, "C-B")
		c := e.partner(e.tenantA, oauth.GrantAuthorizationCode)
		staff := txauth.Staff{ID: "st_1", Roles: []string{"admin"}}

		for _, tc := range []struct {
			name   string
			reason string
			// run prepares and returns the refused Verify's error.
			run func(t *testing.T) error
		}{
			{"unknown customer number", "unknown_customer", func(t *testing.T) error {
				_, err := e.authn.Verify(e.ctx, stepFor(e.tenantA, c.id, "", nil), url.Values{FieldCustomer: {"C-nobody"}})
				return err
			}},
			{"customer of another tenant", "unknown_customer", func(t *testing.T) error {
				_, err := e.authn.Verify(e.ctx, stepFor(e.tenantB, c.id, "", nil), url.Values{FieldCustomer: {"C-A"}})
				return err
			}},
			{"login_hint names another customer", "not_the_named_customer", func(t *testing.T) error {
				st := stepFor(e.tenantA, c.id, "C-A", nil)
				// CIBA: the first Verify opens for C-A, whom the hint names.
				if err := e.passkey(pkA, e.opened(st, ""), false); err != nil {
					t.Fatal(err)
				}
				st.LoginHint = "C-B"
				_, err := e.authn.Verify(e.ctx, st, nil)
				return err
			}},
			{"confirmation of another interaction", "not_bound_to_this_request", func(t *testing.T) error {
				x, y := stepFor(e.tenantA, c.id, "", nil), stepFor(e.tenantA, c.id, "", nil)
				if err := e.passkey(pkA, e.opened(x, "C-A"), false); err != nil {
					t.Fatal(err)
				}
				e.opened(y, "C-A")
				if _, err := e.authn.Verify(e.ctx, y, nil); !errors.Is(err, oauth.ErrCustomerPending) {
					t.Fatalf("Verify(y) while only x is confirmed = %v, want pending", err)
				}
				// Point y's binding at x's confirmation (as a forged or
				// confused row would): x's confirmation binds x's hash.
				var xc string
				if err := db.QueryRow(e.ctx, `SELECT confirmation_id FROM signin_confirmations WHERE interaction_hash = ?`, bindingOf(x.Interaction)).Scan(&xc); err != nil {
					t.Fatal(err)
				}
				if _, err := db.Exec(e.ctx, `UPDATE signin_confirmations SET confirmation_id = 'cf_moved' WHERE interaction_hash = ?`, bindingOf(x.Interaction)); err != nil {
					t.Fatal(err)
				}
				if _, err := db.Exec(e.ctx, `UPDATE signin_confirmations SET confirmation_id = ? WHERE interaction_hash = ?`, xc, bindingOf(y.Interaction)); err != nil {
					t.Fatal(err)
				}
				_, err := e.authn.Verify(e.ctx, y, nil)
				return err
			}},
			{"another tenant's step", "other_interaction", func(t *testing.T) error {
				st := stepFor(e.tenantA, c.id, "", nil)
				if err := e.passkey(pkA, e.opened(st, "C-A"), false); err != nil {
					t.Fatal(err)
				}
				st.TenantID = e.tenantB
				_, err := e.authn.Verify(e.ctx, st, nil)
				return err
			}},
			{"confirmation of another customer", "other_customer", func(t *testing.T) error {
				st := stepFor(e.tenantA, c.id, "", nil)
				if err := e.passkey(pkA, e.opened(st, "C-A"), false); err != nil {
					t.Fatal(err)
				}
				if _, err := db.Exec(e.ctx, `UPDATE signin_confirmations SET customer_id = ? WHERE interaction_hash = ?`, cuB.ID, bindingOf(st.Interaction)); err != nil {
					t.Fatal(err)
				}
				_, err := e.authn.Verify(e.ctx, st, nil)
				return err
			}},
			{"replay of a completed confirmation", "replay", func(t *testing.T) error {
				st := stepFor(e.tenantA, c.id, "", nil)
				if err := e.passkey(pkA, e.opened(st, "C-A"), false); err != nil {
					t.Fatal(err)
				}
				if a, err := e.authn.Verify(e.ctx, st, nil); err != nil || a.Subject == "" {
					t.Fatalf("first Verify = %+v, %v", a, err)
				}
				_, err := e.authn.Verify(e.ctx, st, nil)
				return err
			}},
			{"amount differs from authorization_details", "not_bound_to_this_request", func(t *testing.T) error {
				st := stepFor(e.tenantA, c.id, "", transferDetails(t))
				if err := e.passkey(pkA, e.opened(st, "C-A"), false); err != nil {
					t.Fatal(err)
				}
				st.Details = transferDetails(t)
				st.Details[0].Amount = "923456"
				_, err := e.authn.Verify(e.ctx, st, nil)
				return err
			}},
			{"payee differs from authorization_details", "not_bound_to_this_request", func(t *testing.T) error {
				st := stepFor(e.tenantA, c.id, "", transferDetails(t))
				if err := e.passkey(pkA, e.opened(st, "C-A"), false); err != nil {
					t.Fatal(err)
				}
				st.Details = transferDetails(t)
				p := *st.Details[0].Payee
				p.AccountNumber = "7654321"
				st.Details[0].Payee = &p
				_, err := e.authn.Verify(e.ctx, st, nil)
				return err
			}},
			{"a transfer confirmed for a sign-in", "not_bound_to_this_request", func(t *testing.T) error {
				st := stepFor(e.tenantA, c.id, "", transferDetails(t))
				if err := e.passkey(pkA, e.opened(st, "C-A"), false); err != nil {
					t.Fatal(err)
				}
				st.Details = nil
				_, err := e.authn.Verify(e.ctx, st, nil)
				return err
			}},
			{"customer locked after confirming", "locked", func(t *testing.T) error {
				st := stepFor(e.tenantA, c.id, "", nil)
				if err := e.passkey(pkB, e.opened(st, "C-B"), false); err != nil {
					t.Fatal(err)
				}
				if err := e.tx.LockAccount(e.ctx, staff, e.tenantA, cuB.ID); err != nil {
					t.Fatal(err)
				}
				defer func() { _ = e.tx.UnlockAccount(e.ctx, staff, e.tenantA, cuB.ID) }()
				_, err := e.authn.Verify(e.ctx, st, nil)
				return err
			}},
			{"customer locked while the confirmation is open", "locked", func(t *testing.T) error {
				// Before, Approve showed the same page until the
				// confirmation expired; now the step ends, and the
				// confirmation is cancelled.
				st := stepFor(e.tenantA, c.id, "", nil)
				link := e.opened(st, "C-B")
				if err := e.tx.LockAccount(e.ctx, staff, e.tenantA, cuB.ID); err != nil {
					t.Fatal(err)
				}
				defer func() { _ = e.tx.UnlockAccount(e.ctx, staff, e.tenantA, cuB.ID) }()
				_, err := e.authn.Verify(e.ctx, st, nil)
				if perr := e.passkey(pkB, link, false); perr == nil {
					t.Error("the confirmation of a step ended by the lock was still completed")
				}
				return err
			}},
			{"locked customer cannot start", "locked", func(t *testing.T) error {
				if err := e.tx.LockAccount(e.ctx, staff, e.tenantA, cuB.ID); err != nil {
					t.Fatal(err)
				}
				defer func() { _ = e.tx.UnlockAccount(e.ctx, staff, e.tenantA, cuB.ID) }()
				st := stepFor(e.tenantA, c.id, "C-B", nil)
				if f, err := e.authn.Form(e.ctx, st); err != nil || f.Link == nil || f.Link.URL != "" {
					t.Fatalf("Form(locked, CIBA) = %+v, %v; want a notice without a link", f, err)
				}
				_, err := e.authn.Verify(e.ctx, st, nil)
				return err
			}},
			{"expired confirmation", "confirmation_expired", func(t *testing.T) error {
				st := stepFor(e.tenantA, c.id, "", nil)
				link := e.opened(st, "C-A")
				e.clk.advance(11 * time.Minute) // the policy's 600 s
				if err := e.passkey(pkA, link, false); err == nil {
					t.Fatal("passkey on an expired confirmation succeeded")
				}
				_, err := e.authn.Verify(e.ctx, st, nil)
				if f, ferr := e.authn.Form(e.ctx, st); ferr != nil || len(f.Fields) != 1 || f.Link != nil {
					t.Errorf("Form after expiry = %+v, %v; want the customer number again (a new confirmation)", f, ferr)
				}
				return err
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := len(e.refusals(c.id))
				err := tc.run(t)
				if !errors.Is(err, oauth.ErrCustomer) {
					t.Fatalf("Verify = %v, want oauth.ErrCustomer", err)
				}
				got := e.refusals(c.id)[before:]
				if !slices.ContainsFunc(got, func(d string) bool { return strings.HasSuffix(strings.TrimRight(d, "\x00"), tc.reason) }) {
					t.Errorf("audited refusals %v, want reason %q", got, tc.reason)
				}
			})
		}
	})
}

// TestNoSignInFactors: a tenant whose policy names no sign-in factor
// signs nobody in (nothing by default), while transfers still confirm.
func TestNoSignInFactors(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.customer(e.tenantA, "C-N")
		c := e.partner(e.tenantA, oauth.GrantAuthorizationCode)
		p, _, err := e.tx.Policy(e.ctx, e.tenantA)
		if err != nil {
			t.Fatal(err)
		}
		p.SignIn = nil
		if _, err := e.tx.SetPolicy(e.ctx, txauth.System, e.tenantA, p); err != nil {
			t.Fatal(err)
		}
		if _, err := e.authn.Verify(e.ctx, stepFor(e.tenantA, c.id, "", nil), url.Values{FieldCustomer: {"C-N"}}); !errors.Is(err, oauth.ErrCustomer) {
			t.Errorf("sign-in without sign-in factors = %v, want oauth.ErrCustomer", err)
		}
		if _, err := e.authn.Verify(e.ctx, stepFor(e.tenantA, c.id, "", transferDetails(t)), url.Values{FieldCustomer: {"C-N"}}); !errors.Is(err, oauth.ErrCustomerPending) {
			t.Errorf("transfer = %v, want a confirmation to complete", err)
		}
		p.SignIn = []txauth.Factor{txauth.FactorImageCard}
		if _, err := e.tx.SetPolicy(e.ctx, txauth.System, e.tenantA, p); !errors.Is(err, txauth.ErrInvalidPolicy) {
			t.Errorf("SetPolicy(sign_in: image_card) = %v, want ErrInvalidPolicy (possession alone signs nobody in)", err)
		}
	})
}

// TestACRAMR maps satisfied factors to acr/amr.
func TestACRAMR(t *testing.T) {
	for _, tc := range []struct {
		kind txauth.Kind
		sat  []txauth.Factor
		acr  string
		amr  []string
	}{
		{txauth.KindSignIn, []txauth.Factor{txauth.FactorPasskey}, ACRCustomer, []string{"pop", "user"}},
		{txauth.KindSignIn, []txauth.Factor{txauth.FactorFace}, ACRCustomer, []string{"face"}},
		{txauth.KindSignIn, []txauth.Factor{txauth.FactorJPKIAuth}, ACRCustomer, []string{"pin", "sc"}},
		{txauth.KindSignIn, []txauth.Factor{txauth.FactorFace, txauth.FactorPasskey}, ACRMultiFactor, []string{"face", "mfa", "pop", "user"}},
		{txauth.KindTransaction, []txauth.Factor{txauth.FactorImageCard}, ACRCustomer, []string{"otp"}},
		{txauth.KindTransaction, []txauth.Factor{txauth.FactorDevice}, ACRLinked, []string{"pop"}},
		{txauth.KindTransaction, []txauth.Factor{txauth.FactorImageCard, txauth.FactorFace}, ACRMultiFactor, []string{"face", "mfa", "otp"}},
		{txauth.KindSignIn, []txauth.Factor{txauth.FactorPasskey, txauth.FactorDevice}, ACRMultiFactor, []string{"mfa", "pop", "user"}},
	} {
		if acr, amr := ACR(tc.kind, tc.sat), AMR(tc.sat); acr != tc.acr || !slices.Equal(amr, tc.amr) {
			t.Errorf("ACR/AMR(%s, %v) = %s %v, want %s %v", tc.kind, tc.sat, acr, amr, tc.acr, tc.amr)
		}
	}
}

// TestSweep: bindings older than Retention go, fresh ones stay.
func TestSweep(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.customer(e.tenantA, "C-S")
		c := e.partner(e.tenantA, oauth.GrantAuthorizationCode)
		old := stepFor(e.tenantA, c.id, "", nil)
		e.opened(old, "C-S")
		e.clk.advance(Retention + time.Minute)
		fresh := stepFor(e.tenantA, c.id, "", nil)
		e.opened(fresh, "C-S")
		if n, err := e.authn.Sweep(e.ctx); n != 1 || err != nil {
			t.Fatalf("Sweep = %d, %v; want 1", n, err)
		}
		var left int
		if err := db.QueryRow(e.ctx, `SELECT COUNT(*) FROM signin_confirmations WHERE interaction_hash = ?`, bindingOf(fresh.Interaction)).Scan(&left); err != nil || left != 1 {
			t.Errorf("fresh binding after Sweep: %d, %v", left, err)
		}
	})
}

// TestConcurrentVerify: four first submissions of one interaction at once
// bind one confirmation (the others are cancelled); eight Approves of the
// confirmed interaction at once complete the customer step exactly once.
func TestConcurrentVerify(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, pk := e.customer(e.tenantA, "C-R")
		c := e.partner(e.tenantA, oauth.GrantAuthorizationCode)
		st := stepFor(e.tenantA, c.id, "", nil)
		var opening sync.WaitGroup
		for range 4 {
			opening.Add(1)
			go func() {
				defer opening.Done()
				if _, err := e.authn.Verify(e.ctx, st, url.Values{FieldCustomer: {"C-R"}}); !errors.Is(err, oauth.ErrCustomerPending) {
					t.Errorf("concurrent first submission = %v, want ErrCustomerPending", err)
				}
			}()
		}
		opening.Wait()
		// Those that lost the race cancelled their confirmation; the one
		// left pending is the one bound.
		var pending int
		var bound string
		if err := db.QueryRow(e.ctx, `SELECT COUNT(*) FROM txauth_confirmations WHERE kind = 'sign_in' AND state = 'pending'`).Scan(&pending); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(e.ctx, `SELECT c.state FROM signin_confirmations b JOIN txauth_confirmations c ON c.id = b.confirmation_id
			WHERE b.interaction_hash = ?`, bindingOf(st.Interaction)).Scan(&bound); err != nil || pending != 1 || bound != "pending" {
			t.Errorf("after concurrent first submissions: %d pending sign-in confirmations, the bound one %q (%v); want exactly the bound one pending", pending, bound, err)
		}
		f, err := e.authn.Form(e.ctx, st)
		if err != nil || f.Link == nil {
			t.Fatalf("Form = %+v, %v", f, err)
		}
		if err := e.passkey(pk, f.Link.URL, false); err != nil {
			t.Fatal(err)
		}
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			ok, bad int
		)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.authn.Verify(e.ctx, st, nil)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, oauth.ErrCustomer):
					bad++
				default:
					t.Errorf("Verify = %v", err)
				}
			}()
		}
		wg.Wait()
		if ok != 1 || bad != 7 {
			t.Errorf("concurrent Verify: %d succeeded, %d refused; want 1 and 7", ok, bad)
		}
	})
}
