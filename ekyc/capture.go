package ekyc

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/blob"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// FrameKind names what a frame shows.
type FrameKind string

// Frame kinds: the ID document's front, back and a tilted frame showing its
// thickness (ホ), and selfie frames (ホ and ヘ).
const (
	FrameDocFront FrameKind = "doc_front"
	FrameDocBack  FrameKind = "doc_back"
	FrameDocTilt  FrameKind = "doc_tilt"
	FrameSelfie   FrameKind = "selfie"
)

// Capture limits.
const (
	MaxImageBytes = 2 << 20 // one encoded frame
	MaxImageSide  = 4096    // pixels
	MaxFrames     = 40      // per session
	// FrameSkew is the clock tolerance on a frame's capture time: the page
	// corrects its clock from the server's Date header (whole seconds).
	FrameSkew = 5 * time.Second
	// SourceCamera is the only accepted frame source.
	SourceCamera = "camera"
)

// CaptureStart is what the capture page receives when it redeems the
// one-time capture token. Key is the page's capture key: it authenticates
// the page's later requests and MACs every frame (FrameMAC). FrameNonce is
// the nonce the next frame must carry; each accepted frame returns a new one.
type CaptureStart struct {
	SessionID  string
	Method     string
	Locale     string
	Challenge  []Step
	Needs      []FrameKind
	Key        string
	FrameNonce string
	ExpiresAt  time.Time
}

// Frame is one captured image with its binding. CapturedAt has millisecond
// precision. MAC is FrameMAC under the capture key.
type Frame struct {
	Kind       FrameKind
	Seq        int
	Nonce      string
	CapturedAt time.Time
	Source     string
	Image      []byte
	MAC        string
}

// FrameMAC computes a frame's binding: HMAC-SHA256 under the raw capture
// key over
//
//	"madoguchi-frame-v1" LF session LF kind LF seq LF nonce LF
//	captured_at (Unix ms) LF source LF hex(SHA-256(image))
//
// The MAC proves the frame was produced by the page holding this session's
// key after the server issued nonce; the single-use nonce chain orders the
// frames and refuses replays. It does not prove camera provenance against a
// compromised device: that needs platform attestation (not implemented).
func FrameMAC(key []byte, sessionID string, f *Frame) []byte {
	sum := sha256.Sum256(f.Image)
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "madoguchi-frame-v1\n%s\n%s\n%d\n%s\n%d\n%s\n%s", sessionID, f.Kind, f.Seq, f.Nonce,
		f.CapturedAt.UnixMilli(), f.Source, hex.EncodeToString(sum[:]))
	return m.Sum(nil)
}

func needs(m Method) []FrameKind {
	var out []FrameKind
	if m.NeedsDocumentImages {
		out = append(out, FrameDocFront, FrameDocBack, FrameDocTilt)
	}
	if m.NeedsSelfie {
		out = append(out, FrameSelfie)
	}
	return out
}

func decodeToken(tok string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) != tokenBytes {
		return nil, ErrToken
	}
	return b, nil
}

