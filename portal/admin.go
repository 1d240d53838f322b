package portal

import (
	"context"
	"errors"
	"net/netip"
	"strconv"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/notify"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/tenant"
	"github.com/madoguchi/madoguchi/vault"
)

// Administration (issue 10, item 4): tenants, API clients, staff, dual
// control, webhook deliveries, trust anchors, keys and eKYC policies.
// Each page is an admin_*.go file. The rules every one of them follows:
//
//   - Reading: admins and auditors of the scope (a tenant's staff their own
//     tenant; operator staff every tenant and the installation). Changing:
//     admins only (auditors get 403 from the route table).
//   - Objects by id come through Load, so another tenant's client, account,
//     request or delivery is 404; installation objects (tenants, trust
//     anchors, keys, operator accounts) are the operator's only.
//   - Every change calls RequireRecentAuth first, and is audited by the
//     domain package in the change's own transaction.
//   - What needs dual control in the CLI needs it here: the page files a
//     staff approval (role.grant, client.create, client.rotate, kek.rotate,
//     trust.csca, ekyc.policy.set) and a different admin approves it in
//     the approvals inbox (admin_approval.go), which performs it.

// Admin wires the administration pages; cmd/madoguchi/portal_admin_wire.go
// fills it. A nil service leaves its pages answering 404.
type Admin struct {
	Tenants  Tenants
	Staff    StaffAdmin
	Webhooks Webhooks
	Trust    TrustAnchors
	Keys     KeyStatus
	Policies Policies
}

// Tenants is the tenant registry (*tenant.Registry).
type Tenants interface {
	ListTenants(ctx context.Context) ([]tenant.Tenant, error)
	Tenant(ctx context.Context, id string) (tenant.Tenant, error)
	CreateTenant(ctx context.Context, actor tenant.Actor, name string) (tenant.Tenant, error)
	ListClients(ctx context.Context, tenantID string) ([]tenant.Client, error)
	Client(ctx context.Context, tenantID, clientID string) (tenant.Client, error)
	DisableClient(ctx context.Context, actor tenant.Actor, tenantID, clientID string) error
	EnableClient(ctx context.Context, actor tenant.Actor, tenantID, clientID string) error
}

// StaffAdmin is the staff directory's administration (*staff.Directory).
type StaffAdmin interface {
	Request(ctx context.Context, by staff.Actor, kind string, payload []byte) (staff.Approval, error)
	Approve(ctx context.Context, id string, by staff.Actor) (staff.Approval, error)
	Reject(ctx context.Context, id string, by staff.Actor, reason string) (staff.Approval, error)
	Approval(ctx context.Context, id string) (staff.Approval, error)
	ApprovalsIn(ctx context.Context, tenantID string, all bool, status string) ([]staff.Approval, error)
	Account(ctx context.Context, id string) (staff.Account, error)
	AccountsIn(ctx context.Context, tenantID string) ([]staff.Account, error)
	Invite(ctx context.Context, actor staff.Actor, tenantID, username string, password []byte) (staff.Enrollment, error)
	ResetTOTP(ctx context.Context, actor staff.Actor, staffID string) (staff.Secret, error)
	ResetPasskeys(ctx context.Context, actor staff.Actor, staffID string) (int64, error)
	DisableAccount(ctx context.Context, by staff.Actor, staffID string) error
	EnableAccount(ctx context.Context, by staff.Actor, staffID string) error
	TenantAccess(ctx context.Context, tenantID string) (staff.TenantAccess, error)
	SetTenantAccess(ctx context.Context, actor staff.Actor, tenantID string, allow []netip.Prefix) error
}

// Webhooks is the webhook outbox (*notify.Notifier).
type Webhooks interface {
	ListTenant(ctx context.Context, tenantID string, all bool, state string, limit, offset int) ([]notify.Delivery, error)
	Get(ctx context.Context, id string) (notify.Delivery, error)
	Retry(ctx context.Context, by notify.Actor, id string) error
	Replay(ctx context.Context, by notify.Actor, id string) error
}

