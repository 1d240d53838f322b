package fraud

import (
	"context"
	"crypto/rand"
	mrand "math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/tenant"
	"github.com/madoguchi/madoguchi/vault"
	"github.com/madoguchi/madoguchi/vault/vaulttest"
)

const testModel = "test/emb128"

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	t       *testing.T
	ctx     context.Context
	db      *store.DB
	svc     *Service
	vault   *vault.Vault
	log     *audit.Log
	key     *Key
	clock   *testClock
	tenantA string
	tenantB string
	tenantC string
	rng     *mrand.Rand
	people  map[int][]float32
}

func newEnv(t *testing.T, db *store.DB) *env {
	t.Helper()
	ctx := context.Background()
	stack := vaulttest.New(t, db)
	alog, v := stack.Audit, stack.Vault
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	key, _ := NewKey(raw[:])
	clk := &testClock{t: time.Date(2026, 5, 1, 1, 0, 0, 0, time.UTC)}
	svc, err := New(Config{DB: db, Audit: alog, Vault: v, Key: key, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, db: db, svc: svc, vault: v, log: alog, key: key, clock: clk,
		rng: mrand.New(mrand.NewPCG(7, 8)), people: map[int][]float32{}}
	reg := tenant.NewRegistry(db, alog)
	for i, name := range []string{"bank-a", "bank-b", "bank-c"} {
		tn, err := reg.CreateTenant(ctx, tenant.Actor{Kind: audit.ActorSystem}, name)
		if err != nil {
			t.Fatal(err)
		}
		switch i {
		case 0:
			e.tenantA = tn.ID
		case 1:
			e.tenantB = tn.ID
		default:
			e.tenantC = tn.ID
		}
	}
	return e
}

// person returns a probe of synthetic person id: the person's base
// template with fresh noise at cosine 0.85 (another capture of one face).
func (e *env) person(id int) *face.Template {
	e.t.Helper()
	base, ok := e.people[id]
	if !ok {
		base = randUnit(mrand.New(mrand.NewPCG(uint64(id), 99)), 128)
		e.people[id] = base
	}
	t, err := face.NewTemplate(testModel, mate(e.rng, base, 0.92))
	if err != nil {
		e.t.Fatal(err)
	}
	return &t
}

// session runs Check for a new session and, if approve, enrols it.
func (e *env) session(tenant, session, subject string, in Input, approve bool) []Finding {
	e.t.Helper()
	in.Tenant, in.Session, in.Subject = tenant, session, subject
	if in.FaceThreshold == 0 {
		in.FaceThreshold = 0.6
	}
	fs, err := e.svc.Check(e.ctx, in)
	if err != nil {
		e.t.Fatalf("Check(%s) = %v", session, err)
	}
	if approve {
		if err := e.db.InTx(e.ctx, func(tx *store.Tx) error { return e.svc.Approved(e.ctx, tx, tenant, session) }); err != nil {
			e.t.Fatalf("Approved(%s) = %v", session, err)
		}
	}
	return fs
}

func (e *env) shred(tenant, subject string) {
	e.t.Helper()
	err := e.db.InTx(e.ctx, func(tx *store.Tx) error {
		if err := e.vault.Shred(e.ctx, tx, vault.SubjectRef{Tenant: tenant, Subject: subject}, vault.System); err != nil {
			return err
		}
		return e.svc.Forget(e.ctx, tx, tenant, subject)
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) policy(tenant string, p Policy) {
	e.t.Helper()
	if _, err := e.svc.SetPolicy(e.ctx, System, tenant, p); err != nil {
		e.t.Fatal(err)
	}
}

func codes(fs []Finding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.Code)
	}
	return out
}

func find(fs []Finding, code string) *Finding {
	for i := range fs {
		if fs[i].Code == code {
			return &fs[i]
		}
	}
	return nil
}
