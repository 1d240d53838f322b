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

import "context"

// CaptureState returns the session of a capture key, moved to expired
// first if its time is up.
func (s *Service) CaptureState(ctx context.Context, key string) (*Session, error) {
	ss, _, err := s.sessionByKey(ctx, key)
	if err != nil {
		return nil, err
	}
	if _, err := s.expireIfDue(ctx, ss); err != nil {
		return nil, err
	}
	return ss, nil
}
