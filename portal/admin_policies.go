package portal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/store"
)

// EKYCPolicies is the tenants' eKYC policies (package ekyc) for the policy
// page: the weakening check is ekyc.ComparePolicies, the one the CLI's
// `ekyc policy set` uses.
type EKYCPolicies struct {
	DB    *store.DB
	Audit ekyc.Auditor
	Now   func() time.Time
}

var _ Policies = (*EKYCPolicies)(nil)

// Policy returns the tenant's policy as indented JSON and its version.
func (p *EKYCPolicies) Policy(ctx context.Context, tenantID string) (string, int, error) {
	pol, ver, err := ekyc.LoadPolicy(ctx, p.DB, tenantID)
	if errors.Is(err, ekyc.ErrNoPolicy) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, err
	}
	b, err := json.MarshalIndent(pol, "", "  ")
	return string(b), ver, err
}

// parsePolicy decodes and validates a policy: one JSON object, no unknown
// field, within the ranges ekyc accepts.
func parsePolicy(b []byte) (ekyc.Policy, error) {
	var np ekyc.Policy
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&np); err != nil {
		return np, fmt.Errorf("%w: %v", ErrInvalidPolicy, err)
	}
	if dec.More() {
		return np, fmt.Errorf("%w: trailing data", ErrInvalidPolicy)
	}
	if err := np.Validate(); err != nil {
		return np, fmt.Errorf("%w: %w", ErrInvalidPolicy, err)
	}
	return np, nil
}

func changesOf(cs []ekyc.PolicyChange) []PolicyChange {
	out := make([]PolicyChange, 0, len(cs))
	for _, c := range cs {
		out = append(out, PolicyChange{Field: c.Field, Old: c.Old, New: c.New, Weakens: c.Weakens, Why: c.Why})
	}
	return out
}

// Compare lists next's changes from the tenant's current policy.
func (p *EKYCPolicies) Compare(ctx context.Context, tenantID string, next []byte) ([]PolicyChange, int, []byte, error) {
	np, err := parsePolicy(next)
	if err != nil {
		return nil, 0, nil, err
	}
	cur, ver, err := ekyc.LoadPolicy(ctx, p.DB, tenantID)
	var old *ekyc.Policy
	switch {
	case err == nil:
		old = &cur
	case errors.Is(err, ekyc.ErrNoPolicy):
	default:
		return nil, 0, nil, err
	}
	canonical, err := json.Marshal(np)
	if err != nil {
		return nil, 0, nil, err
	}
	return changesOf(ekyc.ComparePolicies(old, np)), ver, canonical, nil
}

// Store stores a change that weakens nothing, if the policy is still at
// base. The check is repeated inside the transaction: a weakening change
// is refused here whatever the caller decided (it goes through approval).
func (p *EKYCPolicies) Store(ctx context.Context, actor staff.Actor, tenantID string, canonical []byte, base int) (int, error) {
	np, err := parsePolicy(canonical)
	if err != nil {
		return 0, err
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	var nv int
	err = p.DB.InTx(ctx, func(tx *store.Tx) error {
		cur, ver, err := ekyc.LoadPolicyTx(ctx, tx, tenantID)
		var old *ekyc.Policy
		switch {
		case err == nil:
			old = &cur
		case errors.Is(err, ekyc.ErrNoPolicy):
		default:
			return err
		}
		if ver != base {
			return ErrPolicyChanged
		}
		if ekyc.Weakening(ekyc.ComparePolicies(old, np)) {
			return fmt.Errorf("%w: the change weakens a control and needs a second admin", ErrInvalidPolicy)
		}
		nv, err = ekyc.StorePolicyTx(ctx, tx, p.Audit, ekyc.Actor{Kind: actor.Kind, ID: actor.ID, RequestID: actor.RequestID}, tenantID, np, now(), nil)
		return err
	})
	return nv, err
}
