package ekyc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/imaging"
	"github.com/madoguchi/madoguchi/store"
)

// Review (目視審査). A session the policy referred waits in
// decided(review) until a reviewer decides it:
//
//   - Scope: a tenant's reviewer (Staff.TenantID set) sees that tenant's
//     sessions only; operator reviewers (TenantID "") see a tenant's
//     sessions only where its policy has operator_review. Anything else is
//     ErrNotFound, exactly like a missing session.
//   - Claims: one reviewer at a time holds a session, for ClaimTTL and only
//     while signed in (ReviewerPresence): a claim whose holder's staff
//     session ended is released, and another reviewer may take it. Every
//     claim, release and decision bumps the session's version, so two
//     reviewers deciding at once cannot both win.
//   - Evidence, frames and the chip photo are shown only to the claim's
//     holder, each view audited in the transaction that reads it.
//   - Approving needs every checklist item (ReviewChecklist) and reason
//     codes (ReviewReasons). Four eyes: approving a session the engine's
//     checks failed (Decision.EngineRejected), or any session of a tenant
//     whose policy has review_four_eyes, takes two different reviewers; the
//     first approval is recorded and the session returns to the queue.

// RoleReviewer is the staff role allowed to review (目視審査).
const RoleReviewer = "reviewer"

// Staff is an authenticated staff member (from the staff package's session
// authentication), with their roles and scope.
type Staff struct {
	ID        string
	Roles     []string
	RequestID string
	// TenantID is the reviewer's tenant: a tenant's reviewer sees only its
	// sessions. "" is operator staff, who see a tenant's sessions only where
	// its policy has operator_review.
	TenantID string
}

func (st Staff) actor() Actor {
	return Actor{Kind: audit.ActorStaff, ID: st.ID, RequestID: st.RequestID}
}

func (st Staff) check() error {
	if st.ID == "" || !slices.Contains(st.Roles, RoleReviewer) {
		return fmt.Errorf("%w: the reviewer role is required", ErrForbidden)
	}
	return nil
}

// ReviewerPresence says whether a staff member is signed in (a live staff
// session; *staff.Directory). A claim lasts only while its holder is.
// SignedInAmong answers for a page of the queue's claim holders at once:
// the set holds those signed in.
type ReviewerPresence interface {
	SignedIn(ctx context.Context, staffID string) (bool, error)
	SignedInAmong(ctx context.Context, staffIDs []string) (map[string]bool, error)
}

// FirstApproval is the first of the two approvals four eyes needs.
type FirstApproval struct {
	StaffID string
	At      time.Time
	Note    string
	Reasons []string
}

// Pending is one session waiting for review (no personal data).
type Pending struct {
	SessionID    string
	TenantID     string
	Method       string
	Reference    string // the tenant's own opaque reference
	DecidedAt    time.Time
	Due          time.Time // DecidedAt + the tenant's review SLA
	Reasons      []Reason
	ClaimedBy    string // "" if unclaimed or the claim has lapsed
	ClaimExpires time.Time
	// FourEyes: approving needs two reviewers; First is the first
	// approval, if one was given.
	FourEyes bool
	First    *FirstApproval
}

// Overdue reports whether the review deadline has passed at now.
func (p Pending) Overdue(now time.Time) bool { return !now.Before(p.Due) }

// QueueFilter narrows the review queue.
type QueueFilter struct {
	Method string // API name ("he", "ho", "wa"); "" for all
	Limit  int    // 1..200 (default 50)
	Offset int
}

// ListPending lists sessions in decided(review) that st may review, oldest
// first.
func (s *Service) ListPending(ctx context.Context, st Staff, limit int) ([]Pending, error) {
	return s.Queue(ctx, st, QueueFilter{Limit: limit})
}

