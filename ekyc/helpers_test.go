package ekyc

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/blob"
	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/jpdl"
	"github.com/madoguchi/madoguchi/document/jpdl/jpdltest"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/notify"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/tenant"
	"github.com/madoguchi/madoguchi/vault"
	"github.com/madoguchi/madoguchi/vault/vaulttest"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testFace is a face engine for tests: the images are PNGs whose first
// pixels state what a real engine would measure (identity, yaw, eye
// opening, PAD score, number of faces). It builds real landmarks and real
// templates from them, so the liveness checker and the comparisons run
// unchanged. Non-PNG inputs (the chip photo) map through photos.
type testFace struct {
	mu           sync.Mutex
	photos       map[[32]byte]faceSpec
	uncalibrated bool
	busy         bool
	calls        int
	// slots, if set, bounds concurrent analyses like face.Engine's queue:
	// a caller finding no free slot gets face.ErrBusy at once.
	slots chan struct{}
	// delay is how long an analysis takes; active and maxActive count
	// concurrent analyses.
	delay             time.Duration
	active, maxActive int
}

type faceSpec struct {
	ID    uint8   // identity; 0 = no face
	Yaw   float64 // yaw ratio, -1..1
	EAR   float64 // eye aspect ratio
	PAD   float64 // 0..1
	Faces int
}

const testModel = "test/lm68/emb128"

func (tf *testFace) Model() string { return testModel }

func (tf *testFace) Decide(s face.Score) (face.Decision, error) {
	if tf.uncalibrated {
		return face.Refer, face.ErrUncalibrated
	}
	if s > 0.5 {
		return face.Match, nil
	}
	return face.NoMatch, nil
}

// CalibrationFMR states the FMR the test calibration is set at: the
// example policy's.
func (tf *testFace) CalibrationFMR() (float64, bool) { return 1e-4, !tf.uncalibrated }

func (tf *testFace) AnalyzeImage(_ context.Context, b []byte) ([]face.Face, error) {
	tf.mu.Lock()
	tf.calls++
	busy := tf.busy
	sp, known := tf.photos[sha256.Sum256(b)]
	tf.active++
	tf.maxActive = max(tf.maxActive, tf.active)
	delay := tf.delay
	tf.mu.Unlock()
	defer func() { tf.mu.Lock(); tf.active--; tf.mu.Unlock() }()
	time.Sleep(delay)
	if busy {
		return nil, face.ErrBusy
	}
	if tf.slots != nil {
		select {
		case tf.slots <- struct{}{}:
			defer func() { <-tf.slots }()
			time.Sleep(2 * time.Millisecond) // inference takes time
		default:
			return nil, face.ErrBusy
		}
	}
	if !known {
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			return nil, errors.New("testFace: not a PNG")
		}
		sp = decodeSpec(img)
	}
	if sp.ID == 0 || sp.Faces == 0 {
		return nil, nil
	}
	var out []face.Face
	for i := 0; i < sp.Faces; i++ {
		tpl, err := face.NewTemplate(testModel, identityVector(sp.ID+uint8(i)))
		if err != nil {
			return nil, err
		}
		out = append(out, face.Face{
			Box: face.Box{10, 10, 100 - float32(i), 100}, Score: 0.99, Landmarks: landmarks(sp.Yaw, sp.EAR),
			Liveness:  face.Liveness{Available: sp.PAD >= 0, Real: float32(sp.PAD), Live: float32(sp.PAD)},
			Embedding: tpl, Model: testModel,
		})
	}
	return out, nil
}

