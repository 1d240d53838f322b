package ekyc

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/document/jpki"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestCancelCapture: the customer ends their own session from the capture
// page; a device that redeemed the page's hand-off (someone who
// photographed the QR code) cannot; after the cancellation neither key
// works; a submitted session cannot be cancelled from the page.
func TestCancelCapture(t *testing.T) {
	p := newPKI(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newWaEnv(t, db, p, func(now func() time.Time) jpki.RevocationChecker { return crls(t, p, now) })

		pg := e.open(e.create(e.tenantA, "wa"))
		_, tok := e.issueHandoff(pg.start.Key)
		dev, err := e.svc.RedeemHandoff(e.ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.CancelCapture(e.ctx, dev.Key); !errors.Is(err, ErrToken) {
			t.Errorf("CancelCapture(hand-off device key) = %v, want ErrToken", err)
		}
		if ss, err := e.svc.CaptureState(e.ctx, pg.start.Key); err != nil || ss.State != StateCapturing {
			t.Fatalf("after a device's refused cancel: CaptureState = %v, %v; want capturing", ss, err)
		}

		ss, err := e.svc.CancelCapture(e.ctx, pg.start.Key)
		if err != nil || ss.State != StateCancelled {
			t.Fatalf("CancelCapture(page key) = %v, %v; want cancelled", ss, err)
		}
		if got, err := e.svc.Get(e.ctx, e.tenantA, pg.start.SessionID); err != nil || got.State != StateCancelled {
			t.Errorf("Get after the customer's cancel = %v, %v; want cancelled", got, err)
		}
		for name, k := range map[string]string{"page": pg.start.Key, "device": dev.Key} {
			if _, err := e.svc.CaptureState(e.ctx, k); !errors.Is(err, ErrToken) {
				t.Errorf("CaptureState(%s key) after the cancel = %v, want ErrToken", name, err)
			}
			if _, err := e.svc.CancelCapture(e.ctx, k); !errors.Is(err, ErrToken) {
				t.Errorf("CancelCapture(%s key) again = %v, want ErrToken", name, err)
			}
		}

		// The audit trail: one refusal naming the device, one cancel by
		// the customer; neither holds a key.
		var denied, cancelled int
		for _, l := range e.auditLeaves(pg.start.SessionID) {
			en, err := audit.ParseLeaf(l)
			if err != nil {
				t.Fatal(err)
			}
			if en.Action != "ekyc.session.cancel" {
				continue
			}
			switch {
			case en.Outcome == audit.OutcomeDenied && en.Details["reason"] == "handoff_device":
				denied++
			case en.Outcome == audit.OutcomeOK && en.Details["by"] == "customer" && en.Details["to"] == string(StateCancelled):
				cancelled++
			default:
				t.Errorf("unexpected cancel entry %+v", en)
			}
			for _, k := range []string{pg.start.Key, dev.Key, tok} {
				if bytes.Contains(l, []byte(k)) {
					t.Errorf("audit entry %s holds a key or token", en.Action)
				}
			}
		}
		if denied != 1 || cancelled != 1 {
			t.Errorf("cancel audit: %d refusals, %d cancels; want 1 and 1", denied, cancelled)
		}

		// Once submitted, the page can no longer cancel.
		ho := e.open(e.create(e.tenantA, "ho"))
		for _, k := range []FrameKind{FrameDocFront, FrameDocBack, FrameDocTilt} {
			ho.frame(k, specPNG(t, faceSpec{ID: 5, EAR: .3, PAD: 1, Faces: 1}))
		}
		ho.selfies(5, 0.95)
		if _, err := e.svc.Submit(e.ctx, ho.start.Key); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.CancelCapture(e.ctx, ho.start.Key); !errors.Is(err, ErrState) && !errors.Is(err, ErrToken) {
			t.Errorf("CancelCapture(submitted session) = %v, want ErrState or ErrToken", err)
		}
		if got, err := e.svc.Get(e.ctx, e.tenantA, ho.start.SessionID); err != nil || got.State != StateDecided {
			t.Errorf("submitted session after a refused cancel = %v, %v; want decided", got, err)
		}
	})
}
