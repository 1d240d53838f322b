package main

// Wiring of the staff administration API (web/admin.go): client and staff
// disable/enable and the sign-in alerts, on tenant.Registry and
// staff.Directory, with staff errors translated to the web sentinels.

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/tenant"
	"github.com/madoguchi/madoguchi/web"
)

// adminAPI adapts the domain packages to web.AdminService.
type adminAPI struct{ a *app }

var _ web.AdminService = adminAPI{}

func (x adminAPI) adminConfig() *web.AdminConfig {
	return &web.AdminConfig{Service: x, Staff: func(ctx context.Context, token string) (web.StaffMember, error) {
		p, err := x.a.staff.CheckSession(ctx, token)
		if errors.Is(err, staff.ErrSession) {
			return web.StaffMember{}, fmt.Errorf("%w: %w", web.ErrInvalidToken, err)
		} else if err != nil {
			return web.StaffMember{}, err
		}
		m := web.StaffMember{ID: p.StaffID}
		for _, r := range p.Roles {
			m.Roles = append(m.Roles, string(r))
		}
		return m, nil
	}}
}

func actorOf(by web.StaffMember, requestID string) staff.Actor {
	return staff.Actor{Kind: audit.ActorStaff, ID: by.ID, RequestID: requestID}
}

// SetClientStatus disables (revoking its tokens at once) or re-enables an
// API client. The tenant package does not know roles, so the admin role is
// checked here as well as by the web layer.
func (x adminAPI) SetClientStatus(ctx context.Context, by web.StaffMember, requestID, tenantID, clientID string, enabled bool) error {
	if !slices.Contains(by.Roles, string(staff.RoleAdmin)) {
		return web.ErrAdminForbidden
	}
	act := tenant.Actor{Kind: audit.ActorStaff, ID: by.ID, RequestID: requestID}
	var err error
	if enabled {
		err = x.a.tenants.EnableClient(ctx, act, tenantID, clientID)
	} else if err = x.a.tenants.DisableClient(ctx, act, tenantID, clientID); err == nil {
		// The store's trigger tells every instance within the revocation
		// bound; this one drops its cached tokens of the client now.
		x.a.revocations.Invalidate("client:" + clientID)
	}
	return adminError(err)
}

func (x adminAPI) SetStaffStatus(ctx context.Context, by web.StaffMember, requestID, staffID string, enabled bool) error {
	if enabled {
		return adminError(x.a.staff.EnableAccount(ctx, actorOf(by, requestID), staffID))
	}
	return adminError(x.a.staff.DisableAccount(ctx, actorOf(by, requestID), staffID))
}

func (x adminAPI) Alerts(ctx context.Context, by web.StaffMember, requestID string, all bool, limit int) ([]web.AdminAlert, error) {
	list, err := x.a.staff.Alerts(ctx, actorOf(by, requestID), all, limit)
	if err != nil {
		return nil, adminError(err)
	}
	out := make([]web.AdminAlert, 0, len(list))
	for _, al := range list {
		j := web.AdminAlert{ID: al.ID, Kind: al.Kind, StaffID: al.StaffID, Source: al.Source, Count: al.Count,
			CreatedAt: al.CreatedAt, AckedBy: al.AckedBy}
		if !al.AckedAt.IsZero() {
			t := al.AckedAt
			j.AckedAt = &t
		}
		out = append(out, j)
	}
	return out, nil
}

func (x adminAPI) AcknowledgeAlert(ctx context.Context, by web.StaffMember, requestID, id string) error {
	return adminError(x.a.staff.AcknowledgeAlert(ctx, actorOf(by, requestID), id))
}

func adminError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, staff.ErrNotFound), errors.Is(err, tenant.ErrNotFound):
		return fmt.Errorf("%w: %w", web.ErrAdminNotFound, err)
	case errors.Is(err, staff.ErrForbidden):
		return fmt.Errorf("%w: %w", web.ErrAdminForbidden, err)
	case errors.Is(err, staff.ErrInvalidInput):
		return fmt.Errorf("%w: %w", web.ErrAdminInvalid, err)
	}
	return err
}

// signInMetrics registers the staff sign-in counters.
func signInMetrics(srv *web.Server, d *staff.Directory) {
	for _, m := range []struct {
		name, help string
		get        func(staff.SignInCounters) uint64
	}{
		{"madoguchi_staff_signin_failures_total", "failed staff sign-ins (wrong or unknown credentials), this instance", func(c staff.SignInCounters) uint64 { return c.Failures }},
		{"madoguchi_staff_signin_backoff_total", "staff sign-ins refused because the (username, address) pair was in backoff", func(c staff.SignInCounters) uint64 { return c.Backoffs }},
		{"madoguchi_staff_signin_busy_total", "staff sign-ins refused because the password-hash queue was full", func(c staff.SignInCounters) uint64 { return c.Busy }},
		{"madoguchi_staff_signin_alerts_total", "sign-in alerts raised for admins (madoguchi admin alerts, GET /v1/admin/alerts)", func(c staff.SignInCounters) uint64 { return c.Alerts }},
	} {
		srv.AddCounter(m.name, m.help, func() float64 { return float64(m.get(d.Counters())) })
	}
}
