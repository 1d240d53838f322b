package ekyc

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

func TestCanTransition(t *testing.T) {
	for _, tc := range []struct {
		from, to State
		want     bool
	}{
		{StateCreated, StateCapturing, true}, {StateCreated, StateSubmitted, false}, {StateCapturing, StateSubmitted, true},
		{StateSubmitted, StateDecided, true}, {StateSubmitted, StateCancelled, false}, {StateDecided, StateClosed, true},
		{StateClosed, StateDecided, false}, {StateExpired, StateCapturing, false}, {StateCancelled, StateCreated, false},
		{StateCapturing, StateExpired, true}, {StateDecided, StateCapturing, false},
	} {
		if got := CanTransition(tc.from, tc.to); got != tc.want {
			t.Errorf("CanTransition(%s, %s) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
}

func TestPolicyValidateAndOffers(t *testing.T) {
	good := ExamplePolicy(0.5)
	if err := good.Validate(); err != nil {
		t.Fatalf("ExamplePolicy.Validate() = %v, want nil", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Policy)
	}{
		{"no methods", func(p *Policy) { p.Methods = nil }},
		{"unknown method", func(p *Policy) { p.Methods = []string{"ha"} }},
		{"repeated method", func(p *Policy) { p.Methods = []string{"he", "he"} }},
		{"fmr too loose", func(p *Policy) { p.FaceMatch.TargetFMR = 0.1 }},
		{"threshold NaN", func(p *Policy) { p.FaceMatch.Threshold = nan() }},
		{"ear inverted", func(p *Policy) { p.Liveness.EARClosed = 0.3 }},
		{"challenge too long", func(p *Policy) { p.ChallengeSteps = 5 }},
		{"unknown action", func(p *Policy) { p.Actions = map[string]Action{"face.no_match": "approve"} }},
		{"unknown reason", func(p *Policy) { p.Actions = map[string]Action{"x": Review} }},
		{"ttl", func(p *Policy) { p.SessionTTLSeconds = 10 }},
	} {
		p := ExamplePolicy(0.5)
		tc.edit(&p)
		if err := p.Validate(); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("Validate(%s) = %v, want ErrInvalidInput", tc.name, err)
		}
	}
	he, _ := MethodByAPI("he")
	ho, _ := MethodByAPI("ho")
	wa, _ := MethodByAPI("wa")
	both := ExamplePolicy(0.5)
	both.Methods = []string{"he", "ho", "wa"}
	before, after := Amendment2027.Add(-time.Second), Amendment2027
	for _, tc := range []struct {
		name string
		p    Policy
		m    Method
		at   time.Time
		ok   bool
	}{
		{"he before", both, he, before, true},
		{"he after", both, he, after, true},
		{"ho before", both, ho, before, true},
		{"ho after, default", both, ho, after, false},
		{"ho after, opted in", func() Policy { p := both; p.OfferHoAfterAmendment = true; return p }(), ho, after, true},
		{"ho not listed", ExamplePolicy(0.5), ho, before, false},
		{"he before 2018", both, he, Amendment2018.Add(-time.Hour), false},
		{"wa listed (the JPKI verifier is checked by Create)", both, wa, before, true},
	} {
		err := tc.p.Offers(tc.m, tc.at)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrMethodNotOffered)) {
			t.Errorf("Offers(%s) = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

func TestCreateAndGet(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		c := e.create(e.tenantA, "he")
		if c.Session.State != StateCreated || c.Session.Method.Code != CodeHe || len(c.Session.Challenge) != 3 {
			t.Errorf("Create = state %s method %s challenge %v", c.Session.State, c.Session.Method.Code, c.Session.Challenge)
		}
		tok := tokenOf(t, c)
		if raw, err := base64.RawURLEncoding.DecodeString(tok); err != nil || len(raw) != 32 {
			t.Errorf("capture token is %d bytes (%v), want 32", len(raw), err)
		}
		var stored []byte
		if err := db.QueryRow(e.ctx, `SELECT token_hash FROM ekyc_sessions WHERE id = ?`, c.Session.ID).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(stored), tok) || len(stored) != 32 {
			t.Errorf("stored token_hash is %d bytes, want a 32-byte hash", len(stored))
		}
		got, err := e.svc.Get(e.ctx, e.tenantA, c.Session.ID)
		if err != nil || got.ID != c.Session.ID || got.Reference != "cust-0001" {
			t.Fatalf("Get = %v, %v", got, err)
		}
		// Another tenant's session is indistinguishable from a missing one.
		for _, call := range []struct {
			name string
			fn   func() error
		}{
			{"Get", func() error { _, err := e.svc.Get(e.ctx, e.tenantB, c.Session.ID); return err }},
			{"Cancel", func() error { _, err := e.svc.Cancel(e.ctx, client, e.tenantB, c.Session.ID); return err }},
			{"Result", func() error { _, err := e.svc.Result(e.ctx, client, e.tenantB, c.Session.ID); return err }},
			{"SubmitChip", func() error {
				_, err := e.svc.SubmitChip(e.ctx, client, e.tenantB, c.Session.ID, "jpdl", map[string][]byte{"df1_ef01": {1}})
				return err
			}},
			{"ContractEnded", func() error {
				_, err := e.svc.ContractEnded(e.ctx, client, e.tenantB, c.Session.ID, e.clock.Now())
				return err
			}},
			{"Get missing", func() error { _, err := e.svc.Get(e.ctx, e.tenantA, "ses_nope"); return err }},
		} {
			if err := call.fn(); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s(other tenant) = %v, want ErrNotFound", call.name, err)
			}
		}
		if _, err := e.svc.Create(e.ctx, client, "tn_without_policy", CreateRequest{Method: "he", Reference: "x"}); !errors.Is(err, ErrNoPolicy) {
			t.Errorf("Create(tenant without policy) = %v, want ErrNoPolicy", err)
		}
		for _, tc := range []struct {
			name string
			req  CreateRequest
			want error
		}{
			{"unknown method", CreateRequest{Method: "hx", Reference: "r"}, ErrInvalidInput},
			{"jpki", CreateRequest{Method: "wa", Reference: "r"}, ErrMethodNotOffered},
			{"empty reference", CreateRequest{Method: "he"}, ErrInvalidInput},
			{"long reference", CreateRequest{Method: "he", Reference: strings.Repeat("r", 129)}, ErrInvalidInput},
			{"control char", CreateRequest{Method: "he", Reference: "a\x00b"}, ErrInvalidInput},
			{"sql metacharacters are data", CreateRequest{Method: "he", Reference: "x'; DROP TABLE ekyc_sessions; --"}, nil},
			{"locale", CreateRequest{Method: "he", Reference: "r", Locale: "fr"}, ErrInvalidInput},
			{"webhook scheme", CreateRequest{Method: "he", Reference: "r", Webhook: "ftp://x.example/h"}, ErrInvalidInput},
			{"webhook credentials", CreateRequest{Method: "he", Reference: "r", Webhook: "https://u:p@x.example/h"}, ErrInvalidInput},
			{"webhook relative", CreateRequest{Method: "he", Reference: "r", Webhook: "/h"}, ErrInvalidInput},
		} {
			_, err := e.svc.Create(e.ctx, client, e.tenantA, tc.req)
			if (tc.want == nil && err != nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("Create(%s) = %v, want %v", tc.name, err, tc.want)
			}
		}
	})
}

