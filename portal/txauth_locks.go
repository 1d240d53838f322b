package portal

// The locks of transaction authentication (package txauth) and their
// dual-control unlock: accounts locked by staff, image cards and face
// re-authentication locked by consecutive failures. A failure lock is
// lifted only by two people: one files an unlock request naming the
// approved eKYC session that re-verified the customer after the lock, a
// different one approves it (txauth refuses the requester, another
// tenant's staff and a request filed for an earlier lock). Every list and
// action is in the audit log (txauth's own entries, with the person).

import (
	"context"
	"net/http"
	"strings"

	"github.com/madoguchi/madoguchi/txauth"
)

// TxAuthStaff is what the lock and call-back pages need of
// *txauth.Service.
type TxAuthStaff interface {
	Locks(ctx context.Context, st txauth.Staff) ([]txauth.Lock, error)
	Unlocks(ctx context.Context, st txauth.Staff, state string) ([]txauth.Unlock, error)
	RequestUnlock(ctx context.Context, st txauth.Staff, tenant, card, session string) (*txauth.Unlock, error)
	RequestFaceUnlock(ctx context.Context, st txauth.Staff, tenant, customer, session string) (*txauth.Unlock, error)
	ApproveUnlock(ctx context.Context, st txauth.Staff, id string) (*txauth.Unlock, error)
	UnlockAccount(ctx context.Context, st txauth.Staff, tenant, customer string) error
	ListAlerts(ctx context.Context, st txauth.Staff, state string, limit int) ([]txauth.Alert, error)
	RecordCallback(ctx context.Context, st txauth.Staff, alert, outcome, note string) (string, error)
	Callbacks(ctx context.Context, st txauth.Staff) ([]txauth.Callback, error)
}

var _ TxAuthStaff = (*txauth.Service)(nil)

// maxFormID bounds the ids a lock form carries.
const maxFormID = 64

func txauthLocksShow(rq *Request) error {
	m := rq.s.cfg.TxAuth
	data := map[string]any{"Enabled": m != nil, "Locks": []txauth.Lock{}, "Unlocks": []txauth.Unlock{}, "Me": rq.Principal.StaffID}
	if m == nil {
		return rq.Render(http.StatusOK, "txauth_locks", "txauth.locks.title", data)
	}
	st := monitorStaff(rq)
	locks, err := m.Locks(rq.Ctx(), st)
	if err != nil {
		return monitorErr(err)
	}
	unlocks, err := m.Unlocks(rq.Ctx(), st, "pending")
	if err != nil {
		return monitorErr(err)
	}
	data["Locks"], data["Unlocks"] = locks, unlocks
	return rq.Render(http.StatusOK, "txauth_locks", "txauth.locks.title", data)
}

func txauthLocksAction(rq *Request) error {
	m := rq.s.cfg.TxAuth
	if m == nil {
		return ErrNotFound
	}
	if err := rq.R.ParseForm(); err != nil {
		return errTooLargeOr(err)
	}
	f := func(k string) string { return strings.TrimSpace(rq.R.PostFormValue(k)) }
	tenant, id, session := f("tenant"), f("id"), f("session")
	if id == "" || len(id) > maxFormID || len(tenant) > maxFormID || len(session) > maxFormID {
		return errBadInput
	}
	st := monitorStaff(rq)
	var err error
	switch f("action") {
	case "request_card":
		_, err = m.RequestUnlock(rq.Ctx(), st, tenant, id, session)
	case "request_face":
		_, err = m.RequestFaceUnlock(rq.Ctx(), st, tenant, id, session)
	case "approve":
		_, err = m.ApproveUnlock(rq.Ctx(), st, id)
	case "unlock_account":
		err = m.UnlockAccount(rq.Ctx(), st, tenant, id)
	default:
		return errBadInput
	}
	if err != nil {
		return monitorErr(err)
	}
	rq.Flash("flash.monitor_done")
	return rq.Redirect(Prefix + "/monitor/locks")
}
