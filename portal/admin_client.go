package portal

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/madoguchi/madoguchi/portal/form"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/tenant"
)

// clientKind is an API client, owned by its tenant.
func (s *Server) clientKind() ObjectKind[tenant.Client] {
	return ObjectKind[tenant.Client]{Name: "client",
		Fetch: func(ctx context.Context, q Querier, id string) (tenant.Client, Owner, error) {
			ts := s.cfg.Admin.Tenants
			if ts == nil {
				return tenant.Client{}, Owner{}, ErrNotFound
			}
			var tid string
			if err := q.QueryRow(ctx, `SELECT tenant_id FROM api_clients WHERE id = ?`, id).Scan(&tid); err != nil {
				return tenant.Client{}, Owner{}, err
			}
			c, err := ts.Client(ctx, tid, id)
			return c, Owner{TenantID: tid}, tenantErr(err)
		}}
}

// clientView is a client as the page shows it.
type clientView struct {
	tenant.Client
	KeyIDs []string
}

func viewClient(c tenant.Client) clientView {
	v := clientView{Client: c}
	if c.Keys != nil {
		for _, k := range c.Keys.Keys() {
			v.KeyIDs = append(v.KeyIDs, k.Kid)
		}
	}
	return v
}

// adminClient shows one client: method, scopes, key ids or certificate
// thumbprint, status; admins get the rotate and disable forms.
func adminClient(rq *Request) error {
	c, err := Load(rq, rq.s.clientKind(), rq.PathValue("id"))
	if err != nil {
		return err
	}
	return renderClient(rq, http.StatusOK, c, nil)
}

func renderClient(rq *Request, status int, c tenant.Client, errs form.Errors) error {
	partner := false
	if ps := rq.s.cfg.Partners; ps != nil {
		_, err := ps.Assessment(rq.Ctx(), c.TenantID, c.ID)
		partner = err == nil
	}
	return rq.Render(status, "admin_client", "admin.client.title", map[string]any{
		"Client": viewClient(c), "Errors": errs, "Admin": rq.isAdmin(), "Partner": partner})
}

// adminClientRotate files a client.rotate request with the client's new
// JWKS or certificate (same method as before); approved by another admin,
// it replaces the keys and revokes the client's access tokens.
func adminClientRotate(rq *Request) error {
	sa := rq.s.cfg.Admin.Staff
	if sa == nil {
		return errNoService
	}
	c, err := Load(rq, rq.s.clientKind(), rq.PathValue("id"))
	if err != nil {
		return err
	}
	if err := rq.RequireRecentAuth(Prefix + "/admin/clients/" + c.ID); err != nil {
		return err
	}
	up, err := rq.Upload(clientUploadLimits)
	if err != nil {
		return err
	}
	// Errors go on the one file field the page shows for this client.
	field := "cert"
	if c.Method == tenant.PrivateKeyJWT {
		field = "jwks"
	}
	errs := form.Errors{}
	for k, v := range form.ClientRotate(up.Files["jwks"] != nil, up.Files["cert"] != nil) {
		if k != "" {
			errs.Add(field, v)
		}
	}
	if !errs.Any() {
		k := tenant.KeyRotation{JWKS: string(up.Files["jwks"]), CertPEM: string(up.Files["cert"])}
		switch {
		case (field == "jwks") != (k.JWKS != ""):
			errs.Add(field, "form.credential_method")
		case k.Validate(rq.s.cfg.Now()) != nil:
			errs.Add(field, "form.credential_invalid")
		default:
			payload, err := json.Marshal(ClientRotate{TenantID: c.TenantID, ClientID: c.ID, Keys: k})
			if err != nil {
				return err
			}
			ap, err := sa.Request(rq.Ctx(), rq.Actor(), KindClientRotate, payload)
			if errors.Is(err, staff.ErrInvalidInput) {
				errs.Add(field, "form.credential_invalid")
				break
			}
			if err != nil {
				return err
			}
			rq.Flash("flash.approval_filed")
			return rq.Redirect(Prefix + "/admin/approvals/" + ap.ID)
		}
	}
	return renderClient(rq, http.StatusUnprocessableEntity, c, errs)
}

// adminClientDisable disables the client at once and revokes its tokens
// (tenant.Registry.DisableClient, audited as client.disable). Taking access
// away needs no second admin.
func adminClientDisable(rq *Request) error { return setClientStatus(rq, false) }

// adminClientEnable re-enables a disabled client (tenant.Registry.EnableClient,
// audited as client.enable); its old tokens stay revoked. Its keys are the
// ones an approved request registered, so no second admin is asked.
func adminClientEnable(rq *Request) error { return setClientStatus(rq, true) }

func setClientStatus(rq *Request, enable bool) error {
	ts := rq.s.cfg.Admin.Tenants
	if ts == nil {
		return errNoService
	}
	c, err := Load(rq, rq.s.clientKind(), rq.PathValue("id"))
	if err != nil {
		return err
	}
	if err := rq.RequireRecentAuth(Prefix + "/admin/clients/" + c.ID); err != nil {
		return err
	}
	key := "flash.client_disabled"
	if enable {
		err, key = ts.EnableClient(rq.Ctx(), rq.tenantActor(), c.TenantID, c.ID), "flash.client_enabled"
	} else {
		err = ts.DisableClient(rq.Ctx(), rq.tenantActor(), c.TenantID, c.ID)
	}
	switch {
	case errors.Is(err, tenant.ErrNotFound):
		rq.Flash("flash.status_unchanged")
	case err != nil:
		return err
	default:
		rq.Flash(key)
	}
	return rq.Redirect(Prefix + "/admin/clients/" + c.ID)
}
