package txauth

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	mrand "math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// specFace is a face engine for tests: each PNG's first pixels state what a
// real engine would measure (identity, yaw, eye opening, PAD, number of
// faces); it builds real landmarks and templates from them, so eKYC's
// liveness check and the template comparison run unchanged.
type specFace struct{}

type spec struct {
	ID       uint8
	Yaw, EAR float64
	PAD      float64
	Faces    int
}

const specModel = "test/lm68/emb128"

func (specFace) Model() string { return specModel }
func (specFace) Decide(s face.Score) (face.Decision, error) {
	if s > 0.5 {
		return face.Match, nil
	}
	return face.NoMatch, nil
}

func (specFace) AnalyzeImage(_ context.Context, b []byte) ([]face.Face, error) {
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, errors.New("specFace: not a PNG")
	}
	px := func(x int) color.NRGBA { return color.NRGBAModel.Convert(img.At(x, 0)).(color.NRGBA) }
	a, c := px(0), px(1)
	sp := spec{ID: a.R, Yaw: (float64(a.G) - 128) / 100, EAR: float64(a.B) / 100, PAD: float64(c.R) / 255, Faces: int(c.G)}
	var out []face.Face
	for i := range sp.Faces {
		r := mrand.New(mrand.NewPCG(uint64(sp.ID)+uint64(i), 42))
		v := make([]float32, 128)
		for k := range v {
			v[k] = float32(r.NormFloat64())
		}
		tpl, err := face.NewTemplate(specModel, v)
		if err != nil {
			return nil, err
		}
		out = append(out, face.Face{Box: face.Box{10, 10, 100 - float32(i), 100}, Score: 0.99, Landmarks: specLandmarks(sp.Yaw, sp.EAR),
			Liveness: face.Liveness{Available: true, Real: float32(sp.PAD), Live: float32(sp.PAD)}, Embedding: tpl, Model: specModel})
	}
	return out, nil
}

// specLandmarks places the jaw ends, nose tip and eyes so that ekyc.Yaw and
// ekyc.EAR measure yaw and ear.
func specLandmarks(yaw, ear float64) [68]face.Point {
	var p [68]face.Point
	w := 80.0
	p[30] = face.Point{200, 200}
	p[0] = face.Point{float32(200 - w*(1+yaw)), 200}
	p[16] = face.Point{float32(200 + w*(1-yaw)), 200}
	eye := func(i int, x0, y float64) {
		ew, h := 30.0, ear*30
		p[i], p[i+3] = face.Point{float32(x0), float32(y)}, face.Point{float32(x0 + ew), float32(y)}
		p[i+1], p[i+2] = face.Point{float32(x0 + ew/3), float32(y - h/2)}, face.Point{float32(x0 + 2*ew/3), float32(y - h/2)}
		p[i+4], p[i+5] = face.Point{float32(x0 + 2*ew/3), float32(y + h/2)}, face.Point{float32(x0 + ew/3), float32(y + h/2)}
	}
	eye(36, 140, 160)
	eye(42, 230, 160)
	return p
}