func TestCaptureToken(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		c := e.create(e.tenantA, "he")
		if _, err := e.svc.StartCapture(e.ctx, "not-a-token"); !errors.Is(err, ErrToken) {
			t.Errorf("StartCapture(garbage) = %v, want ErrToken", err)
		}
		if _, err := e.svc.StartCapture(e.ctx, b64(make([]byte, 32))); !errors.Is(err, ErrToken) {
			t.Errorf("StartCapture(unknown) = %v, want ErrToken", err)
		}
		p := e.open(c)
		if p.start.SessionID != c.Session.ID || !slices.Equal(p.start.Challenge, c.Session.Challenge) {
			t.Errorf("StartCapture = session %s challenge %v", p.start.SessionID, p.start.Challenge)
		}
		if _, err := e.svc.StartCapture(e.ctx, tokenOf(t, c)); !errors.Is(err, ErrToken) {
			t.Errorf("StartCapture(second use) = %v, want ErrToken", err)
		}
		if got := e.auditActions(c.Session.ID); !slices.Equal(got, []string{"ekyc.session.create", "ekyc.capture.start", "ekyc.capture.start"}) {
			t.Errorf("audit = %v, want create, start, refused start", got)
		}

		// An expired token is refused; an expired session moves to expired.
		c2 := e.create(e.tenantA, "he")
		e.clock.Add(16 * time.Minute)
		if _, err := e.svc.StartCapture(e.ctx, tokenOf(t, c2)); !errors.Is(err, ErrExpired) {
			t.Errorf("StartCapture(after 16 min) = %v, want ErrExpired", err)
		}
		e.clock.Add(15 * time.Minute)
		n, err := e.svc.ExpireDue(e.ctx)
		if err != nil || n != 2 {
			t.Errorf("ExpireDue = %d, %v, want 2 sessions", n, err)
		}
		for _, id := range []string{c.Session.ID, c2.Session.ID} {
			if s, _ := e.svc.Get(e.ctx, e.tenantA, id); s.State != StateExpired {
				t.Errorf("session state after expiry = %s, want expired", s.State)
			}
		}
		if err := p.frameWith(FrameSelfie, specPNG(t, faceSpec{ID: 1, EAR: .3, PAD: 1, Faces: 1}), nil); !errors.Is(err, ErrToken) {
			t.Errorf("AddFrame(expired session) = %v, want ErrToken (key erased)", err)
		}
	})
}

func TestFrameRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		p := e.open(e.create(e.tenantA, "ho"))
		other := e.open(e.create(e.tenantA, "ho"))
		img := func() []byte { return specPNG(t, faceSpec{ID: 3, EAR: .3, PAD: 1, Faces: 1}) }
		first := img()
		p.frame(FrameDocFront, first)
		for _, tc := range []struct {
			name string
			kind FrameKind
			img  []byte
			edit func(*Frame)
			mac  func(f *Frame) string
			want error
		}{
			{"uploaded file", FrameDocBack, img(), func(f *Frame) { f.Source = "file" }, nil, ErrUploadedFile},
			{"stale nonce", FrameDocBack, img(), func(f *Frame) { f.Nonce = other.nonce }, nil, ErrReplay},
			{"skipped seq", FrameDocBack, img(), func(f *Frame) { f.Seq += 1 }, nil, ErrReplay},
			{"repeated seq", FrameDocBack, img(), func(f *Frame) { f.Seq = 1 }, nil, ErrReplay},
			{"same image again", FrameDocBack, first, nil, nil, ErrReplay},
			{"bound to another session", FrameDocBack, img(), nil, func(f *Frame) string {
				return b64(FrameMAC(p.key, other.start.SessionID, f))
			}, ErrBinding},
			{"MAC under another key", FrameDocBack, img(), nil, func(f *Frame) string { return b64(FrameMAC(other.key, p.start.SessionID, f)) }, ErrBinding},
			{"MAC over another image", FrameDocBack, img(), nil, func(f *Frame) string {
				g := *f
				g.Image = first
				return b64(FrameMAC(p.key, p.start.SessionID, &g))
			}, ErrBinding},
			{"captured before the capture started", FrameDocBack, img(), func(f *Frame) { f.CapturedAt = f.CapturedAt.Add(-time.Minute) }, nil, ErrBinding},
			{"captured before the previous frame", FrameDocBack, img(), func(f *Frame) { f.CapturedAt = f.CapturedAt.Add(-time.Millisecond) }, nil, ErrBinding},
			{"captured in the future", FrameDocBack, img(), func(f *Frame) { f.CapturedAt = f.CapturedAt.Add(time.Minute) }, nil, ErrBinding},
			{"not an image", FrameDocBack, []byte("GIF89a not really"), nil, nil, ErrImage},
			{"too large", FrameDocBack, make([]byte, MaxImageBytes+1), nil, nil, ErrTooLarge},
			{"empty", FrameDocBack, nil, nil, nil, ErrTooLarge},
			{"kind of another method", FrameKind("chip"), img(), nil, nil, ErrInvalidInput},
		} {
			t.Run(tc.name, func(t *testing.T) {
				f := Frame{Kind: tc.kind, Seq: p.seq + 1, Nonce: p.nonce, CapturedAt: e.clock.Now().Truncate(time.Millisecond), Source: SourceCamera, Image: tc.img}
				if tc.edit != nil {
					tc.edit(&f)
				}
				f.MAC = b64(FrameMAC(p.key, p.start.SessionID, &f))
				if tc.mac != nil {
					f.MAC = tc.mac(&f)
				}
				if _, err := e.svc.AddFrame(e.ctx, p.start.Key, f); !errors.Is(err, tc.want) {
					t.Errorf("AddFrame(%s) = %v, want %v", tc.name, err, tc.want)
				}
			})
		}
		// The page can go on after refusals; the refusals were audited. A
		// frame shot before the previous upload returned (a burst) is fine.
		e.clock.Add(3 * time.Second)
		if err := p.frameWith(FrameDocBack, img(), func(f *Frame) { f.CapturedAt = f.CapturedAt.Add(-2 * time.Second) }); err != nil {
			t.Errorf("AddFrame(shot during the previous upload) = %v, want nil", err)
		}
		var denied int
		if err := db.QueryRow(e.ctx, `SELECT COUNT(*) FROM audit_entries WHERE object = ? AND action = 'ekyc.frame.add'`, p.start.SessionID).Scan(&denied); err != nil {
			t.Fatal(err)
		}
		if denied < 10 {
			t.Errorf("audited frame.add entries = %d, want 2 accepted + refusals", denied)
		}
		if _, err := e.svc.AddFrame(e.ctx, b64(make([]byte, 32)), Frame{}); !errors.Is(err, ErrToken) {
			t.Errorf("AddFrame(unknown key) = %v, want ErrToken", err)
		}
		// Incomplete capture cannot be submitted; cancel works before submission only.
		if _, err := e.svc.Submit(e.ctx, p.start.Key); !errors.Is(err, ErrIncomplete) {
			t.Errorf("Submit(incomplete) = %v, want ErrIncomplete", err)
		}
		if _, err := e.svc.Cancel(e.ctx, client, e.tenantA, p.start.SessionID); err != nil {
			t.Errorf("Cancel(capturing) = %v, want nil", err)
		}
		if _, err := e.svc.Cancel(e.ctx, client, e.tenantA, p.start.SessionID); !errors.Is(err, ErrState) {
			t.Errorf("Cancel(cancelled) = %v, want ErrState", err)
		}
		if _, err := e.svc.Close(e.ctx, client, e.tenantA, other.start.SessionID); !errors.Is(err, ErrState) {
			t.Errorf("Close(capturing) = %v, want ErrState", err)
		}
	})
}

