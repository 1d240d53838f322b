package ekyc

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"testing"

	"github.com/madoguchi/madoguchi/document/jpdl/jpdltest"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/face/imageio"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// decodingFace is testFace behind the real decoder: an image testFace does
// not know by hash is decoded with face/imageio first, and a decoder
// refusal is returned wrapped, as *face.Engine's AnalyzeBytes does.
type decodingFace struct{ *testFace }

func (d decodingFace) AnalyzeImage(ctx context.Context, b []byte) ([]face.Face, error) {
	d.mu.Lock()
	_, known := d.photos[sha256.Sum256(b)]
	d.mu.Unlock()
	if !known {
		if _, _, err := imageio.Decode(b, imageio.DefaultLimits()); err != nil {
			return nil, fmt.Errorf("face: %w", err)
		}
	}
	return d.testFace.AnalyzeImage(ctx, b)
}

func withDecoder(c *Config) { c.Face = decodingFace{c.Face.(*testFace)} }

func TestUndecodableImages(t *testing.T) {
	brokenJ2K := append([]byte(nil), jpdltest.MinimalJ2K[:len(jpdltest.MinimalJ2K)/2]...) // a truncated codestream
	if _, _, err := imageio.Decode(brokenJ2K, imageio.DefaultLimits()); !undecodable(err) {
		t.Fatalf("imageio.Decode(truncated J2K) = %v, want a decoder sentinel", err)
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, withDecoder)
		brokenPhoto := func(l *jpdltest.Licence) { l.Photo = brokenJ2K }
		// A truncated selfie is refused at upload (TestTruncatedImageRefusedAtUpload);
		// one that is whole but whose rows do not decode (an unknown PNG
		// row filter) is still a decision reason.
		truncatedSelfie := func(p *page) {
			p.frame(FrameSelfie, badFilterPNG(t))
			p.selfies(7, 0.95)
		}
		for _, tc := range []struct {
			name    string
			photo   func(*jpdltest.Licence)
			selfies func(*page)
			actions map[string]Action
			outcome Outcome
			reason  string
			absent  string
		}{
			{"chip photo undecodable", brokenPhoto, func(p *page) { p.selfies(7, 0.95) }, nil, OutcomeReview, ReasonReferenceUndecodable, ReasonNoFaceReference},
			{"chip photo undecodable, policy rejects", brokenPhoto, func(p *page) { p.selfies(7, 0.95) },
				map[string]Action{ReasonReferenceUndecodable: Reject}, OutcomeRejected, ReasonReferenceUndecodable, ReasonNoFaceReference},
			{"truncated selfie", func(*jpdltest.Licence) {}, truncatedSelfie, nil, OutcomeRejected, ReasonSelfieUndecodable, ReasonNoFaceSelfie},
			{"truncated selfie, policy reviews", func(*jpdltest.Licence) {}, truncatedSelfie,
				map[string]Action{ReasonSelfieUndecodable: Review}, OutcomeReview, ReasonSelfieUndecodable, ReasonNoFaceSelfie},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := ExamplePolicy(0.5)
				p.Methods, p.Actions = []string{"he", "ho"}, tc.actions
				if _, err := e.svc.SetPolicy(e.ctx, System, e.tenantA, p); err != nil {
					t.Fatal(err)
				}
				ss := e.runHe(e.tenantA, e.licence(7, tc.photo), tc.selfies)
				codes := ss.Decision.ReasonCodes()
				if ss.State != StateDecided || ss.Outcome != tc.outcome || !slices.Contains(codes, tc.reason) || slices.Contains(codes, tc.absent) {
					t.Errorf("Submit(%s) = %s/%s %v, want decided/%s with %s and without %s", tc.name, ss.State, ss.Outcome, codes, tc.outcome, tc.reason, tc.absent)
				}
			})
		}
	})
}

// A session left submitted (busy engine) whose chip photo does not decode
// is decided by DecidePending instead of failing on every tick.
func TestUndecodableDecidedByPending(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, withDecoder)
		c := e.create(e.tenantA, "he")
		p := e.open(c)
		files := e.licence(4, func(l *jpdltest.Licence) { l.Photo = jpdltest.MinimalJ2K[:len(jpdltest.MinimalJ2K)-9] })
		if _, err := e.svc.SubmitChip(e.ctx, kiosk, e.tenantA, c.Session.ID, "jpdl", files); err != nil {
			t.Fatal(err)
		}
		p.selfies(4, 0.9)
		e.face.busy = true
		ss, err := e.svc.Submit(e.ctx, p.start.Key)
		if err != nil || ss.State != StateSubmitted {
			t.Fatalf("Submit(busy engine) = %v, %v, want state submitted", ss, err)
		}
		e.face.busy = false
		e.clock.Add(PendingGrace)
		if n, err := e.svc.DecidePending(e.ctx); err != nil || n != 1 {
			t.Fatalf("DecidePending = %d, %v, want 1, nil", n, err)
		}
		got, err := e.svc.Get(e.ctx, e.tenantA, c.Session.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != StateDecided || got.Outcome != OutcomeReview || !slices.Contains(got.Decision.ReasonCodes(), ReasonReferenceUndecodable) {
			t.Errorf("after DecidePending: %s/%s %v, want decided/review with %s", got.State, got.Outcome, got.Decision.ReasonCodes(), ReasonReferenceUndecodable)
		}
	})
}

// badFilterPNG is a whole 16x16 grey PNG (chunks, CRCs, image data of the
// right length) whose first row names filter type 9, which no decoder
// knows: imageio.Inspect accepts it, imageio.Decode does not.
func badFilterPNG(t testing.TB) []byte {
	t.Helper()
	raw := make([]byte, 16*17)
	raw[0] = 9
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(raw)
	zw.Close()
	chunk := func(typ string, data []byte) []byte {
		out := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
		out = append(append(out, typ...), data...)
		return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	b := []byte("\x89PNG\r\n\x1a\n")
	b = append(b, chunk("IHDR", []byte{0, 0, 0, 16, 0, 0, 0, 16, 8, 0, 0, 0, 0})...)
	b = append(b, chunk("IDAT", z.Bytes())...)
	b = append(b, chunk("IEND", nil)...)
	if _, err := imageio.Inspect(b, imageio.DefaultLimits()); err != nil {
		t.Fatalf("Inspect(bad filter PNG) = %v, want nil", err)
	}
	if _, _, err := imageio.Decode(b, imageio.DefaultLimits()); !undecodable(err) {
		t.Fatalf("Decode(bad filter PNG) = %v, want a decoder sentinel", err)
	}
	return b
}

// TestTruncatedImageRefusedAtUpload: a PNG or JPEG cut short is refused
// when it arrives (ErrImage), nothing is stored, and the nonce is not
// spent.
func TestTruncatedImageRefusedAtUpload(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		p := e.open(e.create(e.tenantA, "he"))
		good := specPNG(t, faceSpec{ID: 7, EAR: 0.3, PAD: 0.95, Faces: 1})
		for _, cut := range []int{1, 13, 30, len(good) / 2} {
			if err := p.frameWith(FrameSelfie, good[:len(good)-cut], nil); !errors.Is(err, ErrImage) {
				t.Errorf("AddFrame(PNG without its last %d bytes) = %v, want ErrImage", cut, err)
			}
		}
		if n := e.countRows(`SELECT COUNT(*) FROM ekyc_frames WHERE session_id = ?`, p.start.SessionID); n != 0 {
			t.Errorf("%d frames stored, want 0", n)
		}
		p.frame(FrameSelfie, good)
	})
}
