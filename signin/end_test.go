package signin

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/oauth"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
	"github.com/madoguchi/madoguchi/txauth"
)

// bound is the confirmation bound to interaction ix ("" if none).
func (e *env) bound(ix string) string {
	e.t.Helper()
	var id string
	err := e.db.QueryRow(e.ctx, `SELECT confirmation_id FROM signin_confirmations WHERE interaction_hash = ?`, bindingOf(ix)).Scan(&id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		e.t.Fatal(err)
	}
	return id
}

// confirmations counts the tenant's txauth confirmations.
func (e *env) confirmations(tenantID string) int {
	e.t.Helper()
	var n int
	if err := e.db.QueryRow(e.ctx, `SELECT COUNT(*) FROM txauth_confirmations WHERE tenant_id = ?`, tenantID).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) state(tenantID, confirmation string) txauth.State {
	e.t.Helper()
	c, err := e.tx.Get(e.ctx, tenantID, confirmation)
	if err != nil {
		e.t.Fatalf("Get(%s) = %v", confirmation, err)
	}
	return c.State
}

// TestDenyCancelsConfirmation: Deny on the consent page and on the CIBA
// device page cancels the interaction's pending confirmation (the
// customer is the audited actor) and drops the binding, so the
// confirmation page can no longer be completed for an interaction that
// is over. A confirmation the customer already confirmed stays confirmed
// (there is nothing to cancel) and its binding goes all the same.
func TestDenyCancelsConfirmation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		cu, pk := e.customer(e.tenantA, "C-D")
		code := e.partner(e.tenantA, oauth.GrantAuthorizationCode)
		ciba := e.partner(e.tenantA, oauth.GrantCIBA)

		// open returns the interaction and confirmation link, the customer
		// having started the step; deny presses Deny and checks the answer.
		type flow struct {
			name string
			open func(t *testing.T) (ix, link string)
			deny func(t *testing.T, ix string)
		}
		flows := []flow{
			{"consent page", func(t *testing.T) (string, string) {
				p := e.authorizePage(code, e.par(code, nil))
				ix := p.interaction()
				p = e.submit(oauth.PathDecide, ix, url.Values{FieldCustomer: {"C-D"}})
				return ix, p.confirmURL()
			}, func(t *testing.T, ix string) {
				p := e.submit(oauth.PathDecide, ix, url.Values{"decision": {"deny"}})
				u, err := url.Parse(p.location)
				if p.status != 303 || err != nil || u.Query().Get("error") != "access_denied" {
					t.Fatalf("deny = %d %q, want 303 with access_denied", p.status, p.location)
				}
			}},
			{"device page", func(t *testing.T) (string, string) {
				r := e.post(oauth.PathCIBA, merge(e.clientAuth(ciba), url.Values{"scope": {"openid"}, "login_hint": {"C-D"},
					"binding_message": {"D1-00"}}), nil)
				if r.status != 200 {
					t.Fatalf("backchannel = %d %s", r.status, r.raw)
				}
				ix := e.get(e.inbox.url("C-D")).interaction()
				return ix, e.submit(oauth.PathDevice, ix, nil).confirmURL()
			}, func(t *testing.T, ix string) {
				if p := e.submit(oauth.PathDevice, ix, url.Values{"decision": {"deny"}}); p.status != 200 || !strings.Contains(p.body, "拒否しました") {
					t.Fatalf("deny = %d:\n%s", p.status, p.body)
				}
			}},
		}
		for _, f := range flows {
			for _, confirmed := range []bool{false, true} {
				t.Run(f.name+map[bool]string{false: "/pending", true: "/confirmed"}[confirmed], func(t *testing.T) {
					ix, link := f.open(t)
					cf := e.bound(ix)
					if ix == "" || link == "" || cf == "" {
						t.Fatalf("the step did not open: interaction %q link %q confirmation %q", ix, link, cf)
					}
					want := txauth.StateCancelled
					if confirmed {
						if err := e.passkey(pk, link, false); err != nil {
							t.Fatalf("passkey = %v", err)
						}
						want = txauth.StateConfirmed
					}
					before := len(e.audited("oauth.signin.end", cf))
					f.deny(t, ix)
					if got := e.state(e.tenantA, cf); got != want {
						t.Errorf("confirmation after Deny = %s, want %s", got, want)
					}
					if e.bound(ix) != "" {
						t.Errorf("the binding outlived the denied interaction")
					}
					leaves := e.audited("oauth.signin.end", cf)
					if len(leaves) != before+1 || !strings.Contains(leaves[len(leaves)-1], "denied") || !strings.Contains(leaves[len(leaves)-1], cu.ID) {
						t.Errorf("audit oauth.signin.end = %q, want one entry by the customer with reason denied", leaves)
					}
					if !confirmed {
						// The confirmation page cannot be completed any more.
						if err := e.passkey(pk, link, false); err == nil {
							t.Errorf("passkey on the cancelled confirmation succeeded")
						}
					}
				})
			}
		}
	})
}

