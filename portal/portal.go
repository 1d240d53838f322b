package portal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/oauth"
	"github.com/madoguchi/madoguchi/portal/i18n"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/store"
)

// Prefix is where the portal is mounted.
const Prefix = "/portal"

// Directory is what the portal needs of the staff directory
// (StaffDirectory wraps *staff.Directory): sign-in, sessions, the signed-in
// person's own account (passkeys, TOTP, password) and the tenants' access
// rules. SignIn checks
// username, password and TOTP code presented from source (the client's
// address) and opens a session; every wrong part is
// staff.ErrInvalidCredentials.
type Directory interface {
	SignIn(ctx context.Context, username, password, code, requestID, source string) (staff.Session, error)
	CheckSession(ctx context.Context, token string) (staff.Principal, error)
	Logout(ctx context.Context, token string) error
	Account(ctx context.Context, id string) (staff.Account, error)
	Passkeys(ctx context.Context, staffID string) ([]staff.Passkey, error)
	Passkey(ctx context.Context, id string) (staff.Passkey, error)
	DeletePasskey(ctx context.Context, actor staff.Actor, id string) error
	BeginTOTPReenrol(ctx context.Context, actor staff.Actor) (staff.Secret, error)
	ConfirmTOTPReenrol(ctx context.Context, actor staff.Actor, code string) error
	ChangePassword(ctx context.Context, actor staff.Actor, keepSession string, current, next []byte) (int64, error)
	TenantAccess(ctx context.Context, tenantID string) (staff.TenantAccess, error)
}

// PasskeyRP is the passkey relying party (*staff.Passkeys).
type PasskeyRP interface {
	BeginRegistration(ctx context.Context, actor staff.Actor) ([]byte, staff.Secret, error)
	FinishRegistration(ctx context.Context, actor staff.Actor, ceremony, name string, response []byte) (staff.Passkey, error)
	BeginLogin(ctx context.Context, staffID string) ([]byte, staff.Secret, error)
	FinishLogin(ctx context.Context, ceremony string, response []byte, requestID string, details map[string]string) (staff.Session, error)
}

// Auditor appends an audit entry inside the caller's transaction
// (*audit.Log).
type Auditor interface {
	Append(ctx context.Context, tx *store.Tx, e audit.Entry) (uint64, error)
}

// StaffDirectory adapts the staff directory to Directory.
func StaffDirectory(d *staff.Directory) Directory { return staffDirectory{d} }

type staffDirectory struct{ *staff.Directory }

// SignIn is staff.Directory.AuthenticateFrom: failures are counted per
// (username, source address), so an attacker's failures never lock the
// account holder out of their own address.
func (d staffDirectory) SignIn(ctx context.Context, username, password, code, requestID, source string) (staff.Session, error) {
	return d.AuthenticateFrom(ctx, username, password, code, requestID, source)
}

var (
	_ Directory = staffDirectory{}
	_ PasskeyRP = (*staff.Passkeys)(nil)
	_ Auditor   = (*audit.Log)(nil)
)

// Config wires the portal. DB, Audit and Staff are required.
type Config struct {
	DB    *store.DB
	Audit Auditor
	Staff Directory
	// Passkeys is the relying party; nil disables passkeys (and then
	// RequireAdminPasskey cannot be set).
	Passkeys PasskeyRP
	// OperatorReview reports whether a tenant's policy lets operator
	// reviewers review its sessions (ekyc policy "operator_review"). A
	// tenant without a policy answers false. Required.
	OperatorReview func(ctx context.Context, tenantID string) (bool, error)
	// Monitor is transaction authentication's monitoring queue (package
	// txauth); nil shows the monitoring page empty, with a note.
	Monitor Monitor
	// Credentials is the offline face credential service (package
	// credential); nil shows its pages empty, with a note.
	Credentials Credentials
	// Consents is the authorization server's consent records (package
	// oauth); nil shows the consents page empty, with a note.
	Consents Consents
	// Partners is partner onboarding (package oauth, onboarding.go) and
	// PartnerEvidence the store of its evidence files (*blob.Store); nil
	// Partners leaves the onboarding pages answering 404.
	Partners        Partners
	PartnerEvidence oauth.EvidenceStore
	// TxAuth is transaction authentication for the lock, unlock and
	// call-back pages (txauth_locks.go, txauth_callbacks.go); nil shows
	// them empty, with a note.
	TxAuth TxAuthStaff
	// TenantName names a tenant for display (optional; the id otherwise).
	TenantName func(ctx context.Context, tenantID string) (string, error)
	// AuditLog reads the audit log back for the audit pages and the trails
	// object pages embed (*audit.Log; audit_reader.go). Required.
	AuditLog AuditReader
	// Tenants lists the tenants operator staff choose from (the
	// dashboard, the audit page's filter). Required.
	Tenants func(ctx context.Context) ([]TenantRef, error)
	// DayZone is the time zone of the dashboard's days and the times the
	// audit pages show (default Japan Standard Time, UTC+9).
	DayZone *time.Location
	// AuditKeyURL is where the server publishes the audit log's verifier
	// key (GET, one line of text/plain, e.g. "/v1/audit/key"): the entry
	// page's in-browser verifier takes the key from there. Empty: the page
	// carries the key itself.
	AuditKeyURL string
	// RequestID returns the request id the server assigned (optional).
	RequestID func(ctx context.Context) string
	// Admin wires the administration pages (admin.go).
	Admin Admin
	// RequireAdminPasskey withholds the admin role from sessions not opened
	// with a passkey: an admin signed in with password and TOTP can reach
	// their account page (to register a passkey) but no admin page.
	RequireAdminPasskey bool
	// ReauthWindow is how recent a sign-in must be for a sensitive action
	// (default 5 minutes).
	ReauthWindow time.Duration
	// SignInRate is how many sign-in attempts per minute one client
	// address may make (default DefaultSignInRate).
	SignInRate int
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed; any other peer's address is the client's address.
	TrustedProxies []netip.Prefix
	Logger         *slog.Logger
	Now            func() time.Time

	// Reviews is the review workbench's domain and Records opens
	// verification records (both *ekyc.Service); nil: those pages answer
	// 404. Proofs builds the audit proofs of record downloads (*audit.Log),
	// and PDFFont is a TrueType font with Japanese glyphs for record PDFs
	// (nil: the PDF download answers 503, the JSON download still works).
	Reviews Reviews
	Records Records
	Proofs  Prover
	PDFFont []byte

	// extra routes are added by this package's tests (pages that exercise
	// roles and scoped objects before real ones exist).
	extra []Route
}