// StartCapture redeems a capture token once: the session moves from created
// to capturing and the page gets its capture key and first frame nonce. A
// used, unknown or expired token is refused.
func (s *Service) StartCapture(ctx context.Context, token string) (*CaptureStart, error) {
	raw, err := decodeToken(token)
	if err != nil {
		return nil, err
	}
	th := sha256.Sum256(raw)
	ss, err := scanSession(s.db.QueryRow(ctx, `SELECT `+sessionCols+` FROM ekyc_sessions WHERE token_hash = ?`, th[:]))
	if errors.Is(err, ErrNotFound) {
		return nil, ErrToken
	} else if err != nil {
		return nil, err
	}
	if ss.tokenUsed || ss.State != StateCreated {
		s.deny(ctx, ss, "ekyc.capture.start", "token_reused")
		return nil, fmt.Errorf("%w: the capture link was already used", ErrToken)
	}
	if expired, err := s.expireIfDue(ctx, ss); err != nil || expired {
		return nil, errOr(err, ErrExpired)
	}
	if !s.now().Before(ss.tokenExpires) {
		s.deny(ctx, ss, "ekyc.capture.start", "token_expired")
		return nil, fmt.Errorf("%w: the capture link has expired", ErrExpired)
	}
	key, err := s.random(tokenBytes)
	if err != nil {
		return nil, err
	}
	nonce, err := s.random(16)
	if err != nil {
		return nil, err
	}
	kh := sha256.Sum256(key)
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		return s.move(ctx, tx, ss, StateCapturing, OutcomeNone, Actor{Kind: audit.ActorSystem, ID: "capture-page"},
			"ekyc.capture.start", nil, "token_used = 1, key_hash = ?, frame_nonce = ?, frame_nonce_at = ?, capture_started_at = ?",
			kh[:], nonce, store.Micros(s.now()), store.Micros(s.now()))
	})
	if err != nil {
		return nil, err
	}
	if err := s.observeNetwork(ctx, ss); err != nil {
		return nil, err
	}
	return &CaptureStart{
		SessionID: ss.ID, Method: ss.Method.API, Locale: ss.Locale, Challenge: ss.Challenge, Needs: needs(ss.Method),
		Key: b64(key), FrameNonce: b64(nonce), ExpiresAt: ss.ExpiresAt,
	}, nil
}

// deny records a refused capture attempt (its own transaction; best effort
// is not acceptable for audit, so a failure is logged loudly).
func (s *Service) deny(ctx context.Context, ss *Session, action, reason string) {
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		return s.record(ctx, tx, Actor{Kind: audit.ActorSystem, ID: "capture-page"}, ss.TenantID, action, ss.ID,
			audit.OutcomeDenied, map[string]string{"reason": reason})
	})
	if err != nil {
		s.log.ErrorContext(ctx, "ekyc: audit of a refused capture failed", "session", ss.ID, "err", err)
	}
}

// sessionByKey finds the session a capture key belongs to: the capture
// page's own key, or a key a ワ hand-off gave a second device.
func (s *Service) sessionByKey(ctx context.Context, key string) (*Session, []byte, error) {
	ss, raw, _, err := s.sessionByAnyKey(ctx, key)
	return ss, raw, err
}

// sessionByAnyKey is sessionByKey that also reports whether key is a
// hand-off device's key (handoff.go). A device key works only while the
// page's own key does: expiry, cancellation and closing clear the page's
// key_hash, and with it every device's access.
func (s *Service) sessionByAnyKey(ctx context.Context, key string) (*Session, []byte, bool, error) {
	raw, err := decodeToken(key)
	if err != nil {
		return nil, nil, false, err
	}
	kh := sha256.Sum256(raw)
	ss, err := scanSession(s.db.QueryRow(ctx, `SELECT `+sessionCols+` FROM ekyc_sessions WHERE key_hash = ?`, kh[:]))
	if !errors.Is(err, ErrNotFound) {
		return ss, raw, false, err
	}
	ss, err = scanSession(s.db.QueryRow(ctx, `SELECT `+sessionCols+` FROM ekyc_sessions
		WHERE key_hash IS NOT NULL AND id = (SELECT session_id FROM ekyc_handoffs WHERE key_hash = ?)`, kh[:]))
	if errors.Is(err, ErrNotFound) {
		return nil, nil, false, ErrToken
	}
	return ss, raw, true, err
}

// CaptureSession returns the session of a capture key (for the page).
func (s *Service) CaptureSession(ctx context.Context, key string) (*Session, error) {
	ss, _, err := s.sessionByKey(ctx, key)
	return ss, err
}

