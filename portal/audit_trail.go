package portal

import (
	"net/http"
	"strconv"

	"github.com/madoguchi/madoguchi/audit"
)

// The trail page: every entry about one object in the person's scope,
// newest first, paged like the audit page. A trail with no entry in the
// person's scope is 404, whether the object exists in another tenant or
// not at all; a look at another tenant's object is recorded as denied.

type auditTrailPage struct {
	Key      string
	Operator bool
	Rows     []auditRow
	Older    string
	Newest   string
}

func auditTrail(rq *Request) error {
	key := rq.PathValue("id")
	if key == "" || len(key) > audit.MaxObjectLen || !printableText(key) {
		return ErrNotFound
	}
	var before uint64
	if b := rq.R.URL.Query().Get("before"); b != "" {
		n, err := strconv.ParseUint(b, 10, 63)
		if err != nil || n == 0 {
			return errBadInput
		}
		before = n
	}
	tenantID, all := rq.TenantFilter()
	q := audit.Query{TenantID: tenantID, AllTenants: all, Trail: key, Before: before, Limit: auditPageSize + 1}
	recs, err := rq.s.cfg.AuditLog.Entries(rq.Ctx(), q)
	if err != nil {
		return err
	}
	if len(recs) == 0 && before == 0 {
		if !all {
			// Another tenant's object: recorded, and answered like a
			// missing one.
			q.AllTenants, q.Limit = true, 1
			if other, err := rq.s.cfg.AuditLog.Entries(rq.Ctx(), q); err != nil {
				return err
			} else if len(other) > 0 {
				return rq.denied("audit_trail", key, Owner{TenantID: other[0].Entry.TenantID})
			}
		}
		return ErrNotFound
	}
	p := auditTrailPage{Key: key, Operator: rq.Principal.Operator()}
	base := trailPath(key)
	if len(recs) > auditPageSize {
		recs = recs[:auditPageSize]
		p.Older = base + "?before=" + strconv.FormatUint(recs[len(recs)-1].Index, 10)
	}
	if before != 0 {
		p.Newest = base
	}
	if p.Rows, err = rq.rows(recs); err != nil {
		return err
	}
	viewTenant := tenantID
	if all && len(recs) > 0 {
		viewTenant = recs[0].Entry.TenantID
		for _, r := range recs {
			if r.Entry.TenantID != viewTenant {
				viewTenant = ""
				break
			}
		}
	}
	if err := rq.Audit("portal.view", viewTenant, "audit_trail:"+key, audit.OutcomeOK,
		map[string]string{"route": rq.route.Path}); err != nil {
		return err
	}
	return rq.Render(http.StatusOK, "audit_trail", "audit.trail_title", p)
}
