package txauth

// Face re-authentication: a live selfie with an active challenge, matched
// against the template enrolled from the customer's approved eKYC session.
//
//   - Enrolment (EnrollFace) opens the approved session's live selfie frames
//     through eKYC (audited), keeps the most frontal frame showing exactly
//     one face, and seals its template under the customer's subject:
//     shredding the subject shreds it with everything else.
//   - On the page (FaceStart, FaceFrame, FaceSubmit) the customer performs a
//     random challenge (turn left/right, blink) drawn like eKYC's; each frame
//     carries the single-use nonce the previous answer issued; frames are
//     sealed until the decision and deleted by it.
//   - The decision uses the tenant's eKYC policy (face-match threshold,
//     liveness rule, PAD, frame count) and the engine's calibration: every
//     frame one face, passive PAD above the threshold, the active challenge
//     passed (a still image cannot), the same person throughout, and the
//     best frame matching the template (the engine must say Match: an
//     uncalibrated engine cannot confirm, as nobody reviews in real time).
//     A failure names its reasons and lets the customer start again, until
//     the policy's Face.MaxFailures consecutive refusals lock the factor for
//     the customer (on the account, so re-enrolling a template does not lift
//     it); the tenant is warned one refusal before and told of the lock, an
//     alert is raised, and only two staff members unlock it after an
//     approved re-verification (RequestFaceUnlock, ApproveUnlock). Each
//     capture is decided once: concurrent submissions of it count once.

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // frame headers
	_ "image/png"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// FaceEngine analyses an encoded image and decides scores with its
// calibration (the server's face engine, as eKYC uses it).
type FaceEngine interface {
	AnalyzeImage(ctx context.Context, img []byte) ([]face.Face, error)
	Model() string
	Decide(s face.Score) (face.Decision, error)
}

// SelfieSource opens the approved session's selfie frames
// (*ekyc.Service).
type SelfieSource interface {
	CustomerSelfies(ctx context.Context, a ekyc.Actor, tenant, customerID string) ([][]byte, error)
}

// Face re-authentication limits.
const (
	MaxFaceFrames   = 24
	faceCaptureLife = 5 * time.Minute
)

// ErrBusy: the face engine is saturated; retry shortly (503).
var ErrBusy = errors.New("txauth: face engine busy")

// FaceError is a refused face re-authentication with its reasons
// (ekyc reason codes) and scores, and how many refusals are left before
// the factor locks for the customer (0 and Locked when it just locked).
type FaceError struct {
	Reasons      []string
	Scores       map[string]float64
	AttemptsLeft int
	Locked       bool
}

func (e *FaceError) Error() string {
	return "txauth: face re-authentication refused: " + strings.Join(e.Reasons, ",")
}

// Unwrap makes errors.Is(err, ErrFace) true.
func (e *FaceError) Unwrap() error { return ErrFace }

// ErrFace: the face re-authentication failed (see *FaceError).
var ErrFace = errors.New("txauth: face re-authentication refused")

type storedTemplate struct {
	Model  string    `json:"model"`
	Values []float32 `json:"values"`
}

func faceAAD(customer string) []byte { return vault.AAD("txauth.face", customer) }
func faceFrameAAD(conf string, seq int) []byte {
	return vault.AAD("txauth.face.frame", conf, fmt.Sprint(seq))
}

