package web

// What the capture page learns from the server, and the ワ hand-off
// (package ekyc, capturestate.go and handoff.go). The routes are
// rate-limited like the other capture routes:
//
//   - GET /v1/ekyc/capture/state ("Authorization: Capture-Key <key>"):
//     the session's state and, once decided, its outcome; for the page's
//     own key of a ワ session also whether its current hand-off link was
//     redeemed, and when (from the stored redemption, nothing about the
//     device). The page shows only this, never a success it assumed.
//   - POST /v1/ekyc/capture/handoff (Capture-Key): for a ワ session, a
//     new one-time hand-off link (the capture page with #h=<token>, never
//     the capture key) for the smartphone JPKI app, its expiry, its QR code
//     as SVG rendered here (no external resource; the page shows it as a
//     blob: image under the strict CSP), and the session id a kiosk's staff
//     enter to read the card at the counter. Each call supersedes the
//     previous unredeemed link.
//   - POST /v1/ekyc/capture/handoff/redeem (no credential header; body
//     {"token": "<token>"}): redeems a hand-off token once and answers a
//     capture key of its own for the device that opened the link.
//   - POST /v1/ekyc/capture/cancel (Capture-Key, the page's own key
//     only): the customer ends their session before submitting, e.g.
//     after the page said its hand-off link was used on a device they do
//     not know. Every key of the session stops working.

import (
	"context"
	"net/http"

	"github.com/madoguchi/madoguchi/ekyc"
	qr "github.com/piglig/go-qr"
)

// CaptureStateService is what the state and hand-off routes need.
type CaptureStateService interface {
	CaptureState(ctx context.Context, key string) (*ekyc.CaptureStatus, error)
	IssueHandoff(ctx context.Context, key string) (*ekyc.Handoff, error)
	RedeemHandoff(ctx context.Context, token string) (*ekyc.CaptureStart, error)
	CancelCapture(ctx context.Context, key string) (*ekyc.Session, error)
}

// maxHandoffBody bounds a redeem request: one token of at most 128
// characters in a JSON object.
const maxHandoffBody = 1 << 10

var _ CaptureStateService = (*ekyc.Service)(nil)

func (s *Server) captureStateRoutes() {
	cs, ok := s.cfg.EKYC.Service.(CaptureStateService)
	if !ok {
		return
	}
	s.mux.Handle("GET /v1/ekyc/capture/state", s.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.captureLimit(r); err != nil {
			return err
		}
		key, err := captureCred(r, "Capture-Key")
		if err != nil {
			return err
		}
		ss, err := cs.CaptureState(r.Context(), key)
		if err != nil {
			return ekycProblem(err)
		}
		out := map[string]any{"session_id": ss.ID, "method": ss.Method.API, "state": ss.State, "expires_at": ss.ExpiresAt}
		if ss.State == ekyc.StateDecided || ss.State == ekyc.StateClosed {
			out["outcome"] = ss.Outcome
		}
		if h := ss.Handoff; h != nil {
			// The stored redemption of the page's current link, nothing
			// about the device that redeemed it.
			ho := map[string]any{"redeemed": h.Redeemed}
			if h.Redeemed {
				ho["redeemed_at"] = h.RedeemedAt.UTC()
			}
			out["handoff"] = ho
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}))
	s.mux.Handle("POST /v1/ekyc/capture/handoff", s.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.captureLimit(r); err != nil {
			return err
		}
		key, err := captureCred(r, "Capture-Key")
		if err != nil {
			return err
		}
		h, err := cs.IssueHandoff(r.Context(), key)
		if err != nil {
			return ekycProblem(err)
		}
		svg, err := qrSVG(h.Link)
		if err != nil {
			return errInternal(err)
		}
		writeJSON(w, http.StatusOK, map[string]any{"link": h.Link, "expires_at": h.ExpiresAt, "session_id": h.Session.ID, "qr_svg": svg})
		return nil
	}))
	s.mux.Handle("POST /v1/ekyc/capture/cancel", s.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.captureLimit(r); err != nil {
			return err
		}
		key, err := captureCred(r, "Capture-Key")
		if err != nil {
			return err
		}
		ss, err := cs.CancelCapture(r.Context(), key)
		if err != nil {
			return ekycProblem(err)
		}
		writeJSON(w, http.StatusOK, map[string]any{"session_id": ss.ID, "state": ss.State})
		return nil
	}))
	s.mux.Handle("POST /v1/ekyc/capture/handoff/redeem", s.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.captureLimit(r); err != nil {
			return err
		}
		var body struct {
			Token string `json:"token"`
		}
		if err := decodeJSON(w, r, maxHandoffBody, &body); err != nil {
			return err
		}
		if body.Token == "" || len(body.Token) > 128 {
			p := errBadRequest("A field is missing or invalid.")
			p.Errors = []FieldError{{Field: "token", Detail: "the token from the hand-off link's fragment (#h=), 1-128 characters"}}
			return p
		}
		st, err := cs.RedeemHandoff(r.Context(), body.Token)
		if err != nil {
			return ekycProblem(err)
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"session_id": st.SessionID, "method": st.Method, "locale": st.Locale, "capture_key": st.Key, "expires_at": st.ExpiresAt,
		})
		return nil
	}))
}

// qrSVG renders text as a QR code (error correction M) in SVG.
func qrSVG(text string) (string, error) {
	code, err := qr.EncodeText(text, qr.Medium)
	if err != nil {
		return "", err
	}
	b, err := code.ToSVGBytes(qr.NewQrCodeImgConfig(8, 4, qr.WithOptimalSVG()))
	return string(b), err
}
