package portal

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/blob"
	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/jpdl"
	"github.com/madoguchi/madoguchi/document/jpdl/jpdltest"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/notify"
)

// The workbench's tests run the real ekyc service (sessions, capture
// binding, decisions, vault, blobs, audit) on the portal's test store, with
// the real driver's-licence verifier and a TEST issuer for ヘ chips, and a
// small face engine that reads the head pose from the test frames (the
// real engine is tested in package face): every frame shows the same
// person; the engine has no calibration and no PAD score, so every face
// match is referred; a still sequence fails the liveness challenge, which
// the tenants' refer-everything policy (ekyc.ExampleReferPolicy) refers
// too — a failed check whose approval then needs four eyes.

// chipPhotoFile is a real JPEG 2000 portrait (face/imageio's test data).
const chipPhotoFile = "../face/imageio/jpeg2000/testdata/face_97.jp2"

// pdfFontFile is Debian's fonts-ipaexfont-gothic (installed by .ci/run).
const pdfFontFile = "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"

// testIssuer is one TEST licence issuer for the package (RSA key
// generation is slow).
var testIssuer = sync.OnceValues(func() (*jpdltest.Issuer, error) { return jpdltest.New(nil, "portal test PSC") })

const testFaceModel = "portal-test/lm68/emb128"

// licenceSerial numbers the TEST licences.
var licenceSerial atomic.Int64

// poseFace reads the pose from pixel (0,0) of a PNG frame: red 1 turned
// left, 2 turned right, 3 eyes closed, anything else frontal. Any other
// image (the chip's JPEG 2000 photo) is a frontal face.
type poseFace struct{}

func (poseFace) Model() string { return testFaceModel }
func (poseFace) Decide(face.Score) (face.Decision, error) {
	return face.Refer, face.ErrUncalibrated
}

func (poseFace) AnalyzeImage(_ context.Context, b []byte) ([]face.Face, error) {
	yaw, ear := 0.0, 0.3
	if img, err := png.Decode(bytes.NewReader(b)); err == nil {
		r, _, _, _ := img.At(0, 0).RGBA()
		switch r >> 8 {
		case 1:
			yaw = 0.5
		case 2:
			yaw = -0.5
		case 3:
			ear = 0.05
		}
	}
	v := make([]float32, 128)
	for i := range v {
		v[i] = float32(i%7) - 3
	}
	tpl, err := face.NewTemplate(testFaceModel, v)
	if err != nil {
		return nil, err
	}
	return []face.Face{{Box: face.Box{10, 10, 100, 100}, Score: 0.99, Landmarks: poseLandmarks(yaw, ear), Embedding: tpl, Model: testFaceModel}}, nil
}

