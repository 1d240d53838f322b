package main

import (
	"time"

	"github.com/madoguchi/madoguchi/document/trust"
	"github.com/madoguchi/madoguchi/oauth"
	"github.com/madoguchi/madoguchi/portal"
	"github.com/madoguchi/madoguchi/staff"
)

// portalAdmin wires the portal's administration pages (package portal,
// admin.go) to the server's tenant registry, staff directory, webhook
// outbox, vault and trust directory.
func (a *app) portalAdmin() portal.Admin {
	adm := portal.Admin{Tenants: a.tenants, Staff: a.staff, Trust: &portal.TrustDir{Dir: trust.ICAODir(a.data.data)},
		Policies: &portal.EKYCPolicies{DB: a.db, Audit: a.audit}}
	if a.notify != nil {
		adm.Webhooks = a.notify
	}
	if a.vault != nil {
		adm.Keys = a.vault
	}
	return adm
}

// portalExecutors registers the approval kinds the portal files besides the
// CLI's (client.rotate) and lets a tenant's admins file and decide their
// own tenant's client and policy requests (Executor.Tenant).
func portalExecutors(a *app, execs map[string]staff.Executor) {
	for _, kind := range []string{staff.KindClientCreate, kindEKYCPolicySet} {
		if ex, ok := execs[kind]; ok {
			ex.Tenant = portal.PayloadTenant
			execs[kind] = ex
		}
	}
	execs[portal.KindClientRotate] = portal.ClientRotateExecutor(a.tenants, time.Now)
	execs[oauth.KindActivate] = oauth.ActivationExecutor(a.oauthServer)
}

// oauthServer is the authorization server approvals act with: serve's, or,
// in a command that built none (admin approve), one with the issuer the
// CLI's OAuth commands use.
func (a *app) oauthServer() (*oauth.Server, error) {
	if a.oauth != nil {
		return a.oauth, nil
	}
	if a.issuer == nil {
		if err := a.newIssuer(cliIssuer, 0); err != nil {
			return nil, err
		}
	}
	if err := a.newOAuth(cliIssuer, false); err != nil {
		return nil, err
	}
	return a.oauth, nil
}
