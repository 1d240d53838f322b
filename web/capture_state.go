package web

// What the capture page learns from the server, and the ワ hand-off
// (package ekyc, capturestate.go). Both routes take the capture key
// ("Authorization: Capture-Key <key>") and are rate-limited like the
// other capture routes:
//
//   - GET /v1/ekyc/capture/state: the session's state and, once decided,
//     its outcome; the page shows only this, never a success it assumed.
//   - GET /v1/ekyc/capture/handoff: for a ワ session, the link that hands
//     the session to the smartphone JPKI app, with its QR code as SVG
//     rendered here (no external resource; the page shows it as a blob:
//     image under the strict CSP), and the session id a kiosk's staff
//     enter to read the card at the counter.

import (
	"context"
	"net/http"

	"github.com/madoguchi/madoguchi/ekyc"
	qr "github.com/piglig/go-qr"
)

// CaptureStateService is what the state and hand-off routes need.
type CaptureStateService interface {
	CaptureState(ctx context.Context, key string) (*ekyc.Session, error)
	HandoffLink(ctx context.Context, key string) (string, *ekyc.Session, error)
}

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
		writeJSON(w, http.StatusOK, out)
		return nil
	}))
	s.mux.Handle("GET /v1/ekyc/capture/handoff", s.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.captureLimit(r); err != nil {
			return err
		}
		key, err := captureCred(r, "Capture-Key")
		if err != nil {
			return err
		}
		link, ss, err := cs.HandoffLink(r.Context(), key)
		if err != nil {
			return ekycProblem(err)
		}
		svg, err := qrSVG(link)
		if err != nil {
			return errInternal(err)
		}
		writeJSON(w, http.StatusOK, map[string]any{"link": link, "session_id": ss.ID, "qr_svg": svg})
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
