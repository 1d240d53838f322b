package credential

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
	"github.com/madoguchi/madoguchi/tenant"
	"github.com/madoguchi/madoguchi/vault/vaulttest"
)

type fakeCustomers map[string]*Customer

func (f fakeCustomers) Customer(_ context.Context, tenant, id string) (Customer, error) {
	c, ok := f[id]
	if !ok || c.TenantID != tenant {
		return Customer{}, ErrNotFound
	}
	return *c, nil
}

type fakeTemplates struct{ tpl face.Template }

func (f fakeTemplates) CredentialTemplate(context.Context, Actor, string, string) (face.Template, error) {
	return f.tpl, nil
}

type fakeEngine struct{}

func (fakeEngine) AnalyzeImage(context.Context, []byte) ([]face.Face, error) {
	return nil, face.ErrNoFace
}
func (fakeEngine) Model() string { return testModel }

type fixedPolicy struct{}

func (fixedPolicy) BranchPolicy(context.Context, string) (BranchPolicy, error) {
	return BranchPolicy{Model: testModel, Threshold: 0.9, ChallengeSteps: 3, MinFrames: 4, MinPAD: 0.8, YawThreshold: 0.25, EARClosed: 0.18, EAROpen: 0.24}, nil
}

type svcEnv struct {
	svc       *Service
	customers fakeCustomers
	tenantA   string
	tenantB   string
	alog      *audit.Log
	db        *store.DB
}

