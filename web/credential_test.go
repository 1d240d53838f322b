package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/credential"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
	"github.com/madoguchi/madoguchi/tenant"
	"github.com/madoguchi/madoguchi/vault/vaulttest"
)

type crCustomers map[string]string // customer -> tenant

func (c crCustomers) Customer(_ context.Context, tenant, id string) (credential.Customer, error) {
	if c[id] != tenant {
		return credential.Customer{}, credential.ErrNotFound
	}
	return credential.Customer{ID: id, TenantID: tenant}, nil
}

type crTemplates struct{ tpl face.Template }

func (c crTemplates) CredentialTemplate(context.Context, credential.Actor, string, string) (face.Template, error) {
	return c.tpl, nil
}

// TestCredentialAPI drives the credential routes over the real service on
// both stores: issue (the QR code only in that answer), read, list,
// revoke, reissue, the scope, another tenant's credential (404), invalid
// input (400 problems, nothing issued), a webhook on a server without
// webhooks (400), the public issuer keys and an unsigned device request
// (401).
func TestCredentialAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		stack := vaulttest.New(t, db)
		alog, v := stack.Audit, stack.Vault
		reg := tenant.NewRegistry(db, alog)
		ta, _ := reg.CreateTenant(ctx, tenant.Actor{Kind: audit.ActorSystem}, "bank-a")
		tb, _ := reg.CreateTenant(ctx, tenant.Actor{Kind: audit.ActorSystem}, "bank-b")
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		iss, _ := credential.NewIssuerKey(k)
		vals := make([]float32, 128)
		for i := range vals {
			vals[i] = float32(i%5) - 2
		}
		tpl, _ := face.NewTemplate("test-model", vals)
		svc, err := credential.New(credential.Config{DB: db, Audit: alog, Vault: v, Issuer: iss, IssuerName: "madoguchi.test",
			Customers: crCustomers{"cus_1": ta.ID, "cus_b": tb.ID}, Templates: crTemplates{tpl}})
		if err != nil {
			t.Fatal(err)
		}
		auth := &fakeAuth{tokens: map[string]Principal{
			"tok-a":  {TenantID: ta.ID, ClientID: "cli-a", Scopes: []string{ScopeCredentialIssue}},
			"tok-b":  {TenantID: tb.ID, ClientID: "cli-b", Scopes: []string{ScopeCredentialIssue}},
			"tok-ns": {TenantID: ta.ID, ClientID: "cli-ns"},
		}}
		h, _ := newTestServer(t, Config{Auth: auth, Credential: &CredentialConfig{Service: svc,
			Staff: func(context.Context, string) (credential.Staff, error) { return credential.Staff{}, ErrInvalidToken }}})

		issue := func(tok string, body any) (int, map[string]any) {
			w := do(t, h, "POST", "/v1/credentials", jsonBody(body), bearerHdr(tok))
			var m map[string]any
			_ = json.Unmarshal(w.Body.Bytes(), &m)
			return w.Code, m
		}
		for _, tc := range []struct {
			name string
			tok  string
			body any
			code int
		}{
			{"no scope", "tok-ns", map[string]string{"customer": "cus_1"}, http.StatusForbidden},
			{"another tenant's customer", "tok-b", map[string]string{"customer": "cus_1"}, http.StatusNotFound},
			{"validity too long", "tok-a", map[string]any{"customer": "cus_1", "ttl_days": 500}, http.StatusBadRequest},
			{"unknown basis", "tok-a", map[string]any{"customer": "cus_1", "basis": "seal"}, http.StatusBadRequest},
			{"webhook without webhooks", "tok-a", map[string]any{"customer": "cus_1", "webhook": "https://bank.example/h"}, http.StatusBadRequest},
			{"bad webhook", "tok-a", map[string]any{"customer": "cus_1", "webhook": "ftp://bank.example/h"}, http.StatusBadRequest},
		} {
			if code, m := issue(tc.tok, tc.body); code != tc.code {
				t.Errorf("%s: POST /v1/credentials = %d %v, want %d", tc.name, code, m, tc.code)
			}
		}
		if w := do(t, h, "GET", "/v1/credentials?customer=cus_1", nil, bearerHdr("tok-a")); w.Code != 200 || strings.Contains(w.Body.String(), "crd_") {
			t.Fatalf("refused issuances left credentials: %d %s", w.Code, w.Body)
		}

		code, c1 := issue("tok-a", map[string]any{"customer": "cus_1", "ttl_days": 30})
		if code != http.StatusCreated || c1["qr_ec_level"] != "M" || c1["qr_png"] == nil || !strings.HasPrefix(c1["qr_text"].(string), credential.Prefix) {
			t.Fatalf("issue = %d %v", code, c1)
		}
		id := c1["id"].(string)
		w := do(t, h, "GET", "/v1/credentials/"+id, nil, bearerHdr("tok-a"))
		if w.Code != 200 || strings.Contains(w.Body.String(), "qr_") || !strings.Contains(w.Body.String(), `"state":"active"`) {
			t.Errorf("GET credential = %d %s: want active, without the QR code", w.Code, w.Body)
		}
		if w := do(t, h, "GET", "/v1/credentials/"+id, nil, bearerHdr("tok-b")); w.Code != http.StatusNotFound {
			t.Errorf("GET another tenant's credential = %d, want 404", w.Code)
		}
		revoke := func(tok, id string, body any) int {
			return do(t, h, "POST", "/v1/credentials/"+id+"/revoke", jsonBody(body), bearerHdr(tok)).Code
		}
		code, c2 := issue("tok-a", map[string]any{"customer": "cus_1"})
		if code != http.StatusCreated {
			t.Fatal(code)
		}
		w = do(t, h, "POST", "/v1/credentials/"+c2["id"].(string)+"/reissue", nil, bearerHdr("tok-a"))
		if w.Code != http.StatusCreated || !strings.Contains(w.Body.String(), "qr_text") {
			t.Errorf("reissue = %d %s", w.Code, w.Body)
		}
		for _, tc := range []struct {
			name string
			tok  string
			id   string
			body any
			code int
		}{
			{"another tenant", "tok-b", id, map[string]string{"reason": "lost_phone"}, http.StatusNotFound},
			{"a reason the service sets", "tok-a", id, map[string]string{"reason": "reissued"}, http.StatusBadRequest},
			{"lost phone", "tok-a", id, map[string]string{"reason": "lost_phone"}, http.StatusOK},
			{"twice", "tok-a", id, map[string]string{"reason": "lost_phone"}, http.StatusConflict},
			{"the reissued one", "tok-a", c2["id"].(string), map[string]string{"reason": "other"}, http.StatusConflict},
		} {
			if code := revoke(tc.tok, tc.id, tc.body); code != tc.code {
				t.Errorf("revoke (%s) = %d, want %d", tc.name, code, tc.code)
			}
		}
		if w := do(t, h, "GET", "/v1/credentials/"+id, nil, bearerHdr("tok-a")); !strings.Contains(w.Body.String(), `"revoke_reason":"lost_phone"`) {
			t.Errorf("after revoke: %s", w.Body)
		}
		w = do(t, h, "GET", "/v1/credential/issuer-keys", nil, nil)
		if w.Code != 200 || !strings.Contains(w.Body.String(), iss.Kid()) {
			t.Errorf("issuer keys = %d %s", w.Code, w.Body)
		}
		if w := do(t, h, "POST", "/v1/credential/branch/bundle", jsonBody(map[string]string{"request": "forged"}), map[string]string{"Content-Type": "application/json"}); w.Code != http.StatusUnauthorized {
			t.Errorf("unsigned bundle request = %d, want 401", w.Code)
		}
	})
}
