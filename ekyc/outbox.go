package ekyc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// Webhook delivery schedule: attempt n (from 1) waits
// min(WebhookBaseDelay * 2^(n-1), WebhookMaxDelay) plus up to 20% jitter;
// after WebhookMaxAttempts the event is marked failed (the result stays
// available from the pull API).
const (
	WebhookBaseDelay   = 10 * time.Second
	WebhookMaxDelay    = 1 * time.Hour
	WebhookMaxAttempts = 15
)

// Backoff returns the delay before retry after the n-th failed attempt.
func Backoff(n int, jitter float64) time.Duration {
	d := WebhookBaseDelay
	for i := 1; i < n && d < WebhookMaxDelay; i++ {
		d *= 2
	}
	d = min(d, WebhookMaxDelay)
	return d + time.Duration(float64(d)*0.2*max(0, min(jitter, 1)))
}

func outboxAAD(event string) []byte { return vault.AAD("ekyc.outbox", event) }

// enqueueResult queues the signed result for the session's webhook, in the
// decision's transaction. The payload is sealed (it carries personal data).
func (s *Service) enqueueResult(ctx context.Context, tx *store.Tx, ss *Session, rec *Record) error {
	if ss.Webhook == "" {
		return nil
	}
	b, err := json.Marshal(s.buildResult(ss, rec))
	if err != nil {
		return err
	}
	jws, err := s.cfg.Signer.Sign(b)
	if err != nil {
		return err
	}
	ev := eventID(ss.ID)
	sealed, err := s.cfg.Vault.Seal(ctx, tx, subjectOf(ss.TenantID, ss.subject), outboxAAD(ev), []byte(jws))
	if err != nil {
		return err
	}
	now := store.Micros(s.now())
	if _, err := tx.Exec(ctx, `INSERT INTO ekyc_outbox (event_id, tenant_id, session_id, subject, url, payload, state, attempts,
		next_at, last_status, created_at, delivered_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, 0, ?, 0)`,
		ev, ss.TenantID, ss.ID, ss.subject, ss.Webhook, sealed, now, now); err != nil {
		return err
	}
	return s.record(ctx, tx, System, ss.TenantID, "ekyc.webhook.queue", ev, audit.OutcomeOK, map[string]string{"session": ss.ID})
}

type outboxRow struct {
	event, tenant, session, subject, url string
	payload                              []byte
	attempts                             int
}

// DeliverDue sends every due webhook once and reschedules failures. It
// returns how many were delivered.
func (s *Service) DeliverDue(ctx context.Context) (int, error) {
	rows, err := s.db.Query(ctx, `SELECT event_id, tenant_id, session_id, subject, url, payload, attempts FROM ekyc_outbox
		WHERE state = 'pending' AND next_at <= ? ORDER BY next_at LIMIT 50`, store.Micros(s.now()))
	if err != nil {
		return 0, err
	}
	var due []outboxRow
	for rows.Next() {
		var r outboxRow
		if err := rows.Scan(&r.event, &r.tenant, &r.session, &r.subject, &r.url, &r.payload, &r.attempts); err != nil {
			rows.Close()
			return 0, err
		}
		due = append(due, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, r := range due {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		ok, err := s.deliver(ctx, r)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

func (s *Service) deliver(ctx context.Context, r outboxRow) (bool, error) {
	jws, err := s.cfg.Vault.Open(ctx, s.db, subjectOf(r.tenant, r.subject), outboxAAD(r.event), r.payload)
	if errors.Is(err, vault.ErrShredded) {
		return false, s.finishEvent(ctx, r, "failed", 0, "shredded")
	} else if err != nil {
		return false, err
	}
	status := 0
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(jws))
	if err == nil {
		req.Header.Set("Content-Type", "application/jwt")
		req.Header.Set("Webhook-Id", r.event)
		req.Header.Set("User-Agent", "madoguchi-webhook/1")
		var resp *http.Response
		if resp, err = s.http.Do(req); err == nil {
			status = resp.StatusCode
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
			resp.Body.Close()
		}
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err == nil && status >= 200 && status < 300 {
		return true, s.finishEvent(ctx, r, "delivered", status, "")
	}
	attempts := r.attempts + 1
	if attempts >= WebhookMaxAttempts {
		return false, s.finishEvent(ctx, r, "failed", status, "attempts")
	}
	next := s.now().Add(Backoff(attempts, rand.Float64()))
	return false, s.db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE ekyc_outbox SET attempts = ?, next_at = ?, last_status = ? WHERE event_id = ? AND state = 'pending'`,
			attempts, store.Micros(next), status, r.event)
		return err
	})
}

func (s *Service) finishEvent(ctx context.Context, r outboxRow, state string, status int, why string) error {
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE ekyc_outbox SET state = ?, attempts = attempts + 1, last_status = ?, delivered_at = ?
			WHERE event_id = ? AND state = 'pending'`, state, status, store.Micros(s.now()), r.event)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil
		}
		outcome, d := audit.OutcomeOK, map[string]string{"status": fmt.Sprint(status)}
		if state != "delivered" {
			outcome, d["why"] = audit.OutcomeFailed, why
		}
		return s.record(ctx, tx, System, r.tenant, "ekyc.webhook."+state, r.event, outcome, d)
	})
}

// Worker runs the background jobs (webhook delivery, expiry, pending
// decisions, retention) until Stop or its context ends. Start it once; its
// owner calls Stop, which waits for the loop to finish.
type Worker struct {
	s      *Service
	every  time.Duration
	cancel context.CancelFunc
	done   chan struct{}
}

// StartWorker starts the background loop, ticking every interval.
func (s *Service) StartWorker(ctx context.Context, every time.Duration) *Worker {
	ctx, cancel := context.WithCancel(ctx)
	w := &Worker{s: s, every: every, cancel: cancel, done: make(chan struct{})}
	go w.run(ctx)
	return w
}

// Stop stops the worker and waits for it.
func (w *Worker) Stop() {
	w.cancel()
	<-w.done
}

func (w *Worker) run(ctx context.Context) {
	defer close(w.done)
	t := time.NewTicker(w.every)
	defer t.Stop()
	for {
		w.tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *Worker) tick(ctx context.Context) {
	for name, job := range map[string]func(context.Context) (int, error){
		"expire": w.s.ExpireDue, "decide": w.s.DecidePending, "deliver": w.s.DeliverDue, "shred": w.s.ShredExpired,
	} {
		if _, err := job(ctx); err != nil && ctx.Err() == nil {
			w.s.log.ErrorContext(ctx, "ekyc: background job failed", "job", name, "err", err)
		}
	}
}