// TestSweepEndsExpiredInteractions: an interaction that expires with its
// confirmation open has the confirmation cancelled by Sweep (the system
// is the audited actor) and its binding dropped; a spent binding and a
// binding of a live interaction are left alone.
func TestSweepEndsExpiredInteractions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, pk := e.customer(e.tenantA, "C-E")
		// Confirmations that outlive the interaction (the policy allows up
		// to an hour): only the sweep ends them early.
		p, _, err := e.tx.Policy(e.ctx, e.tenantA)
		if err != nil {
			t.Fatal(err)
		}
		p.ConfirmationTTLSeconds = 3600
		if _, err := e.tx.SetPolicy(e.ctx, txauth.System, e.tenantA, p); err != nil {
			t.Fatal(err)
		}
		c := e.partner(e.tenantA, oauth.GrantAuthorizationCode)

		expired := stepFor(e.tenantA, c.id, "", nil)
		e.opened(expired, "C-E")
		spent := stepFor(e.tenantA, c.id, "", nil)
		if err := e.passkey(pk, e.opened(spent, "C-E"), false); err != nil {
			t.Fatalf("passkey = %v", err)
		}
		if _, err := e.authn.Verify(e.ctx, spent, nil); err != nil {
			t.Fatalf("Verify(spent) = %v", err)
		}
		e.clk.advance(oauth.InteractionTTL + time.Minute)
		live := stepFor(e.tenantA, c.id, "", nil)
		e.opened(live, "C-E")
		cfExpired, cfLive := e.bound(expired.Interaction), e.bound(live.Interaction)

		if n, err := e.authn.Sweep(e.ctx); n != 1 || err != nil {
			t.Fatalf("Sweep = %d, %v; want 1 (the expired interaction)", n, err)
		}
		if got := e.state(e.tenantA, cfExpired); got != txauth.StateCancelled {
			t.Errorf("expired interaction's confirmation = %s, want cancelled", got)
		}
		if e.bound(expired.Interaction) != "" {
			t.Errorf("the expired interaction's binding is still there")
		}
		if e.bound(spent.Interaction) == "" || e.bound(live.Interaction) != cfLive || e.state(e.tenantA, cfLive) != txauth.StatePending {
			t.Errorf("Sweep touched a spent or live binding")
		}
		if l := e.audited("oauth.signin.end", cfExpired); len(l) != 1 || !strings.Contains(l[0], "interaction_expired") || !strings.Contains(l[0], "signin.sweep") {
			t.Errorf("audit oauth.signin.end = %q, want one entry by the sweep, reason interaction_expired", l)
		}
		// Idempotent: nothing left to end.
		if n, err := e.authn.Sweep(e.ctx); n != 0 || err != nil {
			t.Errorf("second Sweep = %d, %v; want 0", n, err)
		}
	})
}

