package ekyc

// What the capture page may learn, and the hand-off of method ワ.
//
// Invariants:
//   - The holder of a capture key learns its session's state and, once
//     decided, the outcome (approved, rejected, review), never reasons,
//     scores or claims; the page shows only what the server recorded.
//   - A browser cannot sign with the My Number card: a ワ session is
//     completed by the smartphone JPKI app (which receives the capture key
//     in the hand-off link's fragment, as the page received its token) or
//     by the kiosk's reader (device API, by session id). The generic
//     capture submit never decides a ワ session (ErrIncomplete until a
//     signature arrives).

import (
	"context"
	"fmt"
)

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

// HandoffLink is the link that hands a ワ session from the capture page to
// the smartphone JPKI app: the capture page's URL with the capture key in
// the fragment (never sent to a server; the app claims the link and signs
// through the capture API). Only for a ワ session that is capturing.
func (s *Service) HandoffLink(ctx context.Context, key string) (string, *Session, error) {
	ss, err := s.CaptureState(ctx, key)
	if err != nil {
		return "", nil, err
	}
	if !ss.Method.NeedsSignature {
		return "", nil, fmt.Errorf("%w: only a JPKI (wa) session is handed off", ErrState)
	}
	if ss.State != StateCapturing {
		return "", nil, fmt.Errorf("%w: the session is no longer waiting for a signature", ErrState)
	}
	return s.cfg.PublicURL + "/ekyc/capture#k=" + key, ss, nil
}
