package audit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/madoguchi/madoguchi/store"
)

// Reading entries back: the portal's audit pages and the trail every object
// page embeds. Entries are read newest first, by index, with keyset paging
// (Before), so a page stays the same while new entries arrive and no query
// counts or skips over the whole log.
//
// Objects are named either by their opaque id ("ses_…", "policy/tn_…") or,
// by the portal's views, as "<kind>:<id>" ("ekyc.session:ses_…"). An
// object's trail is every entry whose TrailKey is the id, whichever form
// the writer used; migration 0029 indexes that key.

// MaxQueryLimit bounds Query.Limit.
const MaxQueryLimit = 500

// Query selects entries, newest first.
type Query struct {
	// TenantID restricts the result to one tenant's entries ("" is the
	// installation's own entries) unless AllTenants is set.
	TenantID   string
	AllTenants bool
	// Trail, if set, keeps only the entries about one object: those whose
	// TrailKey(Object) is Trail.
	Trail string
	// Action, if set, keeps only entries with this action.
	Action string
	// Before, if non-zero, keeps only entries with an index below it (the
	// next page starts at the last index shown).
	Before uint64
	// Limit is how many entries to return, 1..MaxQueryLimit.
	Limit int
}

// Record is a stored entry and its index in the tree.
type Record struct {
	Index uint64
	Entry Entry
}

// ErrQuery reports a Query outside its limits.
var ErrQuery = errors.New("audit: bad query")

// TrailKey returns the id an object's trail is kept under: the part of
// object after the first ':' ("ekyc.session:ses_1" → "ses_1"), or object
// itself.
func TrailKey(object string) string {
	if _, id, ok := strings.Cut(object, ":"); ok {
		return id
	}
	return object
}

// trailExpr is TrailKey in SQL, written exactly as the index of migration
// 0029 is, so the planner uses it.
func trailExpr(d store.Dialect) string {
	if d == store.Postgres {
		return `substr(object, strpos(object, ':') + 1)`
	}
	return `substr(object, instr(object, ':') + 1)`
}

// Entries returns the entries q selects, newest first. Every leaf is
// checked against its stored leaf hash and parsed, and must agree with the
// columns that selected it (ErrTampered otherwise): what is shown, and
// whose it is, come from the hashed leaf.
func (l *Log) Entries(ctx context.Context, q Query) ([]Record, error) {
	if q.Limit < 1 || q.Limit > MaxQueryLimit {
		return nil, fmt.Errorf("%w: limit %d, want 1..%d", ErrQuery, q.Limit, MaxQueryLimit)
	}
	if q.Before > math.MaxInt64 || len(q.Trail) > MaxObjectLen || len(q.Action) > MaxActionLen || len(q.TenantID) > MaxIDLen {
		return nil, fmt.Errorf("%w: a field is over its limit", ErrQuery)
	}
	var (
		where []string
		args  []any
	)
	if !q.AllTenants {
		where, args = append(where, `tenant_id = ?`), append(args, q.TenantID)
	}
	if q.Trail != "" {
		where, args = append(where, trailExpr(l.db.Dialect())+` = ?`), append(args, q.Trail)
	}
	if q.Action != "" {
		where, args = append(where, `action = ?`), append(args, q.Action)
	}
	if q.Before != 0 {
		where, args = append(where, `idx < ?`), append(args, int64(q.Before))
	}
	sq := `SELECT idx, leaf, leaf_hash FROM audit_entries`
	if len(where) > 0 {
		sq += ` WHERE ` + strings.Join(where, ` AND `)
	}
	sq += ` ORDER BY idx DESC LIMIT ?`
	args = append(args, q.Limit)
	rows, err := l.db.Query(ctx, sq, args...)
	if err != nil {
		return nil, fmt.Errorf("audit: query entries: %w", err)
	}
	defer rows.Close()
	out := make([]Record, 0, q.Limit)
	for rows.Next() {
		var (
			idx      int64
			leaf, lh []byte
		)
		if err := rows.Scan(&idx, &leaf, &lh); err != nil {
			return nil, fmt.Errorf("audit: query entries: %w", err)
		}
		if h := LeafHash(leaf); string(h[:]) != string(lh) {
			return nil, fmt.Errorf("%w: entry %d does not match its leaf hash", ErrTampered, idx)
		}
		e, err := ParseLeaf(leaf)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d: %w", ErrTampered, idx, err)
		}
		// The columns selected the row; the leaf must agree with them, or
		// an edited column would move an entry into another tenant's view.
		if (!q.AllTenants && e.TenantID != q.TenantID) || (q.Trail != "" && TrailKey(e.Object) != q.Trail) ||
			(q.Action != "" && e.Action != q.Action) {
			return nil, fmt.Errorf("%w: entry %d: query columns differ from the entry", ErrTampered, idx)
		}
		out = append(out, Record{Index: uint64(idx), Entry: e})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: query entries: %w", err)
	}
	return out, nil
}
