package imaging

import (
	"context"
	"fmt"
	"image"
	"math"
	"reflect"
)

// Metrics are the measured values behind a frame's checks.
type Metrics struct {
	Fill          float64 `json:"fill"`            // card area / frame area
	Aspect        float64 `json:"aspect"`          // Quad.Aspect
	Keystone      float64 `json:"keystone"`        // Quad.Keystone
	CornerSkewDeg float64 `json:"corner_skew_deg"` // Quad.CornerSkew
	WidthPx       float64 `json:"width_px"`        // Quad.WidthPx
	Coverage      float64 `json:"edge_coverage"`   // mean share of the outline backed by edges
	Blur          float64 `json:"blur"`            // Crete metric, 0 sharp .. 1 flat
	Detail        float64 `json:"detail"`          // mean absolute neighbour difference (luma)
	Mean          float64 `json:"mean"`            // luma
	StdDev        float64 `json:"std_dev"`
	ClipDark      float64 `json:"clip_dark"`
	ClipBright    float64 `json:"clip_bright"`
	GlareBlob     float64 `json:"glare_blob"` // largest saturated blob / card area
}

// FrameReport is the outcome of one frame's checks. It holds no pixels.
type FrameReport struct {
	Kind   FrameKind `json:"kind"`
	Width  int       `json:"width"`
	Height int       `json:"height"`
	// Outline is the card found, in pixels relative to the image's
	// Bounds().Min; nil if none was found.
	Outline *Quad `json:"outline,omitempty"`
	// Portrait is the face taken as the document's portrait (front only).
	Portrait *FaceBox `json:"portrait,omitempty"`
	Metrics  Metrics  `json:"metrics"`
	Checks   []Check  `json:"checks"`
	Status   Status   `json:"status"`
}

func (r *FrameReport) add(c Check) {
	r.Checks = append(r.Checks, c)
	r.Status = worse(r.Status, c.Status)
}

