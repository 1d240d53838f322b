package portal

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/txauth"
)

// fakeMonitor records how the page calls the monitoring queue; txauth's
// own tests cover the queue, its tenant scoping and audit on both stores.
type fakeMonitor struct {
	calls []string
	staff []txauth.Staff
	err   error
}

func (f *fakeMonitor) ListAlerts(_ context.Context, st txauth.Staff, state string, limit int) ([]txauth.Alert, error) {
	f.calls, f.staff = append(f.calls, "list:"+state), append(f.staff, st)
	return []txauth.Alert{{ID: "al_1", TenantID: st.TenantID, CustomerID: "cus_1", Confirmation: "cf_1", Kind: txauth.AlertMITB,
		Severity: "high", State: "open", CreatedAt: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}}, f.err
}

func (f *fakeMonitor) CloseAlert(_ context.Context, st txauth.Staff, id, res string) error {
	f.calls, f.staff = append(f.calls, "close:"+id+":"+res), append(f.staff, st)
	return f.err
}

func (f *fakeMonitor) Hold(_ context.Context, st txauth.Staff, id string) (*txauth.Confirmation, error) {
	f.calls, f.staff = append(f.calls, "hold:"+id), append(f.staff, st)
	return &txauth.Confirmation{ID: id}, f.err
}

func (f *fakeMonitor) Release(_ context.Context, st txauth.Staff, id string) (*txauth.Confirmation, error) {
	f.calls, f.staff = append(f.calls, "release:"+id), append(f.staff, st)
	return &txauth.Confirmation{ID: id}, f.err
}

func TestMonitorPage(t *testing.T) {
	fm := &fakeMonitor{}
	e := newEnv(t, func(c *Config) { c.Monitor = fm })
	b := e.signedIn("a-reviewer")
	r := b.get(Prefix + "/monitor")
	if r.status != http.StatusOK || !strings.Contains(r.body, "al_1") || !strings.Contains(r.body, "cf_1") {
		t.Fatalf("GET /monitor = %d\n%s", r.status, r.body)
	}
	st := fm.staff[len(fm.staff)-1]
	if st.TenantID != e.people["a-reviewer"].tenant || !slices.Equal(st.Roles, []string{"reviewer"}) {
		t.Errorf("the page called the queue as %+v, want tenant %s with the reviewer role", st, e.people["a-reviewer"].tenant)
	}
	for _, tc := range []struct {
		form url.Values
		code int
		call string
	}{
		{url.Values{"action": {"close"}, "id": {"al_1"}, "resolution": {"called_back_ok"}}, http.StatusSeeOther, "close:al_1:called_back_ok"},
		{url.Values{"action": {"hold"}, "id": {"cf_1"}}, http.StatusSeeOther, "hold:cf_1"},
		{url.Values{"action": {"release"}, "id": {"cf_1"}}, http.StatusSeeOther, "release:cf_1"},
		{url.Values{"action": {"close"}, "id": {"al_1"}, "resolution": {"whatever"}}, http.StatusBadRequest, ""},
		{url.Values{"action": {"delete"}, "id": {"al_1"}}, http.StatusBadRequest, ""},
	} {
		n := len(fm.calls)
		if r := b.post(Prefix+"/monitor/action", tc.form); r.status != tc.code {
			t.Errorf("POST %v = %d, want %d", tc.form, r.status, tc.code)
		}
		if tc.call != "" && (len(fm.calls) != n+1 || fm.calls[n] != tc.call) {
			t.Errorf("POST %v called %v, want %s", tc.form, fm.calls[n:], tc.call)
		}
		if tc.call == "" && len(fm.calls) != n {
			t.Errorf("POST %v called the queue: %v", tc.form, fm.calls[n:])
		}
	}
	// Another tenant's alert is not found.
	fm.err = txauth.ErrNotFound
	if r := b.post(Prefix+"/monitor/action", url.Values{"action": {"hold"}, "id": {"cf_other"}}); r.status != http.StatusNotFound {
		t.Errorf("another tenant's confirmation = %d, want 404", r.status)
	}
	// Operator staff act for every tenant; auditors have no role here.
	fm.err = nil
	op := e.signedIn("op-admin")
	if r := op.get(Prefix + "/monitor"); r.status != http.StatusOK || fm.staff[len(fm.staff)-1].TenantID != "" {
		t.Errorf("operator: %d, staff %+v", r.status, fm.staff[len(fm.staff)-1])
	}
	if r := e.signedIn("a-auditor").get(Prefix + "/monitor"); r.status != http.StatusForbidden {
		t.Errorf("auditor = %d, want 403", r.status)
	}
}
