package portal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/tenant"
)

// Approval executors for the kinds the administration pages add, and the
// tenant each tenant-scoped kind concerns. cmd/madoguchi registers them in
// the staff directory (newStaffDirectory) beside client.create and
// kek.rotate.

// decodeStrict decodes one JSON object with no unknown fields.
func decodeStrict(b []byte, v any, what string) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s payload: %v", what, err)
	}
	if dec.More() {
		return fmt.Errorf("%s payload: trailing data", what)
	}
	return nil
}

// PayloadTenant reads the "tenant_id" of a tenant-scoped payload
// (client.create, client.rotate, ekyc.policy.set): Executor.Tenant.
func PayloadTenant(b []byte) (string, error) {
	var p struct {
		TenantID string `json:"tenant_id"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return "", fmt.Errorf("payload: %v", err)
	}
	if p.TenantID == "" || len(p.TenantID) > MaxIDLen {
		return "", errors.New("payload: tenant_id missing")
	}
	return p.TenantID, nil
}

func parseClientRotate(b []byte) (ClientRotate, error) {
	var p ClientRotate
	if err := decodeStrict(b, &p, KindClientRotate); err != nil {
		return p, err
	}
	if p.TenantID == "" || p.ClientID == "" {
		return p, errors.New("client.rotate payload: tenant_id and client_id are required")
	}
	return p, nil
}

// ClientRotateExecutor performs an approved client.rotate inside the
// approval's transaction (tenant.Registry.RotateClientKeysTx).
func ClientRotateExecutor(r *tenant.Registry, now func() time.Time) staff.Executor {
	return staff.Executor{
		Tenant: PayloadTenant,
		Validate: func(b []byte) error {
			p, err := parseClientRotate(b)
			if err != nil {
				return err
			}
			return p.Keys.Validate(now())
		},
		Run: func(ctx context.Context, tx *store.Tx, a staff.Approval, by staff.Actor) error {
			p, err := parseClientRotate(a.Payload)
			if err != nil {
				return err
			}
			return r.RotateClientKeysTx(ctx, tx, tenant.Actor{Kind: by.Kind, ID: by.ID, RequestID: by.RequestID, OSUser: by.OSUser},
				p.TenantID, p.ClientID, p.Keys)
		},
	}
}
