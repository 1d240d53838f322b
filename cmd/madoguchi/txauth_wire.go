package main

// Wiring of package txauth (transaction authentication) into the server.
// It needs the eKYC service (customers and re-verification) and signs its
// results with the eKYC result key, so that one key set
// (/.well-known/jwks.json) verifies both; it runs only when eKYC runs.
//
// Webhooks: txauth declares a Notifier; until the shared notify package
// lands, the server wires txauth's own outbox (txauth.Outbox, table
// txauth_outbox) delivered by a loop owned by serve's context, with ekyc's
// webhook client (public addresses only in production).

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/txauth"
	"github.com/madoguchi/madoguchi/web"
)

// txauthEvery is the outbox and expiry loop's tick.
const txauthEvery = 5 * time.Second

// newTxAuth builds the service and its outbox; a.ekyc must be set.
func (a *app) newTxAuth(publicURL string) (*txauth.Service, *txauth.Outbox, error) {
	if a.ekyc == nil || a.resultSigner == nil {
		return nil, nil, errors.New("transaction authentication needs the eKYC service")
	}
	ob := txauth.NewOutbox(a.db, ekyc.WebhookClient(a.mode == modeDevelopment), nil, a.log)
	cfg := txauth.Config{
		DB: a.db, Audit: a.audit, Vault: a.vault, Customers: a.ekyc, Signer: a.resultSigner, Notifier: ob,
		PublicURL: publicURL, Logger: a.log, Development: a.mode == modeDevelopment,
	}
	// The JPKI factors use the same trust and revocation as method ワ; with
	// no revocation provider they are unavailable (never "not revoked").
	if v, err := newJPKIVerifier(a.data.data, a.mode == modeProduction, ekyc.NewJPKINonces(a.db, nil), a.log.Warn); err == nil {
		cfg.JPKI, cfg.JPKIReauth = v, a.ekyc
	} else {
		a.log.Warn("txauth: JPKI factors disabled", "err", err)
	}
	svc, err := txauth.New(cfg)
	return svc, ob, err
}

// startTxAuth builds transaction authentication and starts its loop.
func (a *app) startTxAuth(ctx context.Context, publicURL string) error {
	svc, ob, err := a.newTxAuth(publicURL)
	if err != nil {
		return err
	}
	a.txauth = svc
	go ob.Run(ctx, svc, txauthEvery)
	return nil
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
// are passed on and txauth requires reviewer or admin.
func txauthStaff(check func(ctx context.Context, token string) (staff.Principal, error)) func(context.Context, string) (txauth.Staff, error) {
	return func(ctx context.Context, token string) (txauth.Staff, error) {
		p, err := check(ctx, token)
		if errors.Is(err, staff.ErrSession) {
			return txauth.Staff{}, fmt.Errorf("%w: %w", web.ErrInvalidToken, err)
		} else if err != nil {
			return txauth.Staff{}, err
		}
		st := txauth.Staff{ID: p.StaffID}
		for _, r := range p.Roles {
			st.Roles = append(st.Roles, string(r))
		}
		return st, nil
	}
}
