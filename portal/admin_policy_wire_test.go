package portal

import (
	"context"
	"errors"
	"fmt"

	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/store"
)

// newTestPolicies is the eKYC policy service of the tests.
func newTestPolicies(e *env) Policies {
	return &EKYCPolicies{DB: e.db, Audit: e.audit, Now: e.clock.Now}
}

// policySetExecutor performs an approved ekyc.policy.set as the server's
// executor does (cmd/madoguchi ekyc.go): refused if the policy moved since
// the request, stored with both admins in the audit entry.
func policySetExecutor(e *env) staff.Executor {
	parse := func(b []byte) (PolicySet, ekyc.Policy, error) {
		var p PolicySet
		if err := decodeStrict(b, &p, KindPolicySet); err != nil {
			return p, ekyc.Policy{}, err
		}
		np, err := parsePolicy(p.Policy)
		return p, np, err
	}
	return staff.Executor{
		Tenant:   PayloadTenant,
		Validate: func(b []byte) error { _, _, err := parse(b); return err },
		Run: func(ctx context.Context, tx *store.Tx, a staff.Approval, by staff.Actor) error {
			p, np, err := parse(a.Payload)
			if err != nil {
				return err
			}
			_, ver, err := ekyc.LoadPolicyTx(ctx, tx, p.TenantID)
			if err != nil && !errors.Is(err, ekyc.ErrNoPolicy) {
				return err
			}
			if ver != p.BaseVersion {
				return fmt.Errorf("%w: policy moved", staff.ErrInvalidInput)
			}
			_, err = ekyc.StorePolicyTx(ctx, tx, e.audit, ekyc.Actor{Kind: by.Kind, ID: by.ID, RequestID: by.RequestID}, p.TenantID, np, e.clock.Now(),
				map[string]string{"approval": a.ID, "requester": a.Requester, "weakening": "true"})
			return err
		},
	}
}
