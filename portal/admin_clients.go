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

// clientCreateUploadLimits add, for a new client, the CA certificate of a
// tls_client_auth registration.
var clientCreateUploadLimits = map[string]int64{"jwks": tenant.MaxJWKSLen, "cert": tenant.MaxCertPEMLen, "tls_ca": tenant.MaxCertPEMLen}

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
		"TenantID": tid, "Tenants": choices, "Clients": list, "Form": f, "Errors": errs, "Admin": rq.isAdmin(),
		"TLSKinds": form.TLSKinds})
}

// adminClientCreate files a client.create request from a JWKS
// (private_key_jwt), a PEM certificate (self_signed_tls_client_auth) or a
// CA certificate with the subject DN or one SAN the client's certificate
// must carry (tls_client_auth, checked by tenant.ClientSpec.Validate).
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
	up, err := rq.Upload(clientCreateUploadLimits)
	if err != nil {
		return err
	}
	f := form.ClientCreate{Name: up.Value("name"), Scopes: up.Value("scopes"), TLSKind: up.Value("tls_kind"), TLSName: up.Value("tls_name")}
	errs := f.Validate(up.Files["jwks"] != nil, up.Files["cert"] != nil, up.Files["tls_ca"] != nil)
	if !errs.Any() {
		spec := tenant.ClientSpec{Name: f.Name, Scopes: strings.Fields(f.Scopes), JWKS: string(up.Files["jwks"]), CertPEM: string(up.Files["cert"]),
			TLSIdentity: tlsIdentity(f, up.Files["tls_ca"])}
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

// tlsIdentity is the form's tls_client_auth registration (zero without one).
func tlsIdentity(f form.ClientCreate, ca []byte) tenant.TLSIdentity {
	if f.TLSName == "" {
		return tenant.TLSIdentity{}
	}
	id := tenant.TLSIdentity{CAPEM: string(ca)}
	switch f.TLSKind {
	case "subject_dn":
		id.SubjectDN = f.TLSName
	case "san_dns":
		id.SANDNS = f.TLSName
	case "san_uri":
		id.SANURI = f.TLSName
	case "san_ip":
		id.SANIP = f.TLSName
	case "san_email":
		id.SANEmail = f.TLSName
	}
	return id
}

func credentialField(up UploadForm) string {
	if up.Files["tls_ca"] != nil || up.Value("tls_name") != "" {
		return "tls_ca"
	}
	if up.Files["cert"] != nil {
		return "cert"
	}
	return "jwks"
}
