package signin

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/oauth"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/txauth"
	"github.com/madoguchi/madoguchi/vault"
)

// CIBA in production: Madoguchi has no channel of its own to a customer's
// phone; the tenant (the bank) has one, its app. CIBANotices hands each
// backchannel request to the tenant as a signed event on the webhook of
// its transaction-authentication policy (the receiver of its customer
// notices), for its app to show the customer; the customer opens the
// device page it names, where the confirmation opens for the customer
// login_hint named (see Authenticator).

// CIBANoticeType is the JWS typ of a CIBA notice.
const CIBANoticeType = "madoguchi-ciba-notice+jwt"

// EventCIBA is the notify event kind of a CIBA notice.
const EventCIBA = "oauth.ciba.request"

// Signer signs a notice as a compact JWS (*ekyc.Signer, whose keys are at
// /.well-known/jwks.json).
type Signer interface {
	SignTyped(typ string, payload []byte) (string, error)
}

// Policies returns a tenant's transaction-authentication policy
// (*txauth.Service).
type Policies interface {
	Policy(ctx context.Context, tenant string) (txauth.Policy, int, error)
}

// CIBAConfig wires CIBANotices; every field but Now is required.
type CIBAConfig struct {
	DB        *store.DB
	Policies  Policies
	Customers Customers
	Signer    Signer
	// Notifier queues the event in the caller's transaction (the server's
	// adapter to package notify: RFC 9421-signed delivery, retries, dead
	// letters).
	Notifier txauth.Notifier
	Now      func() time.Time
}

// CIBANotices is the production oauth.CIBANotifier.
type CIBANotices struct{ cfg CIBAConfig }

var _ oauth.CIBANotifier = (*CIBANotices)(nil)

// NewCIBANotices returns the notifier; it fails closed on a missing
// dependency.
func NewCIBANotices(cfg CIBAConfig) (*CIBANotices, error) {
	if cfg.DB == nil || cfg.Policies == nil || cfg.Customers == nil || cfg.Signer == nil || cfg.Notifier == nil {
		return nil, errors.New("signin: CIBA notices need the store, txauth policies, the customers, a signer and the notifier")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &CIBANotices{cfg: cfg}, nil
}

// ErrNoChannel: the tenant has no webhook to reach its customers.
var ErrNoChannel = errors.New("signin: the tenant's transaction-authentication policy names no webhook to reach its customers")

// Notice is the signed body of a CIBA notice.
type Notice struct {
	EventID        string `json:"event_id"`
	Type           string `json:"type"`
	Tenant         string `json:"tenant"`
	Client         string `json:"client"`
	ClientName     string `json:"client_name"`
	LoginHint      string `json:"login_hint"`
	BindingMessage string `json:"binding_message"`
	// URL is the device page: a capability for this one request; the
	// tenant's app opens it for the customer and shows it to nobody else.
	URL      string `json:"url"`
	IssuedAt int64  `json:"iat"`
}

// Notify implements oauth.CIBANotifier: it queues the notice for the
// tenant's policy webhook, sealed under the named customer's data subject
// (the tenant's own when login_hint names no customer: the tenant decides,
// and the device page refuses an unknown customer).
func (n *CIBANotices) Notify(ctx context.Context, cn oauth.CIBANotice) error {
	p, _, err := n.cfg.Policies.Policy(ctx, cn.TenantID)
	if err != nil {
		return fmt.Errorf("signin: CIBA notice: %w", err)
	}
	if p.Webhook == "" {
		return ErrNoChannel
	}
	subject := vault.SubjectRef{Tenant: cn.TenantID, Subject: "tenant/" + cn.TenantID}
	cu, err := n.cfg.Customers.CustomerByReference(ctx, cn.TenantID, cn.LoginHint)
	switch {
	case err == nil && !cu.Shredded():
		subject = cu.Subject()
	case err != nil && !errors.Is(err, ekyc.ErrNotFound):
		return err
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return err
	}
	nt := Notice{EventID: "ciba_" + base64.RawURLEncoding.EncodeToString(id), Type: EventCIBA, Tenant: cn.TenantID, Client: cn.ClientID,
		ClientName: cn.ClientName, LoginHint: cn.LoginHint, BindingMessage: cn.BindingMessage, URL: cn.URL, IssuedAt: n.cfg.Now().Unix()}
	body, err := json.Marshal(nt)
	if err != nil {
		return err
	}
	jws, err := n.cfg.Signer.SignTyped(CIBANoticeType, body)
	if err != nil {
		return err
	}
	return n.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		return n.cfg.Notifier.Notify(ctx, tx, txauth.Notification{TenantID: cn.TenantID, EventID: nt.EventID, Type: EventCIBA,
			URL: p.Webhook, Payload: jws, Subject: subject})
	})
}
