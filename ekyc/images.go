package ekyc

// Image evidence that is not a face comparison: undecodable images, the
// method-ホ document checks (document/imaging) and the face engine's
// calibration against the policy's false-match rate.
//
// Invariants:
//   - An image the decoder refuses (face/imageio's ErrFormat, ErrTruncated,
//     ErrCorrupt, ErrTooLarge) is a decision reason, never an error: a
//     session whose chip photo or selfie cannot be decoded is decided
//     (reference.undecodable, selfie.undecodable, document.undecodable), so
//     DecidePending does not retry it forever.
//   - For ホ, imaging.CheckSet runs on the first front, back and tilted
//     frame at decision time. A failed check becomes its reason code with
//     the policy's action (quality failures reject by default, with the
//     customer-facing retake instruction; consistency doubts review); a
//     referred check is a review reason. The set report (measurements,
//     outlines and face boxes, no pixels) is kept in the Decision and shown
//     to the reviewer with imaging.HumanReview() as the checklist. ホ is
//     never approved without a reviewer (ReasonDocumentImages).
//   - A face match is automatic only if the engine states its calibration's
//     false-match rate (CalibrationReporter) and that rate is no higher than
//     the policy's TargetFMR; otherwise the match is referred
//     (ReasonCalibrationWeaker).

import (
	"context"
	"errors"
	"fmt"
	"image"
	"slices"
	"strings"

	"github.com/madoguchi/madoguchi/document/imaging"
	"github.com/madoguchi/madoguchi/document/imaging/faceadapt"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/face/imageio"
)

// Reason codes for images that cannot be decoded, for the document checks
// of method ホ, and for the engine's calibration.
const (
	ReasonReferenceUndecodable = "reference.undecodable"
	ReasonSelfieUndecodable    = "selfie.undecodable"
	ReasonDocumentUndecodable  = "document.undecodable"
	// ReasonDocumentUnchecked: the face engine cannot analyse decoded
	// images (no ImageAnalyzer), so the document checks did not run.
	ReasonDocumentUnchecked = "document.unchecked"
	ReasonCalibrationWeaker = "face.calibration_weaker_than_policy"

	// Failed document checks (imaging.Status fail).
	ReasonDocImageSize      = "document.image_size"
	ReasonDocNotFound       = "document.not_found"
	ReasonDocNotInFrame     = "document.not_in_frame"
	ReasonDocFill           = "document.fill"
	ReasonDocAspect         = "document.aspect_ratio"
	ReasonDocSkewed         = "document.skewed"
	ReasonDocLowResolution  = "document.low_resolution"
	ReasonDocBlur           = "document.blur"
	ReasonDocExposure       = "document.exposure"
	ReasonDocContrast       = "document.low_contrast"
	ReasonDocGlare          = "document.glare"
	ReasonDocNoPortrait     = "document.no_portrait"
	ReasonDocNotTilted      = "document.not_tilted"
	ReasonDocSameImage      = "document.same_image"
	ReasonDocDifferent      = "document.different_document"
	ReasonDocBackIsFront    = "document.back_same_as_front"
	ReasonDocSamePose       = "document.same_pose"
	ReasonDocFramesMissing  = "document.frames_missing"
	ReasonDocCheckFailed    = "document.check_failed" // a check this version does not know
	ReasonDocNeedsAttention = "document.check_referred"

	// Referred document checks (imaging.Status refer): a person looks.
	ReasonDocPortraitDoubt  = "document.portrait_doubt"
	ReasonDocSameDocDoubt   = "document.same_document_doubt"
	ReasonDocThicknessDoubt = "document.thickness_doubt"
	ReasonDocBlurUnjudged   = "document.blur_unjudged"
	ReasonDocNotCompared    = "document.not_compared"
)

