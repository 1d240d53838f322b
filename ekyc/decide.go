package ekyc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/document/imaging"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

func sessionAAD(id, part string) []byte { return vault.AAD("ekyc.session", id, part) }

// Reason codes. Each maps to reject or review through the tenant's policy
// (DefaultActions otherwise).
const (
	ReasonChipMissing        = "chip.missing"
	ReasonChipInvalid        = "chip.invalid"
	ReasonDocumentExpired    = "document.expired"
	ReasonDocumentImages     = "document.images_need_inspection"
	ReasonUnsignedAttributes = "document.unsigned_attributes"
	ReasonNoFaceSelfie       = "selfie.no_face"
	ReasonMultipleFaces      = "selfie.multiple_faces"
	ReasonTooFewSelfies      = "selfie.too_few_frames"
	ReasonSelfieInconsistent = "selfie.inconsistent_identity"
	ReasonNoFaceReference    = "reference.no_face"
	ReasonFaceMismatch       = "face.no_match"
	ReasonFaceUncalibrated   = "face.uncalibrated"
	ReasonPADLow             = "liveness.pad_below_threshold"
	ReasonPADUnavailable     = "liveness.pad_unavailable"
	ReasonChallengeFailed    = "liveness.challenge_failed"
	ReasonStaticFrames       = "liveness.still_image"
	ReasonMethodNotAutomated = "method.requires_review"
	ReasonEngineFailed       = "face.engine_failed"
)

// Reason is one machine-readable cause of a decision.
type Reason struct {
	Code   string `json:"code"`
	Action Action `json:"action"`
	Detail string `json:"detail"`
	// Sessions are other sessions of the same tenant the reason concerns
	// (a duplicate face, a reused document), for the reviewer.
	Sessions []string `json:"related_sessions,omitempty"`
	// Entry names the watchlist entry of a watchlist hit.
	Entry string `json:"watchlist_entry,omitempty"`
}

// Decision is a session's outcome with everything used to reach it: model
// versions, scores and thresholds. It carries no personal data.
type Decision struct {
	Outcome       Outcome            `json:"outcome"`
	Reasons       []Reason           `json:"reasons"`
	Scores        map[string]float64 `json:"scores"`
	Thresholds    map[string]float64 `json:"thresholds"`
	Models        map[string]string  `json:"models"`
	Challenge     []Step             `json:"challenge,omitempty"`
	Liveness      *ChallengeResult   `json:"liveness,omitempty"`
	PolicyVersion int                `json:"policy_version"`
	DecidedAt     time.Time          `json:"decided_at"`
	DecidedBy     string             `json:"decided_by"`
	// Automated holds the machine decision a reviewer overrode, if any.
	Automated *Decision `json:"automated,omitempty"`
	// ReviewNote is the reviewer's reason (no personal data).
	ReviewNote string `json:"review_note,omitempty"`
	// Documents is the ホ document-image report (measurements, no pixels).
	Documents *imaging.SetReport `json:"documents,omitempty"`
	// ReviewReasons are the reviewer's reason codes (ReviewReasons), and
	// Checklist the checklist items they confirmed (ReviewChecklist).
	ReviewReasons []string `json:"review_reasons,omitempty"`
	Checklist     []string `json:"checklist,omitempty"`
	// Approvals names the reviewers of a four-eyes approval, first and
	// second.
	Approvals []Approval `json:"approvals,omitempty"`
}

// Approval is one reviewer's approval of a session.
type Approval struct {
	By string    `json:"by"` // "staff:<id>"
	At time.Time `json:"at"`
}

// ReasonCodes lists the decision's reason codes.
func (d *Decision) ReasonCodes() []string {
	out := make([]string, len(d.Reasons))
	for i, r := range d.Reasons {
		out[i] = r.Code
	}
	return out
}

// analysis is the face engine's view of the evidence.
type analysis struct {
	selfies   [][]face.Face
	reference []face.Face
	refFrom   string // "chip_photo" or "doc_front"
	chip      *ChipResult
	model     string
	// Images that did not decode (see images.go), the ホ document checks
	// and the engine's calibration FMR.
	selfiesUndecodable int
	refUndecodable     bool
	docs               *docResult
	calFMR             float64
	calKnown           bool
	reuse              chipReuse
	// device is the registered device that read the chip (ヘ).
	device string
}

