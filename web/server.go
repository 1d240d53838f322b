// Package web is Madoguchi's HTTP layer: routing (stdlib ServeMux method
// patterns), client authentication, rate limits, RFC 9457 problem+json for
// every error, request ids, structured access logs, Prometheus metrics,
// health and readiness, and the server lifecycle (timeouts, graceful
// shutdown).
//
// Invariants:
//   - Every error response is application/problem+json rendered by one
//     Renderer; its public text is chosen explicitly, never an internal error.
//   - Every request body is capped before it is read.
//   - A request under /v1 runs only with a credential, checked before the
//     handler: an API client's access token (a Principal confined to its
//     tenant), a staff session (review API), or the capture page's one-time
//     capture token/key (confined to one session). The exceptions are the
//     token and staff sign-in endpoints themselves and the public audit
//     checkpoint and proofs (hashes only).
//   - Handlers depend on the small function types and interfaces declared
//     here, never on concrete domain types they do not need.
package web

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// Config wires a Server. Zero values pick safe defaults; a nil dependency
// disables the routes that need it (and /readyz says so).
type Config struct {
	Logger *slog.Logger
	// Ready lists named readiness checks (store, keys, ...); /readyz runs them.
	Ready []Check
	// RateLimit is the steady requests per second allowed per API client;
	// Burst the bucket size. Zero disables limiting.
	RateLimit float64
	Burst     int
	// Instances counts the live instances sharing the database
	// (*cluster.Registry, which the caller runs): each enforces its share
	// of RateLimit and Burst, so they hold for the deployment. Nil: this
	// instance alone enforces them whole.
	Instances Instances
	// Auth authenticates API clients and issues tokens; nil disables /v1.
	Auth Auth
	// OAuth is the authorization server: the one token endpoint and the one
	// metadata document of the server; it authenticates resource requests
	// (web/oauth.go), and Auth is then unused. Without it (tests), Auth
	// authenticates /v1 and no token endpoint is served.
	OAuth OAuthServer
	// Audit serves the tamper-evident log's checkpoint and proofs.
	Audit AuditLog
	// Staff signs staff members in to the portal and review API; nil
	// disables the staff session routes.
	Staff StaffSessions
	// Classify maps domain errors to problems (errors.Is/As); see Renderer.
	Classify func(error) *Problem
	// EKYC enables the eKYC API (web/ekyc.go); nil disables it.
	EKYC *EKYCConfig
	// Customers enables the customer API (web/customers.go); nil disables it.
	Customers CustomerService
	// Consents enables the OAuth consent API (web/consents.go); nil
	// disables it.
	Consents ConsentService
	// TxAuth enables transaction authentication (web/txauth.go); nil
	// disables it.
	TxAuth *TxAuthConfig
	// Credential enables the offline face credential (web/credential.go);
	// nil disables it.
	Credential *CredentialConfig
	// SignIn limits staff sign-in attempts (web/signin.go).
	SignIn SignInLimits
	// Admin enables the staff administration API (web/admin.go); nil
	// disables it.
	Admin *AdminConfig
	// WebhookKeys returns the JWK Set that verifies webhook signatures
	// (GET /.well-known/webhook-keys.json); nil leaves the route out.
	WebhookKeys func() []byte
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// Mounts serves other handlers (the staff portal) under their own
	// ServeMux patterns, inside this server's request ids, access logs,
	// metrics and timeouts. They render their own errors.
	Mounts []Mount
}

// Mount is a handler served under a ServeMux pattern ("/portal/").
type Mount struct {
	Pattern string
	Handler http.Handler
}

// Check is one readiness check.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Server is Madoguchi's HTTP server.
type Server struct {
	cfg     Config
	log     *slog.Logger
	render  *Renderer
	metrics *metrics
	limit   *limiter
	signIn  signInLimiters
	mux     *http.ServeMux
	handler http.Handler
}

// New builds a server and its routes.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		render:  &Renderer{log: cfg.Logger, Classify: cfg.Classify},
		metrics: newMetrics(),
		mux:     http.NewServeMux(),
	}
	if cfg.RateLimit > 0 {
		burst := cfg.Burst
		if burst <= 0 {
			burst = int(cfg.RateLimit) + 1
		}
		s.limit = newLimiter(cfg.RateLimit, burst, cfg.Now, cfg.Instances)
	}
	s.signIn = newSignInLimiters(cfg.SignIn, cfg.Now)
	s.routes()
	s.handler = securityHeaders(s.instrument(s.fallback(s.mux)))
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// AddGauge registers a gauge for /metrics.
func (s *Server) AddGauge(name, help string, fn func() float64) { s.metrics.addGauge(name, help, fn) }

