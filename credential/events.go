package credential

// Lifecycle webhooks: a credential issued with a webhook URL has its
// issuance and its revocation (lost phone, contract ended, reissued,
// subject shredded, other) announced there. The event is queued in the
// same transaction as the change it reports, by the consumer-declared
// Notifier (package notify in the server: RFC 9421-signed requests,
// retries, dead letters). Bodies carry opaque ids only — no template, no
// personal data.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/madoguchi/madoguchi/store"
)

// Event kinds (notify's "<domain>.<what>"; its audit actions add ".queue",
// ".delivered", ".dead", ".replay").
const (
	EventIssued  = "credential.issued"
	EventRevoked = "credential.revoked"
)

// maxWebhook bounds a webhook URL.
const maxWebhook = 2048

// Notification is one lifecycle event for a tenant's receiver.
type Notification struct {
	ID     string // stable: the receiver's de-duplication key
	Kind   string // EventIssued or EventRevoked
	Tenant string
	URL    string
	Body   []byte // JSON, see Event
}

// Notifier queues a notification in the caller's transaction; a URL the
// deployment refuses (plain http in production, say) is ErrInvalidInput.
type Notifier interface {
	Notify(ctx context.Context, tx *store.Tx, n Notification) error
}

// Event is a webhook's JSON body.
type Event struct {
	Type       string    `json:"type"`
	ID         string    `json:"event_id"`
	Tenant     string    `json:"tenant"`
	Credential string    `json:"credential"`
	Customer   string    `json:"customer"`
	At         time.Time `json:"at"`
	// Issued: the basis, the expiry and the credential it replaces.
	Basis     string    `json:"basis,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Replaces  string    `json:"replaces,omitempty"`
	// Revoked: why, and the credential that replaced it (reissue).
	Reason     string `json:"reason,omitempty"`
	ReplacedBy string `json:"replaced_by,omitempty"`
}

// checkWebhook checks a webhook URL's shape (the notifier checks the
// scheme the deployment allows).
func checkWebhook(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || len(raw) > maxWebhook || u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" ||
		(u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%w: webhook must be an absolute https URL without credentials or fragment, at most %d characters", ErrInvalidInput, maxWebhook)
	}
	return nil
}

// announce queues ev for r's webhook, if it has one.
func (s *Service) announce(ctx context.Context, tx *store.Tx, r *Record, ev Event) error {
	if r.Webhook == "" {
		return nil
	}
	if s.cfg.Notifier == nil {
		return fmt.Errorf("%w: webhooks are not configured on this server", ErrInvalidInput)
	}
	ev.ID = r.ID + "." + ev.Type[len("credential."):]
	ev.Tenant, ev.Credential, ev.Customer = r.TenantID, r.ID, r.CustomerID
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	return s.cfg.Notifier.Notify(ctx, tx, Notification{ID: ev.ID, Kind: ev.Type, Tenant: r.TenantID, URL: r.Webhook, Body: body})
}