// Queue lists the sessions waiting for review that st may review, oldest
// (most urgent) first, with their deadlines and claims.
func (s *Service) Queue(ctx context.Context, st Staff, f QueueFilter) ([]Pending, error) {
	if err := st.check(); err != nil {
		return nil, err
	}
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	if f.Offset < 0 || f.Offset > 1_000_000 {
		f.Offset = 0
	}
	// The page's ids first, from index ekyc_sessions_queue (migration
	// 0106) alone, then their rows: a page deep in the queue, or the
	// operator's queue over several tenants, sorts and skips index entries,
	// not whole sessions.
	q := `SELECT id FROM ekyc_sessions WHERE state = 'decided' AND outcome = 'review'`
	var args []any
	if st.TenantID != "" {
		q += ` AND tenant_id = ?`
		args = append(args, st.TenantID)
	} else {
		ids, err := s.operatorTenants(ctx)
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			return []Pending{}, nil
		}
		q += ` AND tenant_id IN (?` + strings.Repeat(", ?", len(ids)-1) + `)`
		for _, id := range ids {
			args = append(args, id)
		}
	}
	if f.Method != "" {
		m, err := MethodByAPI(f.Method)
		if err != nil {
			return nil, err
		}
		q += ` AND method = ?`
		args = append(args, m.Code)
	}
	q = `SELECT ` + sessionCols + ` FROM ekyc_sessions WHERE id IN (` + q + ` ORDER BY decided_at, id LIMIT ? OFFSET ?) ORDER BY decided_at, id`
	args = append(args, f.Limit, f.Offset)
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	var list []*Session
	for rows.Next() {
		ss, err := scanSession(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		list = append(list, ss)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// One query for the claim holders' presence and one for the first
	// approvals of the whole page, not one of each per row.
	present, err := s.presentAmong(ctx, list)
	if err != nil {
		return nil, err
	}
	firsts, err := s.firstApprovals(ctx, list)
	if err != nil {
		return nil, err
	}
	out := make([]Pending, 0, len(list))
	pols := map[string]Policy{}
	for _, ss := range list {
		pol, ok := pols[ss.TenantID]
		if !ok {
			if pol, _, err = loadPolicy(ctx, s.db, ss.TenantID); err != nil && !errors.Is(err, ErrNoPolicy) {
				return nil, err
			}
			pols[ss.TenantID] = pol
		}
		p := Pending{SessionID: ss.ID, TenantID: ss.TenantID, Method: ss.Method.API, Reference: ss.Reference,
			DecidedAt: ss.DecidedAt, Due: ss.DecidedAt.Add(pol.ReviewSLA()),
			FourEyes: pol.ReviewFourEyes || ss.Decision.EngineRejected(), First: firsts[ss.ID]}
		if ss.Decision != nil {
			p.Reasons = ss.Decision.Reasons
		}
		if ss.reviewer != "" && s.now().Before(ss.claimExpires) && present(ss.reviewer) {
			p.ClaimedBy, p.ClaimExpires = ss.reviewer, ss.claimExpires
		}
		out = append(out, p)
	}
	return out, nil
}

// presentAmong asks, in one query, which holders of unexpired claims among
// list are signed in (claimLive for a page of sessions).
func (s *Service) presentAmong(ctx context.Context, list []*Session) (func(string) bool, error) {
	if s.cfg.Reviewers == nil {
		return func(string) bool { return true }, nil
	}
	var ids []string
	now := s.now()
	for _, ss := range list {
		if ss.reviewer != "" && now.Before(ss.claimExpires) && !slices.Contains(ids, ss.reviewer) {
			ids = append(ids, ss.reviewer)
		}
	}
	if len(ids) == 0 {
		return func(string) bool { return false }, nil
	}
	set, err := s.cfg.Reviewers.SignedInAmong(ctx, ids)
	if err != nil {
		return nil, err
	}
	return func(id string) bool { return set[id] }, nil
}

// firstApprovals reads the first approvals (four eyes) of the sessions in
// list, in one query.
func (s *Service) firstApprovals(ctx context.Context, list []*Session) (map[string]*FirstApproval, error) {
	out := map[string]*FirstApproval{}
	if len(list) == 0 {
		return out, nil
	}
	args := make([]any, len(list))
	for i, ss := range list {
		args[i] = ss.ID
	}
	rows, err := s.db.Query(ctx, `SELECT session_id, staff_id, approved_at, note, reasons FROM ekyc_review_approvals
		WHERE session_id IN (?`+strings.Repeat(", ?", len(list)-1)+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, reasons string
			at          int64
			fa          FirstApproval
		)
		if err := rows.Scan(&id, &fa.StaffID, &at, &fa.Note, &reasons); err != nil {
			return nil, err
		}
		fa.At = store.FromMicros(at)
		if err := json.Unmarshal([]byte(reasons), &fa.Reasons); err != nil {
			return nil, fmt.Errorf("ekyc: stored first approval unreadable: %w", err)
		}
		out[id] = &fa
	}
	return out, rows.Err()
}

