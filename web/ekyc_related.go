package web

import (
	"context"
	"net/http"
	"strconv"

	"github.com/madoguchi/madoguchi/ekyc"
)

// EKYCRelated is the part of the eKYC service that shows a reviewer the
// sessions a fraud reason names (ekyc/review_related.go). The routes exist
// when the configured service implements it.
type EKYCRelated interface {
	RelatedEvidence(ctx context.Context, st ekyc.Staff, id, other string) (*ekyc.EvidenceView, error)
	RelatedFrameImage(ctx context.Context, st ekyc.Staff, id, other string, seq int) ([]byte, error)
	RelatedChipPhoto(ctx context.Context, st ekyc.Staff, id, other string) ([]byte, string, error)
}

var _ EKYCRelated = (*ekyc.Service)(nil)

// ekycRelatedRoutes registers the related-session views of the review API.
func (s *Server) ekycRelatedRoutes() {
	rel, ok := s.cfg.EKYC.Service.(EKYCRelated)
	if !ok {
		return
	}
	s.mux.Handle("GET /v1/ekyc/review/{id}/related/{other}/evidence", s.handle(s.staffed(
		func(w http.ResponseWriter, r *http.Request, st ekyc.Staff) error {
			v, err := rel.RelatedEvidence(r.Context(), st, r.PathValue("id"), r.PathValue("other"))
			if err != nil {
				return err
			}
			frames := make([]map[string]any, 0, len(v.Frames))
			for _, f := range v.Frames {
				frames = append(frames, map[string]any{"seq": f.Seq, "kind": f.Kind, "sha256": f.SHA256, "captured_at": f.CapturedAt})
			}
			w.Header().Set("Cache-Control", "no-store")
			writeJSON(w, http.StatusOK, map[string]any{"session_id": v.SessionID, "method": v.Method.API,
				"frames": frames, "chip": v.Chip, "decision": v.Decision})
			return nil
		})))
	s.mux.Handle("GET /v1/ekyc/review/{id}/related/{other}/frames/{seq}", s.handle(s.staffed(
		func(w http.ResponseWriter, r *http.Request, st ekyc.Staff) error {
			seq, err := strconv.Atoi(r.PathValue("seq"))
			if err != nil || seq < 1 {
				return errNotFound()
			}
			img, err := rel.RelatedFrameImage(r.Context(), st, r.PathValue("id"), r.PathValue("other"), seq)
			if err != nil {
				return err
			}
			w.Header().Set("Content-Type", http.DetectContentType(img))
			w.Header().Set("Cache-Control", "no-store")
			_, _ = w.Write(img)
			return nil
		})))
	s.mux.Handle("GET /v1/ekyc/review/{id}/related/{other}/chip-photo", s.handle(s.staffed(
		func(w http.ResponseWriter, r *http.Request, st ekyc.Staff) error {
			img, format, err := rel.RelatedChipPhoto(r.Context(), st, r.PathValue("id"), r.PathValue("other"))
			if err != nil {
				return err
			}
			ct := "application/octet-stream"
			switch format {
			case "jpeg":
				ct = "image/jpeg"
			case "jpeg2000":
				ct = "image/jp2"
			}
			w.Header().Set("Content-Type", ct)
			w.Header().Set("Cache-Control", "no-store")
			_, _ = w.Write(img)
			return nil
		})))
}
