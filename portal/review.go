package portal

import (
	"context"
	"errors"
	"time"

	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/vault"
)

// The review workbench (目視審査) and the verification records: pages over
// the ekyc domain. The domain scopes and audits on its own (a tenant's
// reviewer sees its tenant, an operator reviewer only tenants whose policy
// has operator_review; every view of evidence is an ekyc.review.* audit
// entry in the reading transaction); the pages load every object through
// Load as well, so another tenant's session is the framework's 404.

// Reviews is the review domain (*ekyc.Service).
type Reviews interface {
	Queue(ctx context.Context, st ekyc.Staff, f ekyc.QueueFilter) ([]ekyc.Pending, error)
	Summary(ctx context.Context, st ekyc.Staff, id string) (*ekyc.ReviewSummary, error)
	Claim(ctx context.Context, st ekyc.Staff, id string) (time.Time, error)
	Release(ctx context.Context, st ekyc.Staff, id string) error
	Evidence(ctx context.Context, st ekyc.Staff, id string) (*ekyc.EvidenceView, error)
	FrameImage(ctx context.Context, st ekyc.Staff, id string, seq int) ([]byte, error)
	ChipPhoto(ctx context.Context, st ekyc.Staff, id string) ([]byte, string, error)
	Decide(ctx context.Context, st ekyc.Staff, id string, rd ekyc.ReviewDecision) (*ekyc.Session, error)
	// Sessions a reason of the claimed session names (review_related.go).
	RelatedEvidence(ctx context.Context, st ekyc.Staff, id, other string) (*ekyc.EvidenceView, error)
	RelatedFrameImage(ctx context.Context, st ekyc.Staff, id, other string, seq int) ([]byte, error)
	RelatedChipPhoto(ctx context.Context, st ekyc.Staff, id, other string) ([]byte, string, error)
}

// Records opens verification records (*ekyc.Service) inside the caller's
// audited transaction.
type Records interface {
	OpenRecord(ctx context.Context, q vault.Querier, ri ekyc.RecordInfo) (*ekyc.Record, error)
}

var (
	_ Reviews = (*ekyc.Service)(nil)
	_ Records = (*ekyc.Service)(nil)
)

// reviewerRoles may use the workbench.
var reviewerRoles = []Role{TenantReviewer, OperatorReviewer}

// reviewKind is a session in the review workbench: a Review kind, so
// operator reviewers see it only where the tenant's policy allows operator
// review. Its evidence is read (and audited) by the ekyc domain.
var reviewKind = ObjectKind[string]{
	Name: "ekyc.session", Review: true,
	Fetch: func(ctx context.Context, q Querier, id string) (string, Owner, error) {
		t, err := ekyc.SessionTenant(ctx, q, id)
		return id, Owner{TenantID: t}, notFoundEKYC(err)
	},
}

func notFoundEKYC(err error) error {
	if errors.Is(err, ekyc.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

// reviewer is the signed-in person as the review domain knows them.
func (rq *Request) reviewer() ekyc.Staff {
	st := ekyc.Staff{ID: rq.Principal.StaffID, TenantID: rq.Principal.TenantID, RequestID: rq.RequestID()}
	if rq.Principal.Has(reviewerRoles...) {
		st.Roles = []string{ekyc.RoleReviewer}
	}
	return st
}

// reviews returns the review domain, or ErrNotFound when the server runs
// without eKYC.
func (rq *Request) reviews() (Reviews, error) {
	if rq.s.cfg.Reviews == nil {
		return nil, ErrNotFound
	}
	return rq.s.cfg.Reviews, nil
}

// loadReview loads the session {id} for the workbench.
func loadReview(rq *Request) (Reviews, string, error) {
	rv, err := rq.reviews()
	if err != nil {
		return nil, "", err
	}
	id, err := Load(rq, reviewKind, rq.PathValue("id"))
	return rv, id, err
}

// reviewFlash is the message for a review domain error a person can act
// on; "" for any other error.
func reviewFlash(err error) string {
	switch {
	case errors.Is(err, ekyc.ErrSameReviewer):
		return "review.err_same_reviewer"
	case errors.Is(err, ekyc.ErrClaimed):
		return "review.err_claimed"
	case errors.Is(err, ekyc.ErrState):
		return "review.err_decided"
	}
	return ""
}

// reviewErr turns an error a reviewer can act on into a flash on the
// session's page; anything else is returned.
func reviewErr(rq *Request, id string, err error) error {
	if key := reviewFlash(err); key != "" {
		rq.Flash(key)
		return rq.Redirect(Prefix + "/review/" + id)
	}
	return notFoundEKYC(err)
}
