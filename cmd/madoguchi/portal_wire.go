package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"time"

	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/portal"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/web"
)

// portalFlags are serve's settings for the staff portal (package portal).
type portalFlags struct {
	enabled        string
	url            string
	idle           time.Duration
	lifetime       time.Duration
	reauth         time.Duration
	passkeys       string
	adminPasskey   string
	trustedProxies string
	pdfFont        string // a TrueType font with Japanese glyphs for record PDFs (portal_review_wire.go)
}

func envDuration(fs *flag.FlagSet, e *env, p *time.Duration, name, envName string, def time.Duration, usage string) error {
	if v := e.getenv(envName); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return usageError{fmt.Sprintf("%s=%q is not a positive duration (like 15m or 8h)", envName, v)}
		}
		def = d
	}
	fs.DurationVar(p, name, def, usage+" (env "+envName+")")
	return nil
}

func (p *portalFlags) register(fs *flag.FlagSet, e *env) error {
	envString(fs, e, &p.enabled, "portal", "MADOGUCHI_PORTAL", "on", "on: serve the staff portal under /portal; off: do not")
	envString(fs, e, &p.url, "portal-url", "MADOGUCHI_PORTAL_URL", "", "the URL staff open the portal at (its origin is the passkey relying party; default --public-url; a loopback IP address becomes localhost, as WebAuthn needs a host name)")
	envString(fs, e, &p.passkeys, "portal-passkeys", "MADOGUCHI_PORTAL_PASSKEYS", "on", "on: staff may register passkeys and sign in with them; off: password and TOTP only")
	envString(fs, e, &p.adminPasskey, "portal-admin-passkey", "MADOGUCHI_PORTAL_ADMIN_PASSKEY", "optional", "required: admin functions only in sessions signed in with a passkey; optional: password and TOTP suffice")
	envString(fs, e, &p.pdfFont, "pdf-font", "MADOGUCHI_PDF_FONT", defaultPDFFont, "TrueType font with Japanese glyphs embedded in verification-record PDFs (Debian: fonts-ipaexfont-gothic); missing: PDF downloads are unavailable, JSON still works")
	envString(fs, e, &p.trustedProxies, "trusted-proxies", "MADOGUCHI_TRUSTED_PROXIES", "", "CIDR prefixes of reverse proxies whose X-Forwarded-For gives the client address (for the portal's audit entries and IP allow-lists)")
	for _, d := range []struct {
		p                *time.Duration
		name, env, usage string
		def              time.Duration
	}{
		{&p.idle, "portal-idle-timeout", "MADOGUCHI_PORTAL_IDLE_TIMEOUT", "staff sessions end after this long without a request", 15 * time.Minute},
		{&p.lifetime, "portal-session-lifetime", "MADOGUCHI_PORTAL_SESSION_LIFETIME", "staff sessions end this long after sign-in, however active", 8 * time.Hour},
		{&p.reauth, "portal-reauth-window", "MADOGUCHI_PORTAL_REAUTH_WINDOW", "sensitive portal actions need a sign-in at most this recent (else the person re-authenticates)", 5 * time.Minute},
	} {
		if err := envDuration(fs, e, d.p, d.name, d.env, d.def, d.usage); err != nil {
			return err
		}
	}
	return nil
}

func (p *portalFlags) check() error {
	for _, c := range []struct{ name, v, a, b string }{
		{"--portal", p.enabled, "on", "off"},
		{"--portal-passkeys", p.passkeys, "on", "off"},
		{"--portal-admin-passkey", p.adminPasskey, "required", "optional"},
	} {
		if c.v != c.a && c.v != c.b {
			return usageError{fmt.Sprintf("%s %q: want %s or %s", c.name, c.v, c.a, c.b)}
		}
	}
	if p.idle <= 0 || p.lifetime <= 0 || p.reauth <= 0 {
		return usageError{"portal durations must be positive"}
	}
	if p.idle > p.lifetime {
		return usageError{"--portal-idle-timeout is longer than --portal-session-lifetime"}
	}
	if p.adminPasskey == "required" && p.passkeys == "off" {
		return usageError{"--portal-admin-passkey required needs --portal-passkeys on"}
	}
	if _, err := staff.ParseIPAllow(p.trustedProxies); err != nil {
		return usageError{"--trusted-proxies: " + err.Error()}
	}
	return nil
}

