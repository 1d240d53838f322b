// Package policystore keeps one versioned JSON document per tenant (a
// tenant's eKYC or fraud policy) in a table of the shape
//
//	tenant_id  TEXT PRIMARY KEY REFERENCES tenants (id),
//	version    INTEGER NOT NULL,
//	policy     TEXT    NOT NULL,
//	updated_at BIGINT  NOT NULL  -- store.Micros
//
// Invariants: a tenant's first document is version 1 and every Put bumps
// the version by one, inside the caller's transaction, so the caller's
// audit entry (which carries the version: Details) commits with it or not
// at all. The caller owns the document type, its validation and the table
// (a constant of its own; one of its migrations).
package policystore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/madoguchi/madoguchi/store"
)

// Table is the name of a policy table. It is written into SQL: only a
// package-level constant of the caller, never input.
type Table string

// ErrUnreadable: the stored document does not decode into the caller's type.
var ErrUnreadable = errors.New("stored policy is unreadable")

// Querier is a *store.DB or a *store.Tx.
type Querier interface {
	QueryRow(ctx context.Context, query string, args ...any) *store.Row
}

// Put stores p as tenant's document in t inside tx and returns its new
// version (1 for the first).
func Put[P any](ctx context.Context, tx *store.Tx, t Table, tenant string, p P, now time.Time) (int, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return 0, err
	}
	var ver int
	at := store.Micros(now.UTC())
	err = tx.QueryRow(ctx, `SELECT version FROM `+string(t)+` WHERE tenant_id = ?`, tenant).Scan(&ver)
	switch {
	case err == nil:
		ver++
		_, err = tx.Exec(ctx, `UPDATE `+string(t)+` SET version = ?, policy = ?, updated_at = ? WHERE tenant_id = ?`,
			ver, string(b), at, tenant)
	case errors.Is(err, store.ErrNotFound):
		ver = 1
		_, err = tx.Exec(ctx, `INSERT INTO `+string(t)+` (tenant_id, version, policy, updated_at) VALUES (?, ?, ?, ?)`,
			tenant, ver, string(b), at)
	}
	if err != nil {
		return 0, err
	}
	return ver, nil
}

// Get returns tenant's document in t and its version: store.ErrNotFound
// when there is none, ErrUnreadable when it does not decode into P. The
// caller validates it.
func Get[P any](ctx context.Context, q Querier, t Table, tenant string) (P, int, error) {
	var (
		p   P
		raw string
		ver int
	)
	if err := q.QueryRow(ctx, `SELECT policy, version FROM `+string(t)+` WHERE tenant_id = ?`, tenant).Scan(&raw, &ver); err != nil {
		return p, 0, err
	}
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return p, 0, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	return p, ver, nil
}

// Details are the audit details of a Put of version ver: "version" and
// extra (which cannot override it).
func Details(ver int, extra map[string]string) map[string]string {
	d := make(map[string]string, len(extra)+1)
	for k, v := range extra {
		d[k] = v
	}
	d["version"] = fmt.Sprint(ver)
	return d
}
