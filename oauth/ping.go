package oauth

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/madoguchi/madoguchi/notify"
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

// LogValue keeps the notification token and the auth_req_id out of logs.
func (p Ping) LogValue() slog.Value {
	return slog.GroupValue(slog.String("tenant", p.TenantID), slog.String("client", p.ClientID))
}

// Pinger schedules a ping inside the transaction that decided the request,
// so a decision is never committed without its notification; delivery
// happens after commit, with retries. PingVia(notifier) is the one
// implementation the server wires. Nil in Config: ping mode is neither
// advertised nor accepted.
type Pinger interface {
	Enqueue(ctx context.Context, tx *store.Tx, p Ping) error
}

// Outbox is the webhook outbox CIBA pings go through (*notify.Notifier):
// it seals the event in the caller's transaction and delivers it with
// retries, backoff, a dead letter, staff replay and a latency metric.
type Outbox interface {
	Enqueue(ctx context.Context, tx *store.Tx, ev notify.Event) (string, error)
}

var _ Outbox = (*notify.Notifier)(nil)

// KindPing is the notify event kind of a CIBA ping (audit actions
// oauth.ciba_ping.queue, .delivered, .dead, .replay).
const KindPing = "oauth.ciba_ping"

// PingVia returns the Pinger that enqueues each ping on o as a notify
// event of kind KindPing: body {"auth_req_id": …} (sealed under the
// client's data subject), the client_notification_token as the event's
// bearer credential (sealed apart, never shown or logged).
func PingVia(o Outbox) Pinger { return outboxPinger{o} }

type outboxPinger struct{ o Outbox }

func (p outboxPinger) Enqueue(ctx context.Context, tx *store.Tx, ping Ping) error {
	body, err := json.Marshal(struct {
		AuthReqID string `json:"auth_req_id"`
	}{ping.AuthReqID})
	if err != nil {
		return err
	}
	// A random event id: the auth_req_id is a credential of the client's
	// and must not become the Webhook-Id staff see.
	_, err = p.o.Enqueue(ctx, tx, notify.Event{ID: "ping_" + randomToken()[:26], Kind: KindPing, Tenant: ping.TenantID,
		URL: ping.Endpoint, ContentType: "application/json", Body: body, Bearer: ping.Token,
		Subject: clientSubject(ping.TenantID, ping.ClientID)})
	return err
}