// evaluate applies policy p to the evidence: a pure function of its inputs
// and the engine's calibrated decision function.
func evaluate(m Method, p Policy, steps []Step, an *analysis, decide func(face.Score) (face.Decision, error), now time.Time) *Decision {
	d := &Decision{
		Scores: map[string]float64{},
		Thresholds: map[string]float64{
			"face_match": p.FaceMatch.Threshold, "face_match_target_fmr": p.FaceMatch.TargetFMR,
			"selfie_consistency": p.FaceMatch.Consistency, "pad": p.Liveness.MinPAD,
			"yaw": p.Liveness.YawThreshold, "ear_closed": p.Liveness.EARClosed, "ear_open": p.Liveness.EAROpen,
		},
		Models:    map[string]string{"face": an.model},
		Challenge: steps,
	}
	addAs := func(code string, a Action, detail string) {
		for _, r := range d.Reasons {
			if r.Code == code {
				return
			}
		}
		d.Reasons = append(d.Reasons, Reason{Code: code, Action: a, Detail: detail})
	}
	add := func(code, detail string) { addAs(code, p.Action(code), detail) }

	// Document evidence.
	if m.NeedsChip {
		switch c := an.chip; {
		case c == nil:
			add(ReasonChipMissing, "no chip data was received from a registered device")
		case !c.Verified:
			add(ReasonChipInvalid, "chip verification failed: "+strings.Join(c.Failed, ", "))
		default:
			if c.Expiry != "" {
				// Valid through the expiry day, Japan time.
				if exp, err := time.ParseInLocation(time.DateOnly, c.Expiry, jst); err == nil && !now.Before(exp.AddDate(0, 0, 1)) {
					add(ReasonDocumentExpired, "the document has expired")
				}
			}
			if len(c.Unsigned) > 0 {
				add(ReasonUnsignedAttributes, "the chip holds attributes not covered by the issuer signature: "+strings.Join(c.Unsigned, ", "))
			}
			reuseReasons(an.reuse, add)
			if p.DeviceSignature == DeviceSignatureReason && !c.DeviceSigned {
				add(ReasonChipUnsigned, "the chip read carries no registered device's signature")
			}
		}
	}
	if m.NeedsDocumentImages {
		add(ReasonDocumentImages, "document images (front, back, thickness) are inspected by a reviewer")
		documentReasons(an.docs, add, addAs)
		if an.docs != nil {
			d.Documents = an.docs.report
		}
	}
	if an.selfiesUndecodable > 0 {
		add(ReasonSelfieUndecodable, fmt.Sprintf("%d selfie frame(s) could not be decoded", an.selfiesUndecodable))
	}

	// Selfies: one face each, PAD, active challenge, same person throughout.
	if an.calKnown {
		d.Thresholds["face_engine_fmr"] = an.calFMR
	}
	if len(an.selfies) < p.MinSelfieFrames {
		add(ReasonTooFewSelfies, fmt.Sprintf("%d selfie frames, at least %d required", len(an.selfies), p.MinSelfieFrames))
	}
	var (
		probes []face.Face
		lms    []Landmarks
		pad    padMins
	)
	for _, fs := range an.selfies {
		switch {
		case len(fs) == 0:
			add(ReasonNoFaceSelfie, "a selfie frame shows no face")
			continue
		case len(fs) > 1:
			add(ReasonMultipleFaces, "a selfie frame shows more than one face")
		}
		f := largest(fs)
		probes = append(probes, f)
		lms = append(lms, toLandmarks(f.Landmarks))
		if !f.Liveness.Available {
			add(ReasonPADUnavailable, "no presentation-attack score is available for a selfie frame")
		} else {
			pad.add(f.Liveness)
		}
	}
	if pad.any {
		d.Scores["liveness"] = round4(pad.overall())
		perScore := p.Liveness.PAD != (PADThresholds{})
		for _, s := range PADScores() {
			if v, ok := pad.min[s]; ok && perScore {
				d.Scores["pad_"+s] = round4(v)
			}
			if perScore {
				d.Thresholds["pad_"+s] = p.Liveness.PADThreshold(s)
			}
		}
		low, missing := pad.judge(p.Liveness)
		if len(missing) > 0 {
			add(ReasonPADUnavailable, padMissingDetail(missing))
		}
		if len(low) > 0 {
			add(ReasonPADLow, padLowDetail(low))
		}
	}
	if len(lms) > 0 {
		cr := CheckChallenge(steps, lms, p.Liveness)
		d.Liveness = &cr
		switch {
		case cr.Static:
			add(ReasonStaticFrames, "the selfie frames show no head movement or blink: a still image cannot pass an active liveness challenge")
		case !cr.Passed:
			add(ReasonChallengeFailed, fmt.Sprintf("the active liveness challenge failed at step %d (%s)", cr.Done+1, cr.Failed))
		}
	}
	if len(probes) > 1 {
		worst := 1.0
		for _, f := range probes[1:] {
			sc, err := face.Compare(probes[0].Embedding, f.Embedding)
			if err != nil {
				add(ReasonEngineFailed, "selfie templates could not be compared")
				break
			}
			worst = math.Min(worst, float64(sc))
		}
		d.Scores["selfie_consistency"] = round4(worst)
		if worst <= p.FaceMatch.Consistency {
			add(ReasonSelfieInconsistent, "the selfie frames do not show the same person throughout")
		}
	}

	// Selfie against the reference portrait (chip photo for ヘ, printed
	// portrait on the front image for ホ).
	switch {
	case len(an.reference) == 0 && (an.chip == nil || !an.chip.Verified) && m.NeedsChip:
		// Already rejected above; no reference to match.
	case an.refUndecodable:
		add(ReasonReferenceUndecodable, "the reference portrait ("+an.refFrom+") could not be decoded: a person compares it")
	case len(an.reference) == 0:
		add(ReasonNoFaceReference, "no face was found in the reference portrait ("+an.refFrom+")")
	case len(probes) > 0:
		ref := largest(an.reference)
		best := math.Inf(-1)
		for _, f := range probes {
			sc, err := face.Compare(ref.Embedding, f.Embedding)
			if err != nil {
				add(ReasonEngineFailed, "templates could not be compared")
				break
			}
			best = math.Max(best, float64(sc))
		}
		if !math.IsInf(best, -1) {
			d.Scores["face_match"] = round4(best)
			dec, err := decide(face.Score(best))
			switch {
			case errors.Is(err, face.ErrUncalibrated):
				add(ReasonFaceUncalibrated, "the face engine has no calibration for its model: a person decides")
			case err != nil:
				add(ReasonEngineFailed, "the face engine could not decide")
			case dec != face.Match || best <= p.FaceMatch.Threshold:
				add(ReasonFaceMismatch, fmt.Sprintf("the selfie does not match the reference portrait at FMR %g", p.FaceMatch.TargetFMR))
			case !an.calKnown:
				add(ReasonCalibrationWeaker, "the face engine does not state its calibration's false-match rate: a person decides")
			case !(an.calFMR <= p.FaceMatch.TargetFMR):
				add(ReasonCalibrationWeaker, fmt.Sprintf("the face engine is calibrated at FMR %g, weaker than the policy's %g: a person decides", an.calFMR, p.FaceMatch.TargetFMR))
			}
		}
	}

	d.Outcome = OutcomeApproved
	for _, r := range d.Reasons {
		if r.Action == Reject {
			d.Outcome = OutcomeRejected
			break
		}
		d.Outcome = OutcomeReview
	}
	if d.Reasons == nil {
		d.Reasons = []Reason{}
	}
	return d
}