// poseLandmarks places the jaw ends, nose tip and eyes so that ekyc.Yaw
// and ekyc.EAR measure yaw and ear.
func poseLandmarks(yaw, ear float64) [68]face.Point {
	var p [68]face.Point
	nx, ny, w := 200.0, 200.0, 80.0
	p[30] = face.Point{float32(nx), float32(ny)}
	p[0] = face.Point{float32(nx - w*(1+yaw)), float32(ny)}
	p[16] = face.Point{float32(nx + w*(1-yaw)), float32(ny)}
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

// posePNG is a small frame with the pose code and noise (no two frames
// are the same image).
func posePNG(t testing.TB, pose uint8) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 32, 24))
	noise := make([]byte, 32*24*3)
	_, _ = rand.Read(noise)
	for i := range 32 * 24 {
		img.Set(i%32, i/32, color.NRGBA{noise[3*i], noise[3*i+1], noise[3*i+2], 255})
	}
	img.Set(0, 0, color.NRGBA{pose, 0, 0, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type licenceChips struct{ v *jpdl.Verifier }

func (c licenceChips) Verify(_ context.Context, kind document.Kind, files map[string][]byte, _ []byte) (*document.Evidence, error) {
	if kind != document.KindJPDL {
		return nil, document.ErrNotAccepted
	}
	return c.v.Verify(jpdl.Files{Common: files["mf_ef01"], Matters: files["df1_ef01"], Honseki: files["df1_ef02"],
		Signature: files["df1_ef07"], Photo: files["df2_ef01"]}, time.Now())
}

// reviewEnv is the eKYC side of the portal's test environment.
type reviewEnv struct {
	svc *ekyc.Service
	log *audit.Log
}

// withReview wires the real ekyc service into the portal's configuration.
func (e *env) withReview(bs *blob.Store) {
	t := e.t
	is, err := testIssuer()
	if err != nil {
		t.Fatal(err)
	}
	jv, err := jpdl.NewVerifier([]*x509.Certificate{is.Certificate()})
	if err != nil {
		t.Fatal(err)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := ekyc.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	_, wk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := notify.NewSigner(wk)
	if err != nil {
		t.Fatal(err)
	}
	nt, err := notify.New(notify.Config{DB: e.db, Audit: e.audit, Vault: e.vault, Signer: ws, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	rk, err := ekyc.NewReuseKey(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	e.fraud = &namingFraud{} // names nothing until a test sets it (review_related_test.go)
	svc, err := ekyc.New(ekyc.Config{DB: e.db, Audit: e.audit, Vault: e.vault, Blobs: bs, Face: poseFace{}, Chips: licenceChips{jv},
		Signer: rs, ChipReuseKey: rk, Notify: nt, PublicURL: "https://portal.test", Now: e.clock.Now, Reviewers: e.dir, Fraud: e.fraud})
	if err != nil {
		t.Fatal(err)
	}
	e.rv = &reviewEnv{svc: svc, log: e.audit.log}
	e.cfg.Reviews, e.cfg.Records, e.cfg.Proofs = svc, svc, e.audit.log
	if font, err := os.ReadFile(pdfFontFile); err == nil {
		e.cfg.PDFFont = font
	}
}

// setPolicy changes a tenant's policy (from the refer-everything one).
func (e *env) setPolicy(tenant string, edit func(*ekyc.Policy)) {
	e.t.Helper()
	p := ekyc.ExampleReferPolicy(0.5)
	p.Methods = []string{"he", "ho"}
	edit(&p)
	if _, err := e.rv.svc.SetPolicy(context.Background(), ekyc.System, tenant, p); err != nil {
		e.t.Fatal(err)
	}
}

// referred runs one session of method ("he" or "ho") in tenant through the
// capture page's part and returns it decided(review). live performs the
// liveness challenge; otherwise every selfie is frontal (a still image:
// the engine's liveness check fails, so approving needs four eyes).
func (e *env) referred(tenant, method string, live bool) *ekyc.Session {
	e.t.Helper()
	ctx := context.Background()
	svc := e.rv.svc
	// The tenant's first session: the refer-everything policy (other
	// tests of the package start from a tenant without a policy).
	if _, _, err := svc.Policy(ctx, tenant); errors.Is(err, ekyc.ErrNoPolicy) {
		e.setPolicy(tenant, func(*ekyc.Policy) {})
	}
	c, err := svc.Create(ctx, ekyc.Actor{Kind: audit.ActorClient, ID: "cl_test"}, tenant, ekyc.CreateRequest{Method: method, Reference: "cust-" + method})
	if err != nil {
		e.t.Fatal(err)
	}
	id := c.Session.ID
	if method == "he" {
		photo, err := os.ReadFile(chipPhotoFile)
		if err != nil {
			e.t.Fatal(err)
		}
		// Each licence's photo differs (a trailing JP2 'free' box): a chip
		// whose signed data was seen before is a failed check (chip.reused).
		n := licenceSerial.Add(1)
		photo = append(append(photo[:len(photo):len(photo)], 0, 0, 0, 16, 'f', 'r', 'e', 'e'), []byte(fmt.Sprintf("%08d", n))...)
		is, _ := testIssuer()
		f, err := is.Issue(jpdltest.Licence{Name: "見本　花子", Kana: "ミホン　ハナコ", Address: "東京都千代田区千代田１－１", Honseki: "東京都",
			PSC: "東京都公安委員会", Colour: "ゴールド", Birth: time.Date(1990, 1, 2, 0, 0, 0, 0, time.UTC),
			Issued: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), Expiry: time.Date(2030, 2, 2, 0, 0, 0, 0, time.UTC),
			Number: fmt.Sprintf("30%010d", n), Photo: photo})
		if err != nil {
			e.t.Fatal(err)
		}
		files := map[string][]byte{"mf_ef01": f.Common, "df1_ef01": f.Matters, "df1_ef02": f.Honseki, "df1_ef07": f.Signature, "df2_ef01": f.Photo}
		if sum, err := svc.SubmitChip(ctx, ekyc.Actor{Kind: audit.ActorClient, ID: "kiosk"}, tenant, id, document.KindJPDL, files); err != nil || !sum.Verified {
			e.t.Fatalf("SubmitChip = %+v, %v", sum, err)
		}
	}
	_, tok, _ := strings.Cut(c.CaptureURL, "#t=")
	st, err := svc.StartCapture(ctx, tok)
	if err != nil {
		e.t.Fatal(err)
	}
	key, _ := base64.RawURLEncoding.DecodeString(st.Key)
	nonce, seq := st.FrameNonce, 0
	send := func(kind ekyc.FrameKind, img []byte) {
		seq++
		fr := ekyc.Frame{Kind: kind, Seq: seq, Nonce: nonce, CapturedAt: e.clock.Now().Truncate(time.Millisecond), Source: ekyc.SourceCamera, Image: img}
		fr.MAC = base64.RawURLEncoding.EncodeToString(ekyc.FrameMAC(key, st.SessionID, &fr))
		if nonce, err = svc.AddFrame(ctx, st.Key, fr); err != nil {
			e.t.Fatalf("AddFrame(%s) = %v", kind, err)
		}
	}
	if method == "ho" {
		send(ekyc.FrameDocFront, cardPNG(e.t, 4))
		send(ekyc.FrameDocBack, cardPNG(e.t, -3))
		send(ekyc.FrameDocTilt, cardPNG(e.t, 12))
	}
	send(ekyc.FrameSelfie, posePNG(e.t, 0))
	for _, step := range st.Challenge {
		pose := uint8(0)
		if live {
			pose = map[ekyc.Step]uint8{ekyc.TurnLeft: 1, ekyc.TurnRight: 2, ekyc.Blink: 3}[step]
		}
		send(ekyc.FrameSelfie, posePNG(e.t, pose))
		send(ekyc.FrameSelfie, posePNG(e.t, 0))
	}
	ss, err := svc.Submit(ctx, st.Key)
	if err != nil {
		e.t.Fatal(err)
	}
	if ss.Outcome != ekyc.OutcomeReview {
		e.t.Fatalf("session %s outcome %s %v, want review", method, ss.Outcome, ss.Decision.ReasonCodes())
	}
	return ss
}

// staffOf is a persona as the review domain knows them.
func (e *env) staffOf(name string) ekyc.Staff {
	p := e.people[name]
	return ekyc.Staff{ID: p.id, Roles: []string{ekyc.RoleReviewer}, TenantID: p.tenant}
}

// claimAs claims session id for persona name.
func (e *env) claimAs(name, id string) {
	e.t.Helper()
	if _, err := e.rv.svc.Claim(context.Background(), e.staffOf(name), id); err != nil {
		e.t.Fatalf("claim %s as %s: %v", id, name, err)
	}
}

// decided returns a session of tenant decided by a reviewer, with its
// verification record.
func (e *env) decided(tenant string) *ekyc.Session {
	e.t.Helper()
	ss := e.referred(tenant, "he", true)
	who := map[string]string{"tn_a": "a-reviewer", "tn_b": "b-reviewer"}[tenant]
	b := e.signedIn(who) // the claim holds while its holder is signed in
	_ = b
	e.claimAs(who, ss.ID)
	var checked []string
	for _, it := range ekyc.ReviewChecklist(ss.Method) {
		checked = append(checked, it.Code)
	}
	got, err := e.rv.svc.Decide(context.Background(), e.staffOf(who), ss.ID, ekyc.ReviewDecision{Approve: true, Note: "portrait matches",
		Reasons: []string{ekyc.ReviewIdentityConfirmed}, Checked: checked})
	if err != nil || got.Outcome != ekyc.OutcomeApproved {
		e.t.Fatalf("Decide = %v, %v (automated reasons %v)", got.Outcome, err, ss.Decision.ReasonCodes())
	}
	return got
}

func recordOf(ss *ekyc.Session) string { return "rec_" + strings.TrimPrefix(ss.ID, "ses_") }

// Analyze lets the document-image checks (document/imaging) run on the ホ
// frames: any decoded image shows the frontal face.
func (f poseFace) Analyze(ctx context.Context, img *image.RGBA) ([]face.Face, error) {
	var buf bytes.Buffer
	return f.AnalyzeImage(ctx, buf.Bytes())
}

// cardPNG is a photograph of an ID-1 card: a light, textured card (turned
// by angle degrees, seen from slightly above) on a dark textured table.
func cardPNG(t testing.TB, angle float64) []byte {
	t.Helper()
	const w, h = 960, 720
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	noise := make([]byte, w*h)
	_, _ = rand.Read(noise)
	cx, cy := float64(w)/2, float64(h)/2
	cw, ch := 700.0, 700.0/1.5858
	sin, cos := math.Sincos(angle * math.Pi / 180)
	for y := range h {
		for x := range w {
			dx, dy := float64(x)-cx, float64(y)-cy
			u, v := dx*cos+dy*sin, -dx*sin+dy*cos
			n := int(noise[y*w+x]) / 16
			if math.Abs(u) < cw/2 && math.Abs(v) < ch/2 {
				s := 190 + int(20*math.Sin(u/9)*math.Sin(v/13)) + n
				if u > cw/6 && u < cw/2-30 && math.Abs(v) < ch/3 {
					s -= 60 // the portrait block
				}
				img.Set(x, y, color.RGBA{uint8(s), uint8(s - 5), uint8(s - 20), 255})
			} else {
				s := 45 + n + int(10*math.Sin(float64(x)/5))
				img.Set(x, y, color.RGBA{uint8(s), uint8(s), uint8(s + 5), 255})
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
