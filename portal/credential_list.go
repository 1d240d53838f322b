package portal

import (
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/credential"
)

// credentialRevokeReasons are the reasons staff may give (the service sets
// "reissued" and "subject_shredded" itself).
var credentialRevokeReasons = []string{credential.ReasonLostPhone, credential.ReasonContractEnded, credential.ReasonOther}

type credentialRow struct {
	ID, State, Model, Basis, Reason, ReplacedBy string
	Issued, Expires                             time.Time
}

// credentialList shows a customer's credentials (?customer=cus_…), newest
// first, with a revoke form for the active ones. The look-up is audited.
func credentialList(rq *Request) error {
	c := rq.s.cfg.Credentials
	customer := rq.R.URL.Query().Get("customer")
	data := map[string]any{"Enabled": c != nil, "Customer": customer, "Rows": []credentialRow{}, "Reasons": credentialRevokeReasons,
		"ReissueReasons": credential.ReissueReasons,
		"Admin":          rq.Principal.Has(deviceRoles...)}
	if c == nil || customer == "" {
		return rq.Render(http.StatusOK, "credentials", "credential.title", data)
	}
	if len(customer) > 64 {
		return errBadInput
	}
	tenant := rq.Principal.TenantID
	recs, err := c.List(rq.Ctx(), tenant, customer)
	if err != nil {
		return credentialErr(err)
	}
	if err := rq.Audit("portal.credential.list", tenant, customer, audit.OutcomeOK, map[string]string{"count": itoa(len(recs))}); err != nil {
		return err
	}
	now := rq.s.cfg.Now()
	rows := make([]credentialRow, 0, len(recs))
	for _, r := range recs {
		rows = append(rows, credentialRow{ID: r.ID, State: r.State(now), Model: r.Model, Basis: r.Basis, Reason: r.RevokeReason,
			ReplacedBy: r.ReplacedBy, Issued: r.IssuedAt, Expires: r.ExpiresAt})
	}
	data["Rows"] = rows
	return rq.Render(http.StatusOK, "credentials", "credential.title", data)
}

// credentialRevoke revokes one of the tenant's credentials.
func credentialRevoke(rq *Request) error {
	c := rq.s.cfg.Credentials
	if c == nil {
		return ErrNotFound
	}
	if err := rq.R.ParseForm(); err != nil {
		return errTooLargeOr(err)
	}
	id, reason, customer := rq.R.PostFormValue("id"), rq.R.PostFormValue("reason"), rq.R.PostFormValue("customer")
	if !slices.Contains(credentialRevokeReasons, reason) {
		return errBadInput
	}
	if _, err := c.Revoke(rq.Ctx(), credentialActor(rq), rq.Principal.TenantID, id, reason); err != nil {
		return credentialErr(err)
	}
	rq.Flash("flash.credential_revoked")
	return rq.Redirect(Prefix + "/credentials?customer=" + url.QueryEscape(customer))
}