func largest(fs []face.Face) face.Face {
	best := fs[0]
	for _, f := range fs[1:] {
		if f.Box[2]*f.Box[3] > best.Box[2]*best.Box[3] {
			best = f
		}
	}
	return best
}

func toLandmarks(p [68]face.Point) Landmarks {
	var l Landmarks
	for i, q := range p {
		l[i] = [2]float64{float64(q[0]), float64(q[1])}
	}
	return l
}

// Submit ends capture (capturing -> submitted) and decides the session. If
// the face engine is saturated the session stays submitted and the
// background job (DecidePending) decides it; the returned session then has
// state submitted.
func (s *Service) Submit(ctx context.Context, key string) (*Session, error) {
	ss, _, err := s.sessionByKey(ctx, key)
	if err != nil {
		return nil, err
	}
	if expired, err := s.expireIfDue(ctx, ss); err != nil || expired {
		return nil, errOr(err, ErrExpired)
	}
	if ss.State != StateCapturing {
		return nil, fmt.Errorf("%w: only a capturing session can be submitted", ErrState)
	}
	if ss.Method.NeedsSignature {
		// ワ ends with the card's signature (SubmitJPKI), never here: a
		// stray submit must not reject a session the JPKI app is completing.
		return nil, fmt.Errorf("%w: missing the JPKI signature (sign with the JPKI app or the kiosk's reader)", ErrIncomplete)
	}
	if err := s.complete(ctx, ss); err != nil {
		return nil, err
	}
	now := s.now()
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		return s.move(ctx, tx, ss, StateSubmitted, OutcomeNone, Actor{Kind: audit.ActorSystem, ID: "capture-page"},
			"ekyc.session.submit", nil, "submitted_at = ?", store.Micros(now))
	})
	if err != nil {
		return nil, err
	}
	ss.SubmittedAt = now
	if err := s.decide(ctx, ss); err != nil {
		if errors.Is(err, ErrBusy) {
			return ss, nil
		}
		return nil, err
	}
	return s.Get(ctx, ss.TenantID, ss.ID)
}

