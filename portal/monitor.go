package portal

// The monitoring queue of transaction authentication (package txauth):
// alerts raised by MITB/RAT signals, customers' mismatch reports, card
// locks and guessing spread, worked by reviewers and admins around the
// clock. A tenant's staff see their tenant only (txauth scopes every call
// by the account's tenant; another tenant's alert or confirmation is not
// found); operator staff see every tenant. Actions: close an alert with a
// resolution, hold or release a confirmation. Every list and action is in
// the audit log (txauth's own entries, with the person).

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/madoguchi/madoguchi/txauth"
)

// Monitor is what the page needs of *txauth.Service.
type Monitor interface {
	ListAlerts(ctx context.Context, st txauth.Staff, state string, limit int) ([]txauth.Alert, error)
	CloseAlert(ctx context.Context, st txauth.Staff, id, resolution string) error
	Hold(ctx context.Context, st txauth.Staff, id string) (*txauth.Confirmation, error)
	Release(ctx context.Context, st txauth.Staff, id string) (*txauth.Confirmation, error)
}

var _ Monitor = (*txauth.Service)(nil)

var monitorRoles = []Role{TenantReviewer, TenantAdmin, OperatorReviewer, OperatorAdmin}

// monitorStaff is the signed-in person as txauth's staff: the portal's
// reviewer and admin roles, and the account's tenant.
func monitorStaff(rq *Request) txauth.Staff {
	p := rq.Principal
	st := txauth.Staff{ID: p.StaffID, TenantID: p.TenantID, RequestID: rq.RequestID()}
	for _, r := range p.Roles {
		switch r {
		case TenantReviewer, OperatorReviewer:
			st.Roles = append(st.Roles, "reviewer")
		case TenantAdmin, OperatorAdmin:
			st.Roles = append(st.Roles, "admin")
		}
	}
	return st
}

type monitorRow struct {
	ID, Tenant, Customer, Confirmation, Kind, Severity string
	Created                                            time.Time
	Details                                            map[string]string
}

func monitorShow(rq *Request) error {
	m := rq.s.cfg.Monitor
	data := map[string]any{"Enabled": m != nil, "Rows": []monitorRow{}}
	if m == nil {
		return rq.Render(http.StatusOK, "monitor", "monitor.title", data)
	}
	alerts, err := m.ListAlerts(rq.Ctx(), monitorStaff(rq), "open", 100)
	if err != nil {
		return monitorErr(err)
	}
	rows := make([]monitorRow, 0, len(alerts))
	for _, a := range alerts {
		rows = append(rows, monitorRow{ID: a.ID, Tenant: a.TenantID, Customer: a.CustomerID, Confirmation: a.Confirmation,
			Kind: a.Kind, Severity: a.Severity, Created: a.CreatedAt, Details: a.Details})
	}
	data["Rows"] = rows
	return rq.Render(http.StatusOK, "monitor", "monitor.title", data)
}

// monitorResolutions are the codes an alert can be closed with.
var monitorResolutions = []string{"called_back_ok", "fraud_confirmed", "false_positive"}

func monitorAction(rq *Request) error {
	m := rq.s.cfg.Monitor
	if m == nil {
		return ErrNotFound
	}
	if err := rq.R.ParseForm(); err != nil {
		return errTooLargeOr(err)
	}
	id := rq.R.PostFormValue("id")
	st := monitorStaff(rq)
	var err error
	switch rq.R.PostFormValue("action") {
	case "close":
		res := rq.R.PostFormValue("resolution")
		if !slices.Contains(monitorResolutions, res) {
			return errBadInput
		}
		err = m.CloseAlert(rq.Ctx(), st, id, res)
	case "hold":
		_, err = m.Hold(rq.Ctx(), st, id)
	case "release":
		_, err = m.Release(rq.Ctx(), st, id)
	default:
		return errBadInput
	}
	if err != nil {
		return monitorErr(err)
	}
	rq.Flash("flash.monitor_done")
	return rq.Redirect(Prefix + "/monitor")
}

// monitorErr maps txauth's errors to the portal's.
func monitorErr(err error) error {
	switch {
	case errors.Is(err, txauth.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, txauth.ErrForbidden):
		return ErrForbidden
	case errors.Is(err, txauth.ErrState), errors.Is(err, txauth.ErrInvalidInput):
		return errBadInput
	}
	return err
}
