package portal

// The offline face credential (package credential) for tenant staff:
// credential_list.go (a customer's credentials, revocation),
// credential_reissue.go (a new QR code in place of an old one) and
// credential_devices.go (branch devices: enrolment and removal, each
// filed by one admin and approved by another — the service enforces the
// four eyes and scopes every call by the account's tenant). Every read
// and change is in the audit log (the service's own entries, with the
// person).

import (
	"context"
	"errors"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/credential"
)

// Credentials is what the pages need of *credential.Service.
type Credentials interface {
	List(ctx context.Context, tenant, customer string) ([]credential.Record, error)
	Revoke(ctx context.Context, a credential.Actor, tenant, id, reason string) (*credential.Record, error)
	Reissue(ctx context.Context, a credential.Actor, tenant, id, reason string) (*credential.Credential, error)
	Devices(ctx context.Context, st credential.Staff, tenant string) ([]credential.Device, error)
	RequestDevice(ctx context.Context, st credential.Staff, tenant, name, code string) (*credential.Device, error)
	ApproveDevice(ctx context.Context, st credential.Staff, id string) (*credential.Device, error)
	RequestRemoval(ctx context.Context, st credential.Staff, id string) (*credential.Device, error)
	ApproveRemoval(ctx context.Context, st credential.Staff, id string) (*credential.Device, error)
}

var _ Credentials = (*credential.Service)(nil)

var (
	credentialRoles = []Role{TenantReviewer, TenantAdmin}
	deviceRoles     = []Role{TenantAdmin}
)

// credentialStaff is the signed-in person as the credential service's staff.
func credentialStaff(rq *Request) credential.Staff {
	p := rq.Principal
	st := credential.Staff{ID: p.StaffID, TenantID: p.TenantID, RequestID: rq.RequestID()}
	if p.Has(TenantAdmin) {
		st.Roles = append(st.Roles, "admin")
	}
	return st
}

func credentialActor(rq *Request) credential.Actor {
	return credential.Actor{Kind: audit.ActorStaff, ID: rq.Principal.StaffID, RequestID: rq.RequestID()}
}

// credentialErr maps the service's errors to the portal's.
func credentialErr(err error) error {
	switch {
	case errors.Is(err, credential.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, credential.ErrForbidden):
		return ErrForbidden
	case errors.Is(err, credential.ErrState), errors.Is(err, credential.ErrInvalidInput), errors.Is(err, credential.ErrMalformed):
		return errBadInput
	}
	return err
}
