package credential

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/madoguchi/madoguchi/notify"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
	"github.com/madoguchi/madoguchi/vault"
)

// notifyAdapter is the server's wiring (cmd/madoguchi credentialNotifier)
// over the real package notify.
type notifyAdapter struct{ n *notify.Notifier }

func (a notifyAdapter) Notify(ctx context.Context, tx *store.Tx, m Notification) error {
	_, err := a.n.Enqueue(ctx, tx, notify.Event{ID: m.ID, Kind: m.Kind, Tenant: m.Tenant, URL: m.URL, ContentType: "application/json",
		Body: m.Body, Subject: vault.SubjectRef{Tenant: m.Tenant, Subject: "credential-events"}})
	if errors.Is(err, notify.ErrInvalidEvent) {
		return fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	return err
}

// TestServiceWebhooks: issuance, revocation (lost phone), reissue and a
// shredded subject's revocation reach the credential's webhook through the
// real notifier, RFC 9421-signed, once each, with opaque ids only; a
// credential without a webhook sends nothing; a refused URL leaves nothing
// written — on SQLite and PostgreSQL.
func TestServiceWebhooks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newSvcEnv(t, db)
		_, k, _ := ed25519.GenerateKey(rand.Reader)
		signer, err := notify.NewSigner(k)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := notify.ParseJWKS(signer.JWKS())
		if err != nil {
			t.Fatal(err)
		}
		var (
			mu     sync.Mutex
			got    []Event
			raw    []string
			badSig []error
		)
		recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			defer mu.Unlock()
			if _, err := notify.Verify(r, body, keys, notify.VerifyOptions{}); err != nil {
				badSig = append(badSig, err)
			}
			var ev Event
			if err := json.Unmarshal(body, &ev); err != nil || ev.ID != r.Header.Get("Webhook-Id") {
				badSig = append(badSig, fmt.Errorf("body %q, Webhook-Id %q: %v", body, r.Header.Get("Webhook-Id"), err))
			}
			got, raw = append(got, ev), append(raw, string(body))
		}))
		defer recv.Close()
		newNotifier := func(insecure bool) *notify.Notifier {
			n, err := notify.New(notify.Config{DB: db, Audit: e.alog, Vault: e.svc.cfg.Vault, Signer: signer, AllowInsecure: insecure})
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		n := newNotifier(true)
		cfg := e.svc.cfg
		cfg.Notifier = notifyAdapter{n}
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		hook := recv.URL + "/hooks/credential"

		for _, bad := range []string{"ftp://bank.example/x", "https://user:pw@bank.example/x", "/relative", "https://bank.example/#frag"} {
			if _, err := s.Issue(ctx, client, e.tenantA, IssueRequest{Customer: "cus_1", Webhook: bad}); !errors.Is(err, ErrInvalidInput) {
				t.Errorf("Issue(webhook %q) = %v, want ErrInvalidInput", bad, err)
			}
		}
		if _, err := e.svc.Issue(ctx, client, e.tenantA, IssueRequest{Customer: "cus_1", Webhook: hook}); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("Issue(webhook, no notifier) = %v, want ErrInvalidInput", err)
		}
		// A URL the deployment refuses (plain http in production): nothing written.
		strict := cfg
		strict.Notifier = notifyAdapter{newNotifier(false)}
		ss, _ := New(strict)
		if _, err := ss.Issue(ctx, client, e.tenantA, IssueRequest{Customer: "cus_1", Webhook: hook}); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("Issue(http webhook, production notifier) = %v, want ErrInvalidInput", err)
		}
		if l, _ := s.List(ctx, e.tenantA, "cus_1"); len(l) != 0 {
			t.Fatalf("refused issuances left %d credentials", len(l))
		}

		quiet, err := s.Issue(ctx, client, e.tenantA, IssueRequest{Customer: "cus_1"})
		if err != nil {
			t.Fatal(err)
		}
		c1, err := s.Issue(ctx, client, e.tenantA, IssueRequest{Customer: "cus_1", Webhook: hook})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Revoke(ctx, client, e.tenantA, c1.ID, ReasonLostPhone); err != nil {
			t.Fatal(err)
		}
		c2, err := s.Issue(ctx, client, e.tenantA, IssueRequest{Customer: "cus_2", Webhook: hook})
		if err != nil {
			t.Fatal(err)
		}
		c3, err := s.Reissue(ctx, client, e.tenantA, c2.ID, ReissuePhoneReplaced)
		if err != nil {
			t.Fatal(err)
		}
		if c3.Webhook != hook {
			t.Errorf("reissued credential's webhook = %q, want its predecessor's", c3.Webhook)
		}
		e.customers["cus_2"].Shredded = true
		if _, err := s.StatusList(ctx, e.tenantA); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Revoke(ctx, client, e.tenantA, quiet.ID, ReasonContractEnded); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			if _, err := n.DeliverDue(ctx); err != nil {
				t.Fatal(err)
			}
		}

		mu.Lock()
		defer mu.Unlock()
		if len(badSig) > 0 {
			t.Fatalf("receiver refused: %v", badSig)
		}
		type ev struct{ typ, cred, reason, other string }
		var seen []ev
		for _, g := range got {
			other := g.Replaces + g.ReplacedBy
			seen = append(seen, ev{g.Type, g.Credential, g.Reason, other})
			if g.Tenant != e.tenantA || g.At.IsZero() {
				t.Errorf("event %+v: tenant or time missing", g)
			}
		}
		want := []ev{
			{EventIssued, c1.ID, "", ""},
			{EventRevoked, c1.ID, ReasonLostPhone, ""},
			{EventIssued, c2.ID, "", ""},
			{EventRevoked, c2.ID, ReasonReissued, c3.ID},
			{EventIssued, c3.ID, "", c2.ID},
			{EventRevoked, c3.ID, ReasonShredded, ""},
		}
		for _, w := range want {
			if n := count(seen, w); n != 1 {
				t.Errorf("event %+v delivered %d times, want once (got %+v)", w, n, seen)
			}
		}
		if len(seen) != len(want) {
			t.Errorf("delivered %d events, want %d (the credential without a webhook sends none): %+v", len(seen), len(want), seen)
		}
		for _, b := range raw {
			var m map[string]any
			_ = json.Unmarshal([]byte(b), &m)
			for k := range m {
				if !slices.Contains([]string{"type", "event_id", "tenant", "credential", "customer", "at", "basis", "expires_at", "replaces", "reason", "replaced_by"}, k) {
					t.Errorf("event body has field %q", k)
				}
			}
		}
	})
}

func count[T comparable](s []T, v T) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}
