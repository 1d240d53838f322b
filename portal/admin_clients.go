package portal

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/madoguchi/madoguchi/portal/form"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/tenant"
)

// Upload limits: a JWKS (tenant.MaxJWKSLen) or a PEM certificate
// (tenant.MaxCertPEMLen) with the form's other fields.
const (
	maxKeyUpload = tenant.MaxJWKSLen + tenant.MaxCertPEMLen + 8<<10
)

// clientUploadLimits are the files a client form may carry.
var clientUploadLimits = map[string]int64{"jwks": tenant.MaxJWKSLen, "cert": tenant.MaxCertPEMLen}

// adminClients lists a tenant's API clients, with the form that files a
// client.create request. Operator staff choose the tenant (?tenant=).
func adminClients(rq *Request) error {
	return renderClients(rq, http.StatusOK, form.ClientCreate{}, nil)
}

func renderClients(rq *Request, status int, f form.ClientCreate, errs form.Errors) error {
	ts := rq.s.cfg.Admin.Tenants
	if ts == nil {
		return errNoService
	}
	tid, err := rq.scopeTenant()
	if err != nil {
		return err
	}
	var list []tenant.Client
	if tid != "" {
		if list, err = ts.ListClients(rq.Ctx(), tid); err != nil {
			return err
		}
	}
	choices, err := rq.tenantChoices(tid)
	if err != nil {
		return err
	}
	return rq.Render(status, "admin_clients", "admin.clients.title", map[string]any{
		"TenantID": tid, "Tenants": choices, "Clients": list, "Form": f, "Errors": errs, "Admin": rq.isAdmin()})
}

// adminClientCreate files a client.create request from a JWKS
// (private_key_jwt) or a PEM certificate (self_signed_tls_client_auth).
// Another admin of the tenant, or an operator admin, approves it in the
// inbox; that creates the client.
func adminClientCreate(rq *Request) error {
	sa := rq.s.cfg.Admin.Staff
	if sa == nil || rq.s.cfg.Admin.Tenants == nil {
		return errNoService
	}
	tid, err := rq.scopeTenant()
	if err != nil {
		return err
	}
	if tid == "" {
		return ErrNotFound
	}
	if err := rq.RequireRecentAuth(Prefix + "/admin/clients?tenant=" + tid); err != nil {
		return err
	}
	up, err := rq.Upload(clientUploadLimits)
	if err != nil {
		return err
	}
	f := form.ClientCreate{Name: up.Value("name"), Scopes: up.Value("scopes")}
	errs := f.Validate(up.Files["jwks"] != nil, up.Files["cert"] != nil)
	if !errs.Any() {
		spec := tenant.ClientSpec{Name: f.Name, Scopes: strings.Fields(f.Scopes), JWKS: string(up.Files["jwks"]), CertPEM: string(up.Files["cert"])}
		if err := spec.Validate(rq.s.cfg.Now()); err != nil {
			errs.Add(credentialField(up), "form.credential_invalid")
		} else {
			payload, err := json.Marshal(ClientCreate{TenantID: tid, Client: spec})
			if err != nil {
				return err
			}
			ap, err := sa.Request(rq.Ctx(), rq.Actor(), staff.KindClientCreate, payload)
			if err != nil {
				if errors.Is(err, staff.ErrInvalidInput) {
					errs.Add(credentialField(up), "form.credential_invalid")
					return renderClients(rq, http.StatusUnprocessableEntity, f, errs)
				}
				return err
			}
			rq.Flash("flash.approval_filed")
			return rq.Redirect(Prefix + "/admin/approvals/" + ap.ID)
		}
	}
	return renderClients(rq, http.StatusUnprocessableEntity, f, errs)
}

func credentialField(up UploadForm) string {
	if up.Files["cert"] != nil {
		return "cert"
	}
	return "jwks"
}