// docCodes maps an imaging check to its reason code when it fails and when
// it is referred.
var docCodes = map[string][2]string{
	imaging.CheckSize:         {ReasonDocImageSize, ReasonDocNeedsAttention},
	imaging.CheckFound:        {ReasonDocNotFound, ReasonDocNeedsAttention},
	imaging.CheckInFrame:      {ReasonDocNotInFrame, ReasonDocNeedsAttention},
	imaging.CheckFill:         {ReasonDocFill, ReasonDocNeedsAttention},
	imaging.CheckAspect:       {ReasonDocAspect, ReasonDocNeedsAttention},
	imaging.CheckSkew:         {ReasonDocSkewed, ReasonDocNeedsAttention},
	imaging.CheckResolution:   {ReasonDocLowResolution, ReasonDocNeedsAttention},
	imaging.CheckBlur:         {ReasonDocBlur, ReasonDocBlurUnjudged},
	imaging.CheckExposure:     {ReasonDocExposure, ReasonDocNeedsAttention},
	imaging.CheckContrast:     {ReasonDocContrast, ReasonDocNeedsAttention},
	imaging.CheckGlare:        {ReasonDocGlare, ReasonDocNeedsAttention},
	imaging.CheckPortrait:     {ReasonDocNoPortrait, ReasonDocPortraitDoubt},
	imaging.CheckTilted:       {ReasonDocNotTilted, ReasonDocNeedsAttention},
	imaging.CheckDuplicate:    {ReasonDocSameImage, ReasonDocNotCompared},
	imaging.CheckSameDocument: {ReasonDocDifferent, ReasonDocSameDocDoubt},
	imaging.CheckSidesDiffer:  {ReasonDocBackIsFront, ReasonDocNotCompared},
	imaging.CheckPoseDiffers:  {ReasonDocSamePose, ReasonDocNotCompared},
	imaging.CheckThickness:    {ReasonDocCheckFailed, ReasonDocThicknessDoubt},
	imaging.CheckAllFrames:    {ReasonDocFramesMissing, ReasonDocNeedsAttention},
}

// imageActions are the default actions of the reasons above: a capture the
// customer can retake is rejected (the reason says how to retake it); a
// doubt about consistency or an image the service could not examine goes
// to a reviewer; an undecodable selfie is rejected (the capture page sends
// JPEG or PNG), an undecodable chip photo is reviewed (the reviewer sees it
// with another viewer).
func imageActions() map[string]Action {
	return map[string]Action{
		ReasonReferenceUndecodable: Review,
		ReasonSelfieUndecodable:    Reject,
		ReasonDocumentUndecodable:  Reject,
		ReasonDocumentUnchecked:    Review,
		ReasonCalibrationWeaker:    Review,

		ReasonDocImageSize:     Reject,
		ReasonDocNotFound:      Reject,
		ReasonDocNotInFrame:    Reject,
		ReasonDocFill:          Reject,
		ReasonDocSkewed:        Reject,
		ReasonDocLowResolution: Reject,
		ReasonDocBlur:          Reject,
		ReasonDocExposure:      Reject,
		ReasonDocContrast:      Reject,
		ReasonDocGlare:         Reject,
		ReasonDocNotTilted:     Reject,
		ReasonDocSamePose:      Reject,
		ReasonDocFramesMissing: Reject,

		ReasonDocAspect:         Review,
		ReasonDocNoPortrait:     Review,
		ReasonDocSameImage:      Review,
		ReasonDocDifferent:      Review,
		ReasonDocBackIsFront:    Review,
		ReasonDocCheckFailed:    Review,
		ReasonDocNeedsAttention: Review,
		ReasonDocPortraitDoubt:  Review,
		ReasonDocSameDocDoubt:   Review,
		ReasonDocThicknessDoubt: Review,
		ReasonDocBlurUnjudged:   Review,
		ReasonDocNotCompared:    Review,
	}
}

// ImageAnalyzer is implemented by a FaceEngine that also analyses a decoded
// image (*face.Engine's Analyze); the ホ document checks find the printed
// portrait with it through document/imaging/faceadapt. An engine without
// it leaves ホ documents unchecked (ReasonDocumentUnchecked, review).
type ImageAnalyzer interface {
	Analyze(ctx context.Context, img *image.RGBA) ([]face.Face, error)
}

// CalibrationReporter is implemented by a FaceEngine that states the
// false-match rate its calibration (the one Decide uses) was set at; ok is
// false without a calibration. An engine that does not implement it gets no
// automatic face match (ReasonCalibrationWeaker).
type CalibrationReporter interface {
	CalibrationFMR() (fmr float64, ok bool)
}

var _ faceadapt.Analyzer = ImageAnalyzer(nil)

// undecodable reports whether err says that an image could not be decoded
// (the FaceEngine contract: face/imageio's sentinels, wrapped).
func undecodable(err error) bool {
	return errors.Is(err, imageio.ErrFormat) || errors.Is(err, imageio.ErrTruncated) ||
		errors.Is(err, imageio.ErrCorrupt) || errors.Is(err, imageio.ErrTooLarge)
}

// docImageLimits bound a document frame at decoding: the capture limits.
func docImageLimits() imageio.Limits {
	return imageio.Limits{MaxBytes: MaxImageBytes, MaxPixels: MaxImageSide * MaxImageSide, MaxSide: MaxImageSide}
}

