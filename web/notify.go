package web

import (
	"io"
	"net/http"
)

// Webhook verification keys (package notify): a JWK Set of the Ed25519 keys
// that sign webhooks with HTTP Message Signatures (RFC 9421); see
// docs/webhooks.md.

func (s *Server) notifyRoutes() {
	if s.cfg.WebhookKeys == nil {
		return
	}
	s.mux.Handle("GET /.well-known/webhook-keys.json", s.handle(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, err := w.Write(s.cfg.WebhookKeys())
		return err
	}))
}

// AddMetrics registers a writer of extra Prometheus metrics (text format)
// appended to /metrics, such as notify's delivery-latency histogram.
func (s *Server) AddMetrics(write func(io.Writer)) { s.metrics.addWriter(write) }