// TestDevicePageGETOpensNothing: showing the CIBA device page (what a
// mail or chat link preview does) opens no confirmation, however often;
// the customer's Approve (a POST) opens exactly one.
func TestDevicePageGETOpensNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.customer(e.tenantA, "C-G")
		c := e.partner(e.tenantA, oauth.GrantCIBA)
		r := e.post(oauth.PathCIBA, merge(e.clientAuth(c), url.Values{"scope": {"openid"}, "login_hint": {"C-G"},
			"binding_message": {"G3-33"}, "authorization_details": {transferJSON}}), nil)
		if r.status != 200 {
			t.Fatalf("backchannel = %d %s", r.status, r.raw)
		}
		before := e.confirmations(e.tenantA)
		var ix string
		for range 3 {
			p := e.get(e.inbox.url("C-G"))
			ix = p.interaction()
			if p.status != 200 || ix == "" || p.confirmURL() != "" || !strings.Contains(p.body, `id="customer-step-text"`) {
				t.Fatalf("GET device page = %d, want the request and the start notice, no link:\n%s", p.status, p.body)
			}
		}
		if n := e.confirmations(e.tenantA); n != before || e.bound(ix) != "" {
			t.Fatalf("after three GETs: %d confirmations (want %d), binding %q (want none)", n, before, e.bound(ix))
		}
		if p := e.submit(oauth.PathDevice, ix, nil); p.status != 200 || p.confirmURL() == "" {
			t.Fatalf("Approve = %d, want the confirmation link:\n%s", p.status, p.body)
		}
		if n := e.confirmations(e.tenantA); n != before+1 || e.bound(ix) == "" {
			t.Errorf("after Approve: %d confirmations, want %d, bound", n, before+1)
		}
		// A GET after opening shows the link and opens no second one.
		if p := e.get(e.inbox.url("C-G")); p.confirmURL() == "" || e.confirmations(e.tenantA) != before+1 {
			t.Errorf("GET after opening: link %q, %d confirmations; want the link, %d", p.confirmURL(), e.confirmations(e.tenantA), before+1)
		}
	})
}

// TestEndStepLeavesOthersAlone: EndStep ends nothing for a step of
// another tenant or another client naming the same interaction, nor a
// spent binding.
func TestEndStepLeavesOthersAlone(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, pk := e.customer(e.tenantA, "C-O")
		c := e.partner(e.tenantA, oauth.GrantAuthorizationCode)
		st := stepFor(e.tenantA, c.id, "", nil)
		e.opened(st, "C-O")
		cf := e.bound(st.Interaction)
		for _, other := range []oauth.CustomerStep{
			{TenantID: e.tenantB, ClientID: c.id, Interaction: st.Interaction},
			{TenantID: e.tenantA, ClientID: "cl_other", Interaction: st.Interaction},
		} {
			if err := e.authn.EndStep(e.ctx, other, "denied"); err != nil {
				t.Fatalf("EndStep(%s/%s) = %v", other.TenantID, other.ClientID, err)
			}
			if e.bound(st.Interaction) != cf || e.state(e.tenantA, cf) != txauth.StatePending {
				t.Fatalf("EndStep for tenant %s client %s ended tenant A's confirmation", other.TenantID, other.ClientID)
			}
		}
		spent := stepFor(e.tenantA, c.id, "", nil)
		if err := e.passkey(pk, e.opened(spent, "C-O"), false); err != nil {
			t.Fatal(err)
		}
		if _, err := e.authn.Verify(e.ctx, spent, nil); err != nil {
			t.Fatalf("Verify = %v", err)
		}
		if err := e.authn.EndStep(e.ctx, spent, "denied"); err != nil || e.bound(spent.Interaction) == "" {
			t.Errorf("EndStep(spent) = %v, binding kept %t; want nil, kept", err, e.bound(spent.Interaction) != "")
		}
	})
}