func newSvcEnv(t *testing.T, db *store.DB) *svcEnv {
	t.Helper()
	ctx := context.Background()
	stack := vaulttest.New(t, db)
	alog, v := stack.Audit, stack.Vault
	reg := tenant.NewRegistry(db, alog)
	ta, err := reg.CreateTenant(ctx, tenant.Actor{Kind: audit.ActorSystem}, "Bank A")
	if err != nil {
		t.Fatal(err)
	}
	tb, err := reg.CreateTenant(ctx, tenant.Actor{Kind: audit.ActorSystem}, "Bank B")
	if err != nil {
		t.Fatal(err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	iss, _ := NewIssuerKey(k)
	cs := fakeCustomers{"cus_1": {ID: "cus_1", TenantID: ta.ID}, "cus_2": {ID: "cus_2", TenantID: ta.ID}, "cus_b": {ID: "cus_b", TenantID: tb.ID}}
	svc, err := New(Config{DB: db, Audit: alog, Vault: v, Issuer: iss, IssuerName: "madoguchi.test", Customers: cs,
		Templates: fakeTemplates{randomTemplate(t, 7, 128)}})
	if err != nil {
		t.Fatal(err)
	}
	return &svcEnv{svc: svc, customers: cs, tenantA: ta.ID, tenantB: tb.ID, alog: alog, db: db}
}

var client = Actor{Kind: audit.ActorClient, ID: "cli_test"}

// TestServiceLifecycle: issue, read, cross-tenant 404, revoke, reissue,
// shredding, status lists, device enrolment and removal under dual control,
// the device's bundle installed on a counter, and its log synced — on
// SQLite and PostgreSQL.
func TestServiceLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newSvcEnv(t, db)
		s := e.svc
		c1, err := s.Issue(ctx, client, e.tenantA, IssueRequest{Customer: "cus_1"})
		if err != nil {
			t.Fatal(err)
		}
		if c1.QR.Version > 20 || c1.StatusIndex != 0 || c1.Model != testModel {
			t.Fatalf("Issue = v%d index %d model %s", c1.QR.Version, c1.StatusIndex, c1.Model)
		}
		if _, err := s.Get(ctx, e.tenantB, c1.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get(other tenant) = %v, want ErrNotFound", err)
		}
		if _, err := s.Issue(ctx, client, e.tenantB, IssueRequest{Customer: "cus_1"}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Issue(other tenant's customer) = %v, want ErrNotFound", err)
		}
		if _, err := s.Revoke(ctx, client, e.tenantA, c1.ID, "because"); !errors.Is(err, ErrInvalidInput) {
			t.Fatalf("Revoke(bad reason) = %v", err)
		}
		if _, err := s.Reissue(ctx, client, e.tenantA, c1.ID, "because"); !errors.Is(err, ErrInvalidInput) {
			t.Fatalf("Reissue(bad reason) = %v, want ErrInvalidInput", err)
		}
		c2, err := s.Reissue(ctx, client, e.tenantA, c1.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		if old, _ := s.Get(ctx, e.tenantA, c1.ID); old.RevokeReason != ReasonReissued || old.ReplacedBy != c2.ID {
			t.Fatalf("reissued credential = %+v", old)
		}
		c3, err := s.Issue(ctx, client, e.tenantA, IssueRequest{Customer: "cus_2"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Revoke(ctx, client, e.tenantA, c3.ID, ReasonLostPhone); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Revoke(ctx, client, e.tenantA, c3.ID, ReasonLostPhone); !errors.Is(err, ErrState) {
			t.Fatalf("Revoke twice = %v", err)
		}

		// Devices: dual control.
		dk, _ := ecdh.X25519().GenerateKey(rand.Reader)
		lsk, _, _ := note.GenerateKey(rand.Reader, "madoguchi.branch/test")
		ls, _ := audit.ParseSigner(lsk)
		ns, _ := note.NewSigner(lsk)
		code := EnrolmentCode(dk.PublicKey(), ls.VerifierKey())
		alice := Staff{ID: "stf_alice", Roles: []string{"admin"}, TenantID: e.tenantA}
		bob := Staff{ID: "stf_bob", Roles: []string{"admin"}}
		mallory := Staff{ID: "stf_m", Roles: []string{"admin"}, TenantID: e.tenantB}
		if _, err := s.RequestDevice(ctx, Staff{ID: "stf_r", Roles: []string{"reviewer"}}, e.tenantA, "Shinjuku 1", code); !errors.Is(err, ErrForbidden) {
			t.Fatalf("RequestDevice(reviewer) = %v", err)
		}
		d, err := s.RequestDevice(ctx, alice, e.tenantA, "Shinjuku 1", code)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ApproveDevice(ctx, alice, d.ID); !errors.Is(err, ErrForbidden) {
			t.Fatalf("ApproveDevice(same person) = %v, want ErrForbidden", err)
		}
		if _, err := s.ApproveDevice(ctx, mallory, d.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("ApproveDevice(other tenant's staff) = %v, want ErrNotFound", err)
		}
		signed := func() []byte {
			b, _ := note.Sign(&note.Note{Text: DeviceRequest(d.ID, time.Now())}, ns)
			return b
		}
		if _, err := s.Bundle(ctx, signed(), fixedPolicy{}); !errors.Is(err, ErrDeviceAuth) {
			t.Fatalf("Bundle(pending device) = %v, want ErrDeviceAuth", err)
		}
		if _, err := s.ApproveDevice(ctx, bob, d.ID); err != nil {
			t.Fatal(err)
		}
		stale, _ := note.Sign(&note.Note{Text: DeviceRequest(d.ID, time.Now().Add(-time.Hour))}, ns)
		if _, err := s.Bundle(ctx, stale, fixedPolicy{}); !errors.Is(err, ErrDeviceAuth) {
			t.Fatalf("Bundle(stale request) = %v, want ErrDeviceAuth", err)
		}
		e.customers["cus_2"].Shredded = true
		b, err := s.Bundle(ctx, signed(), fixedPolicy{})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := s.List(ctx, e.tenantA, "cus_2"); got[0].RevokeReason != ReasonLostPhone {
			t.Fatalf("revoked credential reason = %q", got[0].RevokeReason)
		}

		// A counter installs the bundle and verifies offline.
		sdb := storetest.SQLite(t)
		cl, _ := audit.New(sdb, ls)
		keys, _ := s.IssuerKeys()
		counter, err := NewCounter(CounterConfig{Device: d.ID, DeviceKey: dk, IssuerKids: []string{keys[0].Kid}, Engine: fakeEngine{}, DB: sdb, Log: cl})
		if err != nil {
			t.Fatal(err)
		}
		if err := counter.Install(b); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			text   string
			reason string
		}{{c1.Text, "credential.revoked"}, {c3.Text, "credential.revoked"}} {
			if _, dec, err := counter.Scan(ctx, tc.text); err != nil || dec == nil || dec.Reasons[0] != tc.reason {
				t.Fatalf("Scan = %+v, %v; want %s", dec, err, tc.reason)
			}
		}
		scan, dec, err := counter.Scan(ctx, c2.Text)
		if err != nil || dec != nil || len(scan.Steps) != 3 {
			t.Fatalf("Scan(valid) = %+v %+v %v", scan, dec, err)
		}

		// The counter's log syncs into the server's audit log; a tampered
		// entry or a checkpoint for another tree is refused.
		size, _ := cl.Size(ctx)
		cp, _ := cl.CheckpointAt(ctx, size)
		var leaves [][]byte
		for i := range size {
			_, l, _ := cl.Entry(ctx, i)
			leaves = append(leaves, l)
		}
		bad := append([][]byte(nil), leaves...)
		bad[0] = append([]byte(nil), bad[0]...)
		bad[0][len(bad[0])-1] ^= 1
		if _, err := s.IngestLog(ctx, signed(), cp, bad); !errors.Is(err, ErrDeviceLog) {
			t.Fatalf("IngestLog(tampered) = %v, want ErrDeviceLog", err)
		}
		if _, err := s.IngestLog(ctx, signed(), cp, leaves[:1]); !errors.Is(err, ErrDeviceLog) {
			t.Fatalf("IngestLog(missing entries) = %v, want ErrDeviceLog", err)
		}
		n, err := s.IngestLog(ctx, signed(), cp, leaves)
		if err != nil || n != size {
			t.Fatalf("IngestLog = %d, %v; want %d", n, err, size)
		}
		var synced int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM audit_entries WHERE action = 'credential.branch.entry' AND tenant_id = ?`, e.tenantA).Scan(&synced); err != nil || synced != int(size) {
			t.Fatalf("synced entries in the server log = %d, %v", synced, err)
		}

		// Removal under dual control makes a new branch key version: a
		// credential issued afterwards is for version 2.
		if _, err := s.RequestRemoval(ctx, alice, d.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ApproveRemoval(ctx, alice, d.ID); !errors.Is(err, ErrForbidden) {
			t.Fatalf("ApproveRemoval(same person) = %v", err)
		}
		if _, err := s.ApproveRemoval(ctx, bob, d.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Bundle(ctx, signed(), fixedPolicy{}); !errors.Is(err, ErrDeviceAuth) {
			t.Fatalf("Bundle(removed device) = %v", err)
		}
		c4, err := s.Issue(ctx, client, e.tenantA, IssueRequest{Customer: "cus_1"})
		if err != nil || c4.KeyVersion != 2 {
			t.Fatalf("Issue after removal = version %d, %v; want 2", c4.KeyVersion, err)
		}
		if _, err := s.Issue(ctx, client, e.tenantA, IssueRequest{Customer: "cus_2"}); !errors.Is(err, ErrShredded) {
			t.Fatalf("Issue(shredded) = %v", err)
		}
		if _, err := audit.VerifyStore(ctx, db, e.alog.VerifierKey()); err != nil {
			t.Fatal(err)
		}
	})
}
