package signin

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/oauth"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/txauth"
)

var _ oauth.CustomerStepEnder = (*Authenticator)(nil)

// EndStep implements oauth.CustomerStepEnder: the interaction ended
// without an approval (the customer pressed Deny), so its confirmation,
// if still pending, is cancelled and the binding dropped. The customer is
// the actor: they declined. A binding of another tenant or client, or
// one already spent, is left alone.
func (a *Authenticator) EndStep(ctx context.Context, step oauth.CustomerStep, reason string) error {
	r, err := a.load(ctx, step)
	if err != nil || r == nil || r.tenant != step.TenantID || r.client != step.ClientID || r.used != 0 {
		return err
	}
	b := Binding(step.Interaction)
	return a.end(ctx, b[:], r, txauth.Actor{Kind: audit.ActorCustomer, ID: r.customer}, reason)
}

// sweepActor cancels the confirmations of expired interactions.
var sweepActor = txauth.Actor{Kind: audit.ActorSystem, ID: "signin.sweep"}

// end cancels r's confirmation if it is still pending and drops the
// binding, audited as oauth.signin.end with the reason and what became of
// the confirmation (cancelled, or already ended: confirmed, expired,
// rejected, gone). Run again after a failure it finishes the job.
func (a *Authenticator) end(ctx context.Context, hash []byte, r *row, actor txauth.Actor, reason string) error {
	result := "cancelled"
	_, err := a.cfg.Confirmations.Cancel(ctx, actor, r.tenant, r.confirmation)
	switch {
	case err == nil:
	case errors.Is(err, txauth.ErrState):
		result = "already_ended"
	case errors.Is(err, txauth.ErrNotFound):
		result = "gone"
	default:
		return err
	}
	return a.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM signin_confirmations WHERE interaction_hash = ? AND used_at = 0`, hash)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil // spent or dropped meanwhile
		}
		_, err = a.cfg.Audit.Append(ctx, tx, audit.Entry{ActorKind: actor.Kind, ActorID: actor.ID, TenantID: r.tenant,
			Action: "oauth.signin.end", Object: r.confirmation, Outcome: audit.OutcomeOK,
			Details: map[string]string{"client": r.client, "reason": reason, "confirmation": result}})
		return err
	})
}

// Retention is how long a binding is kept: its interaction and its
// confirmation end within an hour, so a day-old binding serves nothing.
const Retention = 24 * time.Hour

// SweepEvery is how often the server runs Sweep: an expired interaction's
// confirmation is cancelled within about this long.
const SweepEvery = time.Minute

// sweepBatch bounds the interactions one Sweep ends.
const sweepBatch = 200

// Sweep ends the interactions that expired unspent and deletes the
// bindings older than Retention; it returns how many bindings it removed.
// A binding is created during its interaction, so one unspent for longer
// than the longest interaction (oauth.InteractionTTL; CIBA's is shorter)
// belongs to an expired interaction: its confirmation is cancelled (end,
// reason interaction_expired).
func (a *Authenticator) Sweep(ctx context.Context) (int64, error) {
	longest := max(oauth.InteractionTTL, oauth.CIBATTL)
	rows, err := a.cfg.DB.Query(ctx, `SELECT interaction_hash, tenant_id, client_id, customer_id, confirmation_id FROM signin_confirmations
		WHERE used_at = 0 AND created_at < ? ORDER BY created_at LIMIT `+strconv.Itoa(sweepBatch), store.Micros(a.cfg.Now().Add(-longest)))
	if err != nil {
		return 0, err
	}
	type ended struct {
		hash []byte
		r    row
	}
	var todo []ended
	for rows.Next() {
		var e ended
		if err := rows.Scan(&e.hash, &e.r.tenant, &e.r.client, &e.r.customer, &e.r.confirmation); err != nil {
			rows.Close()
			return 0, err
		}
		todo = append(todo, e)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, err
	}
	var n int64
	for _, e := range todo {
		if err := a.end(ctx, e.hash, &e.r, sweepActor, "interaction_expired"); err != nil {
			return n, err
		}
		n++
	}
	res, err := a.cfg.DB.Exec(ctx, `DELETE FROM signin_confirmations WHERE created_at < ?`, store.Micros(a.cfg.Now().Add(-Retention)))
	if err != nil {
		return n, err
	}
	d, _ := res.RowsAffected()
	return n + d, nil
}
