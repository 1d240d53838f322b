package ekyc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/madoguchi/madoguchi/document/imaging"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// Synthetic method-ホ captures: an ID-1 card (tinted face, text bars, a
// portrait block on the front) seen by a pinhole camera on a noisy
// background, encoded as JPEG like a phone capture.

const texW, texH = 856, 540 // card texture, 10 px per mm

var portraitTex = image.Rect(600, 150, 810, 420)

type cardPose struct {
	tiltX, roll float64 // degrees
	dist        float64 // mm
	front       bool    // printed side with the portrait
	seed        uint64
	blur        int // box-blur radius, 3 passes
}

func (p cardPose) axes() (r1, r2 [3]float64) {
	a, b := p.roll*math.Pi/180, p.tiltX*math.Pi/180
	rot := func(x, y float64) [3]float64 { return [3]float64{x, y * math.Cos(b), y * math.Sin(b)} }
	return rot(math.Cos(a), math.Sin(a)), rot(-math.Sin(a), math.Cos(a))
}

// project maps card millimetres (origin at the centre) to pixels.
func (p cardPose) project(w, h int, x, y float64) (float64, float64) {
	r1, r2 := p.axes()
	f := 0.9 * float64(w)
	X, Y, Z := x*r1[0]+y*r2[0], x*r1[1]+y*r2[1], p.dist+x*r1[2]+y*r2[2]
	return float64(w)/2 + f*X/Z, float64(h)/2 + f*Y/Z
}

func (p cardPose) texel(u, v int) color.RGBA {
	base := color.RGBA{235, 235, 228, 255}
	if p.front {
		base = color.RGBA{222, 234, 212, 255}
	}
	if p.front && image.Pt(u, v).In(portraitTex) {
		dx, dy := float64(u-705)/70, float64(v-275)/95
		if dx*dx+dy*dy < 1 {
			return color.RGBA{220, 180, 150, 255}
		}
		return color.RGBA{150, 170, 190, 255}
	}
	if v >= 25 && v < 60 && u >= 30 && u < 826 {
		return color.RGBA{40, 110, 160, 255}
	}
	// Text-like bars, different per side.
	row := (v - 85) / 38
	if v >= 85 && v < 500 && (v-85)%38 < 17 && u >= 40 && u < 816 {
		r := rand.New(rand.NewPCG(p.seed, uint64(row)))
		for x := 40; x < 816; {
			n := 20 + r.IntN(90)
			if u >= x && u < x+n {
				return color.RGBA{30, 30, 40, 255}
			}
			x += n + 10 + r.IntN(25)
		}
	}
	f := 12 * math.Sin(float64(u)/23+3*math.Sin(float64(v)/41))
	c8 := func(x float64) uint8 { return uint8(min(max(x, 0), 255)) }
	return color.RGBA{c8(float64(base.R) + f), c8(float64(base.G) + f), c8(float64(base.B) - f), 255}
}

func (p cardPose) render(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(p.seed, 11))
	r1, r2 := p.axes()
	f := 0.9 * float64(w)
	for y := range h {
		for x := range w {
			// Ray-plane intersection: t*ray = C + a*r1 + b*r2.
			ray := [3]float64{(float64(x) + 0.5 - float64(w)/2) / f, (float64(y) + 0.5 - float64(h)/2) / f, 1}
			m := [3][3]float64{{ray[0], -r1[0], -r2[0]}, {ray[1], -r1[1], -r2[1]}, {ray[2], -r1[2], -r2[2]}}
			det := det3(m)
			c := [3]float64{0, 0, p.dist}
			col := func(i int) [3][3]float64 {
				n := m
				for k := range 3 {
					n[k][i] = c[k]
				}
				return n
			}
			a, b := det3(col(1))/det, det3(col(2))/det
			u, v := int(math.Floor((a+42.8)*10)), int(math.Floor((b+26.99)*10))
			if u >= 0 && u < texW && v >= 0 && v < texH {
				img.SetRGBA(x, y, p.texel(u, v))
				continue
			}
			g := 90 + 30*math.Sin(float64(x+2*y)/57) + 10*r.NormFloat64()
			c8 := func(x float64) uint8 { return uint8(min(max(x, 0), 255)) }
			img.SetRGBA(x, y, color.RGBA{c8(g + 20), c8(g), c8(g - 25), 255})
		}
	}
	for range 3 {
		if p.blur > 0 {
			img = boxBlur(img, p.blur)
		}
	}
	return img
}

