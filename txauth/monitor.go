package txauth

// Monitoring: alerts raised by risk rules, MITB and RAT signals, customers'
// mismatch reports, card locks and guessing spread over many cards go into
// a queue that staff work around the clock (hold or release a transaction,
// lock an account, record a call-back) and, signed, to the tenant.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// Alert kinds.
const (
	AlertMITB           = "mitb"                 // payee/amount edited after display
	AlertRAT            = "rat"                  // remote access, timing or device change mid-flow
	AlertRiskRule       = "risk_rule"            // a policy rule with alert matched
	AlertMismatch       = "customer_mismatch"    // the customer reported the details differ
	AlertCardLocked     = "card.locked"          // a card locked after consecutive failures
	AlertGuessingSpread = "card.guessing_spread" // failures on many cards of the tenant at once
	AlertFaceLocked     = "face.locked"          // face re-authentication locked after consecutive refusals
)

// Alert is one item of the monitoring queue (no personal data).
type Alert struct {
	ID           string            `json:"id"`
	TenantID     string            `json:"tenant_id"`
	CustomerID   string            `json:"customer_id,omitempty"`
	Confirmation string            `json:"confirmation_id,omitempty"`
	Kind         string            `json:"kind"`
	Severity     string            `json:"severity"`
	Details      map[string]string `json:"details"`
	State        string            `json:"state"`
	CreatedAt    time.Time         `json:"created_at"`
	ClosedAt     *time.Time        `json:"closed_at,omitempty"`
	ClosedBy     string            `json:"closed_by,omitempty"`
}

// Staff is an authenticated staff member; monitoring needs the reviewer
// or admin role. TenantID confines a tenant's staff to their tenant ("" is
// the operator, who sees every tenant): another tenant's alert,
// confirmation, card or customer is ErrNotFound to them.
type Staff struct {
	ID        string
	Roles     []string
	TenantID  string
	RequestID string
}

// sees reports whether the staff member may see tenant's objects.
func (st Staff) sees(tenant string) bool { return st.TenantID == "" || st.TenantID == tenant }

func (st Staff) actor() Actor {
	return Actor{Kind: audit.ActorStaff, ID: st.ID, RequestID: st.RequestID}
}

func (st Staff) check() error {
	if st.ID == "" || !(slices.Contains(st.Roles, "reviewer") || slices.Contains(st.Roles, "admin")) {
		return fmt.Errorf("%w: the reviewer or admin role is required", ErrForbidden)
	}
	return nil
}

// alertsFor raises the alerts an assessment calls for, in tx.
func (s *Service) alertsFor(ctx context.Context, tx *store.Tx, p *Policy, c *Confirmation, as Assessment) error {
	d := map[string]string{"rules": strings.Join(as.Rules, ","), "signals": strings.Join(as.Signals, ","), "held": fmt.Sprint(c.Held)}
	if slices.Contains(as.Signals, SignalMITB) {
		if err := s.raise(ctx, tx, p, c.TenantID, c.CustomerID, c.ID, AlertMITB, "high", d); err != nil {
			return err
		}
	}
	if slices.Contains(as.Signals, SignalRAT) {
		if err := s.raise(ctx, tx, p, c.TenantID, c.CustomerID, c.ID, AlertRAT, "high", d); err != nil {
			return err
		}
	}
	if as.Alert && !slices.Contains(as.Signals, SignalMITB) && !slices.Contains(as.Signals, SignalRAT) {
		return s.raise(ctx, tx, p, c.TenantID, c.CustomerID, c.ID, AlertRiskRule, "medium", d)
	}
	return nil
}

// raise stores an alert, audits it and sends it, signed, to the tenant's
// webhook.
func (s *Service) raise(ctx context.Context, tx *store.Tx, p *Policy, tenant, customer, conf, kind, severity string, details map[string]string) error {
	id, err := s.newID("al_")
	if err != nil {
		return err
	}
	now := s.now()
	dj, _ := json.Marshal(details)
	if _, err := tx.Exec(ctx, `INSERT INTO txauth_alerts (id, tenant_id, customer_id, confirmation_id, kind, severity, details, state, created_at, closed_at, closed_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?, 0, '')`, id, tenant, customer, conf, kind, severity, string(dj), store.Micros(now)); err != nil {
		return err
	}
	if err := s.record(ctx, tx, System, tenant, "txauth.alert.raise", id, audit.OutcomeOK,
		map[string]string{"kind": kind, "severity": severity, "customer": customer, "confirmation": conf}); err != nil {
		return err
	}
	if p == nil || p.Webhook == "" {
		return nil
	}
	payload, _ := json.Marshal(map[string]any{"iss": s.cfg.PublicURL, "aud": tenant, "iat": now.Unix(), "event_id": id, "type": EventAlert,
		"alert": Alert{ID: id, TenantID: tenant, CustomerID: customer, Confirmation: conf, Kind: kind, Severity: severity, Details: details, State: "open", CreatedAt: now}})
	jws, err := s.cfg.Signer.SignTyped(EventType, payload)
	if err != nil {
		return err
	}
	subj, err := s.subjectOf(ctx, tx, tenant, customer)
	if err != nil {
		return err
	}
	return s.cfg.Notifier.Notify(ctx, tx, Notification{TenantID: tenant, EventID: id, Type: EventAlert, URL: p.Webhook, Payload: jws, Subject: subj})
}

