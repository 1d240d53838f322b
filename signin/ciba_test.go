package signin

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/oauth"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
	"github.com/madoguchi/madoguchi/txauth"
	"github.com/madoguchi/madoguchi/vault"
)

// TestCIBANotices: a backchannel request reaches the tenant's policy
// webhook as a signed event sealed under the named customer's subject; a
// tenant without a webhook has no channel and the request fails.
func TestCIBANotices(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		cu, _ := e.customer(e.tenantA, "C-300")
		n, err := NewCIBANotices(CIBAConfig{DB: db, Policies: e.tx, Customers: e.ekyc, Signer: e.signer, Notifier: e.notify, Now: e.clk.now})
		if err != nil {
			t.Fatal(err)
		}
		in := oauth.CIBANotice{TenantID: e.tenantA, ClientID: "cl_x", ClientName: "Partner", LoginHint: "C-300", BindingMessage: "K7-42",
			URL: e.base + oauth.PathDevice + "?ix=secret"}
		if err := n.Notify(e.ctx, in); err != nil {
			t.Fatalf("Notify = %v", err)
		}
		var (
			id, url, st, sub, aad string
			payload               []byte
		)
		if err := db.QueryRow(e.ctx, `SELECT event_id, url, subject_tenant, subject, aad_domain, payload FROM notify_outbox WHERE tenant_id = ? AND kind = ?`,
			e.tenantA, EventCIBA).Scan(&id, &url, &st, &sub, &aad, &payload); err != nil {
			t.Fatalf("queued notice: %v", err)
		}
		if url != "https://bank.example/txauth-events" || (vault.SubjectRef{Tenant: st, Subject: sub}) != cu.Subject() {
			t.Errorf("queued to %s under %s/%s, want the policy webhook under the customer's subject", url, st, sub)
		}
		body, err := e.vault.Open(e.ctx, db, vault.SubjectRef{Tenant: st, Subject: sub}, vault.AAD(aad, id), payload)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ekyc.VerifyTyped(string(body), e.tx.JWKS(), CIBANoticeType)
		if err != nil {
			t.Fatalf("notice does not verify: %v", err)
		}
		var got Notice
		if err := json.Unmarshal(b, &got); err != nil || got.URL != in.URL || got.BindingMessage != "K7-42" || got.LoginHint != "C-300" || got.EventID != id {
			t.Errorf("notice = %+v, %v", got, err)
		}
		p, _, _ := e.tx.Policy(e.ctx, e.tenantB)
		p.Webhook = ""
		if _, err := e.tx.SetPolicy(e.ctx, txauth.System, e.tenantB, p); err != nil {
			t.Fatal(err)
		}
		in.TenantID = e.tenantB
		if err := n.Notify(e.ctx, in); !errors.Is(err, ErrNoChannel) {
			t.Errorf("Notify(no webhook) = %v, want ErrNoChannel", err)
		}
	})
}
