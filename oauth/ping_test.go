package oauth

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/notify"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// recNotifier records the CIBA notices (the device-page URLs).
type recNotifier struct {
	mu      sync.Mutex
	notices []CIBANotice
}

func (r *recNotifier) Notify(_ context.Context, n CIBANotice) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notices = append(r.notices, n)
	return nil
}

func (r *recNotifier) last() CIBANotice {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.notices[len(r.notices)-1]
}

// pingReceiver is a client's notification endpoint: it answers with the
// queued statuses (then 204) and records what it received.
type pingReceiver struct {
	mu       sync.Mutex
	statuses []int
	got      []pingHit
}

type pingHit struct {
	auth, ctype string
	body        []byte
	req         *http.Request
}

func (p *pingReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, pingHit{auth: r.Header.Get("Authorization"), ctype: r.Header.Get("Content-Type"), body: b, req: r.Clone(context.Background())})
	st := http.StatusNoContent
	if len(p.statuses) > 0 {
		st, p.statuses = p.statuses[0], p.statuses[1:]
	}
	w.WriteHeader(st)
}

func (p *pingReceiver) answer(st ...int) {
	p.mu.Lock()
	p.statuses = append(p.statuses, st...)
	p.mu.Unlock()
}
func (p *pingReceiver) hits() []pingHit { p.mu.Lock(); defer p.mu.Unlock(); return slices.Clone(p.got) }

