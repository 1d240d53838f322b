package portal

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/txauth"
)

// fakeTxAuth records how the lock and call-back pages call txauth; txauth's
// own tests (TestFaceLockout, TestLockoutAndDualControlUnlock,
// TestRiskSignalsAndMonitoring) cover dual control, tenant scoping, stale
// requests and audit on both stores.
type fakeTxAuth struct {
	calls []string
	staff []txauth.Staff
	err   error
}

func (f *fakeTxAuth) rec(st txauth.Staff, call string) {
	f.calls, f.staff = append(f.calls, call), append(f.staff, st)
}

var lockTime = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

func (f *fakeTxAuth) Locks(_ context.Context, st txauth.Staff) ([]txauth.Lock, error) {
	f.rec(st, "locks")
	return []txauth.Lock{
		{TenantID: "tn_a", CustomerID: "cus_face", Kind: txauth.LockFace, LockedAt: lockTime},
		{TenantID: "tn_a", CustomerID: "cus_card", Kind: txauth.LockCard, CardID: "card_1", LockedAt: lockTime},
		{TenantID: "tn_a", CustomerID: "cus_acct", Kind: txauth.LockAccount, LockedAt: lockTime, LockedBy: "st_x"},
	}, f.err
}

func (f *fakeTxAuth) Unlocks(_ context.Context, st txauth.Staff, state string) ([]txauth.Unlock, error) {
	f.rec(st, "unlocks:"+state)
	return []txauth.Unlock{
		{ID: "ul_mine", TenantID: "tn_a", Factor: txauth.FactorFace, CustomerID: "cus_face", Reverification: "ses_re", RequestedBy: st.ID, RequestedAt: lockTime, State: "pending"},
		{ID: "ul_theirs", TenantID: "tn_a", Factor: txauth.FactorImageCard, CustomerID: "cus_card", CardID: "card_1", Reverification: "ses_re2", RequestedBy: "st_other", RequestedAt: lockTime, State: "pending"},
	}, f.err
}

func (f *fakeTxAuth) RequestUnlock(_ context.Context, st txauth.Staff, tenant, card, session string) (*txauth.Unlock, error) {
	f.rec(st, "request_card:"+tenant+":"+card+":"+session)
	return &txauth.Unlock{}, f.err
}

func (f *fakeTxAuth) RequestFaceUnlock(_ context.Context, st txauth.Staff, tenant, customer, session string) (*txauth.Unlock, error) {
	f.rec(st, "request_face:"+tenant+":"+customer+":"+session)
	return &txauth.Unlock{}, f.err
}

func (f *fakeTxAuth) ApproveUnlock(_ context.Context, st txauth.Staff, id string) (*txauth.Unlock, error) {
	f.rec(st, "approve:"+id)
	return &txauth.Unlock{}, f.err
}

func (f *fakeTxAuth) UnlockAccount(_ context.Context, st txauth.Staff, tenant, customer string) error {
	f.rec(st, "unlock_account:"+tenant+":"+customer)
	return f.err
}

func (f *fakeTxAuth) ListAlerts(_ context.Context, st txauth.Staff, state string, _ int) ([]txauth.Alert, error) {
	f.rec(st, "alerts:"+state)
	return []txauth.Alert{
		{ID: "al_cust", TenantID: "tn_a", CustomerID: "cus_1", Kind: txauth.AlertMismatch, Severity: "high", State: "open", CreatedAt: lockTime},
		{ID: "al_spread", TenantID: "tn_a", Kind: txauth.AlertGuessingSpread, Severity: "high", State: "open", CreatedAt: lockTime},
	}, f.err
}

func (f *fakeTxAuth) RecordCallback(_ context.Context, st txauth.Staff, alert, outcome, note string) (string, error) {
	f.rec(st, "callback:"+alert+":"+outcome+":"+note)
	return "cb_1", f.err
}

func (f *fakeTxAuth) Callbacks(_ context.Context, st txauth.Staff) ([]txauth.Callback, error) {
	f.rec(st, "callbacks")
	return []txauth.Callback{{ID: "cb_0", TenantID: "tn_a", AlertID: "al_old", CustomerID: "cus_1", StaffID: "st_y", Outcome: "unreachable", CreatedAt: lockTime}}, f.err
}

