package portal

import (
	"errors"
	"net/http"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/portal/form"
)

// reviewDecide records the reviewer's decision: approve (every checklist
// item confirmed) or reject, with reason codes and a note; for ホ what was
// read off the document images. Deciding needs a recent sign-in. The
// first approval of a four-eyes review sends the session back to the
// queue for a second reviewer. If another reviewer decided or took the
// session first, nothing is recorded and the page says so.
func reviewDecide(rq *Request) error {
	rv, id, err := loadReview(rq)
	if err != nil {
		return err
	}
	if err := rq.RequireRecentAuth(Prefix + "/review/" + id); err != nil {
		return err
	}
	f := form.ParseDecision(rq.R)
	page, err := reviewPageFor(rq, rv, id)
	if err != nil {
		return err
	}
	if !page.Mine {
		key := "review.err_claimed"
		if page.Final {
			key = "review.err_decided"
		}
		rq.Flash(key)
		return rq.Redirect(Prefix + "/review/" + id)
	}
	page.Form = f
	page.fields()
	if errs := f.Validate(checklistCodes(page.Ev.Checklist), page.ApproveReasons, page.RejectReasons, page.NeedClaims); errs.Any() {
		page.Errors = errs
		page.fields()
		return rq.Render(http.StatusUnprocessableEntity, "review_session", "review.session_title", page)
	}
	rd := ekyc.ReviewDecision{Approve: f.Verdict == "approve", Note: f.Note, Reasons: f.Reasons}
	if rd.Approve {
		rd.Checked = f.Checked
		if page.Ev.Method.NeedsDocumentImages {
			if rd.Claims = f.Claims(); rd.Claims != nil {
				rd.Document = &document.IDADocumentDetails{Type: f.DocType, DocumentNumber: f.DocNumber, DateOfExpiry: f.DocExpiry}
			}
		}
	}
	got, err := rv.Decide(rq.Ctx(), rq.reviewer(), id, rd)
	switch {
	case errors.Is(err, ekyc.ErrInvalidInput), errors.Is(err, ekyc.ErrMyNumber):
		page.Errors = form.Errors{"": "review.err_invalid"}
		return rq.Render(http.StatusUnprocessableEntity, "review_session", "review.session_title", page)
	case err != nil:
		return reviewErr(rq, id, err)
	}
	switch got.Outcome {
	case ekyc.OutcomeReview:
		rq.Flash("review.flash_first_approval")
	case ekyc.OutcomeApproved:
		rq.Flash("review.flash_decided_approved")
	default:
		rq.Flash("review.flash_decided_rejected")
	}
	return rq.Redirect(Prefix + "/review")
}