// docFrames holds the encoded document frames of a ホ session (the first
// of each kind).
type docFrames struct {
	front, back, tilt []byte
}

// docResult is what the document checks found, for evaluate.
type docResult struct {
	report     *imaging.SetReport
	undecoded  []string // frame kinds that did not decode
	unchecked  string   // why the checks did not run ("" if they ran)
	engineFail bool
}

// checkDocuments decodes the three frames and runs imaging.CheckSet with a
// face finder over the engine. A busy engine is ErrBusy and a cancelled ctx
// its error (the decision is retried); everything else is a result.
func (s *Service) checkDocuments(ctx context.Context, f docFrames) (*docResult, error) {
	r := &docResult{}
	an, ok := s.cfg.Face.(ImageAnalyzer)
	if !ok {
		r.unchecked = "the face engine cannot analyse decoded images"
		return r, nil
	}
	// The three frames are decoded and checked inside the image budget.
	cost := int64(0)
	for _, b := range [][]byte{f.front, f.back, f.tilt} {
		if b != nil {
			cost += imageCost(b) // decoded size and the checks' working set
		}
	}
	release, err := s.images.acquire(ctx, cost)
	if err != nil {
		return nil, err
	}
	defer release()
	var set imaging.Set
	for _, x := range []struct {
		kind string
		b    []byte
		dst  *image.Image
	}{{"front", f.front, &set.Front}, {"back", f.back, &set.Back}, {"tilt", f.tilt, &set.Tilt}} {
		if x.b == nil {
			continue // imaging reports the missing frame
		}
		img, _, err := imageio.Decode(x.b, docImageLimits())
		if err != nil {
			if !undecodable(err) {
				return nil, err
			}
			r.undecoded = append(r.undecoded, x.kind)
			continue
		}
		*x.dst = img
	}
	if len(r.undecoded) > 0 {
		return r, nil
	}
	chk, err := imaging.New(imaging.DefaultConfig(), faceadapt.New(an))
	if err != nil {
		return nil, err
	}
	rep, err := chk.CheckSet(ctx, set)
	switch {
	case errors.Is(err, face.ErrBusy):
		return nil, fmt.Errorf("%w: %w", ErrBusy, err)
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, imaging.ErrTooLarge), errors.Is(err, imaging.ErrImage):
		r.undecoded = append(r.undecoded, "a frame beyond the image checks' limits")
	case err != nil:
		r.engineFail = true
	default:
		r.report = &rep
	}
	return r, nil
}

// documentReasons turns the document checks into reasons through add
// (which applies the policy's action) and addAs (a fixed action).
func documentReasons(r *docResult, add func(code, detail string), addAs func(code string, a Action, detail string)) {
	switch {
	case r == nil:
		return
	case len(r.undecoded) > 0:
		add(ReasonDocumentUndecodable, "document frame(s) could not be decoded ("+strings.Join(r.undecoded, ", ")+"): retake them as JPEG or PNG")
		return
	case r.unchecked != "":
		add(ReasonDocumentUnchecked, r.unchecked+": a reviewer checks the document images' quality")
		return
	case r.engineFail:
		add(ReasonEngineFailed, "the document image checks could not run")
		return
	}
	type item struct {
		where string
		c     imaging.Check
	}
	var items []item
	for _, fr := range r.report.Frames {
		for _, c := range fr.Checks {
			items = append(items, item{string(fr.Kind) + " frame", c})
		}
	}
	for _, c := range r.report.Checks {
		items = append(items, item{"frames", c})
	}
	// Failures first, so that a code failed anywhere keeps the failure.
	slices.SortStableFunc(items, func(a, b item) int { return statusRank(b.c.Status) - statusRank(a.c.Status) })
	for _, it := range items {
		codes, known := docCodes[it.c.Name]
		if !known {
			codes = [2]string{ReasonDocCheckFailed, ReasonDocNeedsAttention}
		}
		detail := it.where + ": " + it.c.Reason
		switch it.c.Status {
		case imaging.Pass:
		case imaging.Refer:
			addAs(codes[1], Review, detail)
		default: // fail, and any status this version does not know
			add(codes[0], detail)
		}
	}
}

func statusRank(s imaging.Status) int {
	switch s {
	case imaging.Pass:
		return 0
	case imaging.Refer:
		return 1
	}
	return 2
}

// calibrationOf asks the engine for its calibration's FMR.
func calibrationOf(e FaceEngine) (fmr float64, ok bool) {
	if c, is := e.(CalibrationReporter); is {
		return c.CalibrationFMR()
	}
	return 0, false
}
