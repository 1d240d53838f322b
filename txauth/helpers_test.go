package txauth

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/fraud"
	"github.com/madoguchi/madoguchi/notify"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/tenant"
	"github.com/madoguchi/madoguchi/vault"
	"github.com/madoguchi/madoguchi/vault/vaulttest"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// noFace and noChips satisfy ekyc.New: these tests never run a capture;
// approved sessions are written as the eKYC service writes them.
type noFace struct{}

func (noFace) AnalyzeImage(context.Context, []byte) ([]face.Face, error) {
	return nil, errors.New("unused")
}
func (noFace) Model() string                            { return "none" }
func (noFace) Decide(face.Score) (face.Decision, error) { return face.Refer, face.ErrUncalibrated }

type noChips struct{}

func (noChips) Verify(context.Context, document.Kind, map[string][]byte, []byte) (*document.Evidence, error) {
	return nil, errors.New("unused")
}

type env struct {
	t       testing.TB
	ctx     context.Context
	db      *store.DB
	svc     *Service
	ekyc    *ekyc.Service
	vault   *vault.Vault
	clock   *clock
	tenantA string
	tenantB string
}

var client = Actor{Kind: audit.ActorClient, ID: "cl_test"}

var (
	staffA = Staff{ID: "st_alice", Roles: []string{"reviewer"}}
	staffB = Staff{ID: "st_bob", Roles: []string{"admin"}}
)

// envOption adjusts the eKYC and txauth configurations before they are built.
type envOption func(clk *clock, ec *ekyc.Config, tc *Config)