// operatorTenants lists the tenants whose policy lets operator reviewers
// review their sessions.
func (s *Service) operatorTenants(ctx context.Context) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT tenant_id, policy FROM ekyc_policies ORDER BY tenant_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, raw string
		if err := rows.Scan(&id, &raw); err != nil {
			return nil, err
		}
		var p Policy
		if json.Unmarshal([]byte(raw), &p) == nil && p.OperatorReview {
			out = append(out, id)
		}
	}
	return out, rows.Err()
}

// mayReview reports whether st may review tenant's sessions.
func (s *Service) mayReview(ctx context.Context, q rowQuerier, st Staff, tenant string) (bool, error) {
	if st.TenantID != "" {
		return st.TenantID == tenant, nil
	}
	p, _, err := loadPolicy(ctx, q, tenant)
	if errors.Is(err, ErrNoPolicy) {
		return false, nil
	}
	return err == nil && p.OperatorReview, err
}

// reviewSession loads session id if st may review its tenant's sessions;
// ErrNotFound otherwise.
func (s *Service) reviewSession(ctx context.Context, q rowQuerier, st Staff, id string) (*Session, error) {
	if id == "" || len(id) > 64 {
		return nil, ErrNotFound
	}
	ss, err := scanSession(q.QueryRow(ctx, `SELECT `+sessionCols+` FROM ekyc_sessions WHERE id = ?`, id))
	if err != nil {
		return nil, err
	}
	ok, err := s.mayReview(ctx, q, st, ss.TenantID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrNotFound
	}
	return ss, nil
}

// claimLive reports whether the session's claim still holds: before its
// expiry and with its holder signed in.
func (s *Service) claimLive(ctx context.Context, ss *Session) (bool, error) {
	if ss.reviewer == "" || !s.now().Before(ss.claimExpires) {
		return false, nil
	}
	if s.cfg.Reviewers == nil {
		return true, nil
	}
	return s.cfg.Reviewers.SignedIn(ctx, ss.reviewer)
}

func inReview(ss *Session) error {
	if ss.State != StateDecided || ss.Outcome != OutcomeReview {
		return fmt.Errorf("%w: the session is not waiting for review", ErrState)
	}
	return nil
}

// Claim gives st the session for ClaimTTL (renewable by the same reviewer).
// A live claim by someone else is ErrClaimed; a lapsed one (expired, or its
// holder no longer signed in) can be taken, and the audit entry says whose
// it was.
func (s *Service) Claim(ctx context.Context, st Staff, id string) (time.Time, error) {
	if err := st.check(); err != nil {
		return time.Time{}, err
	}
	ss, err := s.reviewSession(ctx, s.db, st, id)
	if err != nil {
		return time.Time{}, err
	}
	if err := inReview(ss); err != nil {
		return time.Time{}, err
	}
	details := map[string]string{}
	if ss.reviewer != "" && ss.reviewer != st.ID {
		live, err := s.claimLive(ctx, ss)
		if err != nil {
			return time.Time{}, err
		}
		if live {
			return time.Time{}, ErrClaimed
		}
		details["lapsed_claim_of"] = ss.reviewer
	}
	now := s.now()
	until := now.Add(s.cfg.ClaimTTL)
	details["until"] = until.Format(time.RFC3339)
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := s.setClaim(ctx, tx, ss, st.ID, until); err != nil {
			return err
		}
		return s.record(ctx, tx, st.actor(), ss.TenantID, "ekyc.review.claim", ss.ID, audit.OutcomeOK, details)
	})
	return until, err
}

