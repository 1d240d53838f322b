package staff

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
)

// Approval kinds wired today. role.grant is built in; the server registers
// client.create (tenant.Registry.CreateClientTx) and kek.rotate
// (vault.Vault.RotateKEK) as Config.Executors, and trust.csca (one ICAO
// CSCA anchor) and trust.policy (the ICAO operator policy) write the trust
// directory after the approval commits.
const (
	KindClientCreate = "client.create"
	KindRoleGrant    = "role.grant"
	KindKEKRotate    = "kek.rotate"
	KindTrustCSCA    = "trust.csca"
	KindTrustPolicy  = "trust.policy"
)

// Approval statuses.
const (
	StatusPending  = "pending"
	StatusApproved = "approved"
	StatusRejected = "rejected"
	StatusExpired  = "expired"
	StatusFailed   = "failed" // approved, but the after-commit action failed
)

// Limits on approval input.
const (
	MaxPayloadLen = 64 << 10
	MaxReasonLen  = 256
)

var kindRE = regexp.MustCompile(`^[a-z][a-z0-9._-]{0,63}$`)

// Approval is a dual-control request: one admin asks, a different admin
// approves (or any admin rejects) before it expires.
type Approval struct {
	ID        string
	Kind      string
	Payload   []byte
	Requester string
	Status    string
	CreatedAt time.Time
	ExpiresAt time.Time
	DecidedBy string
	DecidedAt time.Time
	Reason    string
	// TenantID is the tenant the request concerns ("" installation-wide):
	// an admin of that tenant may file it, and another admin of that tenant
	// or an operator admin may decide it (tenant_admin.go).
	TenantID string
}

// Executor carries out an approved action.
type Executor struct {
	// Validate refuses a malformed payload when the request is filed
	// (optional), so nobody is asked to approve something that cannot run.
	Validate func(payload []byte) error
	// Run performs the action inside the approval's transaction: the action,
	// its own audit entries and the approval's status commit together or not
	// at all. by is the approving admin.
	Run func(ctx context.Context, tx *store.Tx, a Approval, by Actor) error
	// AfterCommit performs an action that cannot join a database
	// transaction (a KEK rotation in a key file or external KMS). It runs
	// after the approval committed; if it fails the approval is marked
	// failed (audited) and the error returned.
	AfterCommit func(ctx context.Context, a Approval, by Actor) error
	// Tenant names the tenant a payload concerns (optional): a kind with it
	// may be filed and decided by that tenant's admins as well as by
	// operator admins; a kind without it is installation-wide (operator
	// admins only). role.grant's tenant is the account's.
	Tenant func(payload []byte) (string, error)
}

