package ekyc

// The ワ hand-off: a one-time token that moves a session from the capture
// page to a second device (the smartphone JPKI app) without showing the
// page's capture key on screen. See the invariants in capturestate.go.

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
)

// Hand-off token states (ekyc_handoffs.state).
const (
	handoffIssued     = "issued"
	handoffRedeemed   = "redeemed"
	handoffSuperseded = "superseded"
)

// Handoff is a freshly issued hand-off link: the capture page's URL with
// the one-time token in the fragment (#h=), never the capture key.
type Handoff struct {
	Link      string
	ExpiresAt time.Time
	Session   *Session
}

// IssueHandoff issues a one-time hand-off token for the ワ session of the
// capture page holding key, while the session is capturing. The token is
// random (256 bits), stored only as its SHA-256, expires after the
// policy's HandoffTTL (never after the session) and supersedes the
// session's earlier unredeemed token. Only the page's own key issues one:
// a device that redeemed a hand-off cannot hand the session on.
func (s *Service) IssueHandoff(ctx context.Context, key string) (*Handoff, error) {
	ss, _, device, err := s.sessionByAnyKey(ctx, key)
	if err != nil {
		return nil, err
	}
	if expired, err := s.expireIfDue(ctx, ss); err != nil || expired {
		return nil, errOr(err, ErrExpired)
	}
	switch {
	case !ss.Method.NeedsSignature:
		return nil, fmt.Errorf("%w: only a JPKI (wa) session is handed off", ErrState)
	case ss.State != StateCapturing:
		return nil, fmt.Errorf("%w: the session is no longer waiting for a signature", ErrState)
	case device:
		return nil, fmt.Errorf("%w: a device that received the session by hand-off cannot hand it on", ErrState)
	}
	pol, _, err := s.Policy(ctx, ss.TenantID)
	if err != nil {
		return nil, err
	}
	tok, err := s.random(tokenBytes)
	if err != nil {
		return nil, err
	}
	th := sha256.Sum256(tok)
	now := s.now()
	exp := now.Add(pol.HandoffTTL())
	if exp.After(ss.ExpiresAt) {
		exp = ss.ExpiresAt
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := lockCapturing(ctx, tx, ss); err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `UPDATE ekyc_handoffs SET state = ? WHERE session_id = ? AND state = ?`,
			handoffSuperseded, ss.ID, handoffIssued)
		if err != nil {
			return err
		}
		superseded, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO ekyc_handoffs (token_hash, session_id, tenant_id, state, issued_at, expires_at, redeemed_at, key_hash)
			VALUES (?, ?, ?, ?, ?, ?, 0, NULL)`, th[:], ss.ID, ss.TenantID, handoffIssued, store.Micros(now), store.Micros(exp)); err != nil {
			return err
		}
		return s.record(ctx, tx, Actor{Kind: audit.ActorSystem, ID: "capture-page"}, ss.TenantID, "ekyc.handoff.issue", ss.ID,
			audit.OutcomeOK, map[string]string{"expires_at": exp.Format(time.RFC3339), "superseded": strconv.FormatInt(superseded, 10)})
	})
	if err != nil {
		return nil, err
	}
	return &Handoff{Link: s.cfg.PublicURL + "/ekyc/capture#h=" + b64(tok), ExpiresAt: exp, Session: ss}, nil
}

// RedeemHandoff redeems a hand-off token once and returns a capture key of
// the token's session for the device that redeemed it (CaptureStart with
// SessionID, Method, Locale, Key and ExpiresAt; no frame nonce: a ワ
// session takes no frames). The key works like the page's own: it follows
// the session's state and fetches and returns the JPKI challenges and
// signature. Refused: an unknown, used or superseded token (ErrToken), an
// expired one (ErrExpired), and one whose session is no longer capturing
// (ErrState). Of concurrent redeems of one token exactly one succeeds.
// Every redeem and every refusal of a known token is audited; the token
// and the key never are.
func (s *Service) RedeemHandoff(ctx context.Context, token string) (*CaptureStart, error) {
	raw, err := decodeToken(token)
	if err != nil {
		return nil, err
	}
	th := sha256.Sum256(raw)
	var (
		session, tenant, state string
		expires                int64
	)
	err = s.db.QueryRow(ctx, `SELECT session_id, tenant_id, state, expires_at FROM ekyc_handoffs WHERE token_hash = ?`, th[:]).
		Scan(&session, &tenant, &state, &expires)
	if isNotFound(err) {
		return nil, ErrToken
	} else if err != nil {
		return nil, err
	}
	ss, err := s.Get(ctx, tenant, session)
	if err != nil {
		return nil, err
	}
	const action = "ekyc.handoff.redeem"
	switch state {
	case handoffRedeemed:
		s.deny(ctx, ss, action, "token_reused")
		return nil, fmt.Errorf("%w: the hand-off link was already used", ErrToken)
	case handoffSuperseded:
		s.deny(ctx, ss, action, "token_superseded")
		return nil, fmt.Errorf("%w: a newer hand-off link replaced this one", ErrToken)
	}
	if expired, err := s.expireIfDue(ctx, ss); err != nil || expired {
		return nil, errOr(err, ErrExpired)
	}
	if ss.State != StateCapturing {
		s.deny(ctx, ss, action, "session_state")
		return nil, fmt.Errorf("%w: the session is no longer waiting for a signature", ErrState)
	}
	now := s.now()
	if !now.Before(store.FromMicros(expires)) {
		s.deny(ctx, ss, action, "token_expired")
		return nil, fmt.Errorf("%w: the hand-off link has expired", ErrExpired)
	}
	key, err := s.random(tokenBytes)
	if err != nil {
		return nil, err
	}
	kh := sha256.Sum256(key)
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := lockCapturing(ctx, tx, ss); err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `UPDATE ekyc_handoffs SET state = ?, redeemed_at = ?, key_hash = ?
			WHERE token_hash = ? AND state = ? AND expires_at > ?`,
			handoffRedeemed, store.Micros(now), kh[:], th[:], handoffIssued, store.Micros(now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return errHandoffRaced
		}
		return s.record(ctx, tx, Actor{Kind: audit.ActorSystem, ID: "handoff-device"}, ss.TenantID, action, ss.ID,
			audit.OutcomeOK, nil)
	})
	switch {
	case errors.Is(err, errHandoffRaced):
		// Another redeem (or a newer token) got there first.
		s.deny(ctx, ss, action, "token_reused")
		return nil, err
	case errors.Is(err, ErrState):
		// The session moved on (signed, cancelled) since it was read.
		s.deny(ctx, ss, action, "session_state")
		return nil, err
	case err != nil:
		return nil, err
	}
	return &CaptureStart{SessionID: ss.ID, Method: ss.Method.API, Locale: ss.Locale, Key: b64(key), ExpiresAt: ss.ExpiresAt}, nil
}

var errHandoffRaced = fmt.Errorf("%w: the hand-off link was already used", ErrToken)

// lockCapturing takes the session's row lock (PostgreSQL; SQLite holds the
// database's write lock) and checks that it is still capturing with a live
// capture key: issues and redeems of one session queue behind each other,
// and none lands after the session moved on.
func lockCapturing(ctx context.Context, tx *store.Tx, ss *Session) error {
	res, err := tx.Exec(ctx, `UPDATE ekyc_sessions SET updated_at = updated_at
		WHERE id = ? AND tenant_id = ? AND state = ? AND key_hash IS NOT NULL`, ss.ID, ss.TenantID, StateCapturing)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return fmt.Errorf("%w: the session is no longer waiting for a signature", ErrState)
	}
	return nil
}