func identityVector(id uint8) []float32 {
	r := mrand.New(mrand.NewPCG(uint64(id), 42))
	v := make([]float32, 128)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// landmarks places the jaw ends, nose tip and eyes so that Yaw and EAR
// measure yaw and ear exactly.
func landmarks(yaw, ear float64) [68]face.Point {
	var p [68]face.Point
	nose := [2]float64{200, 200}
	w := 80.0
	dl, dr := w*(1+yaw), w*(1-yaw)
	p[30] = face.Point{float32(nose[0]), float32(nose[1])}
	p[0] = face.Point{float32(nose[0] - dl), float32(nose[1])}
	p[16] = face.Point{float32(nose[0] + dr), float32(nose[1])}
	eye := func(i int, x0, y float64) {
		ew := 30.0
		h := ear * ew
		p[i] = face.Point{float32(x0), float32(y)}
		p[i+3] = face.Point{float32(x0 + ew), float32(y)}
		p[i+1] = face.Point{float32(x0 + ew/3), float32(y - h/2)}
		p[i+2] = face.Point{float32(x0 + 2*ew/3), float32(y - h/2)}
		p[i+4] = face.Point{float32(x0 + 2*ew/3), float32(y + h/2)}
		p[i+5] = face.Point{float32(x0 + ew/3), float32(y + h/2)}
	}
	eye(36, 140, 160)
	eye(42, 230, 160)
	return p
}

func decodeSpec(img image.Image) faceSpec {
	px := func(x int) (uint8, uint8, uint8) {
		c := color.NRGBAModel.Convert(img.At(x, 0)).(color.NRGBA)
		return c.R, c.G, c.B
	}
	id, yaw, ear := px(0)
	pad, faces, _ := px(1)
	sp := faceSpec{ID: id, Yaw: (float64(yaw) - 128) / 100, EAR: float64(ear) / 100, PAD: float64(pad) / 255, Faces: int(faces)}
	if pad == 0 {
		sp.PAD = -1 // no PAD score available
	}
	return sp
}

// specPNG encodes a faceSpec (plus random noise so every frame differs).
func specPNG(t testing.TB, sp faceSpec) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 16, 16))
	img.Set(0, 0, color.NRGBA{sp.ID, uint8(math.Round(sp.Yaw*100 + 128)), uint8(math.Round(sp.EAR * 100)), 255})
	pad := uint8(0)
	if sp.PAD >= 0 {
		pad = uint8(math.Round(sp.PAD * 255))
	}
	img.Set(1, 0, color.NRGBA{pad, uint8(sp.Faces), 0, 255})
	var noise [3]byte
	_, _ = rand.Read(noise[:])
	img.Set(2, 0, color.NRGBA{noise[0], noise[1], noise[2], 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// jpdlChips verifies driver's-licence chip files with the real verifier.
type jpdlChips struct{ v *jpdl.Verifier }

func (c jpdlChips) Verify(_ context.Context, kind document.Kind, files map[string][]byte, _ []byte) (*document.Evidence, error) {
	if kind != document.KindJPDL {
		return nil, document.ErrNotAccepted
	}
	return c.v.Verify(jpdl.Files{
		Common: files["mf_ef01"], Matters: files["df1_ef01"], Honseki: files["df1_ef02"], Changes: files["df1_ef04"],
		Signature: files["df1_ef07"], Photo: files["df2_ef01"],
	}, time.Now())
}

func licenceFiles(f jpdl.Files) map[string][]byte {
	m := map[string][]byte{"mf_ef01": f.Common, "df1_ef01": f.Matters, "df1_ef02": f.Honseki, "df1_ef07": f.Signature, "df2_ef01": f.Photo}
	if f.Changes != nil {
		m["df1_ef04"] = f.Changes
	}
	return m
}

type env struct {
	t       testing.TB
	db      *store.DB
	svc     *Service
	face    *testFace
	clock   *clock
	issuer  *jpdltest.Issuer
	tenantA string
	tenantB string
	blobs   *blob.Store
	log     *audit.Log
	vault   *vault.Vault
	notify  *notify.Notifier
	ctx     context.Context
	issued  atomic.Int64 // licences issued (each gets its own number)
}

var client = Actor{Kind: audit.ActorClient, ID: "cl_test"}

func newEnv(t testing.TB, db *store.DB, mutate ...func(*Config)) *env {
	t.Helper()
	ctx := context.Background()
	stack := vaulttest.New(t, db)
	alog, bs, v := stack.Audit, stack.Blobs, stack.Vault
	is, err := jpdltest.New(nil, "ekyc test PSC")
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
	rs, err := NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 5, 1, 1, 0, 0, 0, time.UTC)}
	tf := &testFace{photos: map[[32]byte]faceSpec{}}
	rk, err := NewReuseKey(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{DB: db, Audit: alog, Vault: v, Blobs: bs, Face: tf, Chips: jpdlChips{jv}, Signer: rs, ChipReuseKey: rk,
		PublicURL: "https://madoguchi.test", Now: clk.Now, AllowInsecureWebhooks: true}
	for _, m := range mutate {
		m(&cfg)
	}
	_, wk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := notify.NewSigner(wk)
	if err != nil {
		t.Fatal(err)
	}
	nt, err := notify.New(notify.Config{DB: db, Audit: alog, Vault: v, Signer: ws, AllowInsecure: cfg.AllowInsecureWebhooks, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Notify = nt
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	reg := tenant.NewRegistry(db, alog)
	e := &env{t: t, db: db, svc: svc, face: tf, clock: clk, issuer: is, blobs: bs, log: alog, vault: v, notify: nt, ctx: ctx}
	for i, name := range []string{"bank-a", "bank-b"} {
		tn, err := reg.CreateTenant(ctx, tenant.Actor{Kind: audit.ActorSystem}, name)
		if err != nil {
			t.Fatal(err)
		}
		p := ExamplePolicy(0.5)
		p.Methods = []string{"he", "ho"}
		if _, err := svc.SetPolicy(ctx, System, tn.ID, p); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			e.tenantA = tn.ID
		} else {
			e.tenantB = tn.ID
		}
	}
	return e
}

// page simulates the capture page: it redeems the token and posts frames
// bound with the capture key and the nonce chain.
type page struct {
	e     *env
	start *CaptureStart
	key   []byte
	nonce string
	seq   int
}

func tokenOf(t testing.TB, c *Created) string {
	t.Helper()
	_, tok, ok := bytes.Cut([]byte(c.CaptureURL), []byte("#t="))
	if !ok {
		t.Fatalf("capture URL %q has no token fragment", c.CaptureURL)
	}
	return string(tok)
}

func (e *env) open(c *Created) *page {
	e.t.Helper()
	st, err := e.svc.StartCapture(e.ctx, tokenOf(e.t, c))
	if err != nil {
		e.t.Fatalf("StartCapture = %v, want nil", err)
	}
	key, err := base64.RawURLEncoding.DecodeString(st.Key)
	if err != nil {
		e.t.Fatal(err)
	}
	return &page{e: e, start: st, key: key, nonce: st.FrameNonce}
}

func (p *page) frameWith(kind FrameKind, img []byte, edit func(*Frame)) error {
	f := Frame{Kind: kind, Seq: p.seq + 1, Nonce: p.nonce, CapturedAt: p.e.clock.Now().Truncate(time.Millisecond), Source: SourceCamera, Image: img}
	if edit != nil {
		edit(&f)
	}
	f.MAC = base64.RawURLEncoding.EncodeToString(FrameMAC(p.key, p.start.SessionID, &f))
	next, err := p.e.svc.AddFrame(p.e.ctx, p.start.Key, f)
	if err == nil {
		p.seq, p.nonce = f.Seq, next
	}
	return err
}

func (p *page) frame(kind FrameKind, img []byte) {
	p.e.t.Helper()
	if err := p.frameWith(kind, img, nil); err != nil {
		p.e.t.Fatalf("AddFrame(%s) = %v, want nil", kind, err)
	}
}

// selfies performs the session's challenge as a live person with identity id.
func (p *page) selfies(id uint8, pad float64) {
	p.e.t.Helper()
	frontal := faceSpec{ID: id, EAR: 0.3, PAD: pad, Faces: 1}
	p.frame(FrameSelfie, specPNG(p.e.t, frontal))
	for _, st := range p.start.Challenge {
		sp := frontal
		switch st {
		case TurnLeft:
			sp.Yaw = 0.5
		case TurnRight:
			sp.Yaw = -0.5
		case Blink:
			sp.EAR = 0.05
		}
		p.frame(FrameSelfie, specPNG(p.e.t, sp))
		p.frame(FrameSelfie, specPNG(p.e.t, frontal))
	}
}

// licence issues a licence whose chip photo shows identity id.
func (e *env) licence(id uint8, mutate ...func(*jpdltest.Licence)) map[string][]byte {
	e.t.Helper()
	// A JPEG 2000 header with unique trailing bytes; the test engine maps
	// it to identity id.
	photo := append(append([]byte(nil), jpdltest.MinimalJ2K...), id)
	photo = append(photo, specPNG(e.t, faceSpec{ID: id})[60:80]...)
	e.face.mu.Lock()
	e.face.photos[sha256.Sum256(photo)] = faceSpec{ID: id, EAR: 0.3, PAD: 1, Faces: 1}
	e.face.mu.Unlock()
	l := jpdltest.Licence{
		Name: "山田　太郎", Kana: "ヤマダ　タロウ", Address: "東京都千代田区千代田１－１", Honseki: "東京都", PSC: "東京都公安委員会",
		Colour: "ゴールド", Birth: time.Date(1990, 1, 2, 0, 0, 0, 0, time.UTC), Issued: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC),
		Expiry: time.Date(2029, 2, 2, 0, 0, 0, 0, time.UTC), Number: "301234567890", Photo: photo,
	}
	// Each licence is another card: its own number, so its signed data
	// differs (the same number again would be the same licence: chip.reused).
	if n := e.issued.Add(1) - 1; n > 0 {
		l.Number = fmt.Sprintf("30%010d", n)
	}
	for _, m := range mutate {
		m(&l)
	}
	f, err := e.issuer.Issue(l)
	if err != nil {
		e.t.Fatal(err)
	}
	return licenceFiles(f)
}

func (e *env) create(tenant, method string) *Created {
	e.t.Helper()
	c, err := e.svc.Create(e.ctx, client, tenant, CreateRequest{Method: method, Reference: "cust-0001"})
	if err != nil {
		e.t.Fatalf("Create(%s) = %v, want nil", method, err)
	}
	return c
}

// auditActions returns the actions of every audit entry for object.
func (e *env) auditActions(object string) []string {
	e.t.Helper()
	rows, err := e.db.Query(e.ctx, `SELECT action FROM audit_entries WHERE object = ? ORDER BY idx`, object)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func randReader() *bytes.Reader {
	b := make([]byte, 64)
	_, _ = rand.Read(b)
	return bytes.NewReader(b)
}

func nan() float64 { return math.NaN() }

type documentDetails = document.IDADocumentDetails
