package web

// The staff administration API: disable and re-enable API clients and staff
// accounts, and the sign-in alerts. Callers are staff with a session token
// and the admin role (checked here and again by the domain); every change
// and every listing is audited by the domain packages. The portal will offer
// the same operations; the CLI (madoguchi admin) offers them to the local
// operator.

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// StaffMember is an authenticated staff member.
type StaffMember struct {
	ID    string
	Roles []string
}

// AdminAlert is a sign-in alert (staff.Alert).
type AdminAlert struct {
	ID        string     `json:"id"`
	Kind      string     `json:"kind"`
	StaffID   string     `json:"staff_id,omitempty"`
	Source    string     `json:"source"`
	Count     int        `json:"count"`
	CreatedAt time.Time  `json:"created_at"`
	AckedBy   string     `json:"acknowledged_by,omitempty"`
	AckedAt   *time.Time `json:"acknowledged_at,omitempty"`
}

// AdminService is what the administration handlers need. Implementations
// wrap ErrAdminNotFound (no such object, or not in the state the change
// needs), ErrAdminForbidden (the actor may not) and ErrAdminInvalid (a
// refused change, such as disabling oneself).
type AdminService interface {
	SetClientStatus(ctx context.Context, by StaffMember, requestID, tenantID, clientID string, enabled bool) error
	SetStaffStatus(ctx context.Context, by StaffMember, requestID, staffID string, enabled bool) error
	Alerts(ctx context.Context, by StaffMember, requestID string, all bool, limit int) ([]AdminAlert, error)
	AcknowledgeAlert(ctx context.Context, by StaffMember, requestID, id string) error
}

// Sentinels an AdminService wraps.
var (
	ErrAdminNotFound  = errors.New("admin: not found")
	ErrAdminForbidden = errors.New("admin: forbidden")
	ErrAdminInvalid   = errors.New("admin: refused")
)

// AdminConfig enables the administration API.
type AdminConfig struct {
	Service AdminService
	// Staff authenticates a staff session token; it wraps ErrInvalidToken
	// for an unknown or expired one.
	Staff func(ctx context.Context, token string) (StaffMember, error)
}

func (s *Server) adminRoutes() {
	c := s.cfg.Admin
	if c == nil || c.Service == nil || c.Staff == nil {
		return
	}
	s.mux.Handle("POST /v1/admin/tenants/{tenant}/clients/{client}/disable", s.handle(s.admin(s.adminClient(false))))
	s.mux.Handle("POST /v1/admin/tenants/{tenant}/clients/{client}/enable", s.handle(s.admin(s.adminClient(true))))
	s.mux.Handle("POST /v1/admin/staff/{id}/disable", s.handle(s.admin(s.adminStaff(false))))
	s.mux.Handle("POST /v1/admin/staff/{id}/enable", s.handle(s.admin(s.adminStaff(true))))
	s.mux.Handle("GET /v1/admin/alerts", s.handle(s.admin(s.adminAlerts)))
	s.mux.Handle("POST /v1/admin/alerts/{id}/ack", s.handle(s.admin(s.adminAck)))
}

type adminHandler func(w http.ResponseWriter, r *http.Request, by StaffMember) error

// admin authenticates a staff session, requires the admin role and maps the
// service's sentinels.
func (s *Server) admin(h adminHandler) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		tok, ok := bearer(r)
		if !ok {
			bearerChallenge(w, "", "")
			return errUnauthorized("Send a staff session token: Authorization: Bearer <token>.")
		}
		by, err := s.cfg.Admin.Staff(r.Context(), tok)
		if err != nil {
			if errors.Is(err, ErrInvalidToken) {
				bearerChallenge(w, "invalid_token", "")
				return errUnauthorized("The staff session is invalid or expired.").withCause(err)
			}
			return err
		}
		if ok, wait := s.limit.allow("staff:" + by.ID); !ok {
			return tooMany(wait)
		}
		if !slices.Contains(by.Roles, "admin") {
			return errForbidden("The admin role is required.")
		}
		err = h(w, r, by)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ErrAdminNotFound):
			return errNotFound().withCause(err)
		case errors.Is(err, ErrAdminForbidden):
			return errForbidden("The admin role is required.").withCause(err)
		case errors.Is(err, ErrAdminInvalid):
			return newProblem(http.StatusConflict, "admin-refused", "Change refused",
				"This change is not allowed (for example, an admin cannot disable their own account).").withCause(err)
		}
		return err
	}
}

func (s *Server) adminClient(enable bool) adminHandler {
	return func(w http.ResponseWriter, r *http.Request, by StaffMember) error {
		id := r.PathValue("client")
		if err := s.cfg.Admin.Service.SetClientStatus(r.Context(), by, RequestID(r.Context()), r.PathValue("tenant"), id, enable); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]string{"client_id": id, "status": status(enable)})
		return nil
	}
}

func (s *Server) adminStaff(enable bool) adminHandler {
	return func(w http.ResponseWriter, r *http.Request, by StaffMember) error {
		id := r.PathValue("id")
		if err := s.cfg.Admin.Service.SetStaffStatus(r.Context(), by, RequestID(r.Context()), id, enable); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]string{"staff_id": id, "status": status(enable)})
		return nil
	}
}

func status(enabled bool) string {
	if enabled {
		return "active"
	}
	return "disabled"
}

func (s *Server) adminAlerts(w http.ResponseWriter, r *http.Request, by StaffMember) error {
	q := r.URL.Query()
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return errBadRequest("limit must be 1 to 500.")
		}
		limit = n
	}
	all := q.Get("all") == "true"
	list, err := s.cfg.Admin.Service.Alerts(r.Context(), by, RequestID(r.Context()), all, limit)
	if err != nil {
		return err
	}
	if list == nil {
		list = []AdminAlert{}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"alerts": list})
	return nil
}

func (s *Server) adminAck(w http.ResponseWriter, r *http.Request, by StaffMember) error {
	if err := s.cfg.Admin.Service.AcknowledgeAlert(r.Context(), by, RequestID(r.Context()), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
