package ekyc

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/imaging"
	"github.com/madoguchi/madoguchi/store"
)

// RoleReviewer is the staff role allowed to review (目視審査).
const RoleReviewer = "reviewer"

// Staff is an authenticated staff member (from the staff package's session
// authentication), with their roles.
type Staff struct {
	ID        string
	Roles     []string
	RequestID string
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

// Pending is one session waiting for review (no personal data).
type Pending struct {
	SessionID    string
	TenantID     string
	Method       string
	DecidedAt    time.Time
	Reasons      []Reason
	ClaimedBy    string // "" if unclaimed or the claim has lapsed
	ClaimExpires time.Time
}

// ListPending lists sessions in decided(review), oldest first.
func (s *Service) ListPending(ctx context.Context, st Staff, limit int) ([]Pending, error) {
	if err := st.check(); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	rows, err := s.db.Query(ctx, `SELECT `+sessionCols+` FROM ekyc_sessions WHERE state = 'decided' AND outcome = 'review'
		ORDER BY decided_at LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	now := s.now()
	out := []Pending{}
	for rows.Next() {
		ss, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		p := Pending{SessionID: ss.ID, TenantID: ss.TenantID, Method: ss.Method.API, DecidedAt: ss.DecidedAt}
		if ss.Decision != nil {
			p.Reasons = ss.Decision.Reasons
		}
		if ss.reviewer != "" && now.Before(ss.claimExpires) {
			p.ClaimedBy, p.ClaimExpires = ss.reviewer, ss.claimExpires
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func (s *Service) reviewSession(ctx context.Context, q rowQuerier, id string) (*Session, error) {
	if id == "" || len(id) > 64 {
		return nil, ErrNotFound
	}
	return scanSession(q.QueryRow(ctx, `SELECT `+sessionCols+` FROM ekyc_sessions WHERE id = ?`, id))
}

// Claim gives st the session for ClaimTTL (renewable by the same reviewer).
// A live claim by someone else is ErrClaimed; a lapsed one can be taken.
func (s *Service) Claim(ctx context.Context, st Staff, id string) (time.Time, error) {
	if err := st.check(); err != nil {
		return time.Time{}, err
	}
	var until time.Time
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		ss, err := s.reviewSession(ctx, tx, id)
		if err != nil {
			return err
		}
		if ss.State != StateDecided || ss.Outcome != OutcomeReview {
			return fmt.Errorf("%w: the session is not waiting for review", ErrState)
		}
		now := s.now()
		if ss.reviewer != "" && ss.reviewer != st.ID && now.Before(ss.claimExpires) {
			return ErrClaimed
		}
		until = now.Add(s.cfg.ClaimTTL)
		res, err := tx.Exec(ctx, `UPDATE ekyc_sessions SET reviewer = ?, claim_expires = ?, updated_at = ?
			WHERE id = ? AND version = ? AND reviewer = ?`, st.ID, store.Micros(until), store.Micros(now), ss.ID, ss.Version, ss.reviewer)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrClaimed
		}
		return s.record(ctx, tx, st.actor(), ss.TenantID, "ekyc.review.claim", ss.ID, audit.OutcomeOK,
			map[string]string{"until": until.Format(time.RFC3339)})
	})
	return until, err
}

// holds loads the session and checks st holds a live claim on it.
func (s *Service) holds(ctx context.Context, q rowQuerier, st Staff, id string) (*Session, error) {
	if err := st.check(); err != nil {
		return nil, err
	}
	ss, err := s.reviewSession(ctx, q, id)
	if err != nil {
		return nil, err
	}
	if ss.State != StateDecided || ss.Outcome != OutcomeReview {
		return nil, fmt.Errorf("%w: the session is not waiting for review", ErrState)
	}
	if ss.reviewer != st.ID || !s.now().Before(ss.claimExpires) {
		return nil, fmt.Errorf("%w: claim the session first (claims lapse after %s)", ErrClaimed, s.cfg.ClaimTTL)
	}
	return ss, nil
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
	// establish that they do not (imaging.HumanReview), for every ホ session.
	Documents *imaging.SetReport
	Checklist []string
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
		v = &EvidenceView{SessionID: ss.ID, Method: ss.Method, Decision: ss.Decision, Frames: []FrameInfo{}}
		if ss.Method.NeedsDocumentImages {
			v.Checklist = imaging.HumanReview()
			if ss.Decision != nil {
				v.Documents = ss.Decision.Documents
			}
		}
		for _, f := range frs {
			v.Frames = append(v.Frames, FrameInfo{Seq: f.Seq, Kind: f.Kind, SHA256: f.SHA256, CapturedAt: f.CapturedAt})
		}
		if ss.Method.NeedsChip {
			if v.Chip, _, err = s.chip(ctx, tx, ss); err != nil {
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

// ReviewDecision is a reviewer's verdict. Note is a short reason code or
// sentence without personal data. For ホ an approval carries what the
// reviewer read off the document images (Claims and Document); for ヘ the
// chip's signed attributes are used.
type ReviewDecision struct {
	Approve  bool
	Note     string
	Claims   map[string]any
	Document *document.IDADocumentDetails
}

// MaxNoteLen bounds a reviewer's note.
const MaxNoteLen = 500

// Decide records a reviewer's verdict (decided(review) -> decided(approved
// or rejected)), with the record and webhook for the final outcome.
func (s *Service) Decide(ctx context.Context, st Staff, id string, rd ReviewDecision) (*Session, error) {
	if rd.Note == "" || len(rd.Note) > MaxNoteLen || !printable(rd.Note) {
		return nil, fmt.Errorf("%w: a note of 1-%d printable characters is required", ErrInvalidInput, MaxNoteLen)
	}
	ss, err := s.holds(ctx, s.db, st, id)
	if err != nil {
		return nil, err
	}
	var rv *Reviewed
	if rd.Approve && ss.Method.NeedsDocumentImages {
		if err := checkReviewedClaims(rd.Claims, rd.Document); err != nil {
			return nil, err
		}
		rv = &Reviewed{Claims: rd.Claims, Document: rd.Document}
	}
	auto := *ss.Decision
	auto.Automated = nil
	d := &Decision{
		Outcome: OutcomeRejected, Reasons: auto.Reasons, Scores: auto.Scores, Thresholds: auto.Thresholds,
		Models: auto.Models, Challenge: auto.Challenge, Liveness: auto.Liveness, PolicyVersion: auto.PolicyVersion,
		DecidedAt: s.now(), DecidedBy: "staff:" + st.ID, Automated: &auto, ReviewNote: rd.Note, Documents: auto.Documents,
	}
	if rd.Approve {
		d.Outcome = OutcomeApproved
	}
	if err := s.commitDecision(ctx, ss, d, st.actor(), rv); err != nil {
		return nil, err
	}
	return s.reviewSession(ctx, s.db, id)
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
