package portal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/madoguchi/madoguchi/oauth"
	"github.com/madoguchi/madoguchi/portal/form"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/tenant"
)

// approvalKind is a dual-control request, owned by the tenant it concerns
// ("" installation-wide: operator staff only).
func (s *Server) approvalKind() ObjectKind[staff.Approval] {
	return ObjectKind[staff.Approval]{Name: "approval",
		Fetch: func(ctx context.Context, _ Querier, id string) (staff.Approval, Owner, error) {
			if s.cfg.Admin.Staff == nil {
				return staff.Approval{}, Owner{}, ErrNotFound
			}
			a, err := s.cfg.Admin.Staff.Approval(ctx, id)
			return a, Owner{TenantID: a.TenantID}, err
		}}
}

// fact is one line of what a request would do.
type fact struct {
	Key   string // message key of the label
	Value string
}

// adminApproval shows one request: what it would do (per kind), who filed
// it, its state, and to an admin who may decide it the approve and reject
// forms. The requester sees that a second admin must approve.
func adminApproval(rq *Request) error {
	a, err := Load(rq, rq.s.approvalKind(), rq.PathValue("id"))
	if err != nil {
		return err
	}
	return renderApproval(rq, http.StatusOK, a, nil)
}

func renderApproval(rq *Request, status int, a staff.Approval, errs form.Errors) error {
	v := rq.viewApproval(a, map[string]string{})
	data := map[string]any{"Approval": v, "Facts": rq.describe(a), "Errors": errs,
		"Expired": a.Status == staff.StatusPending && !rq.s.cfg.Now().Before(a.ExpiresAt)}
	if a.Kind == KindPolicySet {
		changes, err := rq.policyRequestChanges(a)
		if err != nil {
			return err
		}
		data["Changes"] = changes
	}
	if a.DecidedBy != "" {
		if acc, err := rq.s.cfg.Admin.Staff.Account(rq.Ctx(), a.DecidedBy); err == nil {
			data["DecidedBy"] = acc.Username
		}
	}
	return rq.Render(status, "admin_approval", "admin.approval.title", data)
}

// describe says what a request would do, from its payload. Unknown kinds
// show their payload's fields.
func (rq *Request) describe(a staff.Approval) []fact {
	ctx := rq.Ctx()
	var out []fact
	add := func(k, v string) { out = append(out, fact{k, v}) }
	if a.TenantID != "" {
		name := a.TenantID
		if ts := rq.s.cfg.Admin.Tenants; ts != nil {
			if t, err := ts.Tenant(ctx, a.TenantID); err == nil {
				name = t.Name + " (" + t.ID + ")"
			}
		}
		add("admin.fact.tenant", name)
	}
	switch a.Kind {
	case staff.KindRoleGrant:
		var g staff.RoleGrant
		if json.Unmarshal(a.Payload, &g) == nil {
			who := g.StaffID
			if acc, err := rq.s.cfg.Admin.Staff.Account(ctx, g.StaffID); err == nil {
				who = acc.Username
			}
			add("admin.fact.account", who)
			add("admin.fact.role", string(g.Role))
		}
	case staff.KindClientCreate:
		var p ClientCreate
		if json.Unmarshal(a.Payload, &p) == nil {
			add("admin.fact.name", p.Client.Name)
			add("admin.fact.scopes", strings.Join(p.Client.Scopes, " "))
			out = append(out, credentialFacts(p.Client.JWKS, p.Client.CertPEM, p.Client.TLSIdentity)...)
		}
	case KindClientRotate:
		var p ClientRotate
		if json.Unmarshal(a.Payload, &p) == nil {
			add("admin.fact.client", p.ClientID)
			out = append(out, credentialFacts(p.Keys.JWKS, p.Keys.CertPEM, p.Keys.TLSIdentity)...)
		}
	case staff.KindTrustCSCA:
		var p struct {
			Certificate []byte `json:"certificate"`
			Country     string `json:"country"`
			Test        bool   `json:"test"`
		}
		if json.Unmarshal(a.Payload, &p) == nil {
			add("admin.fact.country", p.Country)
			if c, err := x509.ParseCertificate(p.Certificate); err == nil {
				add("admin.fact.subject", c.Subject.String())
				add("admin.fact.valid_until", c.NotAfter.UTC().Format("2006-01-02"))
			}
			sum := sha256.Sum256(p.Certificate)
			add("admin.fact.sha256", hex.EncodeToString(sum[:]))
			if p.Test {
				add("admin.fact.test", "test")
			}
		}
	case oauth.KindActivate:
		if p, err := oauth.ParseActivationRequest(a.Payload); err == nil {
			add("admin.fact.client", p.ClientID)
			add("admin.fact.assessment_digest", p.Digest)
		}
	case staff.KindKEKRotate, KindPolicySet:
	default:
		var buf bytes.Buffer
		if json.Indent(&buf, a.Payload, "", "  ") == nil && buf.Len() <= 4096 {
			add("admin.fact.payload", buf.String())
		}
	}
	return out
}