// CancelCapture lets the customer end their own session from the capture
// page holding key, before anything was submitted: the session becomes
// cancelled, the page's key and with it every hand-off device's key stop
// working, and the tenant sees the state (and the audit entry, actor
// "capture-page", details by=customer) as with its own cancellation.
// Only the page's own key cancels: a device that received the session by
// a ワ hand-off — possibly someone who photographed the page's QR code —
// cannot end the customer's session. Refused: a device key (ErrToken,
// audited as a denial), a session past capturing (ErrState) or expired
// (ErrExpired).
func (s *Service) CancelCapture(ctx context.Context, key string) (*Session, error) {
	ss, _, device, err := s.sessionByAnyKey(ctx, key)
	if err != nil {
		return nil, err
	}
	const action = "ekyc.session.cancel"
	if device {
		s.deny(ctx, ss, action, "handoff_device")
		return nil, fmt.Errorf("%w: only the capture page that started the session can cancel it", ErrToken)
	}
	if expired, err := s.expireIfDue(ctx, ss); err != nil || expired {
		return ss, errOr(err, ErrExpired)
	}
	if ss.State != StateCreated && ss.State != StateCapturing {
		return nil, fmt.Errorf("%w: the session was already submitted or ended", ErrState)
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		return s.move(ctx, tx, ss, StateCancelled, OutcomeNone, Actor{Kind: audit.ActorSystem, ID: "capture-page"}, action,
			map[string]string{"by": "customer"}, "key_hash = NULL")
	})
	if err != nil {
		return nil, err
	}
	return ss, nil
}

// AddFrame accepts one frame from the capture page holding key, and returns
// the nonce for the next frame. It refuses (and audits) frames that are not
// from the camera, out of sequence, carrying a stale or foreign nonce, not
// MAC-bound to this session, outside the nonce's time window, repeated, too
// large or not a JPEG/PNG image.
func (s *Service) AddFrame(ctx context.Context, key string, f Frame) (string, error) {
	ss, rawKey, err := s.sessionByKey(ctx, key)
	if err != nil {
		return "", err
	}
	if expired, err := s.expireIfDue(ctx, ss); err != nil || expired {
		return "", errOr(err, ErrExpired)
	}
	if ss.State != StateCapturing {
		return "", fmt.Errorf("%w: frames are accepted only while capturing", ErrState)
	}
	allowed := false
	for _, k := range needs(ss.Method) {
		allowed = allowed || k == f.Kind
	}
	if !allowed {
		return "", fmt.Errorf("%w: frame kind not used by this method", ErrInvalidInput)
	}
	if len(f.Image) == 0 || len(f.Image) > MaxImageBytes {
		return "", fmt.Errorf("%w: an image must be 1-%d bytes", ErrTooLarge, MaxImageBytes)
	}
	if ss.frameSeq >= MaxFrames {
		return "", fmt.Errorf("%w: at most %d frames per session", ErrTooLarge, MaxFrames)
	}
	refuse := func(reason string, err error) (string, error) {
		s.deny(ctx, ss, "ekyc.frame.add", reason)
		return "", err
	}
	if f.Source != SourceCamera {
		return refuse("not_camera", ErrUploadedFile)
	}
	if f.Seq != ss.frameSeq+1 || f.Nonce != b64(ss.frameNonce) {
		return refuse("stale_nonce", fmt.Errorf("%w: stale or foreign frame nonce", ErrReplay))
	}
	mac, err := base64.RawURLEncoding.DecodeString(f.MAC)
	if err != nil || !hmac.Equal(mac, FrameMAC(rawKey, ss.ID, &f)) {
		return refuse("mac", ErrBinding)
	}
	// Timestamps: after capture started, not in the future, in order. The
	// nonce chain (inside the MAC) is what proves each frame is fresh; a
	// burst may be shot before the previous frame's upload returned.
	now := s.now()
	var started, last int64
	if err := s.db.QueryRow(ctx, `SELECT capture_started_at, COALESCE((SELECT MAX(captured_at) FROM ekyc_frames WHERE session_id = ?), 0)
		FROM ekyc_sessions WHERE id = ?`, ss.ID, ss.ID).Scan(&started, &last); err != nil {
		return "", err
	}
	if f.CapturedAt.Before(store.FromMicros(started).Add(-FrameSkew)) || f.CapturedAt.After(now.Add(FrameSkew)) {
		return refuse("time_window", fmt.Errorf("%w: capture time outside the session's capture window", ErrBinding))
	}
	if store.Micros(f.CapturedAt) < last {
		return refuse("time_order", fmt.Errorf("%w: frames must be captured in order", ErrBinding))
	}
	if err := checkImage(f.Image); err != nil {
		return "", err
	}
	sum := sha256.Sum256(f.Image)
	digest := hex.EncodeToString(sum[:])
	var dup int
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM ekyc_frames WHERE session_id = ? AND sha256 = ?`, ss.ID, digest).Scan(&dup); err != nil {
		return "", err
	}
	if dup > 0 {
		return refuse("duplicate_image", fmt.Errorf("%w: this image was already submitted", ErrReplay))
	}
	subj := subjectOf(ss.TenantID, ss.subject)
	ref, err := s.cfg.Vault.SealBlob(ctx, subj, frameAAD(ss.ID, f.Seq), f.Image)
	if err != nil {
		return "", err
	}
	next, err := s.random(16)
	if err != nil {
		return "", err
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE ekyc_sessions SET frame_seq = ?, frame_nonce = ?, frame_nonce_at = ?, updated_at = ?
			WHERE id = ? AND state = 'capturing' AND frame_seq = ?`, f.Seq, next, store.Micros(now), store.Micros(now), ss.ID, f.Seq-1)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("%w: frame raced another frame or a state change", ErrReplay)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO ekyc_frames (session_id, seq, tenant_id, kind, sha256, blob_ref, size, captured_at, received_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, ss.ID, f.Seq, ss.TenantID, f.Kind, digest, ref.String(), len(f.Image),
			store.Micros(f.CapturedAt), store.Micros(now)); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("%w: this image was already submitted", ErrReplay)
			}
			return err
		}
		if err := s.cfg.Blobs.Attach(ctx, tx, ref, ss.TenantID, ss.ID); err != nil {
			return err
		}
		return s.record(ctx, tx, Actor{Kind: audit.ActorSystem, ID: "capture-page"}, ss.TenantID, "ekyc.frame.add", ss.ID,
			audit.OutcomeOK, map[string]string{"kind": string(f.Kind), "seq": strconv.Itoa(f.Seq)})
	})
	if err != nil {
		return "", err
	}
	return b64(next), nil
}

