package portal

// Partner onboarding (package oauth, onboarding.go): a partner client's
// assessment against the bank's criteria, one page per client
// (/partners/{id}, listed at /partners) and its actions (partner_actions.go).
// Who does what (least privilege; the oauth package enforces the rest):
//
//   - reading the page and downloading evidence: the tenant's admins,
//     reviewers and auditors, and operator staff (each download is audited
//     by package oauth);
//   - recording an area (status, note, evidence file): admins;
//   - the sign-off: reviewers, and only one who recorded none of the areas
//     (oauth.ErrSameReviewer);
//   - requesting activation: admins; a different admin approves it in the
//     approvals inbox (staff approval oauth.client.activate), which
//     activates the client only if the assessment is still the one signed
//     off.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/oauth"
	"github.com/madoguchi/madoguchi/portal/form"
	"github.com/madoguchi/madoguchi/staff"
)

// Partners is what the onboarding pages need of *oauth.Server.
type Partners interface {
	Assessment(ctx context.Context, tenantID, clientID string) (oauth.Assessment, error)
	SetAssessmentItem(ctx context.Context, by oauth.Actor, ev oauth.EvidenceStore, tenantID, clientID, area, status, note, evidenceName string, evidence []byte) error
	SignOff(ctx context.Context, reviewer oauth.Actor, tenantID, clientID string) (string, error)
	Evidence(ctx context.Context, by oauth.Actor, ev oauth.EvidenceStore, tenantID, clientID, area string) (oauth.Evidence, error)
	ActivationPayload(ctx context.Context, tenantID, clientID string) ([]byte, error)
	ProfilesIn(ctx context.Context, tenantID string, all bool) ([]oauth.Profile, error)
}

var _ Partners = (*oauth.Server)(nil)

// Role sets of the onboarding routes.
var (
	partnerReaders   = []Role{TenantAdmin, TenantReviewer, TenantAuditor, OperatorAdmin, OperatorReviewer, OperatorAuditor}
	partnerEditors   = adminRoles
	partnerReviewers = []Role{TenantReviewer, OperatorReviewer}
)

// maxEvidenceUpload caps an item's form: the evidence file and the fields.
const maxEvidenceUpload = oauth.MaxEvidenceSize + 64<<10

// partnerKind is a partner client's assessment, owned by the client's
// tenant; a client without an OAuth profile is not found.
func (s *Server) partnerKind() ObjectKind[oauth.Assessment] {
	return ObjectKind[oauth.Assessment]{Name: "oauth.client",
		Fetch: func(ctx context.Context, q Querier, id string) (oauth.Assessment, Owner, error) {
			if s.cfg.Partners == nil {
				return oauth.Assessment{}, Owner{}, ErrNotFound
			}
			var tid string
			if err := q.QueryRow(ctx, `SELECT tenant_id FROM oauth_clients WHERE client_id = ?`, id).Scan(&tid); err != nil {
				return oauth.Assessment{}, Owner{}, err
			}
			a, err := s.cfg.Partners.Assessment(ctx, tid, id)
			if err != nil {
				return a, Owner{}, partnerErr(err)
			}
			return a, Owner{TenantID: tid}, nil
		}}
}

func partnerErr(err error) error {
	if errors.Is(err, oauth.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

// partnerItem is one area as the page shows it.
type partnerItem struct {
	oauth.AssessmentItem
	By string // who recorded it (username)
}

// partnerShow is the onboarding page: the nine areas with their status,
// note, evidence and who recorded them; the sign-off; activation.
func partnerShow(rq *Request) error {
	a, err := Load(rq, rq.s.partnerKind(), rq.PathValue("id"))
	if err != nil {
		return err
	}
	return renderPartner(rq, http.StatusOK, a, "", nil)
}

func renderPartner(rq *Request, status int, a oauth.Assessment, area string, errs form.Errors) error {
	names := map[string]string{}
	items := make([]partnerItem, len(a.Items))
	decided := true
	for i, it := range a.Items {
		items[i] = partnerItem{AssessmentItem: it, By: rq.staffName(it.UpdatedBy, names)}
		decided = decided && (it.Status == oauth.ItemNotApplicable || (it.Status == oauth.ItemMet && it.EvidenceSHA256 != ""))
	}
	name := a.ClientID
	if ts := rq.s.cfg.Admin.Tenants; ts != nil {
		if c, err := ts.Client(rq.Ctx(), a.TenantID, a.ClientID); err == nil {
			name = c.Name
		}
	}
	pendingApproval, err := rq.activationRequest(a)
	if err != nil {
		return err
	}
	pending := a.Status == oauth.ProfilePending
	return rq.Render(status, "partner", "partner.title", map[string]any{
		"A": a, "Name": name, "Items": items, "Reviewer": rq.staffName(a.Reviewer, names),
		"Area": area, "Errors": errs, "Statuses": []string{oauth.ItemMet, oauth.ItemNotMet, oauth.ItemNotApplicable},
		"CanEdit":    pending && rq.Principal.Has(partnerEditors...),
		"CanSignOff": pending && decided && !a.SignedOff() && rq.Principal.Has(partnerReviewers...),
		"CanRequest": pending && a.SignedOff() && pendingApproval == "" && rq.Principal.Has(adminRoles...) && rq.s.cfg.Admin.Staff != nil,
		"Approval":   pendingApproval, "MaxMB": itoa(oauth.MaxEvidenceSize >> 20),
	})
}

// staffName shows a recorded actor ("staff:<id>") by username.
func (rq *Request) staffName(actor string, cache map[string]string) string {
	id, ok := strings.CutPrefix(actor, audit.ActorStaff+":")
	if !ok || rq.s.cfg.Admin.Staff == nil {
		return actor
	}
	if n, ok := cache[id]; ok {
		return n
	}
	n := id
	if acc, err := rq.s.cfg.Admin.Staff.Account(rq.Ctx(), id); err == nil {
		n = acc.Username
	}
	cache[id] = n
	return n
}

// activationRequest is the id of the client's pending activation request
// ("" if none).
func (rq *Request) activationRequest(a oauth.Assessment) (string, error) {
	sa := rq.s.cfg.Admin.Staff
	if sa == nil || a.Status != oauth.ProfilePending {
		return "", nil
	}
	aps, err := sa.ApprovalsIn(rq.Ctx(), a.TenantID, false, staff.StatusPending)
	if err != nil {
		return "", err
	}
	now := rq.s.cfg.Now()
	i := slices.IndexFunc(aps, func(ap staff.Approval) bool {
		if ap.Kind != oauth.KindActivate || !now.Before(ap.ExpiresAt) {
			return false
		}
		var p oauth.ActivationRequest
		return json.Unmarshal(ap.Payload, &p) == nil && p.ClientID == a.ClientID && p.TenantID == a.TenantID
	})
	if i < 0 {
		return "", nil
	}
	return aps[i].ID, nil
}

// oauthActor is the signed-in person as the oauth service's actor.
func (rq *Request) oauthActor() oauth.Actor {
	return oauth.Actor{Kind: audit.ActorStaff, ID: rq.Principal.StaffID}
}
