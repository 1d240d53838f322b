package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/revoke"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
	"github.com/madoguchi/madoguchi/tenant"
	"github.com/madoguchi/madoguchi/vault"
)

// instance is a second server on e's database, as another process of the
// same deployment runs it: its own store connection, audit log, vault,
// client authenticator, revocation watcher and token cache; the same keys,
// issuer URL and clock.
type instance struct {
	srv   *Server
	db    *store.DB
	watch *revoke.Watcher
}

// twoInstances starts instance A (e, serving HTTP) and a second instance on
// one fresh PostgreSQL schema.
func twoInstances(t *testing.T) (*env, instance) {
	t.Helper()
	dsn := storetest.PostgresURL(t)
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, db)
	return e, e.secondInstance(t, dsn)
}

// secondInstance starts it on dsn; opts change its Config before New.
func (e *env) secondInstance(t *testing.T, dsn string, opts ...func(*Config)) instance {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	signer, _, err := audit.LoadOrCreateDevSigner(filepath.Join(e.dir, "audit.key"), "test/audit")
	if err != nil {
		t.Fatal(err)
	}
	al, err := audit.New(db, signer)
	if err != nil {
		t.Fatal(err)
	}
	kf, _, err := vault.OpenOrCreateDevKeyFile(filepath.Join(e.dir, "kek.json"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.New(kf, db, al)
	if err != nil {
		t.Fatal(err)
	}
	is, err := tenant.NewIssuer(db, al, tenant.IssuerConfig{Audiences: Audiences(e.base), Now: e.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	w, err := revoke.NewWatcher(db, revoke.Config{})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); w.Run(wctx) }()
	t.Cleanup(func() { stop(); <-done })
	cfg := e.srv.cfg
	cfg.DB, cfg.Audit, cfg.Sealer, cfg.Clients, cfg.Revocations = db, al, v, is, w
	for _, o := range opts {
		o(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for !w.Fresh() || w.Stats().Listens == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	return instance{srv: s, db: db, watch: w}
}

// balance makes e's HTTP server send each request to the next of the
// given instances in turn, as a load balancer without session affinity
// does, and returns how many requests each served.
func (e *env) balance(ss ...*Server) []*atomic.Int64 {
	muxes := make([]http.Handler, len(ss))
	served := make([]*atomic.Int64, len(ss))
	for i, s := range ss {
		muxes[i], served[i] = instanceMux(s), new(atomic.Int64)
	}
	var next atomic.Int64
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(next.Add(1)-1) % len(muxes)
		served[i].Add(1)
		muxes[i].ServeHTTP(w, r)
	})
	e.handler.Store(&h)
	return served
}

// TestDPoPAcrossInstances: two instances on one PostgreSQL database behind
// a round-robin balancer. A client that follows RFC 9449 (one retry on
// use_dpop_nonce) completes PAR, the customer step, the code exchange,
// refresh and resource requests whichever instance each request reaches:
// a nonce one instance handed out is accepted by the other. A proof one
// instance accepted is refused by the other (the shared replay cache),
// also when both receive it at once.
func TestDPoPAcrossInstances(t *testing.T) {
	ctx := context.Background()
	e, b := twoInstances(t)
	served := e.balance(e.srv, b.srv)
	c := e.partner(e.tenant)
	if _, err := e.db.Exec(ctx, `UPDATE oauth_clients SET rate_customer = ? WHERE client_id = ?`, 1<<30, c.id); err != nil {
		t.Fatal(err)
	}

	t.Run("a full flow through the balancer", func(t *testing.T) {
		dk := newDPoPKey(t)
		tk := e.tokens(c, dk) // PAR, authorize, decide, token: four requests, both instances
		at := tk["access_token"].(string)
		for i := range 4 {
			req, _ := http.NewRequest("GET", e.base+"/resource", nil)
			req.Header.Set("Authorization", "DPoP "+at)
			req.Header.Set("DPoP", e.proof(dk, "GET", e.base+"/resource", at, nil))
			if r := e.do(req); r.status != 200 {
				t.Fatalf("resource request %d = %d %s", i, r.status, r.raw)
			}
		}
		if served[0].Load() == 0 || served[1].Load() == 0 {
			t.Fatalf("the balancer did not use both instances: %d, %d", served[0].Load(), served[1].Load())
		}
	})

	// The rest calls the instances directly.
	dk := newDPoPKey(t)
	at := e.tokens(c, dk)["access_token"].(string)
	resource := func(s *Server, proof string) error {
		r := httptest.NewRequest("GET", e.base+"/resource", nil)
		r.Header.Set("Authorization", "DPoP "+at)
		r.Header.Set("DPoP", proof)
		_, err := s.AuthenticateResource(r)
		return err
	}
	fresh := func(nonceFrom *Server) string {
		return e.proof(dk, "GET", e.base+"/resource", at, func(_, c map[string]any) { c["nonce"] = nonceOf(t, nonceFrom) })
	}
	for _, tc := range []struct {
		name                 string
		nonceFrom, first, to *Server
	}{
		{"A's nonce at B, then replayed at A", e.srv, b.srv, e.srv},
		{"B's nonce at A, then replayed at B", b.srv, e.srv, b.srv},
		{"accepted by A, replayed at A", e.srv, e.srv, e.srv},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := fresh(tc.nonceFrom)
			if err := resource(tc.first, p); err != nil {
				t.Fatalf("first use = %v, want accepted", err)
			}
			if err := resource(tc.to, p); !isReplay(err) {
				t.Fatalf("replay = %v, want a replay refusal", err)
			}
		})
	}
	t.Run("one proof at both instances at once: one accepted", func(t *testing.T) {
		for round := range 20 {
			p := fresh(e.srv)
			var ok atomic.Int64
			var wg sync.WaitGroup
			for _, s := range []*Server{e.srv, b.srv, e.srv, b.srv} {
				wg.Go(func() {
					err := resource(s, p)
					switch {
					case err == nil:
						ok.Add(1)
					case !isReplay(err):
						t.Errorf("round %d: %v, want accepted or a replay refusal", round, err)
					}
				})
			}
			wg.Wait()
			if ok.Load() != 1 {
				t.Fatalf("round %d: %d instances accepted one proof, want 1", round, ok.Load())
			}
		}
	})
	t.Run("the spend's synchronous_commit off stays in its own transaction", func(t *testing.T) {
		for range 8 { // pooled connections: none keeps the setting
			var v string
			if err := b.db.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&v); err != nil || v != "on" {
				t.Fatalf("synchronous_commit = %q, %v; want on", v, err)
			}
		}
	})
	t.Run("both instances hand out the same nonce", func(t *testing.T) {
		if a, bn := nonceOf(t, e.srv), nonceOf(t, b.srv); a != bn {
			t.Fatalf("A's nonce %q, B's %q", a, bn)
		}
	})
}

func isReplay(err error) bool {
	var oe *Error
	return errors.As(err, &oe) && oe.Code == "invalid_dpop_proof" && errors.Is(err, ErrReplay)
}
