package portal

import (
	"context"
	"database/sql"
	"errors"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/store"
)

// Tenant scoping. A page never reads a tenant's object by id itself: it
// declares an ObjectKind and calls Load, which fetches the object, finds out
// whose it is, and answers ErrNotFound (404, the same as a missing id)
// unless the signed-in person may see it:
//
//   - tenant staff see their own tenant's objects only;
//   - operator staff see every tenant's objects, except that a Review kind
//     (a session to review and its evidence) is visible to operator staff
//     only where the tenant's policy allows operator review;
//   - an object owned by one person (Owner.StaffID, like a passkey) is
//     visible to that person only.
//
// A Personal kind's view is audited ("portal.view": who, which object,
// when, from where) in the same transaction as the read: if the entry
// cannot be written the page is not shown. A refused look at another
// tenant's object is audited as denied.

// Querier reads from the store: a *store.DB or, for audited reads, the
// *store.Tx the audit entry is written in.
type Querier interface {
	QueryRow(ctx context.Context, query string, args ...any) *store.Row
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

var (
	_ Querier = (*store.DB)(nil)
	_ Querier = (*store.Tx)(nil)
)

// Owner says whose an object is.
type Owner struct {
	// TenantID is the object's tenant; "" for an installation object
	// (visible to operator staff only).
	TenantID string
	// StaffID, if set, is the one person the object belongs to.
	StaffID string
}

// ObjectKind describes a kind of object pages load by id.
type ObjectKind[T any] struct {
	// Name is the object kind in audit entries ("ekyc.session").
	Name string
	// Personal: viewing the object shows personal data and is audited.
	Personal bool
	// Review: the object is a session to review or its evidence; operator
	// staff need the tenant's consent (policy operator_review).
	Review bool
	// Fetch reads the object with q and says whose it is. It returns
	// ErrNotFound (or staff.ErrNotFound, or store.ErrNotFound) for a missing
	// id.
	Fetch func(ctx context.Context, q Querier, id string) (T, Owner, error)
}

// MaxIDLen bounds an id taken from a path.
const MaxIDLen = 128

// Load fetches the object id of kind k for the signed-in person: the
// scoped accessor every page uses (see above).
func Load[T any](rq *Request, k ObjectKind[T], id string) (T, error) {
	var zero T
	if id == "" || len(id) > MaxIDLen {
		return zero, ErrNotFound
	}
	if rq.Principal == nil {
		return zero, ErrForbidden
	}
	ctx := rq.Ctx()
	if !k.Personal {
		obj, owner, err := k.Fetch(ctx, rq.s.cfg.DB, id)
		if err != nil {
			return zero, notFound(err)
		}
		ok, err := rq.s.visible(ctx, rq.Principal, owner, k.Review)
		if err != nil {
			return zero, err
		}
		if !ok {
			return zero, rq.denied(k.Name, id, owner)
		}
		return obj, nil
	}
	var (
		obj  T
		deny *Owner
	)
	err := rq.s.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		var owner Owner
		var err error
		obj, owner, err = k.Fetch(ctx, tx, id)
		if err != nil {
			return notFound(err)
		}
		ok, err := rq.s.visible(ctx, rq.Principal, owner, k.Review)
		if err != nil {
			return err
		}
		if !ok {
			deny = &owner
			return nil
		}
		return rq.AuditTx(tx, "portal.view", owner.TenantID, k.Name+":"+id, audit.OutcomeOK,
			map[string]string{"route": rq.route.Path})
	})
	if err != nil {
		return zero, err
	}
	if deny != nil {
		return zero, rq.denied(k.Name, id, *deny)
	}
	return obj, nil
}

// denied audits a refused look at someone else's object and returns
// ErrNotFound.
func (rq *Request) denied(kind, id string, owner Owner) error {
	if err := rq.Audit("portal.view", rq.Principal.TenantID, kind+":"+id, audit.OutcomeDenied,
		map[string]string{"route": rq.route.Path, "reason": "scope"}); err != nil {
		return err
	}
	return ErrNotFound
}

func notFound(err error) error {
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, staff.ErrNotFound) || errors.Is(err, ErrNotFound) {
		return ErrNotFound
	}
	return err
}

// visible decides whether p may see an object owned by o.
func (s *Server) visible(ctx context.Context, p *Principal, o Owner, review bool) (bool, error) {
	if o.StaffID != "" && o.StaffID != p.StaffID {
		return false, nil
	}
	if !p.Operator() {
		return o.TenantID == p.TenantID, nil
	}
	if o.TenantID == "" || !review {
		return true, nil
	}
	return s.cfg.OperatorReview(ctx, o.TenantID)
}

// TenantFilter is what a list page filters on: a tenant's staff list
// their own tenant only; operator staff list every tenant (TenantID "")
// unless the page narrows it. Review lists for operator staff must also
// keep only tenants that allow operator review (OperatorMayReview).
// Pages run only with a signed-in person (never on a Public route).
func (rq *Request) TenantFilter() (tenantID string, all bool) {
	if rq.Principal.Operator() {
		return "", true
	}
	return rq.Principal.TenantID, false
}

// OperatorMayReview reports whether the tenant lets operator reviewers
// review its sessions (for list pages; Load checks single objects).
func (rq *Request) OperatorMayReview(tenantID string) (bool, error) {
	return rq.s.cfg.OperatorReview(rq.Ctx(), tenantID)
}

// ViewTx runs read inside a transaction together with a "portal.view"
// audit entry for object (in tenantID): for list pages that show personal
// data. Nothing is shown if the entry cannot be written.
func (rq *Request) ViewTx(tenantID, object string, read func(q Querier) error) error {
	return rq.s.cfg.DB.InTx(rq.Ctx(), func(tx *store.Tx) error {
		if err := read(tx); err != nil {
			return err
		}
		return rq.AuditTx(tx, "portal.view", tenantID, object, audit.OutcomeOK, map[string]string{"route": rq.route.Path})
	})
}