// setClaim sets the session's claim if nobody changed the session since it
// was read (ErrClaimed otherwise), bumping its version.
func (s *Service) setClaim(ctx context.Context, tx *store.Tx, ss *Session, reviewer string, until time.Time) error {
	exp := int64(0)
	if !until.IsZero() {
		exp = store.Micros(until)
	}
	res, err := tx.Exec(ctx, `UPDATE ekyc_sessions SET reviewer = ?, claim_expires = ?, version = version + 1, updated_at = ?
		WHERE id = ? AND state = 'decided' AND outcome = 'review' AND version = ? AND reviewer = ?`,
		reviewer, exp, store.Micros(s.now()), ss.ID, ss.Version, ss.reviewer)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("%w: another reviewer changed the session first", ErrClaimed)
	}
	ss.reviewer, ss.claimExpires, ss.Version = reviewer, until, ss.Version+1
	return nil
}

// Release gives up st's claim on the session.
func (s *Service) Release(ctx context.Context, st Staff, id string) error {
	ss, err := s.holds(ctx, s.db, st, id)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := s.setClaim(ctx, tx, ss, "", time.Time{}); err != nil {
			return err
		}
		return s.record(ctx, tx, st.actor(), ss.TenantID, "ekyc.review.release", ss.ID, audit.OutcomeOK, nil)
	})
}

// holds loads the session and checks st holds a live claim on it.
func (s *Service) holds(ctx context.Context, q rowQuerier, st Staff, id string) (*Session, error) {
	if err := st.check(); err != nil {
		return nil, err
	}
	ss, err := s.reviewSession(ctx, q, st, id)
	if err != nil {
		return nil, err
	}
	if err := inReview(ss); err != nil {
		return nil, err
	}
	if ss.reviewer != st.ID || !s.now().Before(ss.claimExpires) {
		return nil, fmt.Errorf("%w: claim the session first (claims lapse after %s)", ErrClaimed, s.cfg.ClaimTTL)
	}
	return ss, nil
}

// ReviewSummary is what the queue knows of one session, for any reviewer
// who may review it (no personal data, not audited): the automated
// decision, the claim, the deadline and the first approval.
type ReviewSummary struct {
	Pending
	State     State
	Outcome   Outcome
	Decision  *Decision
	Checklist []ChecklistItem
}

// Summary returns the session's review summary; a session that is no
// longer in review is returned with its final state (for "already
// decided").
func (s *Service) Summary(ctx context.Context, st Staff, id string) (*ReviewSummary, error) {
	if err := st.check(); err != nil {
		return nil, err
	}
	ss, err := s.reviewSession(ctx, s.db, st, id)
	if err != nil {
		return nil, err
	}
	pol, _, err := loadPolicy(ctx, s.db, ss.TenantID)
	if err != nil && !errors.Is(err, ErrNoPolicy) {
		return nil, err
	}
	v := &ReviewSummary{State: ss.State, Outcome: ss.Outcome, Decision: ss.Decision, Checklist: ReviewChecklist(ss.Method),
		Pending: Pending{SessionID: ss.ID, TenantID: ss.TenantID, Method: ss.Method.API, Reference: ss.Reference,
			DecidedAt: ss.DecidedAt, Due: ss.DecidedAt.Add(pol.ReviewSLA()), FourEyes: pol.ReviewFourEyes || ss.Decision.EngineRejected()}}
	if ss.Decision != nil {
		v.Reasons = ss.Decision.Reasons
	}
	if inReview(ss) != nil {
		return v, nil
	}
	live, err := s.claimLive(ctx, ss)
	if err != nil {
		return nil, err
	}
	if live {
		v.ClaimedBy, v.ClaimExpires = ss.reviewer, ss.claimExpires
	}
	if v.First, err = s.firstApproval(ctx, s.db, ss.ID); err != nil {
		return nil, err
	}
	return v, nil
}

// EvidenceView is what a reviewer sees: the frame list, the chip result
// (personal data) and the automated decision.
type EvidenceView struct {
	SessionID string
	Method    Method
	Frames    []FrameInfo
	Chip      *ChipResult
	Decision  *Decision
	// Documents is the automated ホ document-image report (no pixels), nil
	// if the checks did not run; Checklist is what the reviewer must
	// confirm before approving (ReviewChecklist; for ホ what
	// imaging.HumanReview says automation does not establish).
	Documents *imaging.SetReport
	Checklist []ChecklistItem
	// First is the first approval of a four-eyes review and FirstClaims
	// what its reviewer read off the ホ document images, for the second
	// reviewer to confirm.
	First       *FirstApproval
	FirstClaims *Reviewed
}

