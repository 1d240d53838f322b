package oauth

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/madoguchi/madoguchi/store"
)

// Ping is a CIBA ping callback (CIBA Core §10.2): POST {"auth_req_id"} to
// the client's notification endpoint with its client_notification_token
// as a bearer token.
type Ping struct {
	TenantID, ClientID string
	Endpoint           string
	Token              string
	AuthReqID          string
}

// Pinger schedules a ping inside the transaction that decided the request,
// so a decision is never committed without its notification; delivery
// happens after commit, with retries. Package notify (RFC 9421-signed
// webhooks, outbox, dead letters, staff replay) is meant to satisfy this;
// until it is wired, outboxPinger is the built-in outbox.
type Pinger interface {
	Enqueue(ctx context.Context, tx *store.Tx, p Ping) error
}

// outboxPinger keeps pings in oauth_ping_outbox (payload sealed: it holds
// two secrets) and delivers them from Server.Run: claimed with an
// optimistic update so two instances never both send one, exponential
// backoff from 1 s to 5 min, dead after 8 attempts.
type outboxPinger struct {
	s      *Server
	client *http.Client
}

const (
	pingMaxAttempts = 8
	pingBatch       = 20
)

func (o *outboxPinger) Enqueue(ctx context.Context, tx *store.Tx, p Ping) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	id := "ping_" + randomToken()[:26]
	sealed, err := o.s.cfg.Sealer.Seal(ctx, tx, clientSubject(p.TenantID, p.ClientID), []byte("oauth-ping:"+id), b)
	if err != nil {
		return err
	}
	now := o.s.now()
	_, err = tx.Exec(ctx, `INSERT INTO oauth_ping_outbox (id, tenant_id, client_id, payload, attempts, next_at, created_at) VALUES (?, ?, ?, ?, 0, ?, ?)`,
		id, p.TenantID, p.ClientID, sealed, store.Micros(now), store.Micros(now))
	return err
}

// run delivers due pings until ctx ends.
func (o *outboxPinger) run(ctx context.Context) {
	if o.client == nil {
		o.client = o.s.cfg.PingClient
	}
	if o.client == nil {
		o.client = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		if err := o.deliverDue(ctx); err != nil && ctx.Err() == nil {
			o.s.log.Warn("CIBA ping delivery round failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (o *outboxPinger) deliverDue(ctx context.Context) error {
	now := o.s.now()
	rows, err := o.s.cfg.DB.Query(ctx, `SELECT id, tenant_id, client_id, payload, attempts, next_at FROM oauth_ping_outbox
		WHERE delivered_at IS NULL AND dead_at IS NULL AND next_at <= ? ORDER BY next_at LIMIT ?`, store.Micros(now), pingBatch)
	if err != nil {
		return err
	}
	type due struct {
		id, tenantID, clientID string
		payload                []byte
		attempts               int
		next                   int64
	}
	var list []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.id, &d.tenantID, &d.clientID, &d.payload, &d.attempts, &d.next); err != nil {
			rows.Close()
			return err
		}
		list = append(list, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, d := range list {
		// Claim: push next_at forward; only the instance whose update hits
		// sends.
		res, err := o.s.cfg.DB.Exec(ctx, `UPDATE oauth_ping_outbox SET next_at = ? WHERE id = ? AND next_at = ?`,
			store.Micros(now.Add(time.Minute)), d.id, d.next)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			continue
		}
		ok := o.send(ctx, d.tenantID, d.clientID, d.id, d.payload)
		attempts := d.attempts + 1
		switch {
		case ok:
			_, err = o.s.cfg.DB.Exec(ctx, `UPDATE oauth_ping_outbox SET delivered_at = ?, attempts = ? WHERE id = ?`, store.Micros(o.s.now()), attempts, d.id)
		case attempts >= pingMaxAttempts:
			_, err = o.s.cfg.DB.Exec(ctx, `UPDATE oauth_ping_outbox SET dead_at = ?, attempts = ? WHERE id = ?`, store.Micros(o.s.now()), attempts, d.id)
			o.s.log.Error("CIBA ping dead-lettered", "ping", d.id, "client", d.clientID)
		default:
			back := min(time.Second<<attempts, 5*time.Minute)
			_, err = o.s.cfg.DB.Exec(ctx, `UPDATE oauth_ping_outbox SET next_at = ?, attempts = ? WHERE id = ?`, store.Micros(o.s.now().Add(back)), attempts, d.id)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (o *outboxPinger) send(ctx context.Context, tenantID, clientID, id string, sealed []byte) bool {
	b, err := o.s.cfg.Sealer.Open(ctx, o.s.cfg.DB, clientSubject(tenantID, clientID), []byte("oauth-ping:"+id), sealed)
	if err != nil {
		o.s.log.Error("CIBA ping: cannot open payload", "ping", id, "err", err)
		return false
	}
	var p Ping
	if err := json.Unmarshal(b, &p); err != nil {
		return false
	}
	body, _ := json.Marshal(map[string]string{"auth_req_id": p.AuthReqID})
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, p.Endpoint, bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+p.Token)
	resp, err := o.client.Do(req)
	if err != nil {
		o.s.log.Warn("CIBA ping delivery failed", "ping", id, "client", clientID, "err", err)
		return false
	}
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}
