package portal

import (
	"context"
	"net/http"
	"strings"

	"github.com/madoguchi/madoguchi/portal/form"
	"github.com/madoguchi/madoguchi/tenant"
)

// tenantKind is a tenant as an installation object: only operator staff
// see it (a tenant's own staff administer it through the other pages).
func (s *Server) tenantKind() ObjectKind[tenant.Tenant] {
	return ObjectKind[tenant.Tenant]{Name: "tenant",
		Fetch: func(ctx context.Context, _ Querier, id string) (tenant.Tenant, Owner, error) {
			if s.cfg.Admin.Tenants == nil {
				return tenant.Tenant{}, Owner{}, ErrNotFound
			}
			t, err := s.cfg.Admin.Tenants.Tenant(ctx, id)
			return t, Owner{}, tenantErr(err)
		}}
}

// adminTenant shows one tenant: its portal IP allow-list (editable by
// operator admins) and links to its clients, staff, policy and webhooks.
func adminTenant(rq *Request) error {
	t, err := Load(rq, rq.s.tenantKind(), rq.PathValue("id"))
	if err != nil {
		return err
	}
	return renderTenant(rq, http.StatusOK, t, nil, nil)
}

func renderTenant(rq *Request, status int, t tenant.Tenant, f *form.IPAllow, errs form.Errors) error {
	sa := rq.s.cfg.Admin.Staff
	if sa == nil {
		return errNoService
	}
	acc, err := sa.TenantAccess(rq.Ctx(), t.ID)
	if err != nil {
		return err
	}
	if f == nil {
		var lines []string
		for _, p := range acc.IPAllow {
			lines = append(lines, p.String())
		}
		f = &form.IPAllow{Allow: strings.Join(lines, "\n")}
	}
	return rq.Render(status, "admin_tenant", "admin.tenant.title", map[string]any{
		"Tenant": t, "Access": acc, "Form": f, "Errors": errs, "Admin": rq.Principal.Has(OperatorAdmin)})
}

// adminTenantAccess sets the tenant's portal IP allow-list (operator
// admins; re-authenticated; audited by the staff package as
// staff.access.set). An empty list allows every network.
func adminTenantAccess(rq *Request) error {
	sa := rq.s.cfg.Admin.Staff
	if sa == nil {
		return errNoService
	}
	t, err := Load(rq, rq.s.tenantKind(), rq.PathValue("id"))
	if err != nil {
		return err
	}
	if err := rq.RequireRecentAuth(Prefix + "/admin/tenants/" + t.ID); err != nil {
		return err
	}
	f := form.ParseIPAllow(rq.R)
	prefixes, errs := f.Validate()
	if errs.Any() {
		return renderTenant(rq, http.StatusUnprocessableEntity, t, &f, errs)
	}
	if err := sa.SetTenantAccess(rq.Ctx(), rq.Actor(), t.ID, prefixes); err != nil {
		return err
	}
	rq.Flash("flash.access_saved")
	return rq.Redirect(Prefix + "/admin/tenants/" + t.ID)
}