// FrameInfo describes one frame without its image.
type FrameInfo struct {
	Seq        int
	Kind       FrameKind
	SHA256     string
	CapturedAt time.Time
}

// Evidence returns the session's evidence to the reviewer holding the
// claim; each view is audited in the same transaction as the read.
func (s *Service) Evidence(ctx context.Context, st Staff, id string) (*EvidenceView, error) {
	var v *EvidenceView
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		ss, err := s.holds(ctx, tx, st, id)
		if err != nil {
			return err
		}
		frs, err := s.frames(ctx, tx, ss.ID)
		if err != nil {
			return err
		}
		v = &EvidenceView{SessionID: ss.ID, Method: ss.Method, Decision: ss.Decision, Frames: []FrameInfo{},
			Checklist: ReviewChecklist(ss.Method)}
		if ss.Method.NeedsDocumentImages && ss.Decision != nil {
			v.Documents = ss.Decision.Documents
		}
		for _, f := range frs {
			v.Frames = append(v.Frames, FrameInfo{Seq: f.Seq, Kind: f.Kind, SHA256: f.SHA256, CapturedAt: f.CapturedAt})
		}
		if ss.Method.NeedsChip {
			if v.Chip, _, err = s.chip(ctx, tx, ss); err != nil {
				return err
			}
		}
		var sealed []byte
		if v.First, sealed, err = s.firstApprovalClaims(ctx, tx, ss.ID); err != nil {
			return err
		}
		if len(sealed) > 0 {
			pt, err := s.cfg.Vault.Open(ctx, tx, subjectOf(ss.TenantID, ss.subject), sessionAAD(ss.ID, "first-approval"), sealed)
			if err != nil {
				return err
			}
			v.FirstClaims = new(Reviewed)
			if err := json.Unmarshal(pt, v.FirstClaims); err != nil {
				return err
			}
		}
		return s.record(ctx, tx, st.actor(), ss.TenantID, "ekyc.review.view", ss.ID, audit.OutcomeOK, nil)
	})
	return v, err
}

// FrameImage returns one frame's image to the reviewer holding the claim;
// audited like Evidence.
func (s *Service) FrameImage(ctx context.Context, st Staff, id string, seq int) ([]byte, error) {
	var img []byte
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		ss, err := s.holds(ctx, tx, st, id)
		if err != nil {
			return err
		}
		frs, err := s.frames(ctx, tx, ss.ID)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(frs, func(f frameRow) bool { return f.Seq == seq })
		if i < 0 {
			return ErrNotFound
		}
		if img, err = s.cfg.Vault.OpenBlob(ctx, tx, subjectOf(ss.TenantID, ss.subject), frameAAD(ss.ID, seq), frs[i].Ref); err != nil {
			return err
		}
		return s.record(ctx, tx, st.actor(), ss.TenantID, "ekyc.review.view_frame", ss.ID, audit.OutcomeOK,
			map[string]string{"seq": strconv.Itoa(seq)})
	})
	return img, err
}

// ChipPhoto returns the chip's portrait (ヘ; JPEG 2000 for a driver's
// licence) to the reviewer holding the claim, for visual comparison with
// the selfies; audited like Evidence. ErrNotFound if there is none.
func (s *Service) ChipPhoto(ctx context.Context, st Staff, id string) ([]byte, string, error) {
	var (
		img    []byte
		format string
	)
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		ss, err := s.holds(ctx, tx, st, id)
		if err != nil {
			return err
		}
		if !ss.Method.NeedsChip {
			return ErrNotFound
		}
		cr, ref, err := s.chip(ctx, tx, ss)
		if err != nil {
			return err
		}
		if cr == nil || ref.IsZero() {
			return ErrNotFound
		}
		if img, err = s.cfg.Vault.OpenBlob(ctx, tx, subjectOf(ss.TenantID, ss.subject), chipAAD(ss.ID, "photo"), ref); err != nil {
			return err
		}
		format = cr.PhotoFormat
		return s.record(ctx, tx, st.actor(), ss.TenantID, "ekyc.review.view_chip_photo", ss.ID, audit.OutcomeOK, nil)
	})
	return img, format, err
}