func specPNG(t testing.TB, sp spec) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 16, 16))
	img.Set(0, 0, color.NRGBA{sp.ID, uint8(math.Round(sp.Yaw*100 + 128)), uint8(math.Round(sp.EAR * 100)), 255})
	img.Set(1, 0, color.NRGBA{uint8(math.Round(sp.PAD * 255)), uint8(sp.Faces), 0, 255})
	var noise [3]byte
	_, _ = rand.Read(noise[:])
	img.Set(2, 0, color.NRGBA{noise[0], noise[1], noise[2], 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// performance is what a live person (identity id) sends for steps.
func performance(t testing.TB, id uint8, steps []ekyc.Step) [][]byte {
	frontal := spec{ID: id, EAR: 0.3, PAD: 0.95, Faces: 1}
	out := [][]byte{specPNG(t, frontal)}
	for _, st := range steps {
		sp := frontal
		switch st {
		case ekyc.TurnLeft:
			sp.Yaw = 0.5
		case ekyc.TurnRight:
			sp.Yaw = -0.5
		case ekyc.Blink:
			sp.EAR = 0.05
		}
		out = append(out, specPNG(t, sp), specPNG(t, frontal))
	}
	return out
}

// selfieCustomer captures live selfies through eKYC's capture API, marks
// the session approved (as a decision would) and makes it a customer.
func (e *env) selfieCustomer(t *testing.T, reference string, id uint8) *ekyc.Customer {
	t.Helper()
	pol := ekyc.ExamplePolicy(0.5)
	pol.Methods = []string{"he"}
	if _, err := e.ekyc.SetPolicy(e.ctx, ekyc.System, e.tenantA, pol); err != nil {
		t.Fatal(err)
	}
	a := ekyc.Actor{Kind: audit.ActorClient, ID: "cl_test"}
	cr, err := e.ekyc.Create(e.ctx, a, e.tenantA, ekyc.CreateRequest{Method: "he", Reference: reference})
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.ekyc.StartCapture(e.ctx, tokenOf(t, cr.CaptureURL))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := base64.RawURLEncoding.DecodeString(st.Key)
	nonce := st.FrameNonce
	for i, img := range performance(t, id, st.Challenge) {
		f := ekyc.Frame{Kind: ekyc.FrameSelfie, Seq: i + 1, Nonce: nonce, CapturedAt: e.clock.Now().Truncate(time.Millisecond), Source: ekyc.SourceCamera, Image: img}
		f.MAC = base64.RawURLEncoding.EncodeToString(ekyc.FrameMAC(key, st.SessionID, &f))
		if nonce, err = e.ekyc.AddFrame(e.ctx, st.Key, f); err != nil {
			t.Fatalf("AddFrame = %v", err)
		}
	}
	if _, err := e.db.Exec(e.ctx, `UPDATE ekyc_sessions SET state = 'decided', outcome = 'approved', decided_at = ? WHERE id = ?`,
		store.Micros(e.clock.Now()), st.SessionID); err != nil {
		t.Fatal(err)
	}
	c, err := e.ekyc.CreateCustomer(e.ctx, a, e.tenantA, st.SessionID, reference)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func withFace(clk *clock, ec *ekyc.Config, tc *Config) { tc.Face = specFace{} }

func TestFaceReauthentication(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, withFace)
		e.svc.cfg.Selfies = e.ekyc
		cu := e.selfieCustomer(t, "C-FACE", 21)
		pol, _, _ := e.svc.Policy(e.ctx, e.tenantA)
		pol.Require = []Factor{FactorFace}
		if _, err := e.svc.SetPolicy(e.ctx, System, e.tenantA, pol); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: sampleTx()}); !errors.Is(err, ErrFactor) {
			t.Fatalf("Create(no template) = %v, want ErrFactor", err)
		}
		if m, err := e.svc.EnrollFace(e.ctx, client, e.tenantA, cu.ID); err != nil || m != specModel {
			t.Fatalf("EnrollFace = %q, %v", m, err)
		}
		if !slices.Contains(e.auditActions(cu.ID), "ekyc.customer.selfies") {
			t.Errorf("the selfie read is not audited: %v", e.auditActions(cu.ID))
		}
		run := func(frames func(steps []ekyc.Step) [][]byte) (*PageView, error) {
			t.Helper()
			cr, err := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: sampleTx()})
			if err != nil {
				t.Fatal(err)
			}
			tok := tokenOf(t, cr.ConfirmURL)
			fc, err := e.svc.FaceStart(e.ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			nonce := fc.Nonce
			for _, img := range frames(fc.Steps) {
				if nonce, err = e.svc.FaceFrame(e.ctx, tok, nonce, img); err != nil {
					t.Fatal(err)
				}
			}
			return e.svc.FaceSubmit(e.ctx, tok)
		}
		// The same person performing the challenge.
		v, err := run(func(steps []ekyc.Step) [][]byte { return performance(t, 21, steps) })
		if err != nil || v.State != StateConfirmed {
			t.Fatalf("FaceSubmit(live, same person) = %+v, %v", v, err)
		}
		reasons := func(err error) []string {
			var fe *FaceError
			if !errors.As(err, &fe) {
				t.Fatalf("FaceSubmit = %v, want *FaceError", err)
			}
			return fe.Reasons
		}
		// Another person.
		_, err = run(func(steps []ekyc.Step) [][]byte { return performance(t, 22, steps) })
		if r := reasons(err); !slices.Contains(r, ekyc.ReasonFaceMismatch) {
			t.Errorf("another person: reasons %v, want %s", r, ekyc.ReasonFaceMismatch)
		}
		// A photograph held to the camera: the same frontal frame again and again.
		_, err = run(func(steps []ekyc.Step) [][]byte {
			var out [][]byte
			for range 5 {
				out = append(out, specPNG(t, spec{ID: 21, EAR: 0.3, PAD: 0.95, Faces: 1}))
			}
			return out
		})
		if r := reasons(err); !slices.Contains(r, ekyc.ReasonStaticFrames) || slices.Contains(r, ekyc.ReasonFaceMismatch) {
			t.Errorf("still image: reasons %v, want %s only on liveness", r, ekyc.ReasonStaticFrames)
		}
		// A low PAD score (a screen replay).
		_, err = run(func(steps []ekyc.Step) [][]byte {
			fr := performance(t, 21, steps)
			fr[1] = specPNG(t, spec{ID: 21, Yaw: 0.5, EAR: 0.3, PAD: 0.1, Faces: 1})
			return fr
		})
		if r := reasons(err); !slices.Contains(r, ekyc.ReasonPADLow) {
			t.Errorf("low PAD: reasons %v, want %s", r, ekyc.ReasonPADLow)
		}
		// Frames must carry the current nonce, once.
		cr, _ := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: sampleTx()})
		tok := tokenOf(t, cr.ConfirmURL)
		fc, _ := e.svc.FaceStart(e.ctx, tok)
		img := specPNG(t, spec{ID: 21, EAR: 0.3, PAD: 0.95, Faces: 1})
		if _, err := e.svc.FaceFrame(e.ctx, tok, fc.Nonce, img); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.FaceFrame(e.ctx, tok, fc.Nonce, img); !errors.Is(err, ErrReplay) {
			t.Errorf("FaceFrame(reused nonce) = %v, want ErrReplay", err)
		}
		if _, err := e.svc.FaceFrame(e.ctx, tok, "AAAAAAAAAAAAAAAAAAAAAA", []byte("not an image")); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("FaceFrame(not an image) = %v, want ErrInvalidInput", err)
		}
	})
}