// Request files an approval request. The requester must be an operator
// admin, or an admin of the tenant the request concerns (Executor.Tenant);
// the kind must have an executor and the payload must pass its Validate.
func (d *Directory) Request(ctx context.Context, by Actor, kind string, payload []byte) (Approval, error) {
	ex, ok := d.exec[kind]
	if !ok {
		return Approval{}, fmt.Errorf("%w: unknown approval kind %q", ErrInvalidInput, kind)
	}
	if len(payload) > MaxPayloadLen {
		return Approval{}, fmt.Errorf("%w: payload is %d bytes, limit %d", ErrInvalidInput, len(payload), MaxPayloadLen)
	}
	if ex.Validate != nil {
		if err := ex.Validate(payload); err != nil {
			return Approval{}, fmt.Errorf("%w: %w", ErrInvalidInput, err)
		}
	}
	now := d.now()
	a := Approval{ID: newID("ap_"), Kind: kind, Payload: append([]byte{}, payload...), Requester: by.ID,
		Status: StatusPending, CreatedAt: now, ExpiresAt: now.Add(d.cfg.ApprovalTTL)}
	err := d.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if a.TenantID, err = d.requestTenant(ctx, tx, kind, ex, payload); err != nil {
			return err
		}
		if err := d.requireAdminOf(ctx, tx, by, a.TenantID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO approvals (id, kind, payload, requester, status, created_at, expires_at, decided_by, decided_at, reason, tenant_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 0, '', ?)`, a.ID, a.Kind, a.Payload, a.Requester, a.Status,
			store.Micros(a.CreatedAt), store.Micros(a.ExpiresAt), nullable(a.TenantID)); err != nil {
			return err
		}
		_, err = d.audit.Append(ctx, tx, a.entry(by, "approval.request", audit.OutcomeOK, map[string]string{"kind": kind}))
		return err
	})
	if err != nil {
		return Approval{}, err
	}
	return a, nil
}

const approvalCols = `id, kind, payload, requester, status, created_at, expires_at, decided_by, decided_at, reason, tenant_id`

type rowScanner interface{ Scan(...any) error }

func scanApproval(r rowScanner) (Approval, error) {
	var (
		a                         Approval
		created, expires, decided int64
		decidedBy, tenantID       *string
	)
	if err := r.Scan(&a.ID, &a.Kind, &a.Payload, &a.Requester, &a.Status, &created, &expires, &decidedBy, &decided, &a.Reason, &tenantID); err != nil {
		return Approval{}, mapErr(err)
	}
	a.CreatedAt, a.ExpiresAt, a.DecidedAt = store.FromMicros(created), store.FromMicros(expires), store.FromMicros(decided)
	if decidedBy != nil {
		a.DecidedBy = *decidedBy
	}
	if tenantID != nil {
		a.TenantID = *tenantID
	}
	return a, nil
}

// Approval returns one approval request.
func (d *Directory) Approval(ctx context.Context, id string) (Approval, error) {
	return scanApproval(d.db.QueryRow(ctx, `SELECT `+approvalCols+` FROM approvals WHERE id = ?`, id))
}

// Approvals lists requests with the given status ("" for all), oldest first.
func (d *Directory) Approvals(ctx context.Context, status string) ([]Approval, error) {
	q, args := `SELECT `+approvalCols+` FROM approvals ORDER BY created_at, id`, []any(nil)
	if status != "" {
		q, args = `SELECT `+approvalCols+` FROM approvals WHERE status = ? ORDER BY created_at, id`, []any{status}
	}
	return d.approvalsWhere(ctx, q, args...)
}

// approvalsWhere lists the requests query q (selecting approvalCols) returns.
func (d *Directory) approvalsWhere(ctx context.Context, q string, args ...any) ([]Approval, error) {
	rows, err := d.db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Approval
	for rows.Next() {
		a, err := scanApproval(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// loadPending reads the request under a row lock and settles expiry. It
// returns expired=true (after marking and auditing it) when the request
// timed out.
func (d *Directory) loadPending(ctx context.Context, tx *store.Tx, id string, by Actor) (Approval, bool, error) {
	lock := ""
	if tx.Dialect() == store.Postgres {
		lock = " FOR UPDATE"
	}
	a, err := scanApproval(tx.QueryRow(ctx, `SELECT `+approvalCols+` FROM approvals WHERE id = ?`+lock, id))
	if err != nil {
		return a, false, err
	}
	if a.Status != StatusPending {
		return a, false, fmt.Errorf("%w: %s", ErrDecided, a.Status)
	}
	now := d.now()
	if !now.Before(a.ExpiresAt) {
		if _, err := tx.Exec(ctx, `UPDATE approvals SET status = ?, decided_at = ? WHERE id = ?`, StatusExpired, store.Micros(now), id); err != nil {
			return a, false, err
		}
		if _, err := d.audit.Append(ctx, tx, a.entry(by, "approval.expire", audit.OutcomeOK, map[string]string{"kind": a.Kind})); err != nil {
			return a, false, err
		}
		a.Status = StatusExpired
		return a, true, nil
	}
	return a, false, nil
}

// Approve approves a pending request and executes it. The approver must be
// an admin who may decide it (an operator admin, or an admin of the tenant
// the request concerns) other than the requester (ErrSameApprover, audited as denied). An
// expired request is marked expired (ErrExpired). The executor's Run, the
// status change and the audit entry share one transaction.
func (d *Directory) Approve(ctx context.Context, id string, by Actor) (Approval, error) {
	var (
		a        Approval
		ex       Executor
		decision error
	)
	err := d.db.InTx(ctx, func(tx *store.Tx) error {
		if err := d.requireDecider(ctx, tx, by, id); err != nil {
			return err
		}
		var expired bool
		var err error
		a, expired, err = d.loadPending(ctx, tx, id, by)
		if err != nil {
			return err
		}
		if expired {
			decision = ErrExpired
			return nil
		}
		if by.ID == a.Requester {
			decision = ErrSameApprover
			_, err := d.audit.Append(ctx, tx, a.entry(by, "approval.approve", audit.OutcomeDenied,
				map[string]string{"kind": a.Kind, "reason": "same_admin"}))
			return err
		}
		var ok bool
		if ex, ok = d.exec[a.Kind]; !ok {
			return fmt.Errorf("%w: no executor for kind %q", ErrInvalidInput, a.Kind)
		}
		now := d.now()
		a.Status, a.DecidedBy, a.DecidedAt = StatusApproved, by.ID, now
		if ex.Run != nil {
			if err := ex.Run(ctx, tx, a, by); err != nil {
				return fmt.Errorf("staff: execute %s: %w", a.Kind, err)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE approvals SET status = ?, decided_by = ?, decided_at = ? WHERE id = ?`,
			a.Status, by.ID, store.Micros(now), id); err != nil {
			return err
		}
		_, err = d.audit.Append(ctx, tx, a.entry(by, "approval.approve", audit.OutcomeOK,
			map[string]string{"kind": a.Kind, "requester": a.Requester}))
		return err
	})
	if err != nil {
		return Approval{}, err
	}
	if decision != nil {
		return a, decision
	}
	if ex.AfterCommit != nil {
		if aerr := ex.AfterCommit(ctx, a, by); aerr != nil {
			a.Status = StatusFailed
			err := d.db.InTx(ctx, func(tx *store.Tx) error {
				if _, err := tx.Exec(ctx, `UPDATE approvals SET status = ? WHERE id = ?`, StatusFailed, id); err != nil {
					return err
				}
				_, err := d.audit.Append(ctx, tx, a.entry(by, "approval.execute", audit.OutcomeFailed, map[string]string{"kind": a.Kind}))
				return err
			})
			return a, errors.Join(fmt.Errorf("staff: execute %s: %w", a.Kind, aerr), err)
		}
	}
	return a, nil
}

