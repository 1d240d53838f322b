package ekyc

import (
	"errors"
	"fmt"
	"slices"

	"github.com/madoguchi/madoguchi/document/imaging"
)

// The reviewer's checklist (目視審査): what a person must establish before
// approving a referred session, by method. Each item has a stable code (the
// portal translates it; the JSON API shows the English text). Approving
// needs every item of the session's method confirmed (ReviewDecision.Checked).

// ChecklistItem is one thing a reviewer confirms.
type ChecklistItem struct {
	Code string `json:"code"`
	Text string `json:"text"`
}

// hoChecklistCodes name imaging.HumanReview's items, in its order.
var hoChecklistCodes = []string{
	"ho.security_features", "ho.tampering", "ho.printed_data", "ho.document_kind", "ho.same_card", "ho.portrait",
}

// Checklist items shared by the methods with a live selfie.
var (
	itemSelfieLive = ChecklistItem{Code: "selfie.live",
		Text: "the selfie frames show a live person performing the challenge, not a print, screen, mask or replay"}
	itemHePortrait = ChecklistItem{Code: "he.portrait_matches",
		Text: "the chip photo and the selfies show the same person"}
	itemHeChip = ChecklistItem{Code: "he.chip_checks",
		Text: "every chip check was read; nothing was relied on that the issuer's signature does not cover (unsigned attributes)"}
	itemWaSignature = ChecklistItem{Code: "wa.signature_checks",
		Text: "the signature, the certificate chain and its revocation status were read and are consistent with the session"}
)

// ReviewChecklist returns the checklist for a session of method m.
func ReviewChecklist(m Method) []ChecklistItem {
	var out []ChecklistItem
	switch {
	case m.NeedsDocumentImages:
		for i, text := range imaging.HumanReview() {
			code := fmt.Sprintf("ho.item_%d", i+1) // an item imaging added later still has to be confirmed
			if i < len(hoChecklistCodes) {
				code = hoChecklistCodes[i]
			}
			out = append(out, ChecklistItem{Code: code, Text: text})
		}
	case m.NeedsChip:
		out = append(out, itemHePortrait, itemHeChip)
	case m.NeedsSignature:
		out = append(out, itemWaSignature)
	}
	if m.NeedsSelfie {
		out = append(out, itemSelfieLive)
	}
	return out
}

// checkChecklist requires every item of m's checklist in checked, and
// nothing else.
func checkChecklist(m Method, checked []string) error {
	items := ReviewChecklist(m)
	if len(checked) > 2*len(items)+2 {
		return fmt.Errorf("%w: too many checklist items", ErrInvalidInput)
	}
	for _, c := range checked {
		if !slices.ContainsFunc(items, func(it ChecklistItem) bool { return it.Code == c }) {
			return fmt.Errorf("%w: unknown checklist item", ErrInvalidInput)
		}
	}
	for _, it := range items {
		if !slices.Contains(checked, it.Code) {
			return fmt.Errorf("%w: %w", ErrChecklist, ErrInvalidInput)
		}
	}
	return nil
}

// ErrChecklist: an approval without every checklist item confirmed.
var ErrChecklist = errors.New("ekyc: complete the review checklist before approving")

// ReviewReason is a reason code a reviewer gives for a decision.
type ReviewReason struct {
	Code string `json:"code"`
	// Approve and Reject say with which verdict the code may be given.
	Approve bool `json:"approve"`
	Reject  bool `json:"reject"`
}

// Reviewer reason codes.
const (
	ReviewIdentityConfirmed = "review.identity_confirmed"
	ReviewLivenessConfirmed = "review.liveness_confirmed"
	ReviewDocumentGenuine   = "review.document_genuine"
	ReviewFaceMismatch      = "review.face_mismatch"
	ReviewPresentation      = "review.presentation_attack"
	ReviewDocumentSuspect   = "review.document_suspect"
	ReviewImageQuality      = "review.image_quality"
	ReviewDataMismatch      = "review.data_mismatch"
	ReviewOther             = "review.other"
)

// ReviewReasons lists the reason codes a reviewer chooses from.
func ReviewReasons() []ReviewReason {
	return []ReviewReason{
		{Code: ReviewIdentityConfirmed, Approve: true},
		{Code: ReviewLivenessConfirmed, Approve: true},
		{Code: ReviewDocumentGenuine, Approve: true},
		{Code: ReviewFaceMismatch, Reject: true},
		{Code: ReviewPresentation, Reject: true},
		{Code: ReviewDocumentSuspect, Reject: true},
		{Code: ReviewImageQuality, Reject: true},
		{Code: ReviewDataMismatch, Reject: true},
		{Code: ReviewOther, Approve: true, Reject: true},
	}
}

// checkReviewReasons requires 1..4 distinct codes that fit the verdict.
func checkReviewReasons(approve bool, codes []string) error {
	if len(codes) == 0 || len(codes) > 4 {
		return fmt.Errorf("%w: give 1-4 reason codes", ErrInvalidInput)
	}
	all := ReviewReasons()
	for i, c := range codes {
		j := slices.IndexFunc(all, func(r ReviewReason) bool { return r.Code == c })
		if j < 0 || slices.Contains(codes[:i], c) || (approve && !all[j].Approve) || (!approve && !all[j].Reject) {
			return fmt.Errorf("%w: reason code does not fit the decision", ErrInvalidInput)
		}
	}
	return nil
}

// EngineRejected reports whether the automated checks failed: the decision
// has a reason whose default action is reject (DefaultActions) that the
// tenant's policy referred to a person instead. Approving such a session
// overrides the engine and needs a second reviewer (four eyes).
func (d *Decision) EngineRejected() bool {
	if d == nil {
		return false
	}
	if d.Automated != nil {
		d = d.Automated
	}
	def := DefaultActions()
	for _, r := range d.Reasons {
		if def[r.Code] == Reject {
			return true
		}
	}
	return false
}