// ReviewDecision is a reviewer's verdict. Note is a short sentence without
// personal data; Reasons are reason codes (ReviewReasons) that fit the
// verdict; an approval confirms every checklist item in Checked. For ホ an
// approval carries what the reviewer read off the document images (Claims
// and Document); the second approval of a four-eyes review may leave them
// empty to confirm the first reviewer's. For ヘ the chip's signed
// attributes are used.
type ReviewDecision struct {
	Approve  bool
	Note     string
	Reasons  []string
	Checked  []string
	Claims   map[string]any
	Document *document.IDADocumentDetails
}

// MaxNoteLen bounds a reviewer's note.
const MaxNoteLen = 500

// ErrSameReviewer: the second approval of a four-eyes review must come
// from another reviewer.
var ErrSameReviewer = fmt.Errorf("%w: four eyes: the second approval must come from another reviewer", ErrForbidden)

// Decide records a reviewer's verdict: decided(review) -> decided(approved
// or rejected), with the record and webhook for the final outcome; or, for
// the first approval of a four-eyes review, the approval is recorded, the
// claim released and the session stays in review (the returned session's
// outcome is still review). Of two reviewers deciding at once exactly one
// wins; the other gets ErrClaimed or ErrState.
func (s *Service) Decide(ctx context.Context, st Staff, id string, rd ReviewDecision) (*Session, error) {
	if rd.Note == "" || len(rd.Note) > MaxNoteLen || !printable(rd.Note) {
		return nil, fmt.Errorf("%w: a note of 1-%d printable characters is required", ErrInvalidInput, MaxNoteLen)
	}
	if err := checkReviewReasons(rd.Approve, rd.Reasons); err != nil {
		return nil, err
	}
	ss, err := s.holds(ctx, s.db, st, id)
	if err != nil {
		return nil, err
	}
	var (
		rv    *Reviewed
		first *FirstApproval
	)
	if rd.Approve {
		if err := checkChecklist(ss.Method, rd.Checked); err != nil {
			return nil, err
		}
		pol, _, err := loadPolicy(ctx, s.db, ss.TenantID)
		if err != nil && !errors.Is(err, ErrNoPolicy) {
			return nil, err
		}
		fourEyes := pol.ReviewFourEyes || err != nil || ss.Decision.EngineRejected() // no policy: the stricter rule
		var firstSealed []byte
		if fourEyes {
			if first, firstSealed, err = s.firstApprovalClaims(ctx, s.db, ss.ID); err != nil {
				return nil, err
			}
			if first != nil && first.StaffID == st.ID {
				return nil, ErrSameReviewer
			}
		}
		if ss.Method.NeedsDocumentImages {
			switch {
			case len(rd.Claims) > 0 || rd.Document != nil || first == nil:
				if err := checkReviewedClaims(rd.Claims, rd.Document); err != nil {
					return nil, err
				}
				rv = &Reviewed{Claims: rd.Claims, Document: rd.Document}
			default: // the second reviewer confirms the first's reading
				pt, err := s.cfg.Vault.Open(ctx, s.db, subjectOf(ss.TenantID, ss.subject), sessionAAD(ss.ID, "first-approval"), firstSealed)
				if err != nil {
					return nil, err
				}
				rv = new(Reviewed)
				if err := json.Unmarshal(pt, rv); err != nil {
					return nil, err
				}
			}
		}
		if fourEyes && first == nil {
			return s.approveFirst(ctx, st, ss, rd, rv)
		}
	}
	auto := *ss.Decision
	auto.Automated = nil
	d := &Decision{
		Outcome: OutcomeRejected, Reasons: auto.Reasons, Scores: auto.Scores, Thresholds: auto.Thresholds,
		Models: auto.Models, Challenge: auto.Challenge, Liveness: auto.Liveness, PolicyVersion: auto.PolicyVersion,
		DecidedAt: s.now(), DecidedBy: "staff:" + st.ID, Automated: &auto, ReviewNote: rd.Note, Documents: auto.Documents,
		ReviewReasons: rd.Reasons, Checklist: rd.Checked,
	}
	if rd.Approve {
		d.Outcome = OutcomeApproved
		if first != nil {
			d.Approvals = []Approval{{By: "staff:" + first.StaffID, At: first.At}, {By: "staff:" + st.ID, At: d.DecidedAt}}
		}
	}
	if err := s.commitDecision(ctx, ss, d, st.actor(), rv); err != nil {
		if errors.Is(err, ErrState) {
			return nil, fmt.Errorf("%w: another reviewer decided or claimed the session first", ErrClaimed)
		}
		return nil, err
	}
	return s.reviewSession(ctx, s.db, st, id)
}

