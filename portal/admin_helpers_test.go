package portal

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/document/trust"
	"github.com/madoguchi/madoguchi/notify"
	"github.com/madoguchi/madoguchi/oauth"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/tenant"
	"github.com/madoguchi/madoguchi/vault"
)

// The administration pages' services in the tests: the real tenant
// registry, vault, webhook outbox, trust directory and eKYC policies on the
// test store, and the approval executors the server registers (client
// creation, key rotation, KEK rotation, CSCA import) — each a real change.

type adminDeps struct {
	tenants  *tenant.Registry
	vault    *vault.Vault
	notify   *notify.Notifier
	trust    *TrustDir
	policies Policies
}

// adminExecutors builds e.admin and returns the executors for staff.New.
func (e *env) adminExecutors(v *vault.Vault) map[string]staff.Executor {
	t := e.t
	signer, _, err := notify.LoadOrCreateDevSigner(filepath.Join(t.TempDir(), "webhook.key"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := notify.New(notify.Config{DB: e.db, Audit: e.audit, Vault: v, Signer: signer, AllowInsecure: true,
		MaxAttempts: 2, BaseDelay: time.Minute, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.admin = &adminDeps{tenants: tenant.NewRegistry(e.db, e.audit), vault: v, notify: n,
		trust: &TrustDir{Dir: filepath.Join(t.TempDir(), "trust", "icao"), Now: e.clock.Now}}
	e.admin.policies = newTestPolicies(e)
	actor := func(by staff.Actor) tenant.Actor {
		return tenant.Actor{Kind: by.Kind, ID: by.ID, RequestID: by.RequestID}
	}
	return map[string]staff.Executor{
		staff.KindClientCreate: {
			Tenant: PayloadTenant,
			Validate: func(b []byte) error {
				var p ClientCreate
				if err := decodeStrict(b, &p, "client.create"); err != nil {
					return err
				}
				return p.Client.Validate(e.clock.Now())
			},
			Run: func(ctx context.Context, tx *store.Tx, a staff.Approval, by staff.Actor) error {
				var p ClientCreate
				if err := decodeStrict(a.Payload, &p, "client.create"); err != nil {
					return err
				}
				_, err := e.admin.tenants.CreateClientTx(ctx, tx, actor(by), p.TenantID, p.Client)
				return err
			},
		},
		KindClientRotate: ClientRotateExecutor(e.admin.tenants, e.clock.Now),
		KindPolicySet:    policySetExecutor(e),
		// The authorization server is made after the directory (withOAuth).
		oauth.KindActivate: oauth.ActivationExecutor(func() (*oauth.Server, error) { return e.oauth.srv, nil }),
		staff.KindKEKRotate: {
			AfterCommit: func(ctx context.Context, a staff.Approval, by staff.Actor) error {
				_, err := v.RotateKEK(ctx, vault.Actor{Kind: by.Kind, ID: by.ID, RequestID: by.RequestID})
				return err
			},
		},
		staff.KindTrustCSCA: {
			Validate: func(b []byte) error {
				var p cscaPayload
				if err := decodeStrict(b, &p, "trust.csca"); err != nil {
					return err
				}
				st, err := trust.Load(e.admin.trust.Dir)
				if err != nil {
					return err
				}
				r, err := trust.CheckCSCA(p.Certificate, p.Country, st, e.clock.Now(), trust.DefaultPolicy())
				if err != nil {
					return err
				}
				return r.Err()
			},
			Run: func(context.Context, *store.Tx, staff.Approval, staff.Actor) error { return nil },
			AfterCommit: func(_ context.Context, a staff.Approval, _ staff.Actor) error {
				var p cscaPayload
				if err := json.Unmarshal(a.Payload, &p); err != nil {
					return err
				}
				an, err := trust.NewAnchor(p.Certificate, p.Test)
				if err != nil {
					return err
				}
				_, err = trust.Save(e.admin.trust.Dir, []*trust.Anchor{an})
				return err
			},
		},
	}
}

// config is the portal's Admin for the tests.
func (d *adminDeps) config(dir *staff.Directory) Admin {
	return Admin{Tenants: d.tenants, Staff: dir, Webhooks: d.notify, Trust: d.trust, Keys: d.vault, Policies: d.policies}
}

// upload posts a multipart form: the CSRF token first (unless csrf is
// "-": none), then fields, then files.
func (b *browser) upload(path string, csrf string, fields map[string]string, files map[string][]byte) resp {
	b.e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if csrf == "" {
		csrf = b.csrf()
	}
	if csrf != "-" {
		_ = mw.WriteField("csrf", csrf)
	}
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	for k, v := range files {
		w, err := mw.CreateFormFile(k, k+".bin")
		if err != nil {
			b.e.t.Fatal(err)
		}
		_, _ = w.Write(v)
	}
	_ = mw.Close()
	return b.requestCT(http.MethodPost, path, buf.Bytes(), mw.FormDataContentType())
}

// requestCT sends body with a content type.
func (b *browser) requestCT(method, path string, body []byte, ct string) resp {
	b.e.t.Helper()
	return b.request(method, path, rawBody{body, ct}, nil)
}

// rawBody is a request body with its own content type (request handles it).
type rawBody struct {
	b  []byte
	ct string
}

// readTestdata reads a file of another package's testdata.
func readTestdata(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// enqueue puts a webhook event for tenantID in the outbox.
func (e *env) enqueue(tenantID, url string) string {
	e.t.Helper()
	ctx := context.Background()
	var id string
	err := e.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		id, err = e.admin.notify.Enqueue(ctx, tx, notify.Event{Kind: "ekyc.webhook", Tenant: tenantID, URL: url,
			ContentType: "application/json", Body: []byte(`{"x":1}`), Subject: vault.SubjectRef{Tenant: tenantID, Subject: "webhooks"}})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

// auditHas reports whether an entry with action, outcome and object exists.
func (e *env) auditHas(action, outcome, object string) bool {
	for _, x := range e.audit.find(action, outcome) {
		if object == "" || x.Object == object {
			return true
		}
	}
	return false
}

// decodeSecret decodes a TOTP URI's base32 secret.
func decodeSecret(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
