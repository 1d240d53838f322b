package portal

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/fraud"
	"github.com/madoguchi/madoguchi/notify"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/txauth"
)

// lateTxAuth lets the page configuration name the txauth service built
// after the environment (which builds the eKYC service it needs).
type lateTxAuth struct{ *txauth.Service }

type txNotify struct{ n *notify.Notifier }

func (a txNotify) Notify(ctx context.Context, tx *store.Tx, m txauth.Notification) error {
	_, err := a.n.Enqueue(ctx, tx, notify.Event{ID: m.EventID, Kind: m.Type, Tenant: m.TenantID, URL: m.URL,
		ContentType: "application/jwt", Body: []byte(m.Payload), Subject: m.Subject})
	return err
}

// newRealTxAuth builds the real transaction-authentication service on the
// environment's store, vault, audit log and eKYC service.
func newRealTxAuth(t *testing.T, e *env) *txauth.Service {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rs, err := ekyc.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	_, wk, _ := ed25519.GenerateKey(rand.Reader)
	ws, err := notify.NewSigner(wk)
	if err != nil {
		t.Fatal(err)
	}
	nt, err := notify.New(notify.Config{DB: e.db, Audit: e.audit, Vault: e.vault, Signer: ws, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	dk, err := fraud.NewKey(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := txauth.New(txauth.Config{DB: e.db, Audit: e.audit, Vault: e.vault, Customers: e.rv.svc, Signer: rs, Notifier: txNotify{nt},
		Digests: dk, PublicURL: "https://portal.test", Now: e.clock.Now, Development: true})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// approvedAt writes an approved eKYC session of the tenant's reference,
// decided now (as eKYC's decision does), and returns its id.
func approvedAt(t *testing.T, e *env, tenant, id, reference string) string {
	t.Helper()
	now := store.Micros(e.clock.Now())
	if _, err := e.db.Exec(context.Background(), `INSERT INTO ekyc_sessions (id, tenant_id, client_id, method, reference, webhook, locale,
		subject, state, outcome, version, policy_version, nonce, challenge, token_hash, token_expires, token_used,
		key_hash, frame_nonce, frame_nonce_at, frame_seq, created_at, expires_at, updated_at, submitted_at, decided_at,
		decision, claims, reviewer, claim_expires)
		VALUES (?, ?, 'cl_test', ?, ?, '', 'ja', ?, 'decided', 'approved', 3, 1, ?, '[]', ?, 0, 1, NULL, NULL, 0, 0, ?, ?, ?, ?, ?, '', NULL, '', 0)`,
		id, tenant, ekyc.CodeHe, reference, "sub_"+id, []byte("nonce"), []byte(id), now, now, now, now, now); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestTxAuthLocksPageDualControl runs the lock page on the real txauth
// service: a card locked by wrong answers is listed to its tenant's staff
// only; the unlock needs a re-verification after the lock and two people —
// the requester cannot approve, another tenant's staff cannot act — and is
// audited with both of them.
func TestTxAuthLocksPageDualControl(t *testing.T) {
	late := &lateTxAuth{}
	e := newEnv(t, func(c *Config) { c.TxAuth = late })
	svc := newRealTxAuth(t, e)
	late.Service = svc
	ctx := context.Background()
	client := txauth.Actor{Kind: audit.ActorClient, ID: "cl_test"}
	p := txauth.ExamplePolicy()
	p.UnusualHours, p.Rules = [2]int{0, 0}, nil
	p.Card.MaxFailures = 2
	if _, err := svc.SetPolicy(ctx, txauth.System, "tn_a", p); err != nil {
		t.Fatal(err)
	}
	cu, err := e.rv.svc.CreateCustomer(ctx, ekyc.Actor{Kind: audit.ActorClient, ID: "cl_test"}, "tn_a", approvedAt(t, e, "tn_a", "ses_portaltx000001", "C-PORTAL"), "C-PORTAL")
	if err != nil {
		t.Fatal(err)
	}
	card, err := svc.IssueCard(ctx, client, "tn_a", cu.ID)
	if err != nil {
		t.Fatal(err)
	}
	svc.MarkMailed(ctx, client, "tn_a", card.ID, "1")
	svc.MarkDelivered(ctx, client, "tn_a", card.ID)
	answer := func(cr *txauth.Created, right bool) error {
		t.Helper()
		_, tok, _ := strings.Cut(cr.ConfirmURL, "#t=")
		v, err := svc.Page(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		picks, err := svc.HolderPicks(ctx, "tn_a", v.Challenge.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !right {
			picks[1] = picks[0]
		}
		_, err = svc.Answer(ctx, tok, v.Challenge.ID, picks)
		return err
	}
	act, err := svc.CreateActivation(ctx, client, "tn_a", card.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := answer(act, true); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Minute)
	cr, err := svc.Create(ctx, client, "tn_a", txauth.Request{Customer: cu.ID, Transaction: txauth.Transaction{AmountJPY: 1000,
		Payee: txauth.Payee{BankCode: "0001", BranchCode: "001", AccountType: "ordinary", AccountNumber: "1234567", NameKana: "ヤマダ　タロウ"}, Channel: "web"}})
	if err != nil {
		t.Fatal(err)
	}
	answer(cr, false)
	if err := answer(cr, false); err == nil {
		t.Fatal("the second wrong answer did not refuse")
	}
	if c, _ := svc.Card(ctx, "tn_a", card.ID); !c.Locked() {
		t.Fatal("the card is not locked after two wrong answers")
	}
	before := approvedAt(t, e, "tn_a", "ses_portaltx000002", "C-PORTAL") // at the lock's time, not after

	a, admin, b := e.signedIn("a-reviewer"), e.signedIn("a-admin"), e.signedIn("b-reviewer")
	if r := a.get(Prefix + "/monitor/locks"); r.status != http.StatusOK || !strings.Contains(r.body, card.ID) {
		t.Fatalf("tenant A's locks page = %d, lacks the card", r.status)
	}
	if r := b.get(Prefix + "/monitor/locks"); r.status != http.StatusOK || strings.Contains(r.body, card.ID) {
		t.Errorf("tenant B's locks page = %d and shows A's card", r.status)
	}
	request := func(br *browser, tenant, session string) int {
		r := br.post(Prefix+"/monitor/locks", url.Values{"action": {"request_card"}, "tenant": {tenant}, "id": {card.ID}, "session": {session}})
		return r.status
	}
	if got := request(a, "tn_a", before); got != http.StatusBadRequest {
		t.Errorf("request with a session not after the lock = %d, want 400", got)
	}
	e.clock.Add(time.Second)
	fresh := approvedAt(t, e, "tn_a", "ses_portaltx000003", "C-PORTAL")
	if got := request(b, "tn_a", fresh); got != http.StatusNotFound {
		t.Errorf("tenant B's reviewer requesting = %d, want 404", got)
	}
	if got := request(a, "tn_a", fresh); got != http.StatusSeeOther {
		t.Fatalf("request = %d, want 303", got)
	}
	pending, err := svc.Unlocks(ctx, txauth.Staff{ID: "st_op", Roles: []string{"admin"}}, "pending")
	if err != nil || len(pending) != 1 {
		t.Fatalf("pending unlocks = %+v, %v", pending, err)
	}
	id := pending[0].ID
	if r := a.get(Prefix + "/monitor/locks"); strings.Contains(r.body, `value="`+id+`"`) {
		t.Error("the requester is offered to approve their own request")
	}
	approve := func(br *browser) int {
		return br.post(Prefix+"/monitor/locks", url.Values{"action": {"approve"}, "id": {id}}).status
	}
	if got := approve(a); got != http.StatusForbidden {
		t.Errorf("the requester approving = %d, want 403", got)
	}
	if got := approve(b); got != http.StatusNotFound {
		t.Errorf("tenant B's reviewer approving = %d, want 404", got)
	}
	if c, _ := svc.Card(ctx, "tn_a", card.ID); !c.Locked() {
		t.Fatal("the card was unlocked by one person")
	}
	if got := approve(admin); got != http.StatusSeeOther {
		t.Fatalf("a second person approving = %d, want 303", got)
	}
	if c, _ := svc.Card(ctx, "tn_a", card.ID); c.Locked() {
		t.Error("the card is still locked after the approval")
	}
	if got := approve(admin); got != http.StatusBadRequest {
		t.Errorf("approving again = %d, want 400", got)
	}
	req, ok := e.audit.find("txauth.card.unlock_request", audit.OutcomeOK), e.audit.find("txauth.card.unlock", audit.OutcomeOK)
	if len(req) != 1 || len(ok) != 1 || req[0].ActorID != e.people["a-reviewer"].id || ok[0].ActorID != e.people["a-admin"].id {
		t.Errorf("audit: request %+v, unlock %+v; want the reviewer's request and the admin's unlock", req, ok)
	}
	if denied := e.audit.find("txauth.card.unlock_approve", audit.OutcomeDenied); len(denied) < 2 {
		t.Errorf("denied approvals audited = %d, want the requester's and the repeat", len(denied))
	}
}
