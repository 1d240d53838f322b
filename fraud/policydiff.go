package fraud

import (
	"context"
	"fmt"
	"slices"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/internal/policystore"
	"github.com/madoguchi/madoguchi/store"
)

// Weakens lists what changing the policy from old to p weakens (empty: the
// change only strengthens or keeps the checks). A weakening change needs
// a second admin (approval kind fraud.policy.set): a check turned off, a
// 1:N threshold raised or removed (fewer duplicates found), a velocity rule
// removed, allowing more sessions or a shorter window, and the
// cross-tenant gallery turned on (templates searched by other tenants).
func (p Policy) Weakens(old Policy) []string {
	var w []string
	if old.Duplicates.Enabled && !p.Duplicates.Enabled {
		w = append(w, "duplicates: search turned off")
	}
	for m, t := range old.Duplicates.Thresholds {
		nt, ok := p.Duplicates.Thresholds[m]
		switch {
		case !ok:
			w = append(w, "duplicates: threshold removed for model "+m)
		case nt > t:
			w = append(w, fmt.Sprintf("duplicates: threshold raised for model %s (%g -> %g)", m, t, nt))
		}
	}
	if !old.Duplicates.CrossTenant && p.Duplicates.CrossTenant {
		w = append(w, "duplicates: cross-tenant gallery turned on")
	}
	if old.DocumentReuse && !p.DocumentReuse {
		w = append(w, "document_reuse: turned off")
	}
	if old.Watchlists && !p.Watchlists {
		w = append(w, "watchlists: screening turned off")
	}
	for _, r := range old.Velocity {
		// A new rule on the same key counts as keeping r when it is at
		// least as strict: no more sessions over at least as long.
		kept := slices.ContainsFunc(p.Velocity, func(n VelocityRule) bool {
			return n.Key == r.Key && n.Max <= r.Max && n.WindowSeconds >= r.WindowSeconds
		})
		if !kept {
			w = append(w, fmt.Sprintf("velocity: rule %s (max %d per %ds) removed or relaxed", r.Key, r.Max, r.WindowSeconds))
		}
	}
	return w
}

// PolicyChange is a fraud policy and the version it was compared against
// (the payload of a fraud.policy.set approval).
type PolicyChange struct {
	Tenant      string `json:"tenant_id"`
	BaseVersion int    `json:"base_version"`
	Policy      Policy `json:"policy"`
}

// ApplyPolicyChange stores a change inside tx (the approval's
// transaction), refusing it if the policy moved since the change was
// compared (the second admin would approve a diff nobody saw).
func (s *Service) ApplyPolicyChange(ctx context.Context, tx *store.Tx, by Actor, c PolicyChange, details map[string]string) (int, error) {
	if err := c.Policy.Validate(); err != nil {
		return 0, err
	}
	_, ver, err := loadPolicy(ctx, tx, c.Tenant)
	if err != nil {
		return 0, err
	}
	if ver != c.BaseVersion {
		return 0, fmt.Errorf("%w: the fraud policy is at version %d, the change was made against version %d; file it again", ErrInvalidInput, ver, c.BaseVersion)
	}
	return s.storePolicy(ctx, tx, by, c.Tenant, c.Policy, details)
}

// storePolicy writes tenant's policy in tx, bumping its version, audited.
func (s *Service) storePolicy(ctx context.Context, tx *store.Tx, a Actor, tenant string, p Policy, details map[string]string) (int, error) {
	ver, err := policystore.Put(ctx, tx, policyTable, tenant, p, s.now())
	if err != nil {
		return 0, err
	}
	d := policystore.Details(ver, details)
	return ver, s.record(ctx, tx, a, tenant, "fraud.policy.set", "fraud-policy/"+tenant, audit.OutcomeOK, d)
}
