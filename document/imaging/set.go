package imaging

import (
	"context"
	"fmt"
	"image"
	"slices"
	"strings"
)

// SetReport is the outcome of a method-ホ capture: each frame's report and
// the checks across frames. Status is the worst of all of them. Review
// lists what automation did not establish and a reviewer must (目視審査);
// it is never empty.
type SetReport struct {
	Frames []FrameReport `json:"frames"`
	Checks []Check       `json:"checks"`
	Status Status        `json:"status"`
	Review []string      `json:"review"`
}

func (r *SetReport) add(c Check) {
	r.Checks = append(r.Checks, c)
	r.Status = worse(r.Status, c.Status)
}

// Check returns the named cross-frame check, if present.
func (r *SetReport) Check(name string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

// Frame returns the report of the given frame kind, if present.
func (r *SetReport) Frame(k FrameKind) (FrameReport, bool) {
	for _, f := range r.Frames {
		if f.Kind == k {
			return f, true
		}
	}
	return FrameReport{}, false
}

// HumanReview lists what the automated checks do not establish. Every
// method-ホ verification goes to a reviewer for these, whatever the
// automated status.
func HumanReview() []string {
	return []string{
		"security features: hologram, microtext, latent image, colour-shifting ink, guilloche (not checked automatically)",
		"tampering of printed data: overprinting, a replaced portrait, altered digits or dates (not checked automatically)",
		"printed name, address and date of birth match the applicant's declared data (not read automatically)",
		"the document is of an accepted kind, unexpired, and not a copy, printout or screen (only outline, proportions and layout are checked)",
		"the back belongs to the same card as the front, and the band in the tilted frame is the card's real edge (only supporting evidence is measured)",
		"the portrait is the applicant (compared with the selfie by the eKYC decision, not here)",
	}
}

// CheckSet checks the three frames of a method-ホ capture and their
// consistency: no frame re-sent as another, the tilted frame showing the
// same card as the front (or back) in a different perspective, front and
// back differing, and an edge band where the tilt predicts one. Missing
// frames fail CheckAllFrames; other frames are still checked. Errors are
// as for CheckFrame.
func (c *Checker) CheckSet(ctx context.Context, s Set) (SetReport, error) {
	rep := SetReport{Status: Pass, Review: HumanReview()}
	frames := []struct {
		k   FrameKind
		img image.Image
	}{{Front, s.Front}, {Back, s.Back}, {Tilt, s.Tilt}}
	an := map[FrameKind]*frameAnalysis{}
	var missing []string
	for _, f := range frames {
		k, img := f.k, f.img
		if isNil(img) {
			missing = append(missing, string(k))
			continue
		}
		a, err := c.analyze(ctx, k, img)
		if err != nil {
			return SetReport{}, fmt.Errorf("%s frame: %w", k, err)
		}
		an[k] = a
		rep.Frames = append(rep.Frames, a.rep)
		rep.Status = worse(rep.Status, a.rep.Status)
	}
	if len(missing) > 0 {
		rep.add(Check{Name: CheckAllFrames, Status: Fail, Value: float64(3 - len(missing)), Limit: "front, back and tilt",
			Reason: "missing frame(s): " + strings.Join(missing, ", ")})
	} else {
		rep.add(Check{Name: CheckAllFrames, Status: Pass, Value: 3, Limit: "front, back and tilt", Reason: "front, back and tilted frames received"})
	}
	c.duplicates(&rep, an)
	c.sameDocument(&rep, an)
	c.sidesDiffer(&rep, an)
	c.poseDiffers(&rep, an)
	c.thickness(&rep, an[Tilt])
	return rep, nil
}

func (c *Checker) duplicates(rep *SetReport, an map[FrameKind]*frameAnalysis) {
	lim := fmt.Sprintf("not identical, thumbnail correlation < %.2f", c.cfg.NearDuplicateNCC)
	worst := -1.0
	var dup []string
	kinds := []FrameKind{Front, Back, Tilt}
	for i, ki := range kinds {
		for _, kj := range kinds[i+1:] {
			a, b := an[ki], an[kj]
			if a == nil || b == nil {
				continue
			}
			if a.work.w == b.work.w && a.work.h == b.work.h && slices.Equal(a.work.p, b.work.p) {
				dup = append(dup, fmt.Sprintf("the %s and %s frames are the same image", ki, kj))
				worst = 1
				continue
			}
			v := ncc(a.thumb.p, b.thumb.p)
			worst = max(worst, v)
			if v >= c.cfg.NearDuplicateNCC {
				dup = append(dup, fmt.Sprintf("the %s and %s frames are nearly identical (correlation %.3f)", ki, kj, v))
			}
		}
	}
	switch {
	case worst < -0.5:
		rep.add(Check{Name: CheckDuplicate, Status: Refer, Limit: lim, Reason: "fewer than two frames to compare"})
	case len(dup) > 0:
		rep.add(Check{CheckDuplicate, Fail, worst, lim, strings.Join(dup, "; ") + ": a picture was re-sent instead of a new capture"})
	default:
		rep.add(Check{CheckDuplicate, Pass, worst, lim, "every frame is a distinct picture"})
	}
}

// cardNCC compares two rectified cards, trying both upright and turned by
// 180 degrees (corner order puts a long side first, so these are the only
// ambiguities).
func cardNCC(a, b *plane) float64 {
	if a == nil || b == nil {
		return 0
	}
	rev := slices.Clone(b.p)
	slices.Reverse(rev)
	return max(ncc(a.p, b.p), ncc(a.p, rev))
}

func (c *Checker) sameDocument(rep *SetReport, an map[FrameKind]*frameAnalysis) {
	cfg := c.cfg
	lim := fmt.Sprintf(">= %.2f (refer from %.2f)", cfg.SameDocNCC, cfg.DifferentDocNCC)
	t := an[Tilt]
	if t == nil || t.card == nil {
		rep.add(Check{Name: CheckSameDocument, Status: Refer, Limit: lim, Reason: "no card outline in the tilted frame to compare"})
		return
	}
	best, side := -1.0, ""
	for _, k := range []FrameKind{Front, Back} {
		if a := an[k]; a != nil && a.card != nil {
			if v := cardNCC(a.card, t.card); v > best {
				best, side = v, string(k)
			}
		}
	}
	switch {
	case side == "":
		rep.add(Check{Name: CheckSameDocument, Status: Refer, Limit: lim, Reason: "no card outline in the front or back frame to compare with the tilted frame"})
	case best >= cfg.SameDocNCC:
		rep.add(Check{CheckSameDocument, Pass, best, lim, fmt.Sprintf("the tilted frame shows the same card layout as the %s (rectified correlation %.2f)", side, best)})
	case best < cfg.DifferentDocNCC:
		rep.add(Check{CheckSameDocument, Fail, best, lim, fmt.Sprintf("the tilted frame shows a different document (best rectified correlation %.2f, with the %s)", best, side)})
	default:
		rep.add(Check{CheckSameDocument, Refer, best, lim, fmt.Sprintf("the tilted frame resembles the %s only weakly (rectified correlation %.2f)", side, best)})
	}
}

func (c *Checker) sidesDiffer(rep *SetReport, an map[FrameKind]*frameAnalysis) {
	lim := fmt.Sprintf("rectified correlation < %.2f", c.cfg.SameDocNCC)
	f, b := an[Front], an[Back]
	if f == nil || b == nil || f.card == nil || b.card == nil {
		rep.add(Check{Name: CheckSidesDiffer, Status: Refer, Limit: lim, Reason: "front and back cannot be compared (a frame or its outline is missing)"})
		return
	}
	v := cardNCC(f.card, b.card)
	if v >= c.cfg.SameDocNCC {
		rep.add(Check{CheckSidesDiffer, Fail, v, lim, fmt.Sprintf("the back frame shows the same side as the front (rectified correlation %.2f)", v)})
		return
	}
	rep.add(Check{CheckSidesDiffer, Pass, v, lim, "front and back show different sides"})
}

func (c *Checker) poseDiffers(rep *SetReport, an map[FrameKind]*frameAnalysis) {
	lim := fmt.Sprintf("outline shape distance >= %.3f", c.cfg.MinPoseDistance)
	f, t := an[Front], an[Tilt]
	if f == nil || t == nil || !f.found || !t.found {
		rep.add(Check{Name: CheckPoseDiffers, Status: Refer, Limit: lim, Reason: "front and tilted outlines cannot be compared (a frame or its outline is missing)"})
		return
	}
	d := shapeDistance(f.quad, t.quad)
	if d < c.cfg.MinPoseDistance {
		rep.add(Check{CheckPoseDiffers, Fail, d, lim, fmt.Sprintf("the tilted frame shows the card in the same perspective as the front (shape distance %.3f): not a new, tilted capture", d)})
		return
	}
	rep.add(Check{CheckPoseDiffers, Pass, d, lim, fmt.Sprintf("the tilted frame's perspective differs from the front (shape distance %.3f)", d)})
}

func (c *Checker) thickness(rep *SetReport, t *frameAnalysis) {
	const lim = "an edge band on the near side only"
	if t == nil || !t.found {
		rep.add(Check{Name: CheckThickness, Status: Refer, Limit: lim, Reason: "no tilted card outline to look for an edge band"})
		return
	}
	want := expectedBandSides(t.anaQ, c.cfg.MinTiltKeystone/2)
	var found []int
	width := 0.0
	for i := range 4 {
		if b := bandOnSide(t.ana, t.anaQ, i); b.found {
			found = append(found, i)
			if slices.Contains(want, i) {
				width = max(width, b.width)
			}
		}
	}
	short := min(t.anaQ.side(1), t.anaQ.side(3))
	rel := 0.0
	if short > 0 {
		rel = width / short
	}
	hit := 0
	for _, i := range found {
		if slices.Contains(want, i) {
			hit++
		}
	}
	switch {
	case len(want) == 0:
		rep.add(Check{CheckThickness, Refer, 0, lim, "the card is not foreshortened enough to predict which edge should show"})
	case len(found) >= 3:
		rep.add(Check{CheckThickness, Refer, rel, lim, fmt.Sprintf("parallel bands along %d sides: consistent with a printed border rather than the card's edge", len(found))})
	case hit > 0:
		rep.add(Check{CheckThickness, Pass, rel, lim, fmt.Sprintf("an edge band %.1f%% of the card height wide runs along the side nearest the camera, as a tilted card shows (supporting evidence only)", 100*rel)})
	case len(found) > 0:
		rep.add(Check{CheckThickness, Refer, 0, lim, "a band appears only where the perspective predicts none"})
	default:
		rep.add(Check{CheckThickness, Refer, 0, lim, "no edge band is visible along the side nearest the camera"})
	}
}
