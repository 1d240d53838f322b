package ekyc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// Transaction record limits.
const (
	MaxTransactionKindLen = 64
	MaxTransactionBytes   = 4 << 10
	// MaxTransactionDepth bounds how deeply the content's objects and
	// arrays nest (the content object itself is level 1).
	MaxTransactionDepth = 16
)

// TransactionRecord is one 取引記録: the date and content of a transaction
// with a verified customer. Content is the tenant's own description (amount,
// counterparty...), sealed; Kind is a short non-personal label.
type TransactionRecord struct {
	Date    time.Time      `json:"date"`
	Kind    string         `json:"kind"`
	Content map[string]any `json:"content"`
}

func transactionAAD(id string) []byte { return vault.AAD("ekyc.transaction", id) }

// RecordTransaction keeps a transaction record for an approved session's
// customer, RetentionYears from the transaction date; the session id is the
// search key to the verification record. It returns the record id and the
// date it may be erased.
func (s *Service) RecordTransaction(ctx context.Context, a Actor, tenant, id string, tr TransactionRecord) (string, time.Time, error) {
	now := s.now()
	if tr.Date.IsZero() || tr.Date.After(now.Add(24*time.Hour)) {
		return "", time.Time{}, fmt.Errorf("%w: date must be set and not in the future", ErrInvalidInput)
	}
	if tr.Kind == "" || len(tr.Kind) > MaxTransactionKindLen || !printable(tr.Kind) || len(tr.Content) == 0 {
		return "", time.Time{}, fmt.Errorf("%w: kind (1-%d printable characters) and content are required", ErrInvalidInput, MaxTransactionKindLen)
	}
	if d := jsonDepth(tr.Content); d > MaxTransactionDepth {
		return "", time.Time{}, fmt.Errorf("%w: content nests %d levels deep, at most %d", ErrInvalidInput, min(d, MaxTransactionDepth+1), MaxTransactionDepth)
	}
	body, err := json.Marshal(tr)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%w: content is not encodable", ErrInvalidInput)
	}
	if len(body) > MaxTransactionBytes {
		return "", time.Time{}, fmt.Errorf("%w: transaction record over %d bytes", ErrTooLarge, MaxTransactionBytes)
	}
	if bytes.Contains(body, []byte("my_number")) || bytes.Contains(body, []byte("個人番号")) {
		return "", time.Time{}, ErrMyNumber
	}
	ss, err := s.Get(ctx, tenant, id)
	if err != nil {
		return "", time.Time{}, err
	}
	if !ss.Final() || ss.Outcome != OutcomeApproved {
		return "", time.Time{}, fmt.Errorf("%w: transactions are recorded for approved customers only", ErrState)
	}
	rid, err := s.newID("txr_")
	if err != nil {
		return "", time.Time{}, err
	}
	until := tr.Date.UTC().AddDate(RetentionYears, 0, 0)
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		var shredded int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM ekyc_retention WHERE session_id = ? AND shredded_at <> 0`, ss.ID).Scan(&shredded); err != nil {
			return err
		}
		if shredded > 0 {
			return fmt.Errorf("%w: the customer's data was erased", ErrState)
		}
		sealed, err := s.cfg.Vault.Seal(ctx, tx, subjectOf(ss.TenantID, ss.subject), transactionAAD(rid), body)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO ekyc_transactions (id, tenant_id, session_id, occurred_at, retain_until, created_at, body)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, rid, ss.TenantID, ss.ID, store.Micros(tr.Date), store.Micros(until), store.Micros(now), sealed); err != nil {
			return err
		}
		return s.record(ctx, tx, a, ss.TenantID, "ekyc.transaction.record", rid, audit.OutcomeOK,
			map[string]string{"session": ss.ID, "kind": tr.Kind, "retain_until": until.Format(time.DateOnly)})
	})
	return rid, until, err
}

// jsonDepth is how deeply v (decoded JSON: maps, slices, scalars) nests;
// it stops counting past MaxTransactionDepth+1.
func jsonDepth(v any) int {
	var walk func(v any, d int) int
	walk = func(v any, d int) int {
		if d > MaxTransactionDepth {
			return d
		}
		best := d
		switch x := v.(type) {
		case map[string]any:
			for _, c := range x {
				best = max(best, walk(c, d+1))
			}
		case []any:
			for _, c := range x {
				best = max(best, walk(c, d+1))
			}
		default:
			return d - 1
		}
		return best
	}
	return walk(v, 1)
}