// Check returns the named check, if present.
func (r *FrameReport) Check(name string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

// frameAnalysis keeps what cross-frame checks need; it never leaves the
// package.
type frameAnalysis struct {
	rep   FrameReport
	work  *plane // whole frame, longest side <= workSide
	thumb *plane // whole frame, 64 x 48
	card  *plane // rectified card, 96 x 60, smoothed (nil: no card)
	ana   *plane // analysis plane for the edge band
	anaQ  Quad   // outline in ana's coordinates
	quad  Quad
	found bool
}

// Rectified sizes.
const (
	rectW   = 512 // quality measures
	cardTW  = 96  // card comparison
	cardTH  = 60
	thumbW  = 64
	thumbH  = 48
	inset   = 0.06 // margin dropped from the rectified card before measuring
	satLuma = 250
)

func (c *Checker) checkImage(img image.Image) error {
	if isNil(img) {
		return ErrImage
	}
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 {
		return fmt.Errorf("%w: empty image", ErrImage)
	}
	if b.Dx() > c.cfg.MaxSide || b.Dy() > c.cfg.MaxSide || int64(b.Dx())*int64(b.Dy()) > int64(c.cfg.MaxPixels) {
		return fmt.Errorf("%w: %dx%d, limit %d px per side and %d pixels", ErrTooLarge, b.Dx(), b.Dy(), c.cfg.MaxSide, c.cfg.MaxPixels)
	}
	return nil
}

// CheckFrame runs the single-frame checks for a frame of the given kind.
// It returns an error only if the frame cannot be examined (ErrImage,
// ErrTooLarge, ErrFaceFinder, a cancelled ctx); quality problems are failed
// checks in the report.
func (c *Checker) CheckFrame(ctx context.Context, kind FrameKind, img image.Image) (FrameReport, error) {
	a, err := c.analyze(ctx, kind, img)
	if err != nil {
		return FrameReport{}, err
	}
	return a.rep, nil
}

func (c *Checker) analyze(ctx context.Context, kind FrameKind, img image.Image) (*frameAnalysis, error) {
	switch kind {
	case Front, Back, Tilt:
	default:
		return nil, fmt.Errorf("%w: unknown frame kind %q", ErrConfig, kind)
	}
	if err := c.checkImage(img); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg := c.cfg
	b := img.Bounds()
	a := &frameAnalysis{rep: FrameReport{Kind: kind, Width: b.Dx(), Height: b.Dy(), Status: Pass}}
	r := &a.rep
	if s := min(b.Dx(), b.Dy()); s < cfg.MinSide {
		r.add(Check{CheckSize, Fail, float64(s), fmt.Sprintf(">= %d px", cfg.MinSide), "the picture is too small; use the camera at full resolution"})
	} else {
		r.add(Check{CheckSize, Pass, float64(s), fmt.Sprintf(">= %d px", cfg.MinSide), "the picture is large enough"})
	}

	k := workScale(b)
	a.work = lumaDown(img, k)
	a.thumb = resample(a.work, thumbW, thumbH)
	wq, cov, ok := findQuad(a.work)
	if !ok {
		r.add(Check{Name: CheckFound, Status: Fail, Reason: "no document outline was found; place the whole card on a plain, contrasting surface"})
		return a, nil
	}
	q := wq.scaled(float64(k))
	a.quad, a.found = q, true
	r.Outline = &q
	m := &r.Metrics
	m.Coverage = cov
	m.Fill = q.Area() / float64(b.Dx()*b.Dy())
	m.Aspect, m.Keystone, m.CornerSkewDeg, m.WidthPx = q.Aspect(), q.Keystone(), q.CornerSkew(), q.WidthPx()
	r.add(Check{CheckFound, Pass, cov, fmt.Sprintf(">= %.2f per side", minCoverage),
		fmt.Sprintf("document outline found, %.0f%% of its perimeter backed by edges", 100*cov)})

	c.geometryChecks(a)

	// Quality on the rectified card, sampled from a plane on which the
	// card's long side is 512..1023 px.
	long := max(q.side(0), q.side(2))
	ka := max(1, int(long/rectW))
	if ka == k {
		a.ana = a.work
	} else {
		a.ana = lumaDown(img, ka)
	}
	a.anaQ = q.scaled(1 / float64(ka))
	rh := int(math.Round(rectW / cfg.CardAspect))
	rc, ok := rectify(a.ana, a.anaQ, rectW, rh)
	if !ok {
		return a, nil // degenerate outlines are refused by findQuad; unreachable
	}
	if t, ok := rectify(a.work, wq, cardTW, cardTH); ok {
		a.card = blur3(t)
	}
	c.qualityChecks(a, crop(rc, inset))

	if kind == Front {
		if err := c.portraitCheck(ctx, a, img); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (c *Checker) geometryChecks(a *frameAnalysis) {
	cfg, r, q, m := c.cfg, &a.rep, a.quad, a.rep.Metrics
	w, h := float64(r.Width), float64(r.Height)
	margin := math.Inf(1)
	for _, p := range q {
		margin = min(margin, p.X, p.Y, w-p.X, h-p.Y)
	}
	mf := margin / min(w, h)
	if mf < cfg.MinMarginFrac {
		r.add(Check{CheckInFrame, Fail, mf, fmt.Sprintf(">= %.3f", cfg.MinMarginFrac), "the document touches or crosses the edge of the picture; all four corners must be visible"})
	} else {
		r.add(Check{CheckInFrame, Pass, mf, fmt.Sprintf(">= %.3f", cfg.MinMarginFrac), "all four corners are inside the picture"})
	}
	lim := fmt.Sprintf("%.2f..%.2f", cfg.MinFill, cfg.MaxFill)
	switch {
	case m.Fill < cfg.MinFill:
		r.add(Check{CheckFill, Fail, m.Fill, lim, "the document is too small in the picture; move the camera closer"})
	case m.Fill > cfg.MaxFill:
		r.add(Check{CheckFill, Fail, m.Fill, lim, "the document fills the picture completely; move the camera back so its edges show"})
	default:
		r.add(Check{CheckFill, Pass, m.Fill, lim, fmt.Sprintf("the document covers %.0f%% of the picture", 100*m.Fill)})
	}
	if r.Kind != Tilt {
		dev := math.Abs(m.Aspect/cfg.CardAspect - 1)
		if dev > cfg.AspectTol {
			r.add(Check{CheckAspect, Fail, m.Aspect, fmt.Sprintf("%.3f ± %.0f%%", cfg.CardAspect, 100*cfg.AspectTol),
				"the outline's proportions do not match an ID-1 card; the card may be cut off, folded, or not an accepted document"})
		} else {
			r.add(Check{CheckAspect, Pass, m.Aspect, fmt.Sprintf("%.3f ± %.0f%%", cfg.CardAspect, 100*cfg.AspectTol), "the outline has ID-1 card proportions"})
		}
		lim := fmt.Sprintf("keystone <= %.2f, corners within %.0f° of square", cfg.MaxFlatKeystone, cfg.MaxFlatSkewDeg)
		if m.Keystone > cfg.MaxFlatKeystone || m.CornerSkewDeg > cfg.MaxFlatSkewDeg {
			r.add(Check{CheckSkew, Fail, m.CornerSkewDeg, lim, "the card is photographed at an angle; hold the camera straight above it"})
		} else {
			r.add(Check{CheckSkew, Pass, m.CornerSkewDeg, lim, "the card is photographed straight on"})
		}
	} else {
		lim := fmt.Sprintf("keystone >= %.2f or a corner %.0f° or more from square", cfg.MinTiltKeystone, cfg.MinTiltSkewDeg)
		if m.Keystone >= cfg.MinTiltKeystone || m.CornerSkewDeg >= cfg.MinTiltSkewDeg {
			r.add(Check{CheckTilted, Pass, m.Keystone, lim, fmt.Sprintf("the card is seen in perspective (keystone %.2f, corner skew %.0f°)", m.Keystone, m.CornerSkewDeg)})
		} else {
			r.add(Check{CheckTilted, Fail, m.Keystone, lim, "the card is not tilted; tilt it so that its edge (thickness) shows"})
		}
	}
	rl := fmt.Sprintf(">= %.0f px", cfg.MinWidthPx)
	if m.WidthPx < cfg.MinWidthPx {
		r.add(Check{CheckResolution, Fail, m.WidthPx, rl, "too few pixels across the card to read it; move closer or use a higher resolution"})
	} else {
		r.add(Check{CheckResolution, Pass, m.WidthPx, rl, fmt.Sprintf("%.0f px across the card", m.WidthPx)})
	}
}

func (c *Checker) qualityChecks(a *frameAnalysis, card *plane) {
	cfg, r := c.cfg, &a.rep
	m := &r.Metrics
	m.Blur, m.Detail = creteBlur(card)
	bl := fmt.Sprintf("<= %.2f", cfg.MaxBlur)
	switch {
	case m.Detail < cfg.MinDetail:
		r.add(Check{CheckBlur, Refer, m.Blur, bl, "the card shows too little detail to judge sharpness"})
	case m.Blur > cfg.MaxBlur:
		r.add(Check{CheckBlur, Fail, m.Blur, bl, "the picture is blurred; hold still and let the camera focus"})
	default:
		r.add(Check{CheckBlur, Pass, m.Blur, bl, "the picture is sharp"})
	}
	e := measureExposure(card)
	m.Mean, m.StdDev, m.ClipDark, m.ClipBright = e.mean, e.std, e.clipDark, e.clipBright
	el := fmt.Sprintf("mean %.0f..%.0f, dark clip <= %.2f, bright clip <= %.2f", cfg.MinMean, cfg.MaxMean, cfg.MaxClipDark, cfg.MaxClipBright)
	switch {
	case e.mean < cfg.MinMean || e.clipDark > cfg.MaxClipDark:
		r.add(Check{CheckExposure, Fail, e.mean, el, "the picture is too dark; add light"})
	case e.mean > cfg.MaxMean || e.clipBright > cfg.MaxClipBright:
		r.add(Check{CheckExposure, Fail, e.mean, el, "the picture is overexposed; reduce the light or avoid direct light"})
	default:
		r.add(Check{CheckExposure, Pass, e.mean, el, "exposure is within range"})
	}
	cl := fmt.Sprintf(">= %.0f", cfg.MinStdDev)
	if e.std < cfg.MinStdDev {
		r.add(Check{CheckContrast, Fail, e.std, cl, "the card has too little contrast to read"})
	} else {
		r.add(Check{CheckContrast, Pass, e.std, cl, "contrast is sufficient"})
	}
	m.GlareBlob = largestBlob(card, satLuma)
	gl := fmt.Sprintf("<= %.3f of the card", cfg.MaxGlareBlob)
	if m.GlareBlob > cfg.MaxGlareBlob {
		r.add(Check{CheckGlare, Fail, m.GlareBlob, gl, fmt.Sprintf("a reflection covers %.1f%% of the card; tilt the card or move away from direct light", 100*m.GlareBlob)})
	} else {
		r.add(Check{CheckGlare, Pass, m.GlareBlob, gl, "no significant reflection"})
	}
}

func (c *Checker) portraitCheck(ctx context.Context, a *frameAnalysis, img image.Image) error {
	cfg, r, q := c.cfg, &a.rep, a.quad
	faces, err := c.faces.FindFaces(ctx, img)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %w", ErrFaceFinder, err)
	}
	var in []FaceBox
	outside := 0
	for _, f := range faces {
		if !(finite(f.X) && finite(f.Y) && finite(f.W) && finite(f.H)) || f.W <= 0 || f.H <= 0 {
			continue
		}
		if q.contains(f.centre()) {
			in = append(in, f)
		} else {
			outside++
		}
	}
	note := ""
	if outside > 0 {
		note = fmt.Sprintf(" (%d face(s) outside the document ignored)", outside)
	}
	if len(in) == 0 {
		r.add(Check{Name: CheckPortrait, Status: Fail, Limit: "one face inside the document", Reason: "no portrait was found on the document" + note})
		return nil
	}
	best := in[0]
	for _, f := range in[1:] {
		if f.W*f.H > best.W*best.H {
			best = f
		}
	}
	r.Portrait = &best
	cardH := (q.side(1) + q.side(3)) / 2
	frac := best.H / cardH
	uv := Point{-1, -1}
	if hm, ok := rectToQuad(1, 1, q); ok {
		if inv, ok := invert(hm); ok {
			uv = inv.apply(best.centre().X, best.centre().Y)
		}
	}
	lim := fmt.Sprintf("one face, height %.2f..%.2f of the card and >= %.0f px", cfg.MinPortraitFrac, cfg.MaxPortraitFrac, cfg.MinPortraitPx)
	where := fmt.Sprintf("portrait at (%.2f, %.2f) of the card, %.2f of its height, %.0f px tall", uv.X, uv.Y, frac, best.H)
	switch {
	case best.H < cfg.MinPortraitPx:
		r.add(Check{CheckPortrait, Fail, frac, lim, "the portrait is too small to compare with the selfie: " + where + note})
	case best.Weak:
		r.add(Check{CheckPortrait, Refer, frac, lim, "a face was found only with low confidence, which may not be a portrait: " + where + note})
	case len(in) > 1:
		r.add(Check{CheckPortrait, Refer, frac, lim, fmt.Sprintf("%d faces on the document (a ghost image, or something laid over the card): ", len(in)) + where + note})
	case frac < cfg.MinPortraitFrac || frac > cfg.MaxPortraitFrac:
		r.add(Check{CheckPortrait, Refer, frac, lim, "the portrait's size does not fit an ID photo: " + where + note})
	default:
		r.add(Check{CheckPortrait, Pass, frac, lim, where + note})
	}
	return nil
}

// resample averages g onto a w x h grid (area sampling where shrinking).
func resample(g *plane, w, h int) *plane {
	out := newPlane(w, h)
	sx, sy := float64(g.w)/float64(w), float64(g.h)/float64(h)
	for y := range h {
		y0, y1 := int(float64(y)*sy), max(int(float64(y+1)*sy), int(float64(y)*sy)+1)
		for x := range w {
			x0, x1 := int(float64(x)*sx), max(int(float64(x+1)*sx), int(float64(x)*sx)+1)
			var s float32
			n := 0
			for yy := y0; yy < min(y1, g.h); yy++ {
				for xx := x0; xx < min(x1, g.w); xx++ {
					s += g.p[yy*g.w+xx]
					n++
				}
			}
			if n > 0 {
				out.p[y*w+x] = s / float32(n)
			}
		}
	}
	return out
}

// isNil reports whether img is nil or a nil pointer in an interface.
func isNil(img image.Image) bool {
	if img == nil {
		return true
	}
	v := reflect.ValueOf(img)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
