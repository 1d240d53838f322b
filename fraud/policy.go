package fraud

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/madoguchi/madoguchi/internal/policystore"
	"github.com/madoguchi/madoguchi/store"
)

// Policy is a tenant's fraud rules. A tenant without a stored policy runs
// under DefaultPolicy: document reuse and watchlist screening on, no
// velocity rules, and no duplicate-face search (which needs a 1:N
// threshold stated for the face model: see DuplicateRule).
type Policy struct {
	Duplicates DuplicateRule `json:"duplicates"`
	// DocumentReuse reports a document number seen in another session of
	// the tenant under another identity or face (ReasonDocumentReused).
	DocumentReuse bool `json:"document_reuse"`
	// Velocity rules: more than Max sessions with the same key within the
	// window is ReasonVelocity.
	Velocity []VelocityRule `json:"velocity,omitempty"`
	// Watchlists screens the verified name and birth date against the
	// tenant's active watchlists (ReasonWatchlist).
	Watchlists bool `json:"watchlists"`
}

// DuplicateRule is the 1:N duplicate-face search.
type DuplicateRule struct {
	Enabled bool `json:"enabled"`
	// Thresholds maps a face model id to the cosine similarity above which
	// a gallery template is the same person, calibrated for 1:N at the
	// gallery size the tenant expects (docs/fraud.md). A model without a
	// threshold is not searched, and the decision says so
	// (ReasonDuplicateUnchecked): a model change never compares templates
	// of different models and never passes silently.
	Thresholds map[string]float64 `json:"thresholds,omitempty"`
	// CrossTenant also searches the galleries of other tenants whose own
	// policies opt in; their sessions are never named.
	CrossTenant bool `json:"cross_tenant,omitempty"`
}

// VelocityRule limits sessions per key over a window.
type VelocityRule struct {
	Key           string `json:"key"` // KeyDevice, KeyNetwork or KeyDocument
	WindowSeconds int    `json:"window_seconds"`
	Max           int    `json:"max"`
}

// Velocity keys.
const (
	KeyDevice   = "device"   // the registered device (kiosk API client) that read the chip
	KeyNetwork  = "network"  // the capture page's network (/24 for IPv4, /48 for IPv6)
	KeyDocument = "document" // the document (keyed digest of its number)
)

// DefaultPolicy is what a tenant without a stored policy runs under.
func DefaultPolicy() Policy {
	return Policy{DocumentReuse: true, Watchlists: true}
}

// Validate checks the policy's ranges.
func (p Policy) Validate() error {
	bad := func(f string) error { return fmt.Errorf("%w: fraud policy %s", ErrInvalidInput, f) }
	if len(p.Duplicates.Thresholds) > 16 {
		return bad("duplicates.thresholds: at most 16 models")
	}
	for m, t := range p.Duplicates.Thresholds {
		if m == "" || len(m) > 200 || math.IsNaN(t) || t <= 0 || t >= 1 {
			return bad("duplicates.thresholds: a model id and a cosine in (0, 1)")
		}
	}
	if len(p.Velocity) > 16 {
		return bad("velocity: at most 16 rules")
	}
	for _, r := range p.Velocity {
		switch r.Key {
		case KeyDevice, KeyNetwork, KeyDocument:
		default:
			return bad("velocity.key: device, network or document")
		}
		if r.WindowSeconds < 60 || r.WindowSeconds > 366*24*3600 || r.Max < 1 || r.Max > 1_000_000 {
			return bad("velocity: window_seconds 60..31622400, max 1..1000000")
		}
	}
	return nil
}

// MaxPolicyBytes bounds a policy document.
const MaxPolicyBytes = 16 << 10

// ParsePolicy decodes a policy strictly (unknown fields refused, one JSON
// object, at most MaxPolicyBytes) and validates it.
func ParsePolicy(b []byte) (Policy, error) {
	if len(b) > MaxPolicyBytes {
		return Policy{}, fmt.Errorf("%w: fraud policy over %d bytes", ErrInvalidInput, MaxPolicyBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p Policy
	if err := dec.Decode(&p); err != nil {
		return Policy{}, fmt.Errorf("%w: not a valid JSON fraud policy object", ErrInvalidInput)
	}
	if dec.More() {
		return Policy{}, fmt.Errorf("%w: trailing data after the fraud policy", ErrInvalidInput)
	}
	return p, p.Validate()
}

// SetPolicy stores tenant's policy (validated), bumping its version, with
// an audit entry in the same transaction. It does not ask whether the
// change weakens the checks: callers that take changes from people (the
// CLI, the portal) compare with Weakens first and file a weakening change
// for a second admin (ApplyPolicyChange).
func (s *Service) SetPolicy(ctx context.Context, a Actor, tenant string, p Policy) (int, error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	var ver int
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		ver, err = s.storePolicy(ctx, tx, a, tenant, p, nil)
		return err
	})
	return ver, err
}

// Policy returns tenant's policy and version (DefaultPolicy and 0 when
// none is stored).
func (s *Service) Policy(ctx context.Context, tenant string) (Policy, int, error) {
	return loadPolicy(ctx, s.db, tenant)
}

// policyTable holds each tenant's policy document (internal/policystore).
const policyTable policystore.Table = "fraud_policies"

func loadPolicy(ctx context.Context, q policystore.Querier, tenant string) (Policy, int, error) {
	p, ver, err := policystore.Get[Policy](ctx, q, policyTable, tenant)
	if errors.Is(err, store.ErrNotFound) {
		return DefaultPolicy(), 0, nil
	}
	if err != nil {
		return Policy{}, 0, fmt.Errorf("fraud: %w", err)
	}
	if err := p.Validate(); err != nil {
		return Policy{}, 0, fmt.Errorf("fraud: stored policy is invalid: %w", err)
	}
	return p, ver, nil
}

// crossTenants lists the tenants (other than tenant) whose policies opt in
// to the cross-tenant gallery.
func (s *Service) crossTenants(ctx context.Context, tenant string) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT tenant_id, policy FROM fraud_policies WHERE tenant_id <> ?`, tenant)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var (
			t, raw string
			p      Policy
		)
		if err := rows.Scan(&t, &raw); err != nil {
			return nil, err
		}
		if json.Unmarshal([]byte(raw), &p) == nil && p.Duplicates.Enabled && p.Duplicates.CrossTenant {
			out = append(out, t)
		}
	}
	return out, rows.Err()
}

func windowOf(r VelocityRule) time.Duration { return time.Duration(r.WindowSeconds) * time.Second }