// Reject declines a pending request. Any admin who may decide it
// (requireDecider) may reject, including the requester withdrawing it. reason is stored with the request, not in the
// audit log (it is free text).
func (d *Directory) Reject(ctx context.Context, id string, by Actor, reason string) (Approval, error) {
	if len(reason) > MaxReasonLen || !utf8.ValidString(reason) {
		return Approval{}, fmt.Errorf("%w: reason must be at most %d bytes of UTF-8", ErrInvalidInput, MaxReasonLen)
	}
	var a Approval
	var decision error
	err := d.db.InTx(ctx, func(tx *store.Tx) error {
		if err := d.requireDecider(ctx, tx, by, id); err != nil {
			return err
		}
		var expired bool
		var err error
		a, expired, err = d.loadPending(ctx, tx, id, by)
		if err != nil {
			return err
		}
		if expired {
			decision = ErrExpired
			return nil
		}
		now := d.now()
		a.Status, a.DecidedBy, a.DecidedAt, a.Reason = StatusRejected, by.ID, now, reason
		if _, err := tx.Exec(ctx, `UPDATE approvals SET status = ?, decided_by = ?, decided_at = ?, reason = ? WHERE id = ?`,
			a.Status, by.ID, store.Micros(now), reason, id); err != nil {
			return err
		}
		_, err = d.audit.Append(ctx, tx, a.entry(by, "approval.reject", audit.OutcomeOK, map[string]string{"kind": a.Kind}))
		return err
	})
	if err != nil {
		return Approval{}, err
	}
	return a, decision
}

// RoleGrant is the payload of a "role.grant" request.
type RoleGrant struct {
	StaffID string `json:"staff_id"`
	Role    Role   `json:"role"`
}

func parseRoleGrant(b []byte) (RoleGrant, error) {
	var g RoleGrant
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		return g, fmt.Errorf("role.grant payload: %v", err)
	}
	if dec.More() {
		return g, errors.New("role.grant payload: trailing data")
	}
	if _, err := ParseRole(string(g.Role)); err != nil {
		return g, err
	}
	if g.StaffID == "" || len(g.StaffID) > 64 {
		return g, errors.New("role.grant payload: staff_id missing")
	}
	return g, nil
}

func validateRoleGrant(b []byte) error {
	_, err := parseRoleGrant(b)
	return err
}

func (d *Directory) runRoleGrant(ctx context.Context, tx *store.Tx, a Approval, by Actor) error {
	g, err := parseRoleGrant(a.Payload)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	var status string
	if err := tx.QueryRow(ctx, `SELECT status FROM staff_accounts WHERE id = ?`, g.StaffID).Scan(&status); err != nil {
		return mapErr(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO staff_roles (staff_id, role, granted_at) VALUES (?, ?, ?)`,
		g.StaffID, string(g.Role), store.Micros(d.now())); err != nil {
		return mapErr(err)
	}
	e := by.entry("staff.role.grant", g.StaffID, audit.OutcomeOK, map[string]string{"role": string(g.Role), "approval": a.ID})
	e.TenantID = a.TenantID
	_, err = d.audit.Append(ctx, tx, e)
	return err
}
