package ekyc

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// Finding verification records for staff (the portal's records pages):
// by session id or by the tenant's own reference only — never by personal
// data. The caller scopes by tenant and audits every opened record in the
// transaction that reads it (q).

// Querier reads rows (a *store.DB or a *store.Tx).
type Querier interface {
	QueryRow(ctx context.Context, query string, args ...any) *store.Row
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// RecordInfo describes a verification record without its personal data.
type RecordInfo struct {
	ID        string
	SessionID string
	TenantID  string
	Reference string
	Method    Method
	Outcome   Outcome
	CreatedAt time.Time
	Retention Retention
}

// Retention is a record's retention state. RetainUntil is zero until the
// tenant reports the contract's end (ContractEnded): the record is kept
// RetentionYears from then. ShreddedAt is set once the subject's data key
// is gone (the record can no longer be opened).
type Retention struct {
	ContractEndedAt time.Time
	RetainUntil     time.Time
	ShreddedAt      time.Time
}

// MaxRecordHits bounds a record search.
const MaxRecordHits = 50

// FindRecords returns the records of tenantID ("" for every tenant: operator
// staff) whose session id is sessionID or whose reference is reference
// (exactly one of them set).
func FindRecords(ctx context.Context, q Querier, tenantID, sessionID, reference string) ([]RecordInfo, error) {
	if (sessionID == "") == (reference == "") || len(sessionID) > 64 || len(reference) > MaxReferenceLen {
		return nil, fmt.Errorf("%w: search by one session id or one reference", ErrInvalidInput)
	}
	query := `SELECT r.id, r.session_id, r.tenant_id, s.reference, s.method, s.outcome, r.created_at,
		COALESCE(t.contract_ended_at, 0), COALESCE(t.retain_until, 0), COALESCE(t.shredded_at, 0)
		FROM ekyc_records r JOIN ekyc_sessions s ON s.id = r.session_id
		LEFT JOIN ekyc_retention t ON t.session_id = r.session_id WHERE `
	var args []any
	if sessionID != "" {
		query += `r.session_id = ?`
		args = append(args, sessionID)
	} else {
		query += `s.reference = ?`
		args = append(args, reference)
	}
	if tenantID != "" {
		query += ` AND r.tenant_id = ? AND s.tenant_id = ?`
		args = append(args, tenantID, tenantID)
	}
	query += ` ORDER BY r.created_at DESC, r.id LIMIT ?`
	args = append(args, MaxRecordHits)
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []RecordInfo{}
	for rows.Next() {
		ri, err := scanRecordInfo(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, ri)
	}
	return out, rows.Err()
}

func scanRecordInfo(row interface{ Scan(...any) error }) (RecordInfo, error) {
	var (
		ri                              RecordInfo
		method, outcome                 string
		created, ended, until, shredded int64
	)
	if err := row.Scan(&ri.ID, &ri.SessionID, &ri.TenantID, &ri.Reference, &method, &outcome, &created, &ended, &until, &shredded); err != nil {
		if isNotFound(err) {
			return ri, ErrNotFound
		}
		return ri, err
	}
	m, err := MethodByCode(method)
	if err != nil {
		return ri, fmt.Errorf("ekyc: stored session has unknown method: %w", err)
	}
	ri.Method, ri.Outcome, ri.CreatedAt = m, Outcome(outcome), store.FromMicros(created)
	if ended != 0 {
		ri.Retention.ContractEndedAt = store.FromMicros(ended)
	}
	if until != 0 && ended != 0 {
		ri.Retention.RetainUntil = store.FromMicros(until)
	}
	if shredded != 0 {
		ri.Retention.ShreddedAt = store.FromMicros(shredded)
	}
	return ri, nil
}

// RecordByID returns record id's description (no personal data);
// ErrNotFound if there is none.
func RecordByID(ctx context.Context, q Querier, id string) (RecordInfo, error) {
	if id == "" || len(id) > 64 {
		return RecordInfo{}, ErrNotFound
	}
	return scanRecordInfo(q.QueryRow(ctx, `SELECT r.id, r.session_id, r.tenant_id, s.reference, s.method, s.outcome, r.created_at,
		COALESCE(t.contract_ended_at, 0), COALESCE(t.retain_until, 0), COALESCE(t.shredded_at, 0)
		FROM ekyc_records r JOIN ekyc_sessions s ON s.id = r.session_id
		LEFT JOIN ekyc_retention t ON t.session_id = r.session_id WHERE r.id = ?`, id))
}

// SessionTenant returns the tenant of session id; ErrNotFound if there is
// no such session.
func SessionTenant(ctx context.Context, q Querier, id string) (string, error) {
	if id == "" || len(id) > 64 {
		return "", ErrNotFound
	}
	var t string
	if err := q.QueryRow(ctx, `SELECT tenant_id FROM ekyc_sessions WHERE id = ?`, id).Scan(&t); err != nil {
		if isNotFound(err) {
			return "", ErrNotFound
		}
		return "", err
	}
	return t, nil
}

// OpenRecord opens the verification record ri (personal data): the caller
// has scoped it and audits the view in the transaction q belongs to. A
// shredded subject's record cannot be opened (vault.ErrShredded).
func (s *Service) OpenRecord(ctx context.Context, q vault.Querier, ri RecordInfo) (*Record, error) {
	ss, err := getSession(ctx, q, ri.TenantID, ri.SessionID)
	if err != nil {
		return nil, err
	}
	return s.loadRecord(ctx, q, ss)
}