// Server is the portal's HTTP handler, mounted under Prefix.
type Server struct {
	cfg    Config
	log    *slog.Logger
	cat    *i18n.Catalog
	tpl    *templates
	mux    *http.ServeMux
	routes []Route
	origin *http.CrossOriginProtection
	limit  *signInLimiter
}

// New builds the portal. It fails if the catalogue, the templates or the
// route table are inconsistent: a portal that would show a raw message key
// or an unreachable page does not start.
func New(cfg Config) (*Server, error) {
	if cfg.DB == nil || cfg.Audit == nil || cfg.Staff == nil || cfg.OperatorReview == nil {
		return nil, errors.New("portal: Config needs DB, Audit, Staff and OperatorReview")
	}
	if err := cfg.checkAudit(); err != nil {
		return nil, err
	}
	if cfg.RequireAdminPasskey && cfg.Passkeys == nil {
		return nil, errors.New("portal: passkeys are required for admins but no passkey relying party is configured")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ReauthWindow <= 0 {
		cfg.ReauthWindow = 5 * time.Minute
	}
	if cfg.RequestID == nil {
		cfg.RequestID = func(context.Context) string { return "" }
	}
	cat, err := i18n.Load()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, cat: cat, mux: http.NewServeMux(), origin: http.NewCrossOriginProtection(),
		limit: newSignInLimiter(cfg.SignInRate, cfg.Now)}
	if s.tpl, err = loadTemplates(cat); err != nil {
		return nil, err
	}
	s.routes = append(pages(), cfg.extra...)
	for i := range s.routes {
		rt := &s.routes[i]
		if err := s.checkRoute(rt); err != nil {
			return nil, err
		}
		s.mux.Handle(rt.Method+" "+Prefix+rt.Path, s.handler(rt))
	}
	s.mux.Handle("GET "+Prefix, http.RedirectHandler(Prefix+"/", http.StatusSeeOther))
	static, err := staticHandler()
	if err != nil {
		return nil, err
	}
	s.mux.Handle("GET "+Prefix+"/static/", static)
	return s, nil
}

func (s *Server) checkRoute(rt *Route) error {
	if rt.Method != http.MethodGet && rt.Method != http.MethodPost {
		return fmt.Errorf("portal: route %s %s: only GET and POST", rt.Method, rt.Path)
	}
	for _, k := range []string{rt.Nav, rt.Hint} {
		if k != "" && !s.cat.Has(k) {
			return fmt.Errorf("portal: route %s: message key %q missing", rt.Path, k)
		}
	}
	if rt.Nav != "" && (rt.Method != http.MethodGet || rt.Public) {
		return fmt.Errorf("portal: route %s: only signed-in GET pages go in the navigation", rt.Path)
	}
	for _, r := range rt.Roles {
		if !s.cat.Has("role." + string(r)) {
			return fmt.Errorf("portal: route %s: unknown role %q", rt.Path, r)
		}
	}
	return nil
}

// Routes returns the route table (for tests and documentation).
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// ServeHTTP serves the portal. Paths outside the route table get the
// portal's own 404 page.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.mux.Handler(r); pattern == "" {
		rq := s.newRequest(w, r, &Route{Public: true})
		setHeaders(w)
		rq.fail(ErrNotFound)
		return
	}
	s.mux.ServeHTTP(w, r)
}
