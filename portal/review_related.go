package portal

import (
	"net/http"
	"regexp"
	"sort"

	"github.com/madoguchi/madoguchi/ekyc"
)

// The related sessions of the workbench: a fraud reason (a duplicate face,
// a reused document, velocity) names other sessions of the same tenant,
// and the reviewer holding the claim opens each beside the session under
// review to compare faces and documents. The ekyc domain decides what may
// be opened (only a session a reason of the claimed session names, only in
// its tenant, only by the claim's holder) and audits every view on the
// related session (ekyc.review.view_related*); anything else is a 404.

// relatedPage shows one related session next to the session under review.
type relatedPage struct {
	ID, Other string
	// Under review: what the reviewer compares against.
	ChipPhoto   bool
	FirstSelfie int // seq of its first selfie frame, 0 if none
	// The related session's evidence.
	Ev           *ekyc.EvidenceView
	Outcome      string
	OtherChip    bool
	Selfies      []frameView
	Docs         []docView
	Signed       []attr
	Reasons      []ekyc.Reason // the reasons of the session under review that name it
	OtherReasons []string      // the related session's own automated reason codes
}

// sessionIDPattern is an ekyc session id; anything else is not looked up.
var sessionIDPattern = regexp.MustCompile(`^ses_[A-Za-z0-9_-]{1,64}$`)

// loadRelated is loadReview with the request's related session id
// ({other}); an id of the wrong form is ErrNotFound.
func loadRelated(rq *Request) (rv Reviews, id, other string, err error) {
	if rv, id, err = loadReview(rq); err != nil {
		return nil, "", "", err
	}
	other = rq.PathValue("other")
	if !sessionIDPattern.MatchString(other) {
		return nil, "", "", ErrNotFound
	}
	return rv, id, other, nil
}

// reviewRelated shows a related session (an audited view).
func reviewRelated(rq *Request) error {
	rv, id, other, err := loadRelated(rq)
	if err != nil {
		return err
	}
	st := rq.reviewer()
	ev, err := rv.RelatedEvidence(rq.Ctx(), st, id, other)
	if err != nil {
		return notFoundEKYC(claimedIsNotFound(err))
	}
	// The session under review, for the comparison (an audited view too).
	own, err := rv.Evidence(rq.Ctx(), st, id)
	if err != nil {
		return notFoundEKYC(claimedIsNotFound(err))
	}
	p := &relatedPage{ID: id, Other: other, Ev: ev,
		ChipPhoto: own.Method.NeedsChip && own.Chip != nil && own.Chip.PhotoFormat != "",
		OtherChip: ev.Method.NeedsChip && ev.Chip != nil && ev.Chip.PhotoFormat != ""}
	for _, f := range own.Frames {
		if f.Kind == ekyc.FrameSelfie {
			p.FirstSelfie = f.Seq
			break
		}
	}
	if d := own.Decision; d != nil {
		for _, r := range d.Reasons {
			for _, s := range r.Sessions {
				if s == other {
					p.Reasons = append(p.Reasons, r)
					break
				}
			}
		}
	}
	if d := ev.Decision; d != nil {
		p.Outcome = string(d.Outcome)
		p.OtherReasons = d.ReasonCodes()
	}
	for _, f := range ev.Frames {
		if f.Kind == ekyc.FrameSelfie {
			p.Selfies = append(p.Selfies, frameView{Seq: f.Seq, Kind: string(f.Kind)})
		} else {
			p.Docs = append(p.Docs, docView{Kind: string(f.Kind), Seq: f.Seq})
		}
	}
	if c := ev.Chip; c != nil {
		keys := make([]string, 0, len(c.Claims))
		for k := range c.Claims {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p.Signed = append(p.Signed, attr{Name: k, Value: claimText(c.Claims[k])})
		}
	}
	return rq.Render(http.StatusOK, "review_related", "related.title", p)
}

// reviewRelatedFrame answers one captured frame of a related session.
func reviewRelatedFrame(rq *Request) error {
	rv, id, other, err := loadRelated(rq)
	if err != nil {
		return err
	}
	seq, err := frameSeq(rq)
	if err != nil {
		return err
	}
	img, err := rv.RelatedFrameImage(rq.Ctx(), rq.reviewer(), id, other, seq)
	return writeFrame(rq, img, err)
}

// reviewRelatedChipPhoto answers the chip portrait of a related session.
func reviewRelatedChipPhoto(rq *Request) error {
	rv, id, other, err := loadRelated(rq)
	if err != nil {
		return err
	}
	raw, format, err := rv.RelatedChipPhoto(rq.Ctx(), rq.reviewer(), id, other)
	if err != nil {
		return notFoundEKYC(claimedIsNotFound(err))
	}
	return writeChipPhoto(rq, raw, format)
}
