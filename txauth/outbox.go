package txauth

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/store"
)

// Outbox is a Notifier backed by the txauth_outbox table: Notify stores the
// signed event in the caller's transaction; DeliverDue posts due events
// (Content-Type application/jwt, header Webhook-Id) and retries with
// ekyc.Backoff up to ekyc.WebhookMaxAttempts. It stands in until the shared
// notify package carries every domain's webhooks; it keeps the same
// contract (stable event id, at-least-once, signed body).
type Outbox struct {
	db   *store.DB
	http *http.Client
	now  func() time.Time
	log  *slog.Logger
}

// NewOutbox returns an outbox over db posting with hc (which must refuse
// non-public addresses in production, as ekyc's webhook client does).
func NewOutbox(db *store.DB, hc *http.Client, now func() time.Time, log *slog.Logger) *Outbox {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Outbox{db: db, http: hc, now: now, log: log}
}

var _ Notifier = (*Outbox)(nil)

// Notify queues n in tx. The same event id twice is stored once.
func (o *Outbox) Notify(ctx context.Context, tx *store.Tx, n Notification) error {
	now := store.Micros(o.now())
	_, err := tx.Exec(ctx, `INSERT INTO txauth_outbox (event_id, tenant_id, type, url, payload, state, attempts, next_at, last_status, created_at, delivered_at)
		VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, 0, ?, 0) ON CONFLICT DO NOTHING`, n.EventID, n.TenantID, n.Type, n.URL, n.Payload, now, now)
	return err
}

// DeliverDue posts every due event once and returns how many were
// delivered.
func (o *Outbox) DeliverDue(ctx context.Context) (int, error) {
	rows, err := o.db.Query(ctx, `SELECT event_id, url, payload, attempts FROM txauth_outbox WHERE state = 'pending' AND next_at <= ? ORDER BY next_at LIMIT 100`,
		store.Micros(o.now()))
	if err != nil {
		return 0, err
	}
	type due struct {
		id, url, payload string
		attempts         int
	}
	var list []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.id, &d.url, &d.payload, &d.attempts); err != nil {
			rows.Close()
			return 0, err
		}
		list = append(list, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, d := range list {
		status := 0
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader([]byte(d.payload)))
		if err == nil {
			req.Header.Set("Content-Type", "application/jwt")
			req.Header.Set("Webhook-Id", d.id)
			req.Header.Set("User-Agent", "madoguchi-webhook/1")
			var resp *http.Response
			if resp, err = o.http.Do(req); err == nil {
				status = resp.StatusCode
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
				resp.Body.Close()
			}
		}
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		now := o.now()
		var q string
		var args []any
		switch attempts := d.attempts + 1; {
		case err == nil && status >= 200 && status < 300:
			q, args = `UPDATE txauth_outbox SET state = 'delivered', attempts = ?, last_status = ?, delivered_at = ? WHERE event_id = ?`,
				[]any{attempts, status, store.Micros(now), d.id}
			n++
		case attempts >= ekyc.WebhookMaxAttempts:
			q, args = `UPDATE txauth_outbox SET state = 'failed', attempts = ?, last_status = ? WHERE event_id = ?`, []any{attempts, status, d.id}
			o.log.WarnContext(ctx, "txauth: webhook given up", "event", d.id, "status", status)
		default:
			q, args = `UPDATE txauth_outbox SET attempts = ?, last_status = ?, next_at = ? WHERE event_id = ?`,
				[]any{attempts, status, store.Micros(now.Add(ekyc.Backoff(attempts, rand.Float64()))), d.id}
		}
		if _, err := o.db.Exec(ctx, q, args...); err != nil {
			return n, err
		}
	}
	return n, nil
}

// Run delivers due events and ends due confirmations every tick until ctx
// ends.
func (o *Outbox) Run(ctx context.Context, s *Service, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if s != nil {
			if _, err := s.ExpireDue(ctx); err != nil && !errors.Is(err, context.Canceled) {
				o.log.ErrorContext(ctx, "txauth: expiring confirmations failed", "err", err)
			}
		}
		if _, err := o.DeliverDue(ctx); err != nil && !errors.Is(err, context.Canceled) {
			o.log.ErrorContext(ctx, "txauth: webhook delivery failed", "err", err)
		}
	}
}