func (s *Service) faceAvailable(ctx context.Context, q rowQuerier, c *Confirmation) error {
	if s.cfg.Face == nil || s.cfg.Selfies == nil {
		return fmt.Errorf("%w: face re-authentication is not configured on this server", ErrFactor)
	}
	var n int
	if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM txauth_faces WHERE tenant_id = ? AND customer_id = ?`, c.TenantID, c.CustomerID).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: the customer has no enrolled face template", ErrFactor)
	}
	if _, locked, err := faceLock(ctx, q, c.TenantID, c.CustomerID); err != nil {
		return err
	} else if !locked.IsZero() {
		return fmt.Errorf("%w: the customer's face re-authentication is locked", ErrLocked)
	}
	return nil
}

// faceLock returns the customer's consecutive face refusals and when they
// locked the factor (zero if not locked).
func faceLock(ctx context.Context, q rowQuerier, tenant, customer string) (failures int, locked time.Time, err error) {
	var at int64
	err = q.QueryRow(ctx, `SELECT face_failures, face_locked_at FROM txauth_accounts WHERE tenant_id = ? AND customer_id = ?`,
		tenant, customer).Scan(&failures, &at)
	if errors.Is(err, store.ErrNotFound) {
		return 0, time.Time{}, nil
	}
	return failures, store.FromMicros(at), err
}

func (s *Service) analyze(ctx context.Context, img []byte) ([]face.Face, error) {
	fs, err := s.cfg.Face.AnalyzeImage(ctx, img)
	switch {
	case errors.Is(err, face.ErrBusy):
		return nil, fmt.Errorf("%w: %w", ErrBusy, err)
	case errors.Is(err, face.ErrNoFace):
		return nil, nil
	}
	return fs, err
}

func landmarksOf(f face.Face) ekyc.Landmarks {
	var l ekyc.Landmarks
	for i, p := range f.Landmarks {
		l[i] = [2]float64{float64(p[0]), float64(p[1])}
	}
	return l
}

// EnrollFace derives the customer's face template from the live selfies of
// the approved eKYC session and seals it (replacing an earlier one).
func (s *Service) EnrollFace(ctx context.Context, a Actor, tenant, customerID string) (string, error) {
	if s.cfg.Face == nil || s.cfg.Selfies == nil {
		return "", fmt.Errorf("%w: face re-authentication is not configured on this server", ErrFactor)
	}
	cu, err := s.customer(ctx, tenant, customerID)
	if err != nil {
		return "", err
	}
	imgs, err := s.cfg.Selfies.CustomerSelfies(ctx, ekyc.Actor{Kind: a.Kind, ID: a.ID, RequestID: a.RequestID}, tenant, customerID)
	if errors.Is(err, ekyc.ErrNotFound) {
		return "", fmt.Errorf("%w: the customer's verification has no live selfie (method ワ)", ErrFactor)
	} else if err != nil {
		return "", err
	}
	var (
		best    face.Template
		bestYaw = math.Inf(1)
	)
	for _, img := range imgs {
		fs, err := s.analyze(ctx, img)
		if err != nil {
			return "", err
		}
		if len(fs) != 1 {
			continue
		}
		lm := landmarksOf(fs[0])
		if y := math.Abs(ekyc.Yaw(&lm)); y < bestYaw {
			best, bestYaw = fs[0].Embedding, y
		}
	}
	if math.IsInf(bestYaw, 1) {
		return "", fmt.Errorf("%w: no selfie frame of the approved session shows exactly one face", ErrFactor)
	}
	body, err := json.Marshal(storedTemplate{Model: best.Model(), Values: best.Values()})
	if err != nil {
		return "", err
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		sealed, err := s.cfg.Vault.Seal(ctx, tx, cu.Subject(), faceAAD(cu.ID), body)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM txauth_faces WHERE tenant_id = ? AND customer_id = ?`, tenant, cu.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO txauth_faces (tenant_id, customer_id, model, sealed, created_at) VALUES (?, ?, ?, ?, ?)`,
			tenant, cu.ID, best.Model(), sealed, store.Micros(s.now())); err != nil {
			return err
		}
		return s.record(ctx, tx, a, tenant, "txauth.face.enroll", cu.ID, audit.OutcomeOK, map[string]string{"model": best.Model(), "frames": fmt.Sprint(len(imgs))})
	})
	return best.Model(), err
}

// FaceCapture is what the page needs to film the challenge.
type FaceCapture struct {
	Steps []ekyc.Step `json:"steps"`
	Nonce string      `json:"nonce"`
}

// faceDue loads the token's confirmation if a face re-authentication is due.
func (s *Service) faceDue(ctx context.Context, token string) (*Confirmation, error) {
	if s.cfg.Face == nil || s.cfg.Selfies == nil {
		return nil, fmt.Errorf("%w: face re-authentication is not configured on this server", ErrFactor)
	}
	c, err := confirmationByToken(ctx, s.db, token)
	if err != nil {
		return nil, err
	}
	if err := s.expireIfDue(ctx, c); err != nil {
		return nil, err
	}
	if c.State.Final() || !slices.Contains(c.Required, FactorFace) || slices.Contains(c.Satisfied, FactorFace) {
		return nil, fmt.Errorf("%w: no face re-authentication is due here", ErrFactor)
	}
	if _, locked, err := faceLock(ctx, s.db, c.TenantID, c.CustomerID); err != nil {
		return nil, err
	} else if !locked.IsZero() {
		return nil, fmt.Errorf("%w: the customer's face re-authentication is locked", ErrLocked)
	}
	return c, nil
}

// FaceStart begins (or restarts) the page's face capture: a fresh random
// challenge and the first frame nonce. Earlier frames are discarded.
func (s *Service) FaceStart(ctx context.Context, token string) (*FaceCapture, error) {
	c, err := s.faceDue(ctx, token)
	if err != nil {
		return nil, err
	}
	n := 3
	if p, _, err := ekyc.LoadPolicy(ctx, s.db, c.TenantID); err == nil && p.ChallengeSteps > 0 {
		n = p.ChallengeSteps
	}
	steps, err := ekyc.NewChallenge(s.cfg.Rand, n)
	if err != nil {
		return nil, err
	}
	nonce, err := s.random(16)
	if err != nil {
		return nil, err
	}
	sj, _ := json.Marshal(steps)
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM txauth_face_frames WHERE confirmation_id = ?`, c.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM txauth_face_captures WHERE confirmation_id = ?`, c.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO txauth_face_captures (confirmation_id, tenant_id, steps, nonce, seq, started_at) VALUES (?, ?, ?, ?, 0, ?)`,
			c.ID, c.TenantID, string(sj), nonce, store.Micros(s.now())); err != nil {
			return err
		}
		return s.record(ctx, tx, pageActor, c.TenantID, "txauth.face.start", c.ID, audit.OutcomeOK, map[string]string{"steps": string(sj)})
	})
	if err != nil {
		return nil, err
	}
	return &FaceCapture{Steps: steps, Nonce: b64(nonce)}, nil
}

