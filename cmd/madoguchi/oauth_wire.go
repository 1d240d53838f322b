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
	"github.com/madoguchi/madoguchi/web"
)

// newOAuth builds the authorization server for publicURL: the one token
// endpoint and the one metadata document of the server, in every mode.
// mutualTLS says the server terminates TLS and sees client certificates. In
// development the customer step is the development stand-in
// (oauth.DevCustomers) and CIBA requests land in <data>/dev-inbox (CIBA
// pings go out through the notifier, which the caller runs); in
// production the grants that act for a customer need a real customer
// authenticator, which is not wired yet (package txauth), so the server
// offers client_credentials only and its metadata says so.
func (a *app) newOAuth(publicURL string, mutualTLS bool, opts ...func(*oauth.Config)) error {
	cfg := oauth.Config{
		Issuer: trimSlash(publicURL), DB: a.db, Audit: a.audit, Clients: a.issuer, Sealer: a.vault,
		MutualTLS: mutualTLS, Scopes: knownScopes, Revocations: a.revocations, Logger: a.log,
	}
	if a.mode == modeProduction {
		a.log.Warn("OAuth grants for customers disabled: no production customer authenticator is wired (txauth); the token endpoint serves client_credentials only")
	} else {
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