// AddCounter registers a counter (a running total) for /metrics.
func (s *Server) AddCounter(name, help string, fn func() float64) {
	s.metrics.addCounter(name, help, fn)
}

func (s *Server) routes() {
	s.mux.Handle("GET /healthz", s.handle(s.healthz))
	s.mux.Handle("GET /readyz", s.handle(s.readyz))
	s.mux.Handle("GET /metrics", s.handle(s.serveMetrics))
	if s.cfg.OAuth != nil {
		for pattern, h := range s.cfg.OAuth.Routes() {
			if strings.HasPrefix(pattern, "POST ") {
				h = s.oauthLimited(h)
			}
			s.mux.Handle(pattern, h)
		}
	}
	if s.cfg.OAuth != nil || s.cfg.Auth != nil {
		s.mux.Handle("GET /v1/whoami", s.authed("", s.whoami))
	}
	s.adminRoutes()
	s.ekycRoutes()
	s.notifyRoutes()
	s.captureRoutes()
	s.customerRoutes()
	s.consentRoutes()
	s.txauthRoutes()
	s.credentialRoutes()
	if s.cfg.Staff != nil {
		s.mux.Handle("POST /v1/staff/sessions", s.handle(s.staffLogin))
		s.mux.Handle("DELETE /v1/staff/sessions/current", s.handle(s.staffLogout))
	}
	for _, m := range s.cfg.Mounts {
		s.mux.Handle(m.Pattern, m.Handler)
	}
	if s.cfg.Audit != nil {
		s.mux.Handle("GET /v1/audit/checkpoint", s.handle(s.auditCheckpoint))
		s.mux.Handle("GET /v1/audit/key", s.handle(s.auditKey))
		s.mux.Handle("GET /v1/audit/entries/{index}", s.authed(ScopeAuditRead, s.auditEntry))
		s.mux.Handle("GET /v1/audit/proofs/inclusion", s.handle(s.auditInclusion))
		s.mux.Handle("GET /v1/audit/proofs/consistency", s.handle(s.auditConsistency))
	}
}

// fallback turns the mux's plain-text 404 and 405 into problems.
func (s *Server) fallback(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			var allow []string
			for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
				if m == r.Method {
					continue
				}
				r2 := r.Clone(r.Context())
				r2.Method = m
				if _, p := mux.Handler(r2); p != "" {
					allow = append(allow, m)
				}
			}
			if len(allow) > 0 {
				for _, m := range allow {
					w.Header().Add("Allow", m)
				}
				s.render.Render(w, r, newProblem(http.StatusMethodNotAllowed, "method-not-allowed",
					"Method not allowed", "This resource does not accept "+r.Method+"."))
				return
			}
			s.render.Render(w, r, errNotFound())
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	out := map[string]string{}
	ok := true
	for _, c := range s.cfg.Ready {
		if err := c.Fn(ctx); err != nil {
			ok = false
			out[c.Name] = "failing"
			s.log.WarnContext(ctx, "readiness check failed", "check", c.Name, "err", err)
			continue
		}
		out[c.Name] = "ok"
	}
	if !ok {
		p := errUnavailable("A readiness check is failing.", 5)
		for name, st := range out {
			if st != "ok" {
				p.Errors = append(p.Errors, FieldError{Field: name, Detail: st})
			}
		}
		return p
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "checks": out})
	return nil
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	s.metrics.write(w)
	return nil
}

// Timeouts for http.Server; all four are set.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 60 * time.Second
	IdleTimeout       = 120 * time.Second
	ShutdownTimeout   = 30 * time.Second
)

// Serve serves on ln until ctx is cancelled, then shuts down gracefully: it
// stops accepting, lets in-flight requests finish (up to ShutdownTimeout)
// and returns nil. With tlsCfg set it serves HTTPS; client certificates are
// then requested but not verified by the TLS layer: mTLS clients are bound
// by registered certificate thumbprint (RFC 8705) in the authenticator.
func (s *Server) Serve(ctx context.Context, ln net.Listener, tlsCfg *tls.Config) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if tlsCfg != nil {
		hs.TLSConfig = tlsCfg
		ln = tls.NewListener(ln, tlsCfg)
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down: draining in-flight requests")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