// credentialFacts describes a JWKS (its key ids), a certificate (subject
// and SHA-256 thumbprint, what the server pins) or a tls_client_auth
// identity (the name the certificate must carry and the issuing CA).
func credentialFacts(jwks, certPEM string, id tenant.TLSIdentity) []fact {
	var out []fact
	if jwks != "" {
		if ks, err := tenant.ParseKeySet([]byte(jwks)); err == nil {
			var kids []string
			for _, k := range ks.Keys() {
				kids = append(kids, k.Kid+" ("+k.Alg+")")
			}
			out = append(out, fact{"admin.fact.method", string(tenant.PrivateKeyJWT)}, fact{"admin.fact.keys", strings.Join(kids, ", ")})
		}
	}
	if certPEM != "" {
		if c, err := tenant.ParseCertPEM([]byte(certPEM)); err == nil {
			out = append(out, fact{"admin.fact.method", string(tenant.SelfSignedTLS)},
				fact{"admin.fact.subject", c.Subject.String()},
				fact{"admin.fact.sha256", tenant.CertThumbprint(c)},
				fact{"admin.fact.valid_until", c.NotAfter.UTC().Format("2006-01-02")})
		}
	}
	if id != (tenant.TLSIdentity{}) {
		out = append(out, fact{"admin.fact.method", string(tenant.TLSClientAuth)})
		for _, n := range []struct{ kind, v string }{
			{tenant.TLSSubjectDN, id.SubjectDN}, {tenant.TLSSANDNS, id.SANDNS}, {tenant.TLSSANURI, id.SANURI},
			{tenant.TLSSANIP, id.SANIP}, {tenant.TLSSANEmail, id.SANEmail},
		} {
			if n.v != "" {
				out = append(out, fact{"admin.fact.tls_name", n.kind + ": " + n.v})
			}
		}
		if c, err := tenant.ParseCertPEM([]byte(id.CAPEM)); err == nil {
			out = append(out, fact{"admin.fact.issuer_ca", c.Subject.String()},
				fact{"admin.fact.sha256", tenant.CertThumbprint(c)},
				fact{"admin.fact.valid_until", c.NotAfter.UTC().Format("2006-01-02")})
		}
	}
	return out
}

// adminApprovalApprove approves and so performs the request (re-authenticated).
// The staff package refuses the requester (the page says so), an admin
// outside the request's scope, and an expired or decided request; the
// action, the approval and their audit entries commit together.
func adminApprovalApprove(rq *Request) error {
	return decideApproval(rq, true)
}

// adminApprovalReject rejects the request, with an optional reason.
func adminApprovalReject(rq *Request) error {
	return decideApproval(rq, false)
}

func decideApproval(rq *Request, approve bool) error {
	sa := rq.s.cfg.Admin.Staff
	if sa == nil {
		return errNoService
	}
	a, err := Load(rq, rq.s.approvalKind(), rq.PathValue("id"))
	if err != nil {
		return err
	}
	back := Prefix + "/admin/approvals/" + a.ID
	if err := rq.RequireRecentAuth(back); err != nil {
		return err
	}
	var got staff.Approval
	if approve {
		got, err = sa.Approve(rq.Ctx(), a.ID, rq.Actor())
	} else {
		f := form.ParseReject(rq.R)
		if errs := f.Validate(); errs.Any() {
			return renderApproval(rq, http.StatusUnprocessableEntity, a, errs)
		}
		got, err = sa.Reject(rq.Ctx(), a.ID, rq.Actor(), f.Reason)
	}
	key := ""
	switch {
	case errors.Is(err, staff.ErrSameApprover):
		key = "form.same_approver"
	case errors.Is(err, staff.ErrExpired):
		key = "form.expired"
	case errors.Is(err, staff.ErrDecided):
		key = "form.decided"
	case errors.Is(err, staff.ErrInvalidInput), errors.Is(err, staff.ErrConflict), errors.Is(err, staff.ErrNotFound),
		errors.Is(err, tenant.ErrInvalidInput), errors.Is(err, tenant.ErrNotFound), errors.Is(err, tenant.ErrConflict):
		// The action itself was refused (a policy changed since, a role
		// already held): nothing was done.
		key = "form.action_refused"
	case err != nil && got.Status == staff.StatusFailed:
		rq.s.log.ErrorContext(rq.Ctx(), "approved action failed after commit", "approval", a.ID, "kind", a.Kind, "err", err)
		rq.Flash("flash.approval_failed")
		return rq.Redirect(back)
	case err != nil:
		return err
	}
	if key != "" {
		if cur, lerr := sa.Approval(rq.Ctx(), a.ID); lerr == nil {
			a = cur
		}
		return renderApproval(rq, http.StatusConflict, a, form.Errors{"": key})
	}
	if approve {
		rq.Flash("flash.approved")
	} else {
		rq.Flash("flash.rejected")
	}
	return rq.Redirect(back)
}
