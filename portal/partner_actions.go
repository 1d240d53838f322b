package portal

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/madoguchi/madoguchi/oauth"
	"github.com/madoguchi/madoguchi/portal/form"
	"github.com/madoguchi/madoguchi/staff"
)

// The onboarding page's actions (partner.go): record an area, download its
// evidence, sign off, request activation. Each loads the client through
// Load (another tenant's client is 404), changes after a recent sign-in,
// and leaves the auditing to package oauth and package staff, in the
// change's own transaction.

func partnerPath(clientID string) string {
	return Prefix + "/partners/" + clientID
}

// partnerItemSet records one area: status, note and optionally a new
// evidence file (multipart; the file at most oauth.MaxEvidenceSize, a PDF,
// PNG or JPEG). A refused input re-renders the page with the error on the
// area's form (422).
func partnerItemSet(rq *Request) error {
	svc := rq.s.cfg.Partners
	a, err := Load(rq, rq.s.partnerKind(), rq.PathValue("id"))
	if err != nil {
		return err
	}
	area := rq.PathValue("area")
	if !slices.Contains(oauth.CriteriaAreas, area) {
		return ErrNotFound
	}
	if err := rq.RequireRecentAuth(partnerPath(a.ClientID)); err != nil {
		return err
	}
	up, err := rq.Upload(map[string]int64{"evidence": oauth.MaxEvidenceSize})
	if err != nil {
		return err
	}
	status, note := up.Value("status"), strings.TrimSpace(up.Values["note"])
	file, name := up.Files["evidence"], up.Names["evidence"]
	errs := form.Errors{}
	switch {
	case status != oauth.ItemMet && status != oauth.ItemNotMet && status != oauth.ItemNotApplicable:
		errs.Add("status", "partner.error.status")
	case len(note) > oauth.MaxNoteLen:
		errs.Add("note", "partner.error.note")
	case len(file) > 0 && oauth.EvidenceType(file) == "":
		errs.Add("evidence", "partner.error.type")
	case len(file) > 0 && (len(name) > oauth.MaxEvidenceNameLen || name == "" || !printableText(name)):
		errs.Add("evidence", "partner.error.name")
	}
	if !errs.Any() {
		err = svc.SetAssessmentItem(rq.Ctx(), rq.oauthActor(), rq.s.cfg.PartnerEvidence, a.TenantID, a.ClientID, area, status, note, name, file)
		switch {
		case errors.Is(err, oauth.ErrInvalidInput):
			errs.Add("", "partner.error.refused")
		case err != nil:
			return partnerErr(err)
		default:
			rq.Flash("flash.partner_item")
			return rq.Redirect(partnerPath(a.ClientID) + "#area-" + area)
		}
	}
	return renderPartner(rq, http.StatusUnprocessableEntity, a, area, errs)
}

// partnerEvidence downloads an area's evidence file (audited by package
// oauth before a byte is sent). The name is the server's, not the
// uploader's; the type is the one recognised at upload.
func partnerEvidence(rq *Request) error {
	a, err := Load(rq, rq.s.partnerKind(), rq.PathValue("id"))
	if err != nil {
		return err
	}
	area := rq.PathValue("area")
	if !slices.Contains(oauth.CriteriaAreas, area) || rq.s.cfg.PartnerEvidence == nil {
		return ErrNotFound
	}
	ev, err := rq.s.cfg.Partners.Evidence(rq.Ctx(), rq.oauthActor(), rq.s.cfg.PartnerEvidence, a.TenantID, a.ClientID, area)
	if err != nil {
		return partnerErr(err)
	}
	ext := map[string]string{oauth.EvidencePDF: ".pdf", oauth.EvidencePNG: ".png", oauth.EvidenceJPEG: ".jpg"}[ev.Type]
	if ext == "" {
		return ErrNotFound
	}
	return download(rq, ev.Type, a.ClientID+"-"+area+ext, ev.Data)
}

// partnerSignOff is the reviewer's sign-off.
func partnerSignOff(rq *Request) error {
	a, err := Load(rq, rq.s.partnerKind(), rq.PathValue("id"))
	if err != nil {
		return err
	}
	if err := rq.RequireRecentAuth(partnerPath(a.ClientID)); err != nil {
		return err
	}
	_, err = rq.s.cfg.Partners.SignOff(rq.Ctx(), rq.oauthActor(), a.TenantID, a.ClientID)
	switch {
	case errors.Is(err, oauth.ErrSameReviewer):
		return renderPartner(rq, http.StatusConflict, a, "", form.Errors{"": "partner.error.same_reviewer"})
	case errors.Is(err, oauth.ErrInvalidInput):
		return renderPartner(rq, http.StatusConflict, a, "", form.Errors{"": "partner.error.incomplete"})
	case err != nil:
		return partnerErr(err)
	}
	rq.Flash("flash.partner_signed_off")
	return rq.Redirect(partnerPath(a.ClientID))
}

// partnerRequestActivation files the oauth.client.activate approval naming
// the signed-off assessment and shows it; a different admin approves it.
func partnerRequestActivation(rq *Request) error {
	sa := rq.s.cfg.Admin.Staff
	if sa == nil {
		return errNoService
	}
	a, err := Load(rq, rq.s.partnerKind(), rq.PathValue("id"))
	if err != nil {
		return err
	}
	if err := rq.RequireRecentAuth(partnerPath(a.ClientID)); err != nil {
		return err
	}
	payload, err := rq.s.cfg.Partners.ActivationPayload(rq.Ctx(), a.TenantID, a.ClientID)
	if errors.Is(err, oauth.ErrInvalidInput) {
		return renderPartner(rq, http.StatusConflict, a, "", form.Errors{"": "partner.error.not_signed_off"})
	}
	if err != nil {
		return partnerErr(err)
	}
	if id, err := rq.activationRequest(a); err != nil || id != "" {
		if err != nil {
			return err
		}
		return rq.Redirect(Prefix + "/admin/approvals/" + id)
	}
	ap, err := sa.Request(rq.Ctx(), rq.Actor(), oauth.KindActivate, payload)
	if errors.Is(err, staff.ErrForbidden) {
		return ErrForbidden
	}
	if err != nil {
		return err
	}
	rq.Flash("flash.approval_filed")
	return rq.Redirect(Prefix + "/admin/approvals/" + ap.ID)
}