// approveFirst records the first approval of a four-eyes review and
// releases the claim, in one transaction.
func (s *Service) approveFirst(ctx context.Context, st Staff, ss *Session, rd ReviewDecision, rv *Reviewed) (*Session, error) {
	reasons, _ := json.Marshal(rd.Reasons)
	checked, _ := json.Marshal(rd.Checked)
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var sealed []byte
		if rv != nil {
			b, err := json.Marshal(rv)
			if err != nil {
				return err
			}
			if sealed, err = s.cfg.Vault.Seal(ctx, tx, subjectOf(ss.TenantID, ss.subject), sessionAAD(ss.ID, "first-approval"), b); err != nil {
				return err
			}
		}
		if err := s.setClaim(ctx, tx, ss, "", time.Time{}); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO ekyc_review_approvals (session_id, tenant_id, staff_id, approved_at, note, reasons, checked, claims)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, ss.ID, ss.TenantID, st.ID, store.Micros(s.now()), rd.Note, string(reasons), string(checked), sealed); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("%w: another reviewer approved first", ErrClaimed)
			}
			return err
		}
		return s.record(ctx, tx, st.actor(), ss.TenantID, "ekyc.review.approve_first", ss.ID, audit.OutcomeOK,
			map[string]string{"reasons": strings.Join(rd.Reasons, ",")})
	})
	if err != nil {
		return nil, err
	}
	return ss, nil
}

// firstApproval returns the session's first approval, nil if none.
func (s *Service) firstApproval(ctx context.Context, q rowQuerier, id string) (*FirstApproval, error) {
	fa, _, err := s.firstApprovalClaims(ctx, q, id)
	return fa, err
}

func (s *Service) firstApprovalClaims(ctx context.Context, q rowQuerier, id string) (*FirstApproval, []byte, error) {
	var (
		fa      FirstApproval
		at      int64
		reasons string
		sealed  []byte
	)
	err := q.QueryRow(ctx, `SELECT staff_id, approved_at, note, reasons, claims FROM ekyc_review_approvals WHERE session_id = ?`, id).
		Scan(&fa.StaffID, &at, &fa.Note, &reasons, &sealed)
	if isNotFound(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	fa.At = store.FromMicros(at)
	if err := json.Unmarshal([]byte(reasons), &fa.Reasons); err != nil {
		return nil, nil, fmt.Errorf("ekyc: stored first approval unreadable: %w", err)
	}
	return &fa, sealed, nil
}

// checkReviewedClaims requires the 本人特定事項 (name, birthdate, address)
// and the document type, in bounded sizes.
func checkReviewedClaims(c map[string]any, d *document.IDADocumentDetails) error {
	bad := fmt.Errorf("%w: approving ホ needs claims name (or family_name and given_name), birthdate (YYYY-MM-DD) and address, and document.type", ErrInvalidInput)
	if d == nil || d.Type == "" || len(c) == 0 || len(c) > 16 {
		return bad
	}
	str := func(k string) string { v, _ := c[k].(string); return v }
	if str("name") == "" && (str("family_name") == "" || str("given_name") == "") {
		return bad
	}
	if _, err := time.Parse(time.DateOnly, str("birthdate")); err != nil {
		return bad
	}
	if _, ok := c["address"].(map[string]any); !ok {
		return bad
	}
	switch d.Type {
	case "driving_permit", "idcard", "residence_permit", "passport":
	default:
		return bad
	}
	if d.Type == "idcard" && d.DocumentNumber != "" {
		return fmt.Errorf("%w: never record a My Number card's number", ErrMyNumber)
	}
	return nil
}
