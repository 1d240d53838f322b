package main

// Wiring of package txauth (transaction authentication) into the server.
// It needs the eKYC service (customers and re-verification) and signs its
// results with the eKYC result key, so that one key set
// (/.well-known/jwks.json) verifies both; it runs only when eKYC runs.
//
// Webhooks: txauth declares a Notifier; the server adapts package notify
// (one outbox for every domain, RFC 9421-signed requests, retries, dead
// letters) to it. txauth's bodies are its own ES256 JWS results and events,
// sent as application/jwt.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/notify"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/txauth"
	"github.com/madoguchi/madoguchi/web"
)

// txauthEvery is the expiry loop's tick.
const txauthEvery = 5 * time.Second

// newTxAuth builds the service; a.ekyc (and with it a.notify) must be set.
func (a *app) newTxAuth(publicURL string) (*txauth.Service, error) {
	if a.ekyc == nil || a.resultSigner == nil || a.notify == nil {
		return nil, errors.New("transaction authentication needs the eKYC service and the notifier")
	}
	// Known payees, devices and networks are keyed by the server's one
	// reuse secret (fraudKey), under txauth's own digest label.
	dk, err := a.fraudKey()
	if err != nil {
		return nil, err
	}
	cfg := txauth.Config{
		DB: a.db, Audit: a.audit, Vault: a.vault, Customers: a.ekyc, Signer: a.resultSigner, Notifier: txauthNotifier{a.notify}, Digests: dk,
		PublicURL: publicURL, Logger: a.log, Development: a.mode == modeDevelopment,
		Face: a.faceEngine(), Selfies: a.ekyc,
	}
	// The JPKI factors use the same trust and revocation as method ワ; with
	// no revocation provider they are unavailable (never "not revoked").
	if v, err := newJPKIVerifier(a.data.data, a.mode == modeProduction, ekyc.NewJPKINonces(a.db, nil), a.log.Warn); err == nil {
		cfg.JPKI, cfg.JPKIReauth = v, a.ekyc
	} else {
		a.log.Warn("txauth: JPKI factors disabled", "err", err)
	}
	return txauth.New(cfg)
}

// startTxAuth builds transaction authentication and starts its expiry loop
// (webhooks are delivered by the notifier's worker).
func (a *app) startTxAuth(ctx context.Context, publicURL string) error {
	svc, err := a.newTxAuth(publicURL)
	if err != nil {
		return err
	}
	a.txauth = svc
	go svc.RunExpiry(ctx, txauthEvery)
	return nil
}

// txauthNotifier adapts package notify to txauth.Notifier.
type txauthNotifier struct{ n *notify.Notifier }

var _ txauth.Notifier = txauthNotifier{}

func (t txauthNotifier) Notify(ctx context.Context, tx *store.Tx, m txauth.Notification) error {
	_, err := t.n.Enqueue(ctx, tx, notify.Event{ID: m.EventID, Kind: m.Type, Tenant: m.TenantID, URL: m.URL,
		ContentType: "application/jwt", Body: []byte(m.Payload), Subject: m.Subject})
	return err
}

// customersWeb is the web.Config field for the customer API.
func (a *app) customersWeb() web.CustomerService {
	if a.ekyc == nil {
		return nil
	}
	return a.ekyc
}

// txauthWeb is the web.Config field, or nil when txauth is not running.
func (a *app) txauthWeb() *web.TxAuthConfig {
	if a.txauth == nil {
		return nil
	}
	return &web.TxAuthConfig{Service: a.txauth, Staff: txauthStaff(a.staff.CheckSession)}
}

// txauthStaff adapts a staff session check to the monitoring API; roles
// and the account's tenant are passed on: txauth requires reviewer or admin
// and confines a tenant's staff to their tenant.
func txauthStaff(check func(ctx context.Context, token string) (staff.Principal, error)) func(context.Context, string) (txauth.Staff, error) {
	return func(ctx context.Context, token string) (txauth.Staff, error) {
		p, err := check(ctx, token)
		if errors.Is(err, staff.ErrSession) {
			return txauth.Staff{}, fmt.Errorf("%w: %w", web.ErrInvalidToken, err)
		} else if err != nil {
			return txauth.Staff{}, err
		}
		// A tenant's staff see only their tenant's alerts and objects.
		st := txauth.Staff{ID: p.StaffID, TenantID: p.TenantID}
		for _, r := range p.Roles {
			st.Roles = append(st.Roles, string(r))
		}
		return st, nil
	}
}
