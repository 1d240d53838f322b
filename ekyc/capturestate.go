package ekyc

// What the capture page may learn, and the hand-off of method ワ.
//
// Invariants:
//   - The holder of a capture key learns its session's state and, once
//     decided, the outcome (approved, rejected, review), never reasons,
//     scores or claims; the page shows only what the server recorded.
//   - A browser cannot sign with the My Number card: a ワ session is
//     completed by the smartphone JPKI app or by the kiosk's reader
//     (device API, by session id). The generic capture submit never
//     decides a ワ session (ErrIncomplete until a signature arrives).
//   - The hand-off link (and its QR code) never carries the capture key:
//     it carries a one-time hand-off token (handoff.go), issued only to
//     the page's own key for a ワ session that is capturing, random
//     (256 bits), stored only as its SHA-256, bound to that one session,
//     valid for the policy's HandoffTTL and redeemed at most once; a new
//     token supersedes the unredeemed one before it. Redeeming gives the
//     device its own capture key for the same session, which dies with
//     the page's key (expiry, cancellation, closing) and cannot hand the
//     session on. Every issue and redeem, and every refused redeem of a
//     known token, is audited without the token or the key.
//   - The page learns, from its next state, that its current hand-off
//     link was redeemed and when (the stored redeemed_at), never anything
//     about the device that redeemed it. Only the page's own key learns
//     it; a device key does not. A link superseded before it was redeemed
//     was never used, and a fresh link is the page's current one until it
//     is redeemed in turn.

import (
	"context"
	"database/sql"
	"time"

	"github.com/madoguchi/madoguchi/store"
)

// CaptureStatus is what the holder of a capture key learns of its session.
type CaptureStatus struct {
	*Session
	// Handoff is set only for the page's own key of a ワ session.
	Handoff *HandoffStatus
}

// HandoffStatus says whether the page's current hand-off link (the one it
// was issued last) was redeemed, and when, as the server recorded it.
type HandoffStatus struct {
	Redeemed   bool
	RedeemedAt time.Time // zero unless Redeemed
}

// CaptureState returns the session of a capture key, moved to expired
// first if its time is up, and for the page's own key of a ワ session
// whether its current hand-off link was redeemed.
func (s *Service) CaptureState(ctx context.Context, key string) (*CaptureStatus, error) {
	ss, _, device, err := s.sessionByAnyKey(ctx, key)
	if err != nil {
		return nil, err
	}
	if _, err := s.expireIfDue(ctx, ss); err != nil {
		return nil, err
	}
	out := &CaptureStatus{Session: ss}
	if ss.Method.NeedsSignature && !device {
		if out.Handoff, err = s.handoffStatus(ctx, ss); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// handoffStatus reads the session's current hand-off link: the one
// unredeemed token if there is one (the partial unique index
// ekyc_handoffs_issued keeps it single and finds it), otherwise the token
// redeemed last. A superseded token is never current: a newer one replaced
// it. No token at all is "not redeemed". The state literals match the
// index's predicate so that both stores use it.
func (s *Service) handoffStatus(ctx context.Context, ss *Session) (*HandoffStatus, error) {
	var issued int
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM ekyc_handoffs WHERE session_id = ? AND tenant_id = ? AND state = 'issued'`, ss.ID, ss.TenantID).
		Scan(&issued); err != nil {
		return nil, err
	}
	if issued > 0 {
		return &HandoffStatus{}, nil
	}
	var redeemed sql.NullInt64
	if err := s.db.QueryRow(ctx, `SELECT MAX(redeemed_at) FROM ekyc_handoffs WHERE session_id = ? AND tenant_id = ? AND state = 'redeemed'`,
		ss.ID, ss.TenantID).Scan(&redeemed); err != nil {
		return nil, err
	}
	if !redeemed.Valid {
		return &HandoffStatus{}, nil
	}
	return &HandoffStatus{Redeemed: true, RedeemedAt: store.FromMicros(redeemed.Int64)}, nil
}