// complete checks that every required frame kind and the chip are present.
func (s *Service) complete(ctx context.Context, ss *Session) error {
	frs, err := s.frames(ctx, s.db, ss.ID)
	if err != nil {
		return err
	}
	have := map[FrameKind]int{}
	for _, f := range frs {
		have[f.Kind]++
	}
	var missing []string
	for _, k := range needs(ss.Method) {
		if have[k] == 0 {
			missing = append(missing, string(k))
		}
	}
	if ss.Method.NeedsChip {
		var n int
		if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM ekyc_chips WHERE session_id = ?`, ss.ID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			missing = append(missing, "chip")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: missing %s", ErrIncomplete, strings.Join(missing, ", "))
	}
	return nil
}

// decide analyses a submitted session's evidence and commits the decision
// (submitted -> decided), with the verification record and webhook for a
// final outcome, in one transaction.
func (s *Service) decide(ctx context.Context, ss *Session) error {
	if ss.Method.NeedsSignature {
		return s.decideJPKI(ctx, ss)
	}
	p, pver, err := loadPolicy(ctx, s.db, ss.TenantID)
	if err != nil {
		return err
	}
	an, err := s.analyse(ctx, ss)
	if err != nil {
		return err
	}
	d := evaluate(ss.Method, p, ss.Challenge, an, s.cfg.Face.Decide, s.now())
	fs, err := s.fraudCheck(ctx, ss, p, an)
	if err != nil {
		return err
	}
	addFraudReasons(d, p, fs)
	d.PolicyVersion, d.DecidedAt, d.DecidedBy = pver, s.now(), "system"
	return s.commitDecision(ctx, ss, d, System, nil)
}

func (s *Service) analyse(ctx context.Context, ss *Session) (*analysis, error) {
	an := &analysis{model: s.cfg.Face.Model()}
	an.calFMR, an.calKnown = calibrationOf(s.cfg.Face)
	subj := subjectOf(ss.TenantID, ss.subject)
	frs, err := s.frames(ctx, s.db, ss.ID)
	if err != nil {
		return nil, err
	}
	analyze := func(img []byte) ([]face.Face, error) {
		release, err := s.images.acquire(ctx, imageCost(img))
		if err != nil {
			return nil, err
		}
		defer release()
		fs, err := s.cfg.Face.AnalyzeImage(ctx, img)
		if errors.Is(err, face.ErrBusy) {
			return nil, fmt.Errorf("%w: %w", ErrBusy, err)
		}
		if errors.Is(err, face.ErrNoFace) {
			return nil, nil
		}
		return fs, err
	}
	var docs docFrames
	for _, f := range frs {
		var dst *[]byte
		switch {
		case f.Kind == FrameDocFront && docs.front == nil:
			dst = &docs.front
		case f.Kind == FrameDocBack && docs.back == nil:
			dst = &docs.back
		case f.Kind == FrameDocTilt && docs.tilt == nil:
			dst = &docs.tilt
		case f.Kind != FrameSelfie:
			continue
		}
		img, err := s.cfg.Vault.OpenBlob(ctx, s.db, subj, frameAAD(ss.ID, f.Seq), f.Ref)
		if err != nil {
			return nil, err
		}
		if dst != nil {
			*dst = img
		}
		if f.Kind != FrameSelfie && f.Kind != FrameDocFront {
			continue
		}
		fs, err := analyze(img)
		switch {
		case undecodable(err) && f.Kind == FrameSelfie:
			an.selfiesUndecodable++
			continue
		case undecodable(err):
			an.refUndecodable, an.refFrom = true, "doc_front"
			continue
		case err != nil:
			return nil, err
		}
		if f.Kind == FrameSelfie {
			an.selfies = append(an.selfies, fs)
		} else if an.reference == nil {
			an.reference, an.refFrom = fs, "doc_front"
		}
	}
	if ss.Method.NeedsDocumentImages {
		if an.docs, err = s.checkDocuments(ctx, docs); err != nil {
			return nil, err
		}
	}
	if ss.Method.NeedsChip {
		cr, photo, device, err := s.chipWithDevice(ctx, s.db, ss)
		if err != nil {
			return nil, err
		}
		an.chip, an.refFrom, an.device = cr, "chip_photo", device
		if an.reuse, err = s.chipReuse(ctx, s.db, ss); err != nil {
			return nil, err
		}
		if cr != nil && cr.Verified && !photo.IsZero() {
			img, err := s.cfg.Vault.OpenBlob(ctx, s.db, subj, chipAAD(ss.ID, "photo"), photo)
			if err != nil {
				return nil, err
			}
			an.reference, err = analyze(img)
			if undecodable(err) {
				an.refUndecodable, err = true, nil
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return an, nil
}

// commitDecision moves the session to decided with d; for a final outcome it
// also writes the verification record and queues the webhook, all in one
// transaction. rv (what a reviewer read off the document images, ホ) is
// sealed with the session.
func (s *Service) commitDecision(ctx context.Context, ss *Session, d *Decision, a Actor, rv *Reviewed) error {
	dj, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		set, args := "decision = ?, decided_at = ?, reviewer = '', claim_expires = 0", []any{string(dj), store.Micros(d.DecidedAt)}
		if d.Outcome == OutcomeReview {
			// When it was referred: the dashboard's referral rate and
			// review times (stats.go).
			set, args = set+", referred_at = ?", append(args, store.Micros(d.DecidedAt))
		}
		if rv != nil {
			cj, err := json.Marshal(rv)
			if err != nil {
				return err
			}
			sealed, err := s.cfg.Vault.Seal(ctx, tx, subjectOf(ss.TenantID, ss.subject), sessionAAD(ss.ID, "claims"), cj)
			if err != nil {
				return err
			}
			set += ", claims = ?"
			args = append(args, sealed)
		}
		action := "ekyc.session.decide"
		if a.Kind == audit.ActorStaff {
			action = "ekyc.review.decide"
		}
		if err := s.move(ctx, tx, ss, StateDecided, d.Outcome, a, action,
			map[string]string{"reasons": strings.Join(d.ReasonCodes(), ","), "policy_version": fmt.Sprint(d.PolicyVersion)},
			set, args...); err != nil {
			return err
		}
		ss.Decision, ss.DecidedAt = d, d.DecidedAt
		if d.Outcome == OutcomeReview {
			return nil
		}
		if d.Outcome == OutcomeApproved && s.cfg.Fraud != nil {
			if err := s.cfg.Fraud.Approved(ctx, tx, ss.TenantID, ss.ID); err != nil {
				return err
			}
		}
		rec, err := s.writeRecord(ctx, tx, ss, d, a, rv)
		if err != nil {
			return err
		}
		return s.enqueueResult(ctx, tx, ss, rec)
	})
}

// PendingGrace is how long a submitted session is left to the request that
// submitted it before DecidePending takes it over, so that the face engine
// does not analyse the same session twice.
const PendingGrace = 15 * time.Second

// DecidePending decides sessions left in submitted (after a crash or a busy
// face engine) for longer than PendingGrace. The server runs it
// periodically; concurrent runs on several instances decide each session
// once (the state change is a compare-and-set).
func (s *Service) DecidePending(ctx context.Context) (int, error) {
	ids, err := s.sessionKeys(ctx, `SELECT tenant_id, id FROM ekyc_sessions WHERE state = 'submitted' AND submitted_at <= ?
		ORDER BY submitted_at LIMIT 100`, store.Micros(s.now().Add(-PendingGrace)))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, x := range ids {
		ss, err := s.Get(ctx, x[0], x[1])
		if err != nil {
			return n, err
		}
		if err := s.decide(ctx, ss); err != nil {
			if errors.Is(err, ErrState) {
				continue // decided concurrently by another instance
			}
			if errors.Is(err, ErrBusy) {
				return n, nil // the face engine is saturated; next tick
			}
			return n, err
		}
		n++
	}
	return n, nil
}