func TestParsePolicy(t *testing.T) {
	good, _ := json.Marshal(ExamplePolicy(0.4))
	if p, err := ParsePolicy(good); err != nil || p.FaceMatch.Threshold != 0.4 {
		t.Fatalf("ParsePolicy(example) = %+v, %v", p, err)
	}
	for _, tc := range []struct {
		name string
		in   string
		want error
	}{
		{"unknown field", strings.Replace(string(good), `"methods"`, `"methodz":[],"methods"`, 1), ErrInvalidInput},
		{"trailing data", string(good) + "{}", ErrInvalidInput},
		{"not JSON", "methods: he", ErrInvalidInput},
		{"empty", "", ErrInvalidInput},
		{"fails validation", `{"methods":["he"]}`, ErrInvalidInput},
		{"too large", strings.Repeat(" ", MaxPolicyBytes+1), ErrTooLarge},
	} {
		if _, err := ParsePolicy([]byte(tc.in)); !errors.Is(err, tc.want) {
			t.Errorf("ParsePolicy(%s) = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func FuzzParsePolicy(f *testing.F) {
	good, _ := json.Marshal(ExamplePolicy(0.4))
	f.Add(good)
	f.Add([]byte(`{"methods":["he","ho"],"actions":{"face.no_match":"review"}}`))
	withPAD := ExamplePolicy(0.4)
	withPAD.Liveness.PAD = PADThresholds{Antispoof: ptr(0.1), MiniFAS: ptr(0.7)}
	padJSON, _ := json.Marshal(withPAD)
	f.Add(padJSON)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePolicy(b)
		if err == nil {
			if err := p.Validate(); err != nil {
				t.Fatalf("ParsePolicy accepted a policy that does not validate: %v", err)
			}
			for _, s := range PADScores() {
				if th := p.Liveness.PADThreshold(s); !(th >= 0 && th <= 1) {
					t.Fatalf("PADThreshold(%s) = %v, want [0, 1]", s, th)
				}
			}
			if c := ComparePolicies(&p, p); len(c) != 0 {
				t.Fatalf("ComparePolicies(p, p) = %+v, want none", c)
			}
			for _, code := range []string{ReasonFaceMismatch, ReasonStaticFrames, ReasonChipInvalid} {
				if a := p.Action(code); a != Reject && a != Review {
					t.Fatalf("Action(%s) = %q", code, a)
				}
			}
		}
	})
}