// staffLimits sets the staff sessions' idle timeout and lifetime.
func (p *portalFlags) staffLimits(c *staff.Config) {
	c.IdleTimeout, c.SessionTTL = p.idle, p.lifetime
}

// passkeyRP derives the WebAuthn relying party from the portal's URL.
func passkeyRP(portalURL string) (staff.PasskeyConfig, error) {
	u, err := url.Parse(portalURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return staff.PasskeyConfig{}, fmt.Errorf("portal URL %q: want http(s)://host[:port]", portalURL)
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if !ip.IsLoopback() {
			return staff.PasskeyConfig{}, fmt.Errorf("portal URL %q: passkeys need a host name, not an IP address (set --portal-url)", portalURL)
		}
		host = "localhost"
	}
	origin := u.Scheme + "://" + host
	if port := u.Port(); port != "" {
		origin = u.Scheme + "://" + net.JoinHostPort(host, port)
	}
	return staff.PasskeyConfig{RPID: host, Origins: []string{origin}}, nil
}

// portalMount builds the portal for serve.
func (a *app) portalMount(p portalFlags, publicURL string) (*web.Mount, error) {
	if p.enabled == "off" {
		return nil, nil
	}
	proxies, _ := staff.ParseIPAllow(p.trustedProxies)
	cfg := portal.Config{
		DB: a.db, Audit: a.audit, Staff: portal.StaffDirectory(a.staff),
		OperatorReview: func(ctx context.Context, tenantID string) (bool, error) {
			pol, _, err := ekyc.LoadPolicy(ctx, a.db, tenantID)
			if errors.Is(err, ekyc.ErrNoPolicy) {
				return false, nil
			}
			return pol.OperatorReview, err
		},
		TenantName: func(ctx context.Context, id string) (string, error) {
			t, err := a.tenants.Tenant(ctx, id)
			return t.Name, err
		},
		AuditLog:    a.audit,
		AuditKeyURL: "/v1/audit/key", // web serves it whenever the audit log is wired
		Tenants: func(ctx context.Context) ([]portal.TenantRef, error) {
			ts, err := a.tenants.ListTenants(ctx)
			out := make([]portal.TenantRef, len(ts))
			for i, t := range ts {
				out[i] = portal.TenantRef{ID: t.ID, Name: t.Name}
			}
			return out, err
		},
		RequestID:           web.RequestID,
		Admin:               a.portalAdmin(),
		RequireAdminPasskey: p.adminPasskey == "required",
		ReauthWindow:        p.reauth,
		TrustedProxies:      proxies,
		Logger:              a.log,
	}
	a.reviewWiring(&cfg, p) // the review workbench and records (portal_review_wire.go)
	if a.txauth != nil {
		cfg.Monitor = a.txauth
		cfg.TxAuth = a.txauth
	}
	if a.credential != nil {
		cfg.Credentials = a.credential
	}
	if a.oauth != nil {
		cfg.Consents = a.oauth // the consents pages (portal/consents.go)
		// Partner onboarding (portal/partner*.go), evidence in the blob store.
		cfg.Partners, cfg.PartnerEvidence = a.oauth, a.blobs
	}
	if p.passkeys == "on" {
		if p.url == "" {
			p.url = publicURL
		}
		rp, err := passkeyRP(p.url)
		if err != nil {
			return nil, err
		}
		pk, err := staff.NewPasskeys(a.staff, rp)
		if err != nil {
			return nil, err
		}
		cfg.Passkeys = pk
		a.log.Info("portal passkeys", "rp_id", rp.RPID, "origins", rp.Origins)
	}
	srv, err := portal.New(cfg)
	if err != nil {
		return nil, err
	}
	return &web.Mount{Pattern: portal.Prefix + "/", Handler: srv}, nil
}
