package portal

import (
	"errors"
	"net/http"

	"github.com/madoguchi/madoguchi/portal/form"
	"github.com/madoguchi/madoguchi/tenant"
)

// adminTenants lists the tenants (operator staff) with the form to add one.
func adminTenants(rq *Request) error {
	return renderTenants(rq, http.StatusOK, form.TenantCreate{}, nil)
}

func renderTenants(rq *Request, status int, f form.TenantCreate, errs form.Errors) error {
	ts := rq.s.cfg.Admin.Tenants
	if ts == nil {
		return errNoService
	}
	list, err := ts.ListTenants(rq.Ctx())
	if err != nil {
		return err
	}
	return rq.Render(status, "admin_tenants", "admin.tenants.title", map[string]any{
		"Tenants": list, "Form": f, "Errors": errs, "Admin": rq.Principal.Has(OperatorAdmin)})
}

// adminTenantCreate registers a tenant (operator admins; re-authenticated).
func adminTenantCreate(rq *Request) error {
	ts := rq.s.cfg.Admin.Tenants
	if ts == nil {
		return errNoService
	}
	if err := rq.RequireRecentAuth(Prefix + "/admin/tenants"); err != nil {
		return err
	}
	f := form.ParseTenantCreate(rq.R)
	errs := f.Validate()
	if !errs.Any() {
		t, err := ts.CreateTenant(rq.Ctx(), rq.tenantActor(), f.Name)
		switch {
		case errors.Is(err, tenant.ErrConflict):
			errs.Add("name", "form.name_taken")
		case errors.Is(err, tenant.ErrInvalidInput):
			errs.Add("name", "form.invalid")
		case err != nil:
			return err
		default:
			rq.Flash("flash.tenant_created")
			return rq.Redirect(Prefix + "/admin/tenants/" + t.ID)
		}
	}
	return renderTenants(rq, http.StatusUnprocessableEntity, f, errs)
}
