package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// Backoff is the delay before the retry after the n-th failed attempt
// (n ≥ 1): min(base·2^(n-1), max) plus jitter·20 % of it (jitter in [0,1]).
func Backoff(n int, base, maxDelay time.Duration, jitter float64) time.Duration {
	d := base
	for i := 1; i < n && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	return d + time.Duration(float64(d)*0.2*max(0, min(jitter, 1)))
}

type claimed struct {
	id, kind, tenant, subjTenant, subject, aad, url, ctype string
	payload, auth                                          []byte
	attempts                                               int
	created                                                time.Time
}

// claim leases up to Batch due events to this instance.
func (n *Notifier) claim(ctx context.Context) ([]claimed, error) {
	now := n.now()
	lock := ""
	if n.db.Dialect() == store.Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var out []claimed
	err := n.db.InTx(ctx, func(tx *store.Tx) error {
		out = out[:0]
		rows, err := tx.Query(ctx, `UPDATE notify_outbox SET claimed_by = ?, claim_until = ?
			WHERE event_id IN (SELECT event_id FROM notify_outbox WHERE state = 'pending' AND next_at <= ? AND claim_until <= ?
				ORDER BY next_at LIMIT ?`+lock+`)
			RETURNING event_id, kind, tenant_id, subject_tenant, subject, aad_domain, url, content_type, payload, auth, attempts, created_at`,
			n.cfg.Instance, store.Micros(now.Add(n.cfg.Lease)), store.Micros(now), store.Micros(now), n.cfg.Batch)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c claimed
			var created int64
			if err := rows.Scan(&c.id, &c.kind, &c.tenant, &c.subjTenant, &c.subject, &c.aad, &c.url, &c.ctype, &c.payload, &c.auth, &c.attempts, &created); err != nil {
				return err
			}
			c.created = store.FromMicros(created)
			out = append(out, c)
		}
		return rows.Err()
	})
	return out, err
}

// DeliverDue claims the due events and sends each once (Parallel at a
// time), rescheduling failures. It returns how many were delivered.
func (n *Notifier) DeliverDue(ctx context.Context) (int, error) {
	due, err := n.claim(ctx)
	if err != nil || len(due) == 0 {
		return 0, err
	}
	var (
		mu        sync.Mutex
		delivered int
		firstErr  error
		wg        sync.WaitGroup
		sem       = make(chan struct{}, n.cfg.Parallel)
	)
	for _, c := range due {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ok, err := n.deliver(ctx, c)
			mu.Lock()
			defer mu.Unlock()
			if ok {
				delivered++
			}
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}()
	}
	wg.Wait()
	return delivered, firstErr
}

func (n *Notifier) deliver(ctx context.Context, c claimed) (bool, error) {
	subj := vault.SubjectRef{Tenant: c.subjTenant, Subject: c.subject}
	body, err := n.cfg.Vault.Open(ctx, n.db, subj, vault.AAD(c.aad, c.id), c.payload)
	var bearer []byte
	if err == nil && len(c.auth) > 0 {
		bearer, err = n.cfg.Vault.Open(ctx, n.db, subj, bearerAAD(c.id), c.auth)
	}
	if errors.Is(err, vault.ErrShredded) {
		return false, n.finish(ctx, c, StateDead, 0, "shredded")
	} else if err != nil {
		return false, err
	}
	status, sendErr := n.send(ctx, c, body, string(bearer))
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if sendErr == nil && status >= 200 && status < 300 {
		n.metrics.observe(c.kind, n.now().Sub(c.created))
		return true, n.finish(ctx, c, StateDelivered, status, "")
	}
	why := fmt.Sprintf("status %d", status)
	if sendErr != nil {
		why = sendErrorText(sendErr)
	}
	n.metrics.fail(c.kind)
	attempts := c.attempts + 1
	if attempts >= n.cfg.MaxAttempts {
		return false, n.finish(ctx, c, StateDead, status, why)
	}
	next := n.now().Add(Backoff(attempts, n.cfg.BaseDelay, n.cfg.MaxDelay, rand.Float64()))
	return false, n.db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE notify_outbox SET attempts = ?, next_at = ?, last_status = ?, last_error = ?, claimed_by = '', claim_until = 0
			WHERE event_id = ? AND state = 'pending' AND claimed_by = ?`, attempts, store.Micros(next), status, why, c.id, n.cfg.Instance)
		return err
	})
}

// sendErrorText is a short, non-personal reason for a failed request.
func sendErrorText(err error) string {
	switch {
	case errors.Is(err, ErrAddress):
		return "address not public"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return "connection failed (" + oe.Op + ")"
	}
	return "request failed"
}

// send signs and posts the body (with the receiver's bearer token if the
// event has one); it returns the status code.
func (n *Notifier) send(ctx context.Context, c claimed, body []byte, bearer string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", c.ctype)
	req.Header.Set("Webhook-Id", c.id)
	req.Header.Set("User-Agent", "madoguchi-webhook/1")
	if err := n.cfg.Signer.Sign(req, body, n.now()); err != nil {
		return 0, err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := n.http.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, respLimit))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// finish ends an event (delivered or dead) if this instance still holds
// its claim, with the audit entry in the same transaction.
func (n *Notifier) finish(ctx context.Context, c claimed, state string, status int, why string) error {
	return n.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE notify_outbox SET state = ?, attempts = attempts + 1, last_status = ?, last_error = ?, delivered_at = ?,
			claimed_by = '', claim_until = 0 WHERE event_id = ? AND state = 'pending' AND claimed_by = ?`,
			state, status, why, store.Micros(n.now()), c.id, n.cfg.Instance)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k != 1 {
			return nil // the lease ran out and another instance took over
		}
		outcome, d := audit.OutcomeOK, map[string]string{"status": fmt.Sprint(status)}
		if state != StateDelivered {
			outcome, d["why"] = audit.OutcomeFailed, why
		}
		return n.record(ctx, tx, Actor{Kind: audit.ActorSystem}, c.tenant, c.kind+"."+state, c.id, outcome, d)
	})
}

// PublicOnly is a net.Dialer Control that refuses non-public addresses,
// checked on the resolved address at dial time.
func PublicOnly(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrAddress, host)
	}
	ip = ip.Unmap()
	if !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() ||
		netip.MustParsePrefix("100.64.0.0/10").Contains(ip) || netip.MustParsePrefix("fc00::/7").Contains(ip) {
		return fmt.Errorf("%w: %s", ErrAddress, ip)
	}
	return nil
}

// Worker delivers due events in the background until Stop.
type Worker struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// Start runs DeliverDue every interval (and at once) until Stop or ctx ends.
func (n *Notifier) Start(ctx context.Context, every time.Duration) *Worker {
	ctx, cancel := context.WithCancel(ctx)
	w := &Worker{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			for {
				k, err := n.DeliverDue(ctx)
				if err != nil && ctx.Err() == nil {
					n.log.ErrorContext(ctx, "notify: delivery round failed", "err", err)
				}
				if k < n.cfg.Batch || err != nil || ctx.Err() != nil {
					break // a full batch may mean more are due: go again
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// Stop stops the worker and waits for it.
func (w *Worker) Stop() {
	w.cancel()
	<-w.done
}
