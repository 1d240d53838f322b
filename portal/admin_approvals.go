package portal

import (
	"net/http"
	"slices"

	"github.com/madoguchi/madoguchi/staff"
)

// approvalView is a request as the inbox shows it.
type approvalView struct {
	staff.Approval
	Requester string // username
	// Mine: the signed-in person filed it (and so cannot approve it).
	Mine bool
	// CanDecide: the signed-in person is an admin who may decide it.
	CanDecide bool
}

// adminApprovals is the dual-control inbox: the pending requests the person
// may see (a tenant's staff: their tenant's; operator staff: all), each
// marked with whether they can decide it, then the latest decided ones.
func adminApprovals(rq *Request) error {
	sa := rq.s.cfg.Admin.Staff
	if sa == nil {
		return errNoService
	}
	tid, all := rq.TenantFilter()
	open, err := sa.ApprovalsIn(rq.Ctx(), tid, all, staff.StatusPending)
	if err != nil {
		return err
	}
	recent, err := sa.ApprovalsIn(rq.Ctx(), tid, all, "")
	if err != nil {
		return err
	}
	var pending, decided []approvalView
	names := map[string]string{}
	for _, a := range open {
		if rq.s.cfg.Now().Before(a.ExpiresAt) {
			pending = append(pending, rq.viewApproval(a, names))
		}
	}
	slices.Reverse(pending) // oldest first: the one waiting longest on top
	for _, a := range recent {
		if len(decided) == 50 {
			break
		}
		if a.Status != staff.StatusPending || !rq.s.cfg.Now().Before(a.ExpiresAt) {
			decided = append(decided, rq.viewApproval(a, names))
		}
	}
	return rq.Render(http.StatusOK, "admin_approvals", "admin.approvals.title", map[string]any{
		"Pending": pending, "Decided": decided})
}

// viewApproval names the requester (cached in names) and says what the
// person may do with the request.
func (rq *Request) viewApproval(a staff.Approval, names map[string]string) approvalView {
	v := approvalView{Approval: a, Mine: a.Requester == rq.Principal.StaffID}
	if n, ok := names[a.Requester]; ok {
		v.Requester = n
	} else if acc, err := rq.s.cfg.Admin.Staff.Account(rq.Ctx(), a.Requester); err == nil {
		v.Requester, names[a.Requester] = acc.Username, acc.Username
	} else {
		v.Requester = a.Requester
	}
	// The scope rules are the staff package's; this only decides whether
	// to show the buttons.
	v.CanDecide = a.Status == staff.StatusPending && rq.isAdmin() && (rq.Principal.Operator() || a.TenantID == rq.Principal.TenantID)
	return v
}
