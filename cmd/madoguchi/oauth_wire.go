package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"

	"github.com/madoguchi/madoguchi/oauth"
	"github.com/madoguchi/madoguchi/signin"
	"github.com/madoguchi/madoguchi/web"
)

// newOAuth builds the authorization server for publicURL: the one token
// endpoint and the one metadata document of the server, in every mode.
// mutualTLS says the server terminates TLS and sees client certificates.
//
// The customer step: in development, the development stand-in
// (oauth.DevCustomers), with CIBA requests landing in <data>/dev-inbox. In
// production, package signin — txauth's factors and confirmation page for
// customers an approved eKYC session verified — whenever transaction
// authentication runs (a.txauth; serve always builds it in production,
// where a missing eKYC key already stops start-up), and then the ID-token
// key <data>/keys/oauth-signer.key must exist (fail closed: never
// generated in production). CIBA requests reach the customer through the
// tenant: a signed event on the webhook of its txauth policy, for its app
// (signin.CIBANotices); CIBA pings to clients go out through the
// notifier's webhook outbox. Without txauth (the oauth CLI) the server offers
// client_credentials only and its metadata says so.
func (a *app) newOAuth(publicURL string, mutualTLS bool, opts ...func(*oauth.Config)) error {
	cfg := oauth.Config{
		Issuer: trimSlash(publicURL), DB: a.db, Audit: a.audit, Clients: a.issuer, Sealer: a.vault,
		MutualTLS: mutualTLS, Scopes: knownScopes, Revocations: a.revocations, Logger: a.log,
	}
	switch {
	case a.mode == modeProduction && a.txauth == nil:
		a.log.Warn("OAuth grants for customers disabled: transaction authentication (txauth) is not running; the token endpoint serves client_credentials only")
	case a.mode == modeProduction:
		path := filepath.Join(a.data.keysDir(), "oauth-signer.key")
		signer, _, err := oauth.LoadOrCreateSigner(path, false)
		if err != nil {
			return fmt.Errorf("production mode: the OAuth ID-token signing key %s (ES256, PKCS#8, 0600) is required to act for customers: %w", path, err)
		}
		customers, err := a.newSignIn()
		if err != nil {
			return err
		}
		if a.notify == nil || a.resultSigner == nil {
			return errors.New("production mode: CIBA notices need the notifier and the result signing key")
		}
		notices, err := signin.NewCIBANotices(signin.CIBAConfig{DB: a.db, Policies: a.txauth, Customers: a.ekyc, Signer: a.resultSigner,
			Notifier: txauthNotifier{a.notify}})
		if err != nil {
			return err
		}
		cfg.Signer, cfg.Customers, cfg.CIBANotifier = signer, customers, notices
		a.signin = customers
	default:
		path := filepath.Join(a.data.keysDir(), "oauth-signer.key")
		signer, created, err := oauth.LoadOrCreateSigner(path, a.mode == modeDevelopment)
		if err != nil {
			return err
		}
		if created {
			a.devKeys = append(a.devKeys, path)
		}
		customers, err := oauth.NewDevCustomers(false)
		if err != nil {
			return err
		}
		cfg.Signer, cfg.Customers, cfg.CIBANotifier = signer, customers, devInbox{dir: filepath.Join(a.data.data, "dev-inbox")}
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.CIBANotifier != nil && cfg.Pinger == nil {
		// CIBA pings go through the one webhook outbox (retries, dead
		// letters, staff replay, the delivery-latency metric).
		n, err := a.newNotifier()
		if err != nil {
			return fmt.Errorf("CIBA ping outbox: %w", err)
		}
		cfg.Pinger = oauth.PingVia(n)
	}
	srv, err := oauth.New(cfg)
	if err != nil {
		return err
	}
	a.oauth = srv
	return nil
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// newSignIn is the production customer step (package signin) over
// a.txauth and a.ekyc.
func (a *app) newSignIn() (*signin.Authenticator, error) {
	if a.txauth == nil || a.ekyc == nil {
		return nil, errors.New("the customer step needs transaction authentication and the eKYC customers")
	}
	return signin.New(signin.Config{DB: a.db, Audit: a.audit, Vault: a.vault, Confirmations: a.txauth, Customers: a.ekyc, Logger: a.log})
}

// devInbox is the development stand-in for the customer's device: each CIBA
// request's device-page URL is written to <data>/dev-inbox/<login_hint>.url
// (0600), where a developer opens it. It never logs the URL.
type devInbox struct{ dir string }

var safeHint = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func (d devInbox) Notify(ctx context.Context, n oauth.CIBANotice) error {
	if !safeHint.MatchString(n.LoginHint) {
		return fmt.Errorf("dev inbox: login_hint %q is not a development customer reference", n.LoginHint)
	}
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(d.dir, n.LoginHint+".url"), []byte(n.URL+"\n"), 0o600)
}

// oauthWeb adapts oauth.Server to web.OAuthServer.
type oauthWeb struct{ s *oauth.Server }

var _ web.OAuthServer = oauthWeb{}

// Routes wraps each handler so the audit entries it writes carry the HTTP
// layer's request id.
func (o oauthWeb) Routes() map[string]http.Handler {
	out := map[string]http.Handler{}
	for p, h := range o.s.Routes() {
		out[p] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r.WithContext(oauth.WithRequestID(r.Context(), web.RequestID(r.Context()))))
		})
	}
	return out
}

func (o oauthWeb) AuthenticateResource(r *http.Request) (web.Principal, error) {
	p, err := o.s.AuthenticateResource(r.WithContext(oauth.WithRequestID(r.Context(), web.RequestID(r.Context()))))
	var oe *oauth.Error
	if errors.As(err, &oe) {
		return web.Principal{}, &web.ResourceError{Status: oe.Status, Code: oe.Code, Description: oe.Description,
			Challenge: oe.Challenge, Nonce: oe.Nonce, RetryAfter: oe.RetryAfter, Cause: err}
	}
	if err != nil {
		return web.Principal{}, err
	}
	return web.Principal{TenantID: p.TenantID, ClientID: p.ClientID, Scopes: p.Scopes, Subject: p.Subject, GrantID: p.GrantID}, nil
}