// syncBuffer is a log sink the server and the notifier share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestCIBAPingThroughNotify drives CIBA ping mode end to end through the one
// webhook outbox: the customer's decision enqueues the ping in its own
// transaction; a 500 is retried after the backoff; the ping carries the
// client_notification_token as a bearer token and {"auth_req_id"}; after
// MaxAttempts failures it is a dead letter that staff replay; the token
// never appears in the log, the audit log, the stored row or staff views.
func TestCIBAPingThroughNotify(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		logs := &syncBuffer{}
		logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		rcv := &pingReceiver{}
		ts := httptest.NewTLSServer(rcv)
		defer ts.Close()
		devices := &recNotifier{}
		var nt *notify.Notifier
		e := newEnv(t, db, func(c *Config) {
			c.CIBANotifier, c.Logger = devices, logger
			c.Pinger = PingVia(lazyOutbox{&nt})
		})
		_, wk, _ := ed25519.GenerateKey(rand.Reader)
		sg, err := notify.NewSigner(wk)
		if err != nil {
			t.Fatal(err)
		}
		nt, err = notify.New(notify.Config{DB: db, Audit: e.audit, Vault: e.vault, Signer: sg, HTTPClient: ts.Client(),
			MaxAttempts: 3, BaseDelay: time.Second, MaxDelay: 4 * time.Second, Now: e.clock.now, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		endpoint := ts.URL + "/ciba/ping?client=1"
		c := e.partnerWith(e.tenant, func(p *ProfileSpec) { p.CIBAMode, p.CIBAEndpoint = "ping", endpoint }, GrantCIBA)

		const token = "c1ient-N0tification.Tok~en+/=="
		request := func(decision string) string {
			t.Helper()
			r := e.post(PathCIBA, merge(e.clientAuth(c), url.Values{"scope": {"openid accounts:read"}, "login_hint": {"cust-1"},
				"binding_message": {"W4-77"}, "client_notification_token": {token}}), nil)
			if r.status != 200 {
				t.Fatalf("backchannel = %d %s", r.status, r.raw)
			}
			if got := len(pings(t, nt)); got != 0 && decision == "" {
				t.Fatalf("a ping was queued before the customer decided")
			}
			e.device(devices.last().URL, decision)
			return r.body["auth_req_id"].(string)
		}
		deliver := func(wantDelivered int) {
			t.Helper()
			k, err := nt.DeliverDue(ctx)
			if err != nil || k != wantDelivered {
				t.Fatalf("DeliverDue = %d, %v, want %d", k, err, wantDelivered)
			}
		}

		// 1. A 500, then the retry after the backoff succeeds.
		id1 := request("approve")
		ps := pings(t, nt)
		if len(ps) != 1 || ps[0].State != notify.StatePending || ps[0].URL != endpoint || ps[0].Tenant != e.tenant {
			t.Fatalf("after the decision: pings = %+v, want one pending to %s", ps, endpoint)
		}
		rcv.answer(http.StatusInternalServerError)
		deliver(0)
		if d, _ := nt.Get(ctx, ps[0].ID); d.State != notify.StatePending || d.Attempts != 1 || d.LastStatus != 500 {
			t.Fatalf("after a 500: %+v, want pending, 1 attempt, status 500", d)
		}
		deliver(0) // not due yet: the backoff holds it
		if n := len(rcv.hits()); n != 1 {
			t.Fatalf("receiver saw %d requests before the backoff ran out, want 1", n)
		}
		e.clock.advance(2 * time.Second)
		deliver(1)
		hits := rcv.hits()
		if len(hits) != 2 {
			t.Fatalf("receiver saw %d requests, want 2", len(hits))
		}
		for i, h := range hits {
			var body map[string]string
			if err := json.Unmarshal(h.body, &body); err != nil || len(body) != 1 || body["auth_req_id"] != id1 {
				t.Errorf("ping %d body = %s, want {\"auth_req_id\":%q}", i, h.body, id1)
			}
			if h.auth != "Bearer "+token || h.ctype != "application/json" {
				t.Errorf("ping %d: Authorization %q, Content-Type %q; want the notification token as a bearer token and JSON", i, h.auth, h.ctype)
			}
		}
		// The ping is an RFC 9421-signed webhook like every other.
		keys, err := notify.ParseJWKS(nt.JWKS())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := notify.Verify(hits[1].req, hits[1].body, keys, notify.VerifyOptions{TargetURI: endpoint, Now: e.clock.now()}); err != nil {
			t.Errorf("Verify(ping) = %v", err)
		}
		// The pinged client redeems its auth_req_id.
		dk := newDPoPKey(t)
		r := e.post(PathToken, merge(e.clientAuth(c), url.Values{"grant_type": {GrantCIBA}, "auth_req_id": {id1}}),
			map[string]string{"DPoP": e.proof(dk, "POST", e.base+PathToken, "", nil)})
		if r.status != 200 || r.body["access_token"] == nil {
			t.Fatalf("token after the ping = %d %s", r.status, r.raw)
		}

		// 2. A denial pings too; the receiver keeps failing: dead after
		// MaxAttempts, then staff replay it and it is delivered.
		request("deny")
		ps = pings(t, nt)
		var dead notify.Delivery
		for _, p := range ps {
			if p.State == notify.StatePending {
				dead = p
			}
		}
		if dead.ID == "" {
			t.Fatalf("no pending ping after the denial: %+v", ps)
		}
		rcv.answer(500, 502, 503)
		for range 3 {
			deliver(0)
			e.clock.advance(5 * time.Second)
		}
		if d, _ := nt.Get(ctx, dead.ID); d.State != notify.StateDead || d.Attempts != 3 || d.LastStatus != 503 {
			t.Fatalf("after 3 failures: %+v, want dead after 3 attempts", d)
		}
		deliver(0) // a dead letter is not sent again by itself
		before := len(rcv.hits())
		if err := nt.Replay(ctx, notify.Actor{Kind: audit.ActorStaff, ID: "ops-1"}, dead.ID); err != nil {
			t.Fatalf("Replay = %v", err)
		}
		deliver(1)
		if hits := rcv.hits(); len(hits) != before+1 || hits[len(hits)-1].auth != "Bearer "+token {
			t.Fatalf("replayed ping not delivered with its bearer token (%d requests)", len(hits))
		}

		// Latency measured by the one metric: two pings delivered, four
		// failed attempts (one 500, then 500, 502, 503).
		var m bytes.Buffer
		nt.WriteMetrics(&m)
		for _, want := range []string{`madoguchi_notify_delivery_seconds_count{kind="oauth.ciba_ping"} 2`, `madoguchi_notify_failed_attempts_total{kind="oauth.ciba_ping"} 4`} {
			if !strings.Contains(m.String(), want) {
				t.Errorf("metrics lack %s:\n%s", want, m.String())
			}
		}

		// Audited under one kind, through one path.
		var actions []string
		leaks := 0
		rows, err := db.Query(ctx, `SELECT action, leaf FROM audit_entries ORDER BY idx`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var a string
			var leaf []byte
			if err := rows.Scan(&a, &leaf); err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(a, KindPing+".") {
				actions = append(actions, a)
			}
			if bytes.Contains(leaf, []byte(token)) {
				leaks++
			}
		}
		rows.Close()
		want := []string{KindPing + ".queue", KindPing + ".delivered", KindPing + ".queue", KindPing + ".dead", KindPing + ".replay", KindPing + ".delivered"}
		if !slices.Equal(actions, want) {
			t.Errorf("audit actions = %v, want %v", actions, want)
		}
		// The token: not in an audit entry, the log, a stored row or what
		// staff see.
		if leaks != 0 {
			t.Errorf("%d audit entries contain the notification token", leaks)
		}
		if strings.Contains(logs.String(), token) {
			t.Errorf("the log contains the notification token")
		}
		rows, err = db.Query(ctx, `SELECT payload, auth FROM notify_outbox WHERE kind = ?`, KindPing)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var payload, auth []byte
			if err := rows.Scan(&payload, &auth); err != nil {
				t.Fatal(err)
			}
			if len(auth) == 0 || bytes.Contains(auth, []byte(token)) || bytes.Contains(payload, []byte(token)) || bytes.Contains(payload, []byte(id1)) {
				t.Errorf("a stored ping holds its token or auth_req_id in clear (or no sealed token)")
			}
		}
		rows.Close()
		staff, err := nt.ListTenant(ctx, e.tenant, false, "", 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := json.Marshal(staff); bytes.Contains(v, []byte(token)) || bytes.Contains(v, []byte(id1)) {
			t.Errorf("the staff view of the outbox shows the token or the auth_req_id: %s", v)
		}
		if v := slog.AnyValue(Ping{TenantID: "t", ClientID: "c", Token: token, AuthReqID: id1}).Resolve().String(); strings.Contains(v, token) || strings.Contains(v, id1) {
			t.Errorf("Ping logs as %s", v)
		}
	})
}