func det3(m [3][3]float64) float64 {
	return m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) - m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) + m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
}

func boxBlur(src *image.RGBA, r int) *image.RGBA {
	b := src.Bounds()
	out := image.NewRGBA(b)
	for y := range b.Dy() {
		for x := range b.Dx() {
			var s [3]int
			n := 0
			for d := -r; d <= r; d++ {
				for e := -r; e <= r; e++ {
					p := src.RGBAAt(min(max(x+d, 0), b.Dx()-1), min(max(y+e, 0), b.Dy()-1))
					s[0], s[1], s[2] = s[0]+int(p.R), s[1]+int(p.G), s[2]+int(p.B)
					n++
				}
			}
			out.SetRGBA(x, y, color.RGBA{uint8(s[0] / n), uint8(s[1] / n), uint8(s[2] / n), 255})
		}
	}
	return out
}

func encodeJPEG(t testing.TB, img image.Image, q int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// portraitBox is where a face detector reports the printed portrait.
func (p cardPose) portraitBox(w, h int) face.Box {
	r := portraitTex.Inset(30)
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, c := range [][2]int{{r.Min.X, r.Min.Y}, {r.Max.X, r.Min.Y}, {r.Max.X, r.Max.Y}, {r.Min.X, r.Max.Y}} {
		x, y := p.project(w, h, float64(c[0])/10-42.8, float64(c[1])/10-26.99)
		minX, minY, maxX, maxY = min(minX, x), min(minY, y), max(maxX, x), max(maxY, y)
	}
	return face.Box{float32(minX), float32(minY), float32(maxX - minX), float32(maxY - minY)}
}

// docFace is testFace that also analyses decoded images (ImageAnalyzer):
// it reports the printed portrait at box.
type docFace struct {
	*testFace
	box face.Box
}

func (d docFace) Analyze(_ context.Context, img *image.RGBA) ([]face.Face, error) {
	if img.Rect.Dx() < 100 {
		return nil, nil
	}
	return []face.Face{{Box: d.box, Score: 0.98}}, nil
}

var (
	goodFront = cardPose{roll: 3, dist: 110, front: true, seed: 1}
	goodBack  = cardPose{roll: -2, dist: 108, seed: 2}
	goodTilt  = cardPose{tiltX: 35, roll: 5, dist: 102, front: true, seed: 3}
)

const frameW, frameH = 1024, 768

func TestHoDocumentChecks(t *testing.T) {
	front := encodeJPEG(t, goodFront.render(frameW, frameH), 92)
	back := encodeJPEG(t, goodBack.render(frameW, frameH), 92)
	tilt := encodeJPEG(t, goodTilt.render(frameW, frameH), 92)
	blurred := goodFront
	blurred.blur = 4
	cases := []struct {
		name              string
		front, back, tilt func(testing.TB) []byte
		outcome           Outcome
		want, absent      []string
		short             bool
	}{
		{"good", nil, nil, nil, OutcomeReview, []string{ReasonDocumentImages}, []string{ReasonDocBlur, ReasonDocSameImage, ReasonDocNoPortrait}, true},
		{"blurred front", func(t testing.TB) []byte { return encodeJPEG(t, blurred.render(frameW, frameH), 92) }, nil, nil,
			OutcomeRejected, []string{ReasonDocBlur}, nil, false},
		{"tilt is the front re-sent", nil, nil, func(t testing.TB) []byte {
			return encodeJPEG(t, goodFront.render(frameW, frameH), 91) // re-encoded: other bytes, same picture
		}, OutcomeRejected, []string{ReasonDocSameImage, ReasonDocNotTilted}, nil, true},
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, func(c *Config) {
			c.Face = docFace{c.Face.(*testFace), goodFront.portraitBox(frameW, frameH)}
		})
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if testing.Short() && !tc.short {
					t.Skip("-short runs the good and re-sent cases")
				}
				pick := func(f func(testing.TB) []byte, def []byte) []byte {
					if f == nil {
						return def
					}
					return f(t)
				}
				f, b, tl := pick(tc.front, front), pick(tc.back, back), pick(tc.tilt, tilt)
				e.face.mu.Lock()
				e.face.photos[sha256.Sum256(f)] = faceSpec{ID: 5, EAR: .3, PAD: 1, Faces: 1} // the printed portrait's identity
				e.face.mu.Unlock()
				p := e.open(e.create(e.tenantA, "ho"))
				p.frame(FrameDocFront, f)
				p.frame(FrameDocBack, b)
				p.frame(FrameDocTilt, tl)
				p.selfies(5, 0.95)
				ss, err := e.svc.Submit(e.ctx, p.start.Key)
				if err != nil {
					t.Fatalf("Submit = %v", err)
				}
				d := ss.Decision
				codes := d.ReasonCodes()
				if ss.Outcome != tc.outcome {
					t.Errorf("Submit(%s) = %s %v, want %s", tc.name, ss.Outcome, codes, tc.outcome)
				}
				for _, c := range tc.want {
					if !slices.Contains(codes, c) {
						t.Errorf("Submit(%s) reasons = %v, want %s", tc.name, codes, c)
					}
				}
				for _, c := range tc.absent {
					if slices.Contains(codes, c) {
						t.Errorf("Submit(%s) reasons = %v, want no %s", tc.name, codes, c)
					}
				}
				if d.Documents == nil || len(d.Documents.Frames) != 3 || len(d.Documents.Review) == 0 {
					t.Fatalf("Submit(%s) document report = %+v, want three frames and the review list", tc.name, d.Documents)
				}
				for _, r := range d.Reasons {
					if strings.HasPrefix(r.Code, "document.") && r.Code != ReasonDocumentImages && r.Detail == "" {
						t.Errorf("reason %s has no detail", r.Code)
					}
				}
				if tc.name != "good" {
					return
				}
				for _, r := range d.Reasons {
					if r.Action == Reject {
						t.Errorf("good capture: reason %s rejects (%s)", r.Code, r.Detail)
					}
				}
				// The reviewer sees the report and the checklist.
				rv := Staff{ID: "st_doc", Roles: []string{RoleReviewer}, TenantID: e.tenantA}
				if _, err := e.svc.Claim(e.ctx, rv, ss.ID); err != nil {
					t.Fatal(err)
				}
				v, err := e.svc.Evidence(e.ctx, rv, ss.ID)
				if err != nil {
					t.Fatal(err)
				}
				var texts []string
				for _, it := range v.Checklist {
					texts = append(texts, it.Text)
				}
				if diff := cmp.Diff(imaging.HumanReview(), texts[:len(texts)-1]); diff != "" {
					t.Errorf("Evidence checklist (-want +got):\n%s", diff)
				}
				if v.Documents == nil || v.Documents.Status != d.Documents.Status {
					t.Errorf("Evidence documents = %+v, want the decision's report", v.Documents)
				}
				got, err := e.svc.Decide(e.ctx, rv, ss.ID, ReviewDecision{Approve: false, Note: "document not genuine", Reasons: []string{ReviewDocumentSuspect}})
				if err != nil || got.Decision.Documents == nil {
					t.Errorf("Decide = %v, %v, want the report kept with the reviewer's decision", got, err)
				}
			})
		}
	})
}