func TestTxAuthLocksPage(t *testing.T) {
	ft := &fakeTxAuth{}
	e := newEnv(t, func(c *Config) { c.TxAuth = ft })
	b := e.signedIn("a-reviewer")
	r := b.get(Prefix + "/monitor/locks")
	if r.status != http.StatusOK {
		t.Fatalf("GET /monitor/locks = %d\n%s", r.status, r.body)
	}
	for _, want := range []string{"cus_face", "card_1", "cus_acct", `value="request_face"`, `value="request_card"`, `value="unlock_account"`, `value="ul_theirs"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	// Your own request shows no approve button (txauth refuses it in any case).
	if strings.Contains(r.body, `value="ul_mine"`) {
		t.Error("the page offers to approve the person's own request")
	}
	st := ft.staff[len(ft.staff)-1]
	if st.TenantID != "tn_a" || st.ID != e.people["a-reviewer"].id {
		t.Errorf("the page called txauth as %+v, want the signed-in reviewer of tn_a", st)
	}
	for _, tc := range []struct {
		form url.Values
		code int
		call string
	}{
		{url.Values{"action": {"request_face"}, "tenant": {"tn_a"}, "id": {"cus_face"}, "session": {"ses_re"}}, http.StatusSeeOther, "request_face:tn_a:cus_face:ses_re"},
		{url.Values{"action": {"request_card"}, "tenant": {"tn_a"}, "id": {"card_1"}, "session": {" ses_re2 "}}, http.StatusSeeOther, "request_card:tn_a:card_1:ses_re2"},
		{url.Values{"action": {"approve"}, "id": {"ul_theirs"}}, http.StatusSeeOther, "approve:ul_theirs"},
		{url.Values{"action": {"unlock_account"}, "tenant": {"tn_a"}, "id": {"cus_acct"}}, http.StatusSeeOther, "unlock_account:tn_a:cus_acct"},
		{url.Values{"action": {"approve"}}, http.StatusBadRequest, ""},
		{url.Values{"action": {"approve"}, "id": {strings.Repeat("x", 65)}}, http.StatusBadRequest, ""},
		{url.Values{"action": {"request_face"}, "tenant": {"tn_a"}, "id": {"cus_face"}, "session": {strings.Repeat("s", 65)}}, http.StatusBadRequest, ""},
		{url.Values{"action": {"unlock_everything"}, "id": {"cus_face"}}, http.StatusBadRequest, ""},
	} {
		n := len(ft.calls)
		if r := b.post(Prefix+"/monitor/locks", tc.form); r.status != tc.code {
			t.Errorf("POST %v = %d, want %d", tc.form, r.status, tc.code)
		}
		if tc.call != "" && (len(ft.calls) != n+1 || ft.calls[n] != tc.call) {
			t.Errorf("POST %v called %v, want %s", tc.form, ft.calls[n:], tc.call)
		}
		if tc.call == "" && len(ft.calls) != n {
			t.Errorf("POST %v called txauth: %v", tc.form, ft.calls[n:])
		}
	}
	// txauth's refusals: the requester approving (dual control), another
	// tenant's lock, a stale or unverified request.
	for _, tc := range []struct {
		err  error
		code int
	}{{txauth.ErrForbidden, http.StatusForbidden}, {txauth.ErrNotFound, http.StatusNotFound}, {txauth.ErrState, http.StatusBadRequest}} {
		ft.err = tc.err
		if r := b.post(Prefix+"/monitor/locks", url.Values{"action": {"approve"}, "id": {"ul_mine"}}); r.status != tc.code {
			t.Errorf("approve refused with %v = %d, want %d", tc.err, r.status, tc.code)
		}
	}
	ft.err = nil
	if r := e.signedIn("op-reviewer").get(Prefix + "/monitor/locks"); r.status != http.StatusOK || ft.staff[len(ft.staff)-1].TenantID != "" {
		t.Errorf("operator reviewer: %d, staff %+v", r.status, ft.staff[len(ft.staff)-1])
	}
	for _, who := range []string{"a-auditor", "nobody"} {
		n := len(ft.calls)
		if r := e.signedIn(who).get(Prefix + "/monitor/locks"); r.status != http.StatusForbidden {
			t.Errorf("%s GET = %d, want 403", who, r.status)
		}
		if r := e.signedIn(who).post(Prefix+"/monitor/locks", url.Values{"action": {"approve"}, "id": {"ul_theirs"}}); r.status != http.StatusForbidden {
			t.Errorf("%s POST = %d, want 403", who, r.status)
		}
		if len(ft.calls) != n {
			t.Errorf("%s reached txauth: %v", who, ft.calls[n:])
		}
	}
}

func TestTxAuthCallbacksPage(t *testing.T) {
	ft := &fakeTxAuth{}
	e := newEnv(t, func(c *Config) { c.TxAuth = ft })
	b := e.signedIn("a-admin")
	r := b.get(Prefix + "/monitor/callbacks")
	if r.status != http.StatusOK || !strings.Contains(r.body, `value="al_cust"`) || !strings.Contains(r.body, "al_old") {
		t.Fatalf("GET /monitor/callbacks = %d\n%s", r.status, r.body)
	}
	if strings.Contains(r.body, `value="al_spread"`) {
		t.Error("an alert that names no customer is offered for a call-back")
	}
	for _, tc := range []struct {
		form url.Values
		code int
		call string
	}{
		{url.Values{"alert": {"al_cust"}, "outcome": {"denied_by_customer"}, "note": {"本人は\r\n送金していない"}}, http.StatusSeeOther, "callback:al_cust:denied_by_customer:本人は 送金していない"},
		{url.Values{"alert": {"al_cust"}, "outcome": {"unreachable"}}, http.StatusSeeOther, "callback:al_cust:unreachable:"},
		{url.Values{"alert": {"al_cust"}, "outcome": {"maybe"}}, http.StatusBadRequest, ""},
		{url.Values{"outcome": {"unreachable"}}, http.StatusBadRequest, ""},
		{url.Values{"alert": {"al_cust"}, "outcome": {"unreachable"}, "note": {strings.Repeat("あ", txauth.MaxNoteLen+1)}}, http.StatusBadRequest, ""},
	} {
		n := len(ft.calls)
		if r := b.post(Prefix+"/monitor/callbacks", tc.form); r.status != tc.code {
			t.Errorf("POST %v = %d, want %d", tc.form, r.status, tc.code)
		}
		if tc.call != "" && (len(ft.calls) != n+1 || ft.calls[n] != tc.call) {
			t.Errorf("POST %v called %v, want %s", tc.form, ft.calls[n:], tc.call)
		}
		if tc.call == "" && len(ft.calls) != n {
			t.Errorf("POST %v called txauth: %v", tc.form, ft.calls[n:])
		}
	}
	ft.err = txauth.ErrNotFound
	if r := b.post(Prefix+"/monitor/callbacks", url.Values{"alert": {"al_other"}, "outcome": {"unreachable"}}); r.status != http.StatusNotFound {
		t.Errorf("another tenant's alert = %d, want 404", r.status)
	}
	if r := e.signedIn("b-auditor").get(Prefix + "/monitor/callbacks"); r.status != http.StatusForbidden {
		t.Errorf("auditor = %d, want 403", r.status)
	}
}