// ListAlerts returns alerts in state ("open" or "closed"), oldest first.
func (s *Service) ListAlerts(ctx context.Context, st Staff, state string, limit int) ([]Alert, error) {
	if err := st.check(); err != nil {
		return nil, err
	}
	if state != "open" && state != "closed" {
		return nil, fmt.Errorf("%w: state must be open or closed", ErrInvalidInput)
	}
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	q, args := `SELECT id, tenant_id, customer_id, confirmation_id, kind, severity, details, state, created_at, closed_at, closed_by
		FROM txauth_alerts WHERE state = ?`, []any{state}
	if st.TenantID != "" {
		q, args = q+` AND tenant_id = ?`, append(args, st.TenantID)
	}
	rows, err := s.db.Query(ctx, q+` ORDER BY created_at LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Alert{}
	for rows.Next() {
		var (
			a               Alert
			dj              string
			created, closed int64
		)
		if err := rows.Scan(&a.ID, &a.TenantID, &a.CustomerID, &a.Confirmation, &a.Kind, &a.Severity, &dj, &a.State, &created, &closed, &a.ClosedBy); err != nil {
			return nil, err
		}
		_ = json.Unmarshal([]byte(dj), &a.Details)
		a.CreatedAt = store.FromMicros(created)
		if closed > 0 {
			t := store.FromMicros(closed)
			a.ClosedAt = &t
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, s.db.InTx(ctx, func(tx *store.Tx) error {
		return s.record(ctx, tx, st.actor(), st.TenantID, "txauth.alerts.list", "alerts/"+state, audit.OutcomeOK, map[string]string{"count": fmt.Sprint(len(out))})
	})
}

// alertTenant returns an alert's tenant and customer.
func (s *Service) alertTenant(ctx context.Context, q rowQuerier, id string) (tenant, customer string, err error) {
	if !validID(id) {
		return "", "", ErrNotFound
	}
	err = q.QueryRow(ctx, `SELECT tenant_id, customer_id FROM txauth_alerts WHERE id = ?`, id).Scan(&tenant, &customer)
	if errors.Is(err, store.ErrNotFound) {
		err = ErrNotFound
	}
	return
}

// CloseAlert closes an open alert.
func (s *Service) CloseAlert(ctx context.Context, st Staff, id, resolution string) error {
	if err := st.check(); err != nil {
		return err
	}
	if !displayText(resolution, 64) || resolution == "" {
		return fmt.Errorf("%w: resolution must be 1-64 printable characters (a code, not personal data)", ErrInvalidInput)
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		tenant, _, err := s.alertTenant(ctx, tx, id)
		if err != nil {
			return err
		}
		if !st.sees(tenant) {
			return ErrNotFound
		}
		res, err := tx.Exec(ctx, `UPDATE txauth_alerts SET state = 'closed', closed_at = ?, closed_by = ? WHERE id = ? AND state = 'open'`,
			store.Micros(s.now()), st.ID, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("%w: the alert is already closed", ErrState)
		}
		return s.record(ctx, tx, st.actor(), tenant, "txauth.alert.close", id, audit.OutcomeOK, map[string]string{"resolution": resolution})
	})
}

// MaxNoteLen bounds a call-back note.
const MaxNoteLen = 1000

// RecordCallback records a call-back to the customer about an alert; the
// note (which may name what the customer said) is sealed under the
// customer's subject.
func (s *Service) RecordCallback(ctx context.Context, st Staff, alertID, outcome, note string) (string, error) {
	if err := st.check(); err != nil {
		return "", err
	}
	switch outcome {
	case "confirmed_by_customer", "denied_by_customer", "unreachable":
	default:
		return "", fmt.Errorf("%w: outcome must be confirmed_by_customer, denied_by_customer or unreachable", ErrInvalidInput)
	}
	if !displayText(note, MaxNoteLen) {
		return "", fmt.Errorf("%w: note must be at most %d printable characters", ErrInvalidInput, MaxNoteLen)
	}
	id, err := s.newID("cb_")
	if err != nil {
		return "", err
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		tenant, customer, err := s.alertTenant(ctx, tx, alertID)
		if err != nil {
			return err
		}
		if !st.sees(tenant) {
			return ErrNotFound
		}
		sealed := []byte{}
		if customer != "" && note != "" {
			cu, err := customerIn(ctx, tx, tenant, customer)
			if err != nil {
				return err
			}
			if sealed, err = s.cfg.Vault.Seal(ctx, tx, cu.Subject(), vault.AAD("txauth.callback", id), []byte(note)); err != nil {
				return err
			}
		} else if note != "" {
			return fmt.Errorf("%w: this alert names no customer; leave the note empty", ErrInvalidInput)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO txauth_callbacks (id, tenant_id, alert_id, customer_id, staff_id, outcome, note, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, id, tenant, alertID, customer, st.ID, outcome, sealed, store.Micros(s.now())); err != nil {
			return err
		}
		return s.record(ctx, tx, st.actor(), tenant, "txauth.callback.record", alertID, audit.OutcomeOK, map[string]string{"callback": id, "outcome": outcome})
	})
	return id, err
}

// staffConfirmation reads a confirmation for staff (any tenant).
func (s *Service) staffConfirmation(ctx context.Context, q rowQuerier, id string) (*Confirmation, error) {
	if !validID(id) {
		return nil, ErrNotFound
	}
	return scanConfirmation(q.QueryRow(ctx, `SELECT `+confCols+` FROM txauth_confirmations WHERE id = ?`, id))
}

// Hold stops a pending confirmation: it cannot become confirmed until
// staff release it.
func (s *Service) Hold(ctx context.Context, st Staff, id string) (*Confirmation, error) {
	return s.setHeld(ctx, st, id, true)
}

// Release lifts a hold; a confirmation whose factors are all satisfied is
// confirmed at once.
func (s *Service) Release(ctx context.Context, st Staff, id string) (*Confirmation, error) {
	return s.setHeld(ctx, st, id, false)
}

func (s *Service) setHeld(ctx context.Context, st Staff, id string, held bool) (*Confirmation, error) {
	if err := st.check(); err != nil {
		return nil, err
	}
	var c *Confirmation
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if c, err = s.staffConfirmation(ctx, tx, id); err != nil {
			return err
		}
		if !st.sees(c.TenantID) {
			return ErrNotFound
		}
		if c.State.Final() {
			return fmt.Errorf("%w: confirmation is %s", ErrState, c.State)
		}
		if c.Held == held {
			return fmt.Errorf("%w: already %s", ErrState, map[bool]string{true: "held", false: "released"}[held])
		}
		if _, err := tx.Exec(ctx, `UPDATE txauth_confirmations SET held = ?, version = version + 1 WHERE id = ? AND version = ?`, boolInt(held), c.ID, c.version); err != nil {
			return err
		}
		c.Held, c.version = held, c.version+1
		action := map[bool]string{true: "txauth.confirmation.hold", false: "txauth.confirmation.release"}[held]
		if err := s.record(ctx, tx, st.actor(), c.TenantID, action, c.ID, audit.OutcomeOK, nil); err != nil {
			return err
		}
		if !held && c.complete() {
			return s.finish(ctx, tx, c, StateConfirmed, st.actor(), map[string]string{"released_by": st.ID})
		}
		return nil
	})
	return c, err
}

// RejectHeld ends a pending (typically held) confirmation as rejected by
// staff.
func (s *Service) RejectHeld(ctx context.Context, st Staff, id string) (*Confirmation, error) {
	if err := st.check(); err != nil {
		return nil, err
	}
	var c *Confirmation
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if c, err = s.staffConfirmation(ctx, tx, id); err != nil {
			return err
		}
		if !st.sees(c.TenantID) {
			return ErrNotFound
		}
		return s.finish(ctx, tx, c, StateRejected, st.actor(), map[string]string{"rejected_by": st.ID})
	})
	return c, err
}

// LockAccount stops every new confirmation for the tenant's customer until
// UnlockAccount.
func (s *Service) LockAccount(ctx context.Context, st Staff, tenant, customer string) error {
	return s.setAccountLock(ctx, st, tenant, customer, true)
}

// UnlockAccount lifts an account lock.
func (s *Service) UnlockAccount(ctx context.Context, st Staff, tenant, customer string) error {
	return s.setAccountLock(ctx, st, tenant, customer, false)
}

func (s *Service) setAccountLock(ctx context.Context, st Staff, tenant, customer string, lock bool) error {
	if err := st.check(); err != nil {
		return err
	}
	if !st.sees(tenant) {
		return ErrNotFound
	}
	if _, err := s.customer(ctx, tenant, customer); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := s.ensureAccount(ctx, tx, tenant, customer); err != nil {
			return err
		}
		at, by, action := store.Micros(s.now()), st.ID, "txauth.account.lock"
		if !lock {
			at, by, action = 0, "", "txauth.account.unlock"
		}
		if _, err := tx.Exec(ctx, `UPDATE txauth_accounts SET locked_at = ?, locked_by = ? WHERE tenant_id = ? AND customer_id = ?`, at, by, tenant, customer); err != nil {
			return err
		}
		return s.record(ctx, tx, st.actor(), tenant, action, customer, audit.OutcomeOK, nil)
	})
}
