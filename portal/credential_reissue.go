package portal

import (
	"bytes"
	"html/template"
	"net/http"
	"slices"

	"github.com/madoguchi/madoguchi/credential"
)

// credentialReissue reissues one of the tenant's credentials
// (POST /credentials/{id}/reissue, a reason from credential.ReissueReasons):
// the service issues the new one and revokes the old one (reason
// reissued) in one transaction, announces both to the credential's
// webhook and audits the issuance with the person and the reason. The new
// QR code is shown once, on this answer, for the customer's phone; the
// server keeps no copy of it.
func credentialReissue(rq *Request) error {
	c := rq.s.cfg.Credentials
	if c == nil {
		return ErrNotFound
	}
	if err := rq.R.ParseForm(); err != nil {
		return errTooLargeOr(err)
	}
	reason := rq.R.PostFormValue("reason")
	if !slices.Contains(credential.ReissueReasons, reason) {
		return errBadInput
	}
	cr, err := c.Reissue(rq.Ctx(), credentialActor(rq), rq.Principal.TenantID, rq.R.PathValue("id"), reason)
	if err != nil {
		return credentialErr(err)
	}
	svg := cr.QR.SVG
	if i := bytes.Index(svg, []byte("<svg")); i >= 0 {
		svg = svg[i:] // inline: no XML declaration or doctype
	}
	rq.W.Header().Set("Cache-Control", "no-store")
	return rq.Render(http.StatusOK, "credential_reissued", "credential.reissued_title", map[string]any{
		"ID": cr.ID, "Replaces": rq.R.PathValue("id"), "Customer": cr.CustomerID, "Version": cr.QR.Version,
		"Expires": cr.ExpiresAt,
		// Our own encoder's SVG (paths only, no text from any input).
		"SVG": template.HTML(svg),
	})
}
