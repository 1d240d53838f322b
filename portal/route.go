package portal

import (
	"slices"
	"time"

	"github.com/madoguchi/madoguchi/staff"
)

// Route is one page or action. The framework does everything a page must
// not forget, in this order, before Handle runs:
//
//  1. security headers and the CSP (every response);
//  2. the body cap: a declared Content-Length over MaxBody is refused with
//     413 before a byte is read, and reading past it fails;
//  3. CSRF on POST: same-origin (Sec-Fetch-Site/Origin) and a token bound to
//     the browser (form field "csrf" or header X-CSRF-Token);
//  4. the session (idle and absolute limits; an expired one sends the person
//     to the sign-in page) unless Public;
//  5. the tenant's IP allow-list for tenant staff;
//  6. the roles: the person must hold one of Roles (none listed: any
//     signed-in person).
//
// Handle then loads tenant objects only through Load (scoped, 404 across
// tenants, audited when personal) and calls RequireRecentAuth before a
// sensitive change.
type Route struct {
	Method string // GET or POST
	Path   string // below Prefix, a ServeMux pattern: "/account/passkeys/{id}/delete"
	Handle func(*Request) error
	// Public routes run without a session (sign-in, language).
	Public bool
	// Roles that may use the route; empty: every signed-in person.
	Roles []Role
	// Nav is the message key of the route's navigation entry and Hint the
	// key of its one-line description on the home page; only GET pages
	// that someone may use are listed, and only to those who may.
	Nav, Hint string
	// MaxBody caps the request body (default DefaultMaxBody).
	MaxBody int64
	// JSON routes are called by the portal's scripts: errors are JSON
	// ({"error": message}) instead of an error page.
	JSON bool
	// Upload routes take multipart/form-data (file uploads, upload.go):
	// the form's first part must be the CSRF token, which is checked before
	// anything else is read; the page reads the rest with rq.Upload after
	// the session and the roles were checked. Set MaxBody as well.
	Upload bool
}

// DefaultMaxBody caps a form post.
const DefaultMaxBody = 16 << 10

// Role is a portal role: a staff role in the account's scope.
type Role string

// Roles. A tenant account's staff roles become the tenant roles, an
// operator account's the operator roles (staff/scope.go).
const (
	TenantReviewer   Role = "tenant.reviewer"
	TenantAdmin      Role = "tenant.admin"
	TenantAuditor    Role = "tenant.auditor"
	OperatorAdmin    Role = "operator.admin"
	OperatorReviewer Role = "operator.reviewer"
	OperatorAuditor  Role = "operator.auditor"
)

// AllRoles lists every role.
func AllRoles() []Role {
	return []Role{TenantReviewer, TenantAdmin, TenantAuditor, OperatorAdmin, OperatorReviewer, OperatorAuditor}
}

// Principal is the signed-in person.
type Principal struct {
	StaffID  string
	Username string
	// TenantID is the person's tenant; "" for operator staff.
	TenantID string
	Roles    []Role
	// Method is how the session was opened (staff.MethodPassword or
	// staff.MethodPasskey), Since when.
	Method string
	Since  time.Time
	// AdminWithheld: the account holds the admin role but this session was
	// not opened with a passkey while passkeys are required for admins.
	AdminWithheld bool
}

// Operator reports whether the person is operator staff.
func (p *Principal) Operator() bool { return p != nil && p.TenantID == "" }

// Has reports whether the person holds any of roles.
func (p *Principal) Has(roles ...Role) bool {
	if p == nil {
		return false
	}
	return slices.ContainsFunc(roles, func(r Role) bool { return slices.Contains(p.Roles, r) })
}

// may reports whether p may use rt.
func (p *Principal) may(rt *Route) bool {
	if rt.Public {
		return true
	}
	if p == nil {
		return false
	}
	return len(rt.Roles) == 0 || p.Has(rt.Roles...)
}

// portalRoles maps an account's staff roles into its scope. With
// requirePasskey, a session not opened with a passkey loses the admin role.
func portalRoles(sp staff.Principal, requirePasskey bool) (roles []Role, withheld bool) {
	for _, r := range sp.Roles {
		if r == staff.RoleAdmin && requirePasskey && sp.Method != staff.MethodPasskey {
			withheld = true
			continue
		}
		scope := "tenant."
		if sp.Operator() {
			scope = "operator."
		}
		roles = append(roles, Role(scope+string(r)))
	}
	slices.Sort(roles)
	return roles, withheld
}