// FaceFrame stores one camera frame (JPEG or PNG, at most
// ekyc.MaxImageBytes) sent with the current nonce, and returns the next
// nonce. A frame with a stale or reused nonce is ErrReplay.
func (s *Service) FaceFrame(ctx context.Context, token, nonce string, img []byte) (string, error) {
	if len(img) == 0 || len(img) > ekyc.MaxImageBytes {
		return "", fmt.Errorf("%w: a frame is 1 to %d bytes", ErrInvalidInput, ekyc.MaxImageBytes)
	}
	if cfg, format, err := image.DecodeConfig(bytes.NewReader(img)); err != nil || (format != "jpeg" && format != "png") ||
		cfg.Width < 1 || cfg.Height < 1 || cfg.Width > ekyc.MaxImageSide || cfg.Height > ekyc.MaxImageSide {
		return "", fmt.Errorf("%w: a frame is a JPEG or PNG of at most %d pixels a side", ErrInvalidInput, ekyc.MaxImageSide)
	}
	got, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(got) != 16 {
		return "", ErrReplay
	}
	c, err := s.faceDue(ctx, token)
	if err != nil {
		return "", err
	}
	cu, err := s.customer(ctx, c.TenantID, c.CustomerID)
	if err != nil {
		return "", err
	}
	next, err := s.random(16)
	if err != nil {
		return "", err
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		var (
			want    []byte
			seq     int
			started int64
		)
		if err := tx.QueryRow(ctx, `SELECT nonce, seq, started_at FROM txauth_face_captures WHERE confirmation_id = ?`, c.ID).Scan(&want, &seq, &started); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%w: start the face capture first", ErrState)
			}
			return err
		}
		if subtle.ConstantTimeCompare(want, got) != 1 {
			return ErrReplay
		}
		if s.now().After(store.FromMicros(started).Add(faceCaptureLife)) {
			return ErrExpired
		}
		if seq >= MaxFaceFrames {
			return fmt.Errorf("%w: at most %d frames", ErrInvalidInput, MaxFaceFrames)
		}
		res, err := tx.Exec(ctx, `UPDATE txauth_face_captures SET nonce = ?, seq = seq + 1 WHERE confirmation_id = ? AND nonce = ?`, next, c.ID, want)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrReplay
		}
		sealed, err := s.cfg.Vault.Seal(ctx, tx, cu.Subject(), faceFrameAAD(c.ID, seq+1), img)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO txauth_face_frames (confirmation_id, seq, sealed) VALUES (?, ?, ?)`, c.ID, seq+1, sealed)
		return err
	})
	if err != nil {
		return "", err
	}
	return b64(next), nil
}

// FaceSubmit decides the captured frames. Success satisfies the face
// factor; a failure is a *FaceError (the customer may start again). The
// frames are deleted either way.
func (s *Service) FaceSubmit(ctx context.Context, token string) (*PageView, error) {
	c, err := s.faceDue(ctx, token)
	if err != nil {
		return nil, err
	}
	cu, err := s.customer(ctx, c.TenantID, c.CustomerID)
	if err != nil {
		return nil, err
	}
	pol, _, err := ekyc.LoadPolicy(ctx, s.db, c.TenantID)
	if err != nil {
		return nil, fmt.Errorf("%w: the tenant has no eKYC policy to take face thresholds from", ErrFactor)
	}
	tp, _, err := loadPolicy(ctx, s.db, c.TenantID)
	if err != nil {
		return nil, err
	}
	var (
		stepsJSON string
		capNonce  []byte
		sealedTpl []byte
	)
	if err := s.db.QueryRow(ctx, `SELECT steps, nonce FROM txauth_face_captures WHERE confirmation_id = ?`, c.ID).Scan(&stepsJSON, &capNonce); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: start the face capture first", ErrState)
		}
		return nil, err
	}
	var steps []ekyc.Step
	if err := json.Unmarshal([]byte(stepsJSON), &steps); err != nil {
		return nil, err
	}
	if err := s.db.QueryRow(ctx, `SELECT sealed FROM txauth_faces WHERE tenant_id = ? AND customer_id = ?`, c.TenantID, c.CustomerID).Scan(&sealedTpl); err != nil {
		return nil, err
	}
	tb, err := s.cfg.Vault.Open(ctx, s.db, cu.Subject(), faceAAD(cu.ID), sealedTpl)
	if errors.Is(err, vault.ErrShredded) {
		return nil, ErrShredded
	} else if err != nil {
		return nil, err
	}
	var st storedTemplate
	if err := json.Unmarshal(tb, &st); err != nil {
		return nil, errors.New("txauth: stored face template unreadable")
	}
	tpl, err := face.NewTemplate(st.Model, st.Values)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT seq, sealed FROM txauth_face_frames WHERE confirmation_id = ? ORDER BY seq`, c.ID)
	if err != nil {
		return nil, err
	}
	type frame struct {
		seq    int
		sealed []byte
	}
	var frames []frame
	for rows.Next() {
		var f frame
		if err := rows.Scan(&f.seq, &f.sealed); err != nil {
			rows.Close()
			return nil, err
		}
		frames = append(frames, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	var live []ekyc.LiveFrame
	for _, f := range frames {
		img, err := s.cfg.Vault.Open(ctx, s.db, cu.Subject(), faceFrameAAD(c.ID, f.seq), f.sealed)
		if err != nil {
			return nil, err
		}
		fs, err := s.analyze(ctx, img)
		if errors.Is(err, ErrBusy) {
			return nil, err
		}
		live = append(live, ekyc.LiveFrame{Faces: fs, Undecodable: err != nil})
	}
	reasons, scores := ekyc.JudgeLiveFace(steps, live, tpl, ekyc.LiveFaceRule{Liveness: pol.Liveness,
		Threshold: pol.FaceMatch.Threshold, Consistency: pol.FaceMatch.Consistency, MinFrames: pol.MinSelfieFrames}, s.cfg.Face.Decide)
	details := map[string]string{"reasons": strings.Join(reasons, ","), "frames": fmt.Sprint(len(frames)), "model": st.Model}
	for k, v := range scores {
		details[k] = fmt.Sprintf("%.4f", v)
	}
	var refused *FaceError
	err = s.inTx(ctx, func(tx *store.Tx) error {
		// Spend the capture: of concurrent submissions of the same frames
		// only one is decided (and counted).
		res, err := tx.Exec(ctx, `DELETE FROM txauth_face_captures WHERE confirmation_id = ? AND nonce = ?`, c.ID, capNonce)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			if err := s.record(ctx, tx, pageActor, c.TenantID, "txauth.face.submit", c.ID, audit.OutcomeDenied, map[string]string{"reason": "replayed"}); err != nil {
				return err
			}
			return errCommit{ErrReplay}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM txauth_face_frames WHERE confirmation_id = ?`, c.ID); err != nil {
			return err
		}
		if err := s.ensureAccount(ctx, tx, c.TenantID, c.CustomerID); err != nil {
			return err
		}
		// A lock that happened while these frames were judged wins.
		if _, locked, err := faceLock(ctx, tx, c.TenantID, c.CustomerID); err != nil {
			return err
		} else if !locked.IsZero() {
			details["reason"] = "locked"
			if err := s.record(ctx, tx, pageActor, c.TenantID, "txauth.face.submit", c.ID, audit.OutcomeDenied, details); err != nil {
				return err
			}
			return errCommit{fmt.Errorf("%w: the customer's face re-authentication is locked", ErrLocked)}
		}
		if len(reasons) > 0 {
			refused = &FaceError{Reasons: reasons, Scores: scores}
			return s.faceRefused(ctx, tx, &tp, c, details, refused)
		}
		if _, err := tx.Exec(ctx, `UPDATE txauth_accounts SET face_failures = 0 WHERE tenant_id = ? AND customer_id = ?`, c.TenantID, c.CustomerID); err != nil {
			return err
		}
		if err := s.record(ctx, tx, pageActor, c.TenantID, "txauth.face.submit", c.ID, audit.OutcomeOK, details); err != nil {
			return err
		}
		fresh, err := getConfirmation(ctx, tx, c.TenantID, c.ID)
		if err != nil {
			return err
		}
		return s.satisfy(ctx, tx, fresh, FactorFace, pageActor)
	})
	if err != nil {
		return nil, err
	}
	if refused != nil {
		return nil, refused
	}
	fresh, err := getConfirmation(ctx, s.db, c.TenantID, c.ID)
	if err != nil {
		return nil, err
	}
	return s.pageView(ctx, fresh)
}

// faceRefused counts a refused face re-authentication in tx: the audit
// entry, the customer's consecutive refusals, the warning one refusal
// before the lock and the lock itself (audited, alerted, told).
func (s *Service) faceRefused(ctx context.Context, tx *store.Tx, p *Policy, c *Confirmation, details map[string]string, fe *FaceError) error {
	if _, err := tx.Exec(ctx, `UPDATE txauth_accounts SET face_failures = face_failures + 1 WHERE tenant_id = ? AND customer_id = ?`,
		c.TenantID, c.CustomerID); err != nil {
		return err
	}
	failures, _, err := faceLock(ctx, tx, c.TenantID, c.CustomerID)
	if err != nil {
		return err
	}
	limit := p.Face.maxFailures()
	fe.AttemptsLeft = max(limit-failures, 0)
	details["failures"] = strconv.Itoa(failures)
	if err := s.record(ctx, tx, pageActor, c.TenantID, "txauth.face.submit", c.ID, audit.OutcomeDenied, details); err != nil {
		return err
	}
	switch {
	case failures >= limit:
		fe.Locked = true
		if _, err := tx.Exec(ctx, `UPDATE txauth_accounts SET face_locked_at = ? WHERE tenant_id = ? AND customer_id = ?`,
			store.Micros(s.now()), c.TenantID, c.CustomerID); err != nil {
			return err
		}
		if err := s.record(ctx, tx, pageActor, c.TenantID, "txauth.face.lock", c.CustomerID, audit.OutcomeOK,
			map[string]string{"failures": strconv.Itoa(failures), "confirmation": c.ID}); err != nil {
			return err
		}
		if err := s.raise(ctx, tx, p, c.TenantID, c.CustomerID, c.ID, AlertFaceLocked, "medium", map[string]string{"failures": strconv.Itoa(failures)}); err != nil {
			return err
		}
		if p.Webhook != "" {
			return s.notice(ctx, tx, p.Webhook, c.TenantID, c.CustomerID, c.CustomerID, NoticeFaceLocked)
		}
	case failures == limit-1 && p.Webhook != "":
		return s.notice(ctx, tx, p.Webhook, c.TenantID, c.CustomerID, c.CustomerID, NoticeFaceWarning)
	}
	return nil
}

// FaceTemplate returns the customer's enrolled face template (package
// credential carries it, encrypted, in the offline credential), enrolling
// it from the approved eKYC session first if the customer has none. The
// read is audited (txauth.face.read).
func (s *Service) FaceTemplate(ctx context.Context, a Actor, tenant, customerID string) (face.Template, error) {
	cu, err := s.customer(ctx, tenant, customerID)
	if err != nil {
		return face.Template{}, err
	}
	var sealed []byte
	err = s.db.QueryRow(ctx, `SELECT sealed FROM txauth_faces WHERE tenant_id = ? AND customer_id = ?`, tenant, cu.ID).Scan(&sealed)
	if errors.Is(err, store.ErrNotFound) {
		if _, err := s.EnrollFace(ctx, a, tenant, cu.ID); err != nil {
			return face.Template{}, err
		}
		err = s.db.QueryRow(ctx, `SELECT sealed FROM txauth_faces WHERE tenant_id = ? AND customer_id = ?`, tenant, cu.ID).Scan(&sealed)
	}
	if err != nil {
		return face.Template{}, err
	}
	b, err := s.cfg.Vault.Open(ctx, s.db, cu.Subject(), faceAAD(cu.ID), sealed)
	if errors.Is(err, vault.ErrShredded) {
		return face.Template{}, ErrShredded
	} else if err != nil {
		return face.Template{}, err
	}
	var st storedTemplate
	if err := json.Unmarshal(b, &st); err != nil {
		return face.Template{}, errors.New("txauth: stored face template unreadable")
	}
	tpl, err := face.NewTemplate(st.Model, st.Values)
	if err != nil {
		return face.Template{}, err
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		return s.record(ctx, tx, a, tenant, "txauth.face.read", cu.ID, audit.OutcomeOK, map[string]string{"model": st.Model, "purpose": "credential"})
	})
	return tpl, err
}

// FaceReauthenticated returns when the customer's face factor was
// satisfied in the tenant's confirmation (ErrNotFound if the confirmation
// is not the customer's or its face factor was not satisfied).
func (s *Service) FaceReauthenticated(ctx context.Context, tenant, confirmation, customerID string) (time.Time, error) {
	c, err := s.Get(ctx, tenant, confirmation)
	if err != nil {
		return time.Time{}, err
	}
	if c.CustomerID != customerID || !slices.Contains(c.Satisfied, FactorFace) {
		return time.Time{}, ErrNotFound
	}
	// The face factor cannot be submitted again once satisfied, so the
	// latest face submission of the confirmation is the one that passed.
	var at int64
	err = s.db.QueryRow(ctx, `SELECT time_us FROM audit_entries WHERE action = ? AND object = ? AND tenant_id = ? ORDER BY idx DESC LIMIT 1`,
		"txauth.face.submit", c.ID, tenant).Scan(&at)
	if err != nil {
		return time.Time{}, ErrNotFound
	}
	return store.FromMicros(at), nil
}
