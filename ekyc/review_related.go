package ekyc

// Related sessions for the reviewer: a fraud reason (a duplicate face, a
// reused document, velocity) names other sessions of the same tenant; the
// reviewer holding the claim on the session under review may open those
// sessions' evidence, to compare the two.
//
// Invariants:
//   - Only a session named in a reason of the claimed session's decision
//     can be opened, and only within the claimed session's tenant (another
//     tenant's is ErrNotFound, like a missing one).
//   - Every view is audited in the read's transaction, on the related
//     session, naming the session under review (action
//     ekyc.review.view_related, _frame, _chip_photo).

import (
	"context"
	"slices"
	"strconv"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
)

// related returns the session other if the claimed session id names it in
// a reason; the claimed session is returned too.
func (s *Service) related(ctx context.Context, tx *store.Tx, st Staff, id, other string) (*Session, *Session, error) {
	ss, err := s.holds(ctx, tx, st, id)
	if err != nil {
		return nil, nil, err
	}
	named := false
	if ss.Decision != nil {
		for _, r := range ss.Decision.Reasons {
			named = named || slices.Contains(r.Sessions, other)
		}
	}
	if !named || other == ss.ID {
		return nil, nil, ErrNotFound
	}
	o, err := getSession(ctx, tx, ss.TenantID, other)
	if err != nil {
		return nil, nil, err
	}
	return ss, o, nil
}

// RelatedEvidence returns the evidence of a session named by a reason of
// the claimed session id (see the file comment).
func (s *Service) RelatedEvidence(ctx context.Context, st Staff, id, other string) (*EvidenceView, error) {
	var v *EvidenceView
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		ss, o, err := s.related(ctx, tx, st, id, other)
		if err != nil {
			return err
		}
		frs, err := s.frames(ctx, tx, o.ID)
		if err != nil {
			return err
		}
		v = &EvidenceView{SessionID: o.ID, Method: o.Method, Decision: o.Decision, Frames: []FrameInfo{}}
		for _, f := range frs {
			v.Frames = append(v.Frames, FrameInfo{Seq: f.Seq, Kind: f.Kind, SHA256: f.SHA256, CapturedAt: f.CapturedAt})
		}
		if o.Method.NeedsChip {
			if v.Chip, _, err = s.chip(ctx, tx, o); err != nil {
				return err
			}
		}
		return s.record(ctx, tx, st.actor(), o.TenantID, "ekyc.review.view_related", o.ID, audit.OutcomeOK,
			map[string]string{"under_review": ss.ID})
	})
	return v, err
}

// RelatedFrameImage returns one frame of a related session (audited).
func (s *Service) RelatedFrameImage(ctx context.Context, st Staff, id, other string, seq int) ([]byte, error) {
	var img []byte
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		ss, o, err := s.related(ctx, tx, st, id, other)
		if err != nil {
			return err
		}
		frs, err := s.frames(ctx, tx, o.ID)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(frs, func(f frameRow) bool { return f.Seq == seq })
		if i < 0 {
			return ErrNotFound
		}
		if img, err = s.cfg.Vault.OpenBlob(ctx, tx, subjectOf(o.TenantID, o.subject), frameAAD(o.ID, seq), frs[i].Ref); err != nil {
			return err
		}
		return s.record(ctx, tx, st.actor(), o.TenantID, "ekyc.review.view_related_frame", o.ID, audit.OutcomeOK,
			map[string]string{"under_review": ss.ID, "seq": strconv.Itoa(seq)})
	})
	return img, err
}

// RelatedChipPhoto returns the chip portrait of a related session
// (audited); ErrNotFound if there is none.
func (s *Service) RelatedChipPhoto(ctx context.Context, st Staff, id, other string) ([]byte, string, error) {
	var (
		img    []byte
		format string
	)
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		ss, o, err := s.related(ctx, tx, st, id, other)
		if err != nil {
			return err
		}
		if !o.Method.NeedsChip {
			return ErrNotFound
		}
		cr, ref, err := s.chip(ctx, tx, o)
		if err != nil {
			return err
		}
		if cr == nil || ref.IsZero() {
			return ErrNotFound
		}
		if img, err = s.cfg.Vault.OpenBlob(ctx, tx, subjectOf(o.TenantID, o.subject), chipAAD(o.ID, "photo"), ref); err != nil {
			return err
		}
		format = cr.PhotoFormat
		return s.record(ctx, tx, st.actor(), o.TenantID, "ekyc.review.view_related_chip_photo", o.ID, audit.OutcomeOK,
			map[string]string{"under_review": ss.ID})
	})
	return img, format, err
}