func newEnv(t testing.TB, db *store.DB, opts ...envOption) *env {
	t.Helper()
	ctx := context.Background()
	st := vaulttest.New(t, db)
	alog, bs, v := st.Audit, st.Blobs, st.Vault
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := ekyc.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 6, 1, 3, 0, 0, 0, time.UTC)} // 12:00 JST
	_, wk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := notify.NewSigner(wk)
	if err != nil {
		t.Fatal(err)
	}
	nt, err := notify.New(notify.Config{DB: db, Audit: alog, Vault: v, Signer: ws, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	rk, err := ekyc.NewReuseKey(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	ec := ekyc.Config{DB: db, Audit: alog, Vault: v, Blobs: bs, Face: noFace{}, Chips: noChips{}, Signer: rs, Notify: nt, ChipReuseKey: rk,
		PublicURL: "https://madoguchi.test", Now: clk.Now}
	dk, err := fraud.NewKey(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	tc := Config{DB: db, Audit: alog, Vault: v, Signer: rs, Notifier: notifyAdapter{nt}, Digests: dk,
		PublicURL: "https://madoguchi.test", Now: clk.Now}
	for _, o := range opts {
		o(clk, &ec, &tc)
	}
	es, err := ekyc.New(ec)
	if err != nil {
		t.Fatal(err)
	}
	tc.Customers = es
	if tc.JPKI != nil {
		tc.JPKIReauth = es
	}
	svc, err := New(tc)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, db: db, svc: svc, ekyc: es, vault: v, clock: clk}
	reg := tenant.NewRegistry(db, alog)
	for i, name := range []string{"bank-a", "bank-b"} {
		tn, err := reg.CreateTenant(ctx, tenant.Actor{Kind: audit.ActorSystem}, name)
		if err != nil {
			t.Fatal(err)
		}
		p := ExamplePolicy()
		p.Webhook = "https://bank.example/txauth-events"
		p.UnusualHours = [2]int{0, 0}
		if _, err := svc.SetPolicy(ctx, System, tn.ID, p); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			e.tenantA = tn.ID
		} else {
			e.tenantB = tn.ID
		}
	}
	return e
}

// sessionSeq numbers the sessions approvedSession writes; parallel tests
// share it.
var sessionSeq atomic.Int64

// approvedSession writes a decided, approved eKYC session (as ekyc's decision
// does) under the tenant's reference and returns its id.
func (e *env) approvedSession(tenantID, reference string) string {
	e.t.Helper()
	seq := sessionSeq.Add(1)
	id := "ses_txauthtest" + strings.Repeat("x", 3) + string(rune('a'+seq%26)) + base64.RawURLEncoding.EncodeToString([]byte{byte(seq), byte(seq >> 8)})
	now := store.Micros(e.clock.Now())
	err := e.db.InTx(e.ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(e.ctx, `INSERT INTO ekyc_sessions (id, tenant_id, client_id, method, reference, webhook, locale,
			subject, state, outcome, version, policy_version, nonce, challenge, token_hash, token_expires, token_used,
			key_hash, frame_nonce, frame_nonce_at, frame_seq, created_at, expires_at, updated_at, submitted_at, decided_at,
			decision, claims, reviewer, claim_expires)
			VALUES (?, ?, 'cl_test', ?, ?, '', 'ja', ?, 'decided', 'approved', 3, 1, ?, '[]', ?, 0, 1, NULL, NULL, 0, 0, ?, ?, ?, ?, ?, '', NULL, '', 0)`,
			id, tenantID, ekyc.CodeHe, reference, "sub_"+id, []byte("nonce"), []byte(id), now, now, now, now, now)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

// customer makes a verified customer of the tenant.
func (e *env) customer(tenantID, reference string) *ekyc.Customer {
	e.t.Helper()
	c, err := e.ekyc.CreateCustomer(e.ctx, ekyc.Actor{Kind: audit.ActorClient, ID: "cl_test"}, tenantID, e.approvedSession(tenantID, reference), reference)
	if err != nil {
		e.t.Fatalf("CreateCustomer = %v", err)
	}
	return c
}

// activeCard issues, mails, delivers and activates a card for the customer.
func (e *env) activeCard(tenantID, customerID string) *Card {
	e.t.Helper()
	c, err := e.svc.IssueCard(e.ctx, client, tenantID, customerID)
	if err != nil {
		e.t.Fatalf("IssueCard = %v", err)
	}
	if _, err := e.svc.MarkMailed(e.ctx, client, tenantID, c.ID, "1234-5678-9012"); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.svc.MarkDelivered(e.ctx, client, tenantID, c.ID); err != nil {
		e.t.Fatal(err)
	}
	act, err := e.svc.CreateActivation(e.ctx, client, tenantID, c.ID, "")
	if err != nil {
		e.t.Fatalf("CreateActivation = %v", err)
	}
	tok := tokenOf(e.t, act.ConfirmURL)
	v, err := e.svc.Page(e.ctx, tok)
	if err != nil || v.Challenge == nil {
		e.t.Fatalf("Page(activation) = %+v, %v", v, err)
	}
	v, err = e.svc.Answer(e.ctx, tok, v.Challenge.ID, e.rightPicks(c, v.Challenge))
	if err != nil || v.State != StateConfirmed {
		e.t.Fatalf("Answer(activation) = %+v, %v", v, err)
	}
	c, err = e.svc.Card(e.ctx, tenantID, c.ID)
	if err != nil || c.State != CardActive {
		e.t.Fatalf("card after activation = %+v, %v", c, err)
	}
	return c
}

func tokenOf(t testing.TB, u string) string {
	t.Helper()
	_, tok, ok := strings.Cut(u, "#t=")
	if !ok {
		t.Fatalf("confirm URL %q has no token", u)
	}
	return tok
}

// secrets opens a card's layout and a challenge's candidates: what the
// customer knows by holding the card.
func (e *env) secrets(card *Card, ch *ChallengeView) (*layout, *challengeSecret) {
	e.t.Helper()
	cu, err := e.ekyc.Customer(e.ctx, card.TenantID, card.CustomerID)
	if err != nil {
		e.t.Fatal(err)
	}
	lay, err := e.svc.openLayout(e.ctx, e.db, cu, card)
	if err != nil {
		e.t.Fatal(err)
	}
	var sealed []byte
	if err := e.db.QueryRow(e.ctx, `SELECT sealed FROM txauth_challenges WHERE id = ?`, ch.ID).Scan(&sealed); err != nil {
		e.t.Fatal(err)
	}
	body, err := e.vault.Open(e.ctx, e.db, cu.Subject(), challengeAAD(ch.ID), sealed)
	if err != nil {
		e.t.Fatal(err)
	}
	var sec challengeSecret
	if err := json.Unmarshal(body, &sec); err != nil {
		e.t.Fatal(err)
	}
	return lay, &sec
}

// rightPicks answers a challenge as the card holder would.
func (e *env) rightPicks(card *Card, ch *ChallengeView) [2]string {
	e.t.Helper()
	lay, sec := e.secrets(card, ch)
	var picks [2]string
	for i, label := range ch.Cells {
		cell, err := ParseCell(label)
		if err != nil {
			e.t.Fatal(err)
		}
		for k, p := range sec.Pictures[i] {
			if p == lay.Cells[cell] {
				picks[i] = sec.IDs[i][k]
			}
		}
	}
	return picks
}

// wrongPicks picks a decoy in the second cell.
func (e *env) wrongPicks(card *Card, ch *ChallengeView) [2]string {
	e.t.Helper()
	picks := e.rightPicks(card, ch)
	for _, id := range ch.Candidates[1] {
		if id != picks[1] {
			picks[1] = id
			break
		}
	}
	return picks
}

func sampleTx() Transaction {
	return Transaction{
		AmountJPY: 123456,
		Payee: Payee{BankCode: "0001", BankName: "みずほ銀行", BranchCode: "001", BranchName: "本店", AccountType: "ordinary",
			AccountNumber: "1234567", NameKana: "ヤマダ　タロウ"},
		Purpose: "家賃", Channel: "web", Device: "dev-1",
	}
}

// auditActions returns the actions of every audit entry for object.
func (e *env) auditActions(object string) []string {
	e.t.Helper()
	rows, err := e.db.Query(e.ctx, `SELECT action FROM audit_entries WHERE object = ? ORDER BY idx`, object)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

// events returns the queued webhook event types for the tenant, each
// payload opened and its signature checked.
func (e *env) events(tenantID string) []string {
	e.t.Helper()
	rows, err := e.db.Query(e.ctx, `SELECT event_id, kind, subject_tenant, subject, aad_domain, payload FROM notify_outbox
		WHERE tenant_id = ? AND kind LIKE 'txauth.%' ORDER BY created_at, event_id`, tenantID)
	if err != nil {
		e.t.Fatal(err)
	}
	type row struct {
		id, kind, st, sub, aad string
		payload                []byte
	}
	var list []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.kind, &r.st, &r.sub, &r.aad, &r.payload); err != nil {
			e.t.Fatal(err)
		}
		list = append(list, r)
	}
	rows.Close()
	var out []string
	for _, r := range list {
		typ := r.kind
		body, err := e.vault.Open(e.ctx, e.db, vault.SubjectRef{Tenant: r.st, Subject: r.sub}, vault.AAD(r.aad, r.id), r.payload)
		if err != nil {
			e.t.Fatalf("queued %s does not open: %v", typ, err)
		}
		if typ == EventNotice || typ == EventAlert {
			b, err := ekyc.VerifyTyped(string(body), e.svc.JWKS(), EventType)
			if err != nil {
				e.t.Fatalf("queued %s does not verify: %v", typ, err)
			}
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			if n, ok := m["notice"].(string); ok {
				typ += ":" + n
			}
			if a, ok := m["alert"].(map[string]any); ok {
				typ += ":" + a["kind"].(string)
			}
		}
		out = append(out, typ)
	}
	return out
}

// notifyAdapter is the server's adapter (cmd/madoguchi/txauth_wire.go) in
// the tests: txauth's notifications into notify's outbox.
type notifyAdapter struct{ n *notify.Notifier }

func (a notifyAdapter) Notify(ctx context.Context, tx *store.Tx, m Notification) error {
	_, err := a.n.Enqueue(ctx, tx, notify.Event{ID: m.EventID, Kind: m.Type, Tenant: m.TenantID, URL: m.URL,
		ContentType: "application/jwt", Body: []byte(m.Payload), Subject: m.Subject})
	return err
}
