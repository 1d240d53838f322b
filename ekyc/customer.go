package ekyc

// Customers: a customer is a tenant's person whom an approved eKYC session
// verified, named by the tenant's own reference (its customer number, never
// personal data). The customer IS the session's data subject: what other
// packages enrol for the customer later (package txauth's image cards,
// passkeys and devices; consents; credentials) is sealed under that
// subject, so when retention shreds the subject (ShredExpired) every one of
// them becomes unreadable at once, and the customer is marked shredded here
// in the same transaction.
//
// Invariants:
//   - Only an approved session (decided or closed with outcome approved)
//     whose subject is not shredded becomes a customer; one customer per
//     session, one per (tenant, reference).
//   - Another tenant's customer is ErrNotFound, exactly like a missing one.
//   - Creation and every read by a client are audited by the caller's
//     actor; the row holds only opaque ids and times.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// Customer is a verified person of a tenant.
type Customer struct {
	ID         string
	TenantID   string
	Reference  string
	SessionID  string
	Method     string // the method code of the verifying session
	VerifiedAt time.Time
	CreatedAt  time.Time
	// ShreddedAt is set once the subject was crypto-shredded: nothing
	// enrolled for the customer can be opened any more.
	ShreddedAt time.Time

	subject string
}

// Subject is the customer's data subject: seal everything that belongs to
// the customer under it, so that shredding it removes all of it.
func (c *Customer) Subject() vault.SubjectRef { return subjectOf(c.TenantID, c.subject) }

// Shredded reports whether the customer's data was erased.
func (c *Customer) Shredded() bool { return !c.ShreddedAt.IsZero() }

// ErrShredded: the customer's subject was crypto-shredded (retention ran
// out); nothing can be done for it any more (410).
var ErrShredded = errors.New("ekyc: the customer's data was erased")

// CreateCustomer makes the approved session id the verification of a new
// customer named by the tenant's reference. The session must be approved
// and not shredded; a session or reference already used is ErrState.
func (s *Service) CreateCustomer(ctx context.Context, a Actor, tenant, sessionID, reference string) (*Customer, error) {
	if reference == "" || len(reference) > MaxReferenceLen || !printable(reference) {
		return nil, fmt.Errorf("%w: reference must be 1-%d printable characters", ErrInvalidInput, MaxReferenceLen)
	}
	ss, err := s.Get(ctx, tenant, sessionID)
	if err != nil {
		return nil, err
	}
	if ss.Outcome != OutcomeApproved || (ss.State != StateDecided && ss.State != StateClosed) {
		return nil, fmt.Errorf("%w: only an approved session verifies a customer", ErrState)
	}
	id, err := s.newID("cus_")
	if err != nil {
		return nil, err
	}
	now := s.now()
	c := &Customer{ID: id, TenantID: tenant, Reference: reference, SessionID: ss.ID, Method: ss.Method.Code,
		VerifiedAt: ss.DecidedAt, CreatedAt: now, subject: ss.subject}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if shredded, err := s.subjectShredded(ctx, tx, ss.ID); err != nil {
			return err
		} else if shredded {
			return ErrShredded
		}
		if _, err := tx.Exec(ctx, `INSERT INTO customers (id, tenant_id, reference, session_id, subject, method, verified_at, created_at, shredded_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)`, c.ID, tenant, reference, ss.ID, ss.subject, c.Method,
			store.Micros(c.VerifiedAt), store.Micros(now)); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("%w: the session or the reference already names a customer", ErrState)
			}
			return err
		}
		return s.record(ctx, tx, a, tenant, "ekyc.customer.create", c.ID, audit.OutcomeOK,
			map[string]string{"session": ss.ID, "method": c.Method})
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (s *Service) subjectShredded(ctx context.Context, q rowQuerier, session string) (bool, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT COUNT(*) FROM ekyc_retention WHERE session_id = ? AND shredded_at > 0`, session).Scan(&n)
	return n > 0, err
}

const customerCols = `id, tenant_id, reference, session_id, subject, method, verified_at, created_at, shredded_at`

func scanCustomer(row interface{ Scan(...any) error }) (*Customer, error) {
	var (
		c                          Customer
		verified, created, shredAt int64
	)
	if err := row.Scan(&c.ID, &c.TenantID, &c.Reference, &c.SessionID, &c.subject, &c.Method, &verified, &created, &shredAt); err != nil {
		if isNotFound(err) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	c.VerifiedAt, c.CreatedAt, c.ShreddedAt = store.FromMicros(verified), store.FromMicros(created), store.FromMicros(shredAt)
	return &c, nil
}

// Customer returns the tenant's customer id (ErrNotFound for another
// tenant's). A shredded customer is returned with ShreddedAt set; callers
// refuse to act for it.
func (s *Service) Customer(ctx context.Context, tenant, id string) (*Customer, error) {
	if id == "" || len(id) > 64 {
		return nil, ErrNotFound
	}
	return scanCustomer(s.db.QueryRow(ctx, `SELECT `+customerCols+` FROM customers WHERE id = ? AND tenant_id = ?`, id, tenant))
}

// CustomerIn is Customer reading through q: inside another domain's
// transaction, pass the *store.Tx (a second pool connection per
// transaction can exhaust the pool under load).
func CustomerIn(ctx context.Context, q interface {
	QueryRow(ctx context.Context, query string, args ...any) *store.Row
}, tenant, id string) (*Customer, error) {
	if id == "" || len(id) > 64 {
		return nil, ErrNotFound
	}
	return scanCustomer(q.QueryRow(ctx, `SELECT `+customerCols+` FROM customers WHERE id = ? AND tenant_id = ?`, id, tenant))
}

// CustomerByReference finds the tenant's customer by the tenant's reference.
func (s *Service) CustomerByReference(ctx context.Context, tenant, reference string) (*Customer, error) {
	if reference == "" || len(reference) > MaxReferenceLen {
		return nil, ErrNotFound
	}
	return scanCustomer(s.db.QueryRow(ctx, `SELECT `+customerCols+` FROM customers WHERE tenant_id = ? AND reference = ?`, tenant, reference))
}

// markCustomersShredded records in tx that the subject's customers were
// erased (called with the vault shred, in its transaction).
func markCustomersShredded(ctx context.Context, tx *store.Tx, tenant, subject string, at time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE customers SET shredded_at = ? WHERE tenant_id = ? AND subject = ? AND shredded_at = 0`,
		store.Micros(at), tenant, subject)
	return err
}

// ReverifiedSince reports whether the customer was verified again, by an
// approved session of the tenant opened under the customer's reference and
// decided after since (what unlocking a customer's locked authenticator
// requires). It returns that session's id.
func (s *Service) ReverifiedSince(ctx context.Context, tenant, customerID, sessionID string, since time.Time) (bool, error) {
	c, err := s.Customer(ctx, tenant, customerID)
	if err != nil {
		return false, err
	}
	if c.Shredded() {
		return false, ErrShredded
	}
	ss, err := s.Get(ctx, tenant, sessionID)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	ok := ss.Outcome == OutcomeApproved && (ss.State == StateDecided || ss.State == StateClosed) &&
		ss.Reference == c.Reference && ss.DecidedAt.After(since)
	return ok, nil
}