// KeyStatus is the vault's key status (*vault.Vault). Rotation is a
// kek.rotate approval.
type KeyStatus interface {
	Status(ctx context.Context) (vault.Status, error)
}

var (
	_ Tenants    = (*tenant.Registry)(nil)
	_ StaffAdmin = (*staff.Directory)(nil)
	_ Webhooks   = (*notify.Notifier)(nil)
	_ KeyStatus  = (*vault.Vault)(nil)
)

// Approval kinds the pages file besides the staff package's own.
const (
	// KindClientRotate replaces an API client's keys or certificate.
	KindClientRotate = "client.rotate"
	// KindPolicySet is a weakening eKYC policy change.
	KindPolicySet = "ekyc.policy.set"
)

// ClientCreate is the payload of a client.create approval.
type ClientCreate struct {
	TenantID string            `json:"tenant_id"`
	Client   tenant.ClientSpec `json:"client"`
}

// ClientRotate is the payload of a client.rotate approval.
type ClientRotate struct {
	TenantID string             `json:"tenant_id"`
	ClientID string             `json:"client_id"`
	Keys     tenant.KeyRotation `json:"keys"`
}

// Role sets for the route table.
var (
	adminRoles    = []Role{TenantAdmin, OperatorAdmin}
	adminReaders  = []Role{TenantAdmin, OperatorAdmin, TenantAuditor, OperatorAuditor}
	operatorAdmin = []Role{OperatorAdmin}
	operatorRead  = []Role{OperatorAdmin, OperatorAuditor}
)

// errNoService: a page whose service is not wired.
var errNoService = ErrNotFound

// staffActor, tenantActor, notifyActor: the signed-in person for each
// domain package's audit entries.
func (rq *Request) tenantActor() tenant.Actor {
	return tenant.Actor{Kind: audit.ActorStaff, ID: rq.Principal.StaffID, RequestID: rq.RequestID()}
}

func (rq *Request) notifyActor() notify.Actor {
	return notify.Actor{Kind: audit.ActorStaff, ID: rq.Principal.StaffID, RequestID: rq.RequestID()}
}

// scopeTenant is the tenant an admin page works on: a tenant's staff their
// own (whatever the query says); operator staff the ?tenant= given (which
// must exist: 404 otherwise), or "" when none is given.
func (rq *Request) scopeTenant() (string, error) {
	if !rq.Principal.Operator() {
		return rq.Principal.TenantID, nil
	}
	id := rq.R.URL.Query().Get("tenant")
	if id == "" {
		return "", nil
	}
	if len(id) > MaxIDLen || rq.s.cfg.Admin.Tenants == nil {
		return "", ErrNotFound
	}
	if _, err := rq.s.cfg.Admin.Tenants.Tenant(rq.Ctx(), id); err != nil {
		return "", tenantErr(err)
	}
	return id, nil
}

// tenantChoice is the tenant selector operator staff see on tenant pages.
type tenantChoice struct {
	ID, Name string
	Selected bool
}

func (rq *Request) tenantChoices(selected string) ([]tenantChoice, error) {
	if !rq.Principal.Operator() || rq.s.cfg.Admin.Tenants == nil {
		return nil, nil
	}
	ts, err := rq.s.cfg.Admin.Tenants.ListTenants(rq.Ctx())
	if err != nil {
		return nil, err
	}
	out := make([]tenantChoice, 0, len(ts))
	for _, t := range ts {
		out = append(out, tenantChoice{ID: t.ID, Name: t.Name, Selected: t.ID == selected})
	}
	return out, nil
}

func tenantErr(err error) error {
	if errors.Is(err, tenant.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

// isAdmin reports whether the person may change things (the pages show
// forms only to them; the route table enforces it).
func (rq *Request) isAdmin() bool { return rq.Principal.Has(adminRoles...) }

func itoa(n int) string { return strconv.Itoa(n) }
