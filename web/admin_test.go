package web

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

type fakeAdmin struct{ calls []string }

func (f *fakeAdmin) SetClientStatus(ctx context.Context, by StaffMember, rid, tenant, client string, enabled bool) error {
	f.calls = append(f.calls, fmt.Sprintf("client %s/%s %v by %s", tenant, client, enabled, by.ID))
	if tenant != "ten-a" {
		return ErrAdminNotFound
	}
	return nil
}

func (f *fakeAdmin) SetStaffStatus(ctx context.Context, by StaffMember, rid, id string, enabled bool) error {
	if id == by.ID {
		return fmt.Errorf("%w: self", ErrAdminInvalid)
	}
	f.calls = append(f.calls, fmt.Sprintf("staff %s %v", id, enabled))
	return nil
}

func (f *fakeAdmin) Alerts(ctx context.Context, by StaffMember, rid string, all bool, limit int) ([]AdminAlert, error) {
	f.calls = append(f.calls, fmt.Sprintf("alerts all=%v limit=%d", all, limit))
	return nil, nil
}

func (f *fakeAdmin) AcknowledgeAlert(ctx context.Context, by StaffMember, rid, id string) error {
	return ErrAdminNotFound
}

// TestAdminAPI: staff sessions only, the admin role required, the
// service's sentinels mapped to 404/409, bad query parameters refused.
func TestAdminAPI(t *testing.T) {
	fa := &fakeAdmin{}
	s, _ := newTestServer(t, Config{Admin: &AdminConfig{Service: fa, Staff: func(ctx context.Context, tok string) (StaffMember, error) {
		switch tok {
		case "admin":
			return StaffMember{ID: "st_admin", Roles: []string{"admin"}}, nil
		case "reviewer":
			return StaffMember{ID: "st_rev", Roles: []string{"reviewer"}}, nil
		}
		return StaffMember{}, ErrInvalidToken
	}}})
	for _, tt := range []struct {
		method, path, tok string
		status            int
	}{
		{"POST", "/v1/admin/tenants/ten-a/clients/cl-1/disable", "", 401},
		{"POST", "/v1/admin/tenants/ten-a/clients/cl-1/disable", "bogus", 401},
		{"POST", "/v1/admin/tenants/ten-a/clients/cl-1/disable", "reviewer", 403},
		{"POST", "/v1/admin/tenants/ten-a/clients/cl-1/disable", "admin", 200},
		{"POST", "/v1/admin/tenants/ten-b/clients/cl-1/enable", "admin", 404},
		{"POST", "/v1/admin/staff/st_other/disable", "admin", 200},
		{"POST", "/v1/admin/staff/st_admin/disable", "admin", 409},
		{"GET", "/v1/admin/alerts?all=true&limit=5", "admin", 200},
		{"GET", "/v1/admin/alerts?limit=0", "admin", 400},
		{"GET", "/v1/admin/alerts?limit=x", "admin", 400},
		{"POST", "/v1/admin/alerts/al_x/ack", "admin", 404},
	} {
		hdr := map[string]string{}
		if tt.tok != "" {
			hdr["Authorization"] = "Bearer " + tt.tok
		}
		w := do(t, s, tt.method, tt.path, nil, hdr)
		if w.Code != tt.status {
			t.Errorf("%s %s as %q = %d, want %d (%s)", tt.method, tt.path, tt.tok, w.Code, tt.status, w.Body)
		}
		if tt.status >= 400 {
			decodeProblem(t, w)
		}
	}
	if got := strings.Join(fa.calls, "; "); got != "client ten-a/cl-1 false by st_admin; client ten-b/cl-1 true by st_admin; staff st_other false; alerts all=true limit=5" {
		t.Errorf("service calls = %s", got)
	}
}