// lazyOutbox lets the server be built before the notifier that shares its
// audit log and vault.
type lazyOutbox struct{ n **notify.Notifier }

func (l lazyOutbox) Enqueue(ctx context.Context, tx *store.Tx, ev notify.Event) (string, error) {
	return (*l.n).Enqueue(ctx, tx, ev)
}

func pings(t *testing.T, n *notify.Notifier) []notify.Delivery {
	t.Helper()
	if n == nil {
		return nil
	}
	all, err := n.List(context.Background(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []notify.Delivery
	for _, d := range all {
		if d.Kind == KindPing {
			out = append(out, d)
		}
	}
	return out
}

// device opens the CIBA device page and approves or denies as cust-1.
func (e *env) device(pageURL, decision string) {
	e.t.Helper()
	resp, err := e.http.Get(pageURL)
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := ixPattern.FindSubmatch(b)
	if resp.StatusCode != 200 || m == nil {
		e.t.Fatalf("device page = %d", resp.StatusCode)
	}
	resp, err = e.http.PostForm(e.base+PathDevice, url.Values{"interaction": {string(m[1])}, "customer": {"cust-1"}, "decision": {decision}})
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		e.t.Fatalf("device decision = %d", resp.StatusCode)
	}
}

// TestCIBAPingRefused: a malformed notification token is refused at the
// backchannel endpoint (it would go into a header), and a server without
// a Pinger neither advertises nor registers ping mode.
func TestCIBAPingRefused(t *testing.T) {
	db := storetest.SQLite(t)
	rcv := httptest.NewTLSServer(&pingReceiver{})
	defer rcv.Close()
	devices := &recNotifier{}
	e := newEnv(t, db, func(c *Config) { c.CIBANotifier, c.Pinger = devices, PingVia(lazyOutbox{new(*notify.Notifier)}) })
	c := e.partnerWith(e.tenant, func(p *ProfileSpec) { p.CIBAMode, p.CIBAEndpoint = "ping", rcv.URL }, GrantCIBA)
	for _, tok := range []string{"", "two words", "tok\r\nX-Injected: 1", "=leading", "tok=en", "ü", strings.Repeat("a", 1025)} {
		r := e.post(PathCIBA, merge(e.clientAuth(c), url.Values{"scope": {"openid"}, "login_hint": {"cust-1"},
			"binding_message": {"W4-77"}, "client_notification_token": {tok}}), nil)
		if r.status != 400 || r.code() != "invalid_request" {
			t.Errorf("backchannel(token %q) = %d %s, want 400 invalid_request", tok, r.status, r.code())
		}
	}
	if len(devices.notices) != 0 {
		t.Errorf("a refused request reached the customer's device")
	}

	e2 := newEnv(t, storetest.SQLite(t)) // no Pinger
	m := e2.srv.Metadata()
	if modes := m["backchannel_token_delivery_modes_supported"]; !slices.Equal(modes.([]string), []string{"poll"}) {
		t.Errorf("delivery modes without a Pinger = %v, want [poll]", modes)
	}
	if _, err := e2.srv.RegisterClient(context.Background(), Actor{Kind: audit.ActorStaff, ID: "a1"}, e2.tenant, "cl_x",
		ProfileSpec{GrantTypes: []string{GrantCIBA}, CIBAMode: "ping", CIBAEndpoint: rcv.URL}); err == nil {
		t.Errorf("RegisterClient(ping) without a Pinger = nil, want an error")
	}
}
