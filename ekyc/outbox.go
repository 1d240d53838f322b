package ekyc

import (
	"context"
	"encoding/json"
	"time"

	"github.com/madoguchi/madoguchi/notify"
	"github.com/madoguchi/madoguchi/store"
)

// Webhook delivery schedule (package notify delivers): attempt n (from 1)
// waits min(WebhookBaseDelay * 2^(n-1), WebhookMaxDelay) plus up to 20%
// jitter; after WebhookMaxAttempts the event is dead (the result stays
// available from the pull API, and staff can replay it).
const (
	WebhookBaseDelay   = notify.DefaultBaseDelay
	WebhookMaxDelay    = notify.DefaultMaxDelay
	WebhookMaxAttempts = notify.DefaultMaxAttempts
)

// WebhookKind is the notify event kind of result webhooks; its audit
// actions are ekyc.webhook.queue, .delivered, .dead and .replay.
const WebhookKind = "ekyc.webhook"

// Backoff returns the delay before retry after the n-th failed attempt.
func Backoff(n int, jitter float64) time.Duration {
	return notify.Backoff(n, WebhookBaseDelay, WebhookMaxDelay, jitter)
}

// Notifier queues webhooks in the caller's transaction (notify.Notifier).
type Notifier interface {
	Enqueue(ctx context.Context, tx *store.Tx, ev notify.Event) (string, error)
}

// enqueueResult queues the signed result for the session's webhook, in the
// decision's transaction. The payload is sealed under the session's
// subject (it carries personal data).
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
	_, err = s.cfg.Notify.Enqueue(ctx, tx, notify.Event{ID: eventID(ss.ID), Kind: WebhookKind, Tenant: ss.TenantID,
		URL: ss.Webhook, ContentType: "application/jwt", Body: []byte(jws), Subject: subjectOf(ss.TenantID, ss.subject)})
	return err
}

// Worker runs the background jobs (expiry, pending decisions, retention;
// webhooks are delivered by notify's own worker) until Stop or its context ends. Start it once; its
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
		"expire": w.s.ExpireDue, "decide": w.s.DecidePending, "shred": w.s.ShredExpired,
	} {
		if _, err := job(ctx); err != nil && ctx.Err() == nil {
			w.s.log.ErrorContext(ctx, "ekyc: background job failed", "job", name, "err", err)
		}
	}
}