func frameAAD(session string, seq int) []byte {
	return vault.AAD("ekyc.frame", session, strconv.Itoa(seq))
}

type frameRow struct {
	Seq        int
	Kind       FrameKind
	SHA256     string
	Ref        blob.Ref
	CapturedAt time.Time
	ReceivedAt time.Time
}

// querier is *store.DB or *store.Tx. Code running inside a transaction
// must read through the transaction, never s.db: a second connection per
// transaction exhausts the pool under load and deadlocks.
type querier interface {
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) *store.Row
}

func (s *Service) frames(ctx context.Context, q querier, session string) ([]frameRow, error) {
	rows, err := q.Query(ctx, `SELECT seq, kind, sha256, blob_ref, captured_at, received_at FROM ekyc_frames
		WHERE session_id = ? ORDER BY seq`, session)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []frameRow
	for rows.Next() {
		var (
			fr       frameRow
			kind, rf string
			cat, rat int64
		)
		if err := rows.Scan(&fr.Seq, &kind, &fr.SHA256, &rf, &cat, &rat); err != nil {
			return nil, err
		}
		if fr.Ref, err = blob.ParseRef(rf); err != nil {
			return nil, err
		}
		fr.Kind, fr.CapturedAt, fr.ReceivedAt = FrameKind(kind), store.FromMicros(cat), store.FromMicros(rat)
		out = append(out, fr)
	}
	return out, rows.Err()
}
