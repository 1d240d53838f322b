package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/txauth"
	"github.com/madoguchi/madoguchi/web"
)

// The transaction-authentication browser test drives the real
// confirmation page in Debian's headless Chromium (e2e/browser/confirm.mjs)
// against a real server process: a customer activates a new image card
// (one wrong answer first, a reopened link showing the same challenge),
// and an MITB simulation in which a script on the relying service's page
// rewrites the payee after the customer read it; Madoguchi's page shows the
// payee the server received and the customer refuses it. Webhooks arrive
// signed at a local receiver.
//
// The approved eKYC session behind the customer is written as ekyc writes
// one (the capture itself is TestBrowserCapture's subject); the card
// holder's knowledge comes from txauth's development-only HolderPicks.

// txWebhooks collects webhook bodies by Webhook-Id.
type txWebhooks struct {
	mu     sync.Mutex
	bodies map[string]string
}

func (w *txWebhooks) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if r.Header.Get("Content-Type") != "application/jwt" {
		rw.WriteHeader(http.StatusUnsupportedMediaType)
		return
	}
	w.mu.Lock()
	w.bodies[r.Header.Get("Webhook-Id")] = string(b)
	w.mu.Unlock()
	rw.WriteHeader(http.StatusNoContent)
}

// waitFor polls the receiver for a body satisfying ok.
func (w *txWebhooks) waitFor(t *testing.T, what string, ok func(id, body string) bool) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		w.mu.Lock()
		for id, b := range w.bodies {
			if ok(id, b) {
				w.mu.Unlock()
				return b
			}
		}
		w.mu.Unlock()
	}
	t.Fatalf("no webhook %s arrived", what)
	return ""
}

// insertApprovedSession writes a decided, approved eKYC session of the
// tenant under reference, as ekyc's decision writes it.
func insertApprovedSession(t *testing.T, a *app, tenantID, id, reference string) {
	t.Helper()
	now := store.Micros(time.Now())
	err := a.db.InTx(context.Background(), func(tx *store.Tx) error {
		_, err := tx.Exec(context.Background(), `INSERT INTO ekyc_sessions (id, tenant_id, client_id, method, reference, webhook, locale,
			subject, state, outcome, version, policy_version, nonce, challenge, token_hash, token_expires, token_used,
			key_hash, frame_nonce, frame_nonce_at, frame_seq, created_at, expires_at, updated_at, submitted_at, decided_at,
			decision, claims, reviewer, claim_expires)
			VALUES (?, ?, 'cl_e2e', ?, ?, '', 'ja', ?, 'decided', 'approved', 3, 1, ?, '[]', ?, 0, 1, NULL, NULL, 0, 0, ?, ?, ?, ?, ?, '', NULL, '', 0)`,
			id, tenantID, ekyc.CodeHe, reference, "sub_"+id, []byte("nonce"), []byte(id), now, now, now, now, now)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// confirmDriver runs confirm.mjs with a line protocol on stdin/stdout.
type confirmDriver struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Scanner
	stderr bytes.Buffer
	events []string
}

func startConfirmDriver(t *testing.T, opts map[string]any) *confirmDriver {
	t.Helper()
	arg, _ := json.Marshal(opts)
	d := &confirmDriver{cmd: exec.Command("node", "confirm.mjs", string(arg))}
	d.cmd.Dir = browserDir
	d.cmd.Stderr = &d.stderr
	var err error
	if d.in, err = d.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d.out = bufio.NewScanner(out)
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			_ = d.cmd.Process.Kill()
			_ = d.cmd.Wait()
		}
	})
	return d
}

type driverEvent struct {
	Event      string     `json:"event"`
	ID         string     `json:"id"`
	Cells      []string   `json:"cells"`
	Candidates int        `json:"candidates"`
	Images     int        `json:"images"`
	Blobs      bool       `json:"blobs"`
	Wrong      bool       `json:"wrong"`
	Payee      string     `json:"payee"`
	State      string     `json:"state"`
	Account    string     `json:"account"`
	Name       string     `json:"name"`
	Text       string     `json:"text"`
	IDs        [][]string `json:"ids"`
	Body       string     `json:"body"`
	Reasons    string     `json:"reasons"`
}

func (d *confirmDriver) next(t *testing.T) driverEvent {
	t.Helper()
	for d.out.Scan() {
		var ev driverEvent
		if json.Unmarshal(d.out.Bytes(), &ev) == nil && ev.Event != "" {
			d.events = append(d.events, ev.Event)
			return ev
		}
	}
	t.Fatalf("confirm.mjs ended; events %v\nstderr:\n%s", d.events, d.stderr.String())
	return driverEvent{}
}

func (d *confirmDriver) send(t *testing.T, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	if _, err := d.in.Write(append(b, '\n')); err != nil {
		t.Fatal(err)
	}
}

func (d *confirmDriver) wait(t *testing.T) {
	t.Helper()
	d.in.Close()
	if err := d.cmd.Wait(); err != nil {
		t.Fatalf("confirm.mjs: %v; events %v\nstderr:\n%s", err, d.events, d.stderr.String())
	}
}

func TestBrowserTxAuth(t *testing.T) {
	requireBrowser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	// Passkeys need a host name as relying-party id: the public URL says
	// localhost (browsers refuse IP addresses as RP IDs).
	port := freePort(t)
	srv := startServer(t, dir, "--addr", fmt.Sprintf("127.0.0.1:%d", port), "--public-url", fmt.Sprintf("http://localhost:%d", port))
	a := testApp(t, dir)
	c := newTenantClient(t, a, srv.url(), "Txauth Bank", web.ScopeEKYCSessions, web.ScopeTxAuthConfirm, web.ScopeTxAuthCards, web.ScopeTxAuthAdmin)
	base := fmt.Sprintf("http://localhost:%d", port)
	c.base, c.audience = base, base
	es, err := a.newEKYC(base)
	if err != nil {
		t.Fatal(err)
	}
	a.ekyc = es
	holder, err := a.newTxAuth(base)
	if err != nil {
		t.Fatal(err)
	}
	hooks := &txWebhooks{bodies: map[string]string{}}
	recv := httptest.NewServer(hooks)
	defer recv.Close()
	shots := os.Getenv("MADOGUCHI_E2E_SHOTS")
	if shots == "" {
		shots = t.TempDir()
	}

	p := txauth.ExamplePolicy()
	p.Webhook = recv.URL + "/events"
	p.UnusualHours = [2]int{0, 0}
	if err := c.call(ctx, "PUT", "/v1/txauth/policy", p, nil); err != nil {
		t.Fatalf("PUT policy: %v", err)
	}
	insertApprovedSession(t, a, c.tenantID, "ses_e2etxauth0001", "C-E2E-1")
	var cu struct{ ID string }
	if err := c.call(ctx, "POST", "/v1/customers", map[string]string{"session": "ses_e2etxauth0001", "reference": "C-E2E-1"}, &cu); err != nil {
		t.Fatalf("POST customers: %v", err)
	}
	var card struct {
		ID, Serial, State string
	}
	if err := c.call(ctx, "POST", "/v1/txauth/cards", map[string]string{"customer": cu.ID}, &card); err != nil {
		t.Fatalf("POST cards: %v", err)
	}
	pdf := c.raw(t, ctx, "GET", "/v1/txauth/cards/"+card.ID+"/print")
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("print = %.20q, want a PDF", pdf)
	}
	if err := os.MkdirAll(shots, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(shots+"/txauth-card.pdf", pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.call(ctx, "POST", "/v1/txauth/cards/"+card.ID+"/mailed", map[string]string{"tracking": "1234-5678-9012"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.call(ctx, "POST", "/v1/txauth/cards/"+card.ID+"/delivered", nil, nil); err != nil {
		t.Fatal(err)
	}

	t.Run("activation with the image challenge", func(t *testing.T) {
		var act struct {
			ID         string `json:"id"`
			ConfirmURL string `json:"confirm_url"`
		}
		if err := c.call(ctx, "POST", "/v1/txauth/cards/"+card.ID+"/activation", map[string]string{"webhook": recv.URL + "/results"}, &act); err != nil {
			t.Fatal(err)
		}
		d := startConfirmDriver(t, map[string]any{"url": act.ConfirmURL, "shots": shots})
		ev := d.next(t)
		if ev.Event != "challenge" || len(ev.Cells) != 2 || ev.Cells[0] == ev.Cells[1] || ev.Candidates != 32 || ev.Images != 32 || !ev.Blobs {
			t.Fatalf("first screen = %+v, want a challenge of two cells with 16 candidates each, shown from blob URLs", ev)
		}
		first := ev
		// Reopening the link shows the same challenge.
		d.send(t, map[string]bool{"reopen": true})
		if ev = d.next(t); ev.ID != first.ID || !slices.Equal(ev.Cells, first.Cells) {
			t.Fatalf("reopened = %+v, want the same challenge %s %v", ev, first.ID, first.Cells)
		}
		// A wrong answer (each cell answered with the other's picture).
		right, err := holder.HolderPicks(ctx, c.tenantID, ev.ID)
		if err != nil {
			t.Fatal(err)
		}
		d.send(t, map[string]any{"picks": []string{right[0], decoyOf(t, ev, right)}})
		ev = d.next(t)
		if ev.Event != "challenge" || !ev.Wrong || ev.ID == first.ID || !slices.Equal(ev.Cells, first.Cells) {
			t.Fatalf("after a wrong answer = %+v, want a new challenge for the same cells with the warning", ev)
		}
		right, err = holder.HolderPicks(ctx, c.tenantID, ev.ID)
		if err != nil {
			t.Fatal(err)
		}
		d.send(t, map[string]any{"picks": right})
		if ev = d.next(t); ev.Event != "done" || ev.State != "confirmed" {
			t.Fatalf("after the right answer = %+v, want done/confirmed", ev)
		}
		d.wait(t)
		if err := c.call(ctx, "GET", "/v1/txauth/cards/"+card.ID, nil, &card); err != nil || card.State != "active" {
			t.Fatalf("card = %+v, %v; want active", card, err)
		}
		body := hooks.waitFor(t, "result", func(id, _ string) bool { return id == "evt_"+act.ID })
		res, err := txauth.VerifyResult(body, c.raw(t, ctx, "GET", "/.well-known/jwks.json"))
		if err != nil || res.Outcome != txauth.StateConfirmed || res.Kind != txauth.KindActivation {
			t.Fatalf("result webhook = %+v, %v", res, err)
		}
	})

	t.Run("MITB: the page shows the server's payee and the customer refuses it", func(t *testing.T) {
		intended := txauth.Transaction{AmountJPY: 50000, Payee: txauth.Payee{BankCode: "0001", BankName: "みずほ銀行", BranchCode: "001",
			BranchName: "本店", AccountType: "ordinary", AccountNumber: "1234567", NameKana: "ヤマダ　タロウ"}, Purpose: "家賃", Channel: "web"}
		var created struct {
			ID, Hash string
		}
		rp := http.NewServeMux()
		rp.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, relyingPage)
		})
		rp.HandleFunc("POST /transfer", func(w http.ResponseWriter, r *http.Request) {
			var f struct{ Account, Name string }
			if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&f); err != nil {
				http.Error(w, "bad", http.StatusBadRequest)
				return
			}
			tx := intended
			tx.Payee.AccountNumber, tx.Payee.NameKana = f.Account, f.Name
			var out struct {
				ID         string `json:"id"`
				Hash       string `json:"transaction_hash"`
				ConfirmURL string `json:"confirm_url"`
			}
			if err := c.call(r.Context(), "POST", "/v1/txauth/confirmations", map[string]any{"customer": cu.ID, "transaction": tx}, &out); err != nil {
				t.Errorf("relying service: POST confirmations: %v", err)
				http.Error(w, "{}", http.StatusBadGateway)
				return
			}
			created.ID, created.Hash = out.ID, out.Hash
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]string{"confirm_url": out.ConfirmURL})
		})
		relying := httptest.NewServer(rp)
		defer relying.Close()

		d := startConfirmDriver(t, map[string]any{"relying": relying.URL + "/", "malware": true, "shots": shots,
			"intended": map[string]string{"account": intended.Payee.AccountNumber, "name": intended.Payee.NameKana}})
		ev := d.next(t)
		if ev.Event != "shown" || !strings.Contains(ev.Account, "7654321") || ev.Name != "ｱｸﾆﾝ ﾀﾛｳ" {
			t.Fatalf("shown = %+v, want the payee the server received (the malware's)", ev)
		}
		if ev = d.next(t); ev.Event != "done" || ev.State != "rejected" {
			t.Fatalf("after the mismatch report = %+v, want done/rejected", ev)
		}
		d.wait(t)
		var got struct {
			State string `json:"state"`
		}
		if err := c.call(ctx, "GET", "/v1/txauth/confirmations/"+created.ID, nil, &got); err != nil || got.State != "rejected" {
			t.Fatalf("confirmation = %+v, %v; want rejected", got, err)
		}
		// The server's transaction hash is the altered one: a result or
		// signature over it never matches the transaction the customer
		// meant.
		h := intended.Hash()
		if created.Hash == b64(h[:]) {
			t.Error("the confirmation's hash equals the intended transaction's: the alteration was not bound")
		}
		hooks.waitFor(t, "customer_mismatch alert", func(_, body string) bool {
			b, err := ekyc.VerifyTyped(body, c.raw(t, ctx, "GET", "/.well-known/jwks.json"), txauth.EventType)
			return err == nil && strings.Contains(string(b), `"kind":"customer_mismatch"`)
		})
	})

	t.Run("passkey: registration and an assertion bound to the transaction", func(t *testing.T) {
		p.Require = []txauth.Factor{txauth.FactorPasskey}
		if err := c.call(ctx, "PUT", "/v1/txauth/policy", p, nil); err != nil {
			t.Fatal(err)
		}
		var reg struct {
			ConfirmURL string `json:"confirm_url"`
		}
		if err := c.call(ctx, "POST", "/v1/txauth/passkeys/registrations", map[string]string{"customer": cu.ID}, &reg); err != nil {
			t.Fatalf("POST passkey registration: %v", err)
		}
		original := txauth.Transaction{AmountJPY: 300000, Payee: txauth.Payee{BankCode: "0009", BranchCode: "123", AccountType: "current",
			AccountNumber: "1111111", NameKana: "ｶ)ﾏﾄﾞｸﾞﾁ"}, Channel: "web"}
		altered := original
		altered.Payee.AccountNumber = "2222222"
		var ca, cb struct {
			ID         string `json:"id"`
			ConfirmURL string `json:"confirm_url"`
		}
		// One browser (its virtual authenticator keeps the credential):
		// register, then confirm A, which can only be opened once the
		// passkey exists.
		d := startConfirmDriver(t, map[string]any{"passkeyUrls": []string{reg.ConfirmURL}, "more": true, "shots": shots})
		var (
			bodies []string
			states []string
		)
		for done := false; !done; {
			ev := d.next(t)
			switch ev.Event {
			case "finish-body":
				bodies = append(bodies, ev.Body)
			case "done":
				states = append(states, ev.State)
			case "more":
				if len(states) == 1 {
					if err := c.call(ctx, "POST", "/v1/txauth/confirmations", map[string]any{"customer": cu.ID, "transaction": original}, &ca); err != nil {
						t.Fatal(err)
					}
					if err := c.call(ctx, "POST", "/v1/txauth/confirmations", map[string]any{"customer": cu.ID, "transaction": altered}, &cb); err != nil {
						t.Fatal(err)
					}
					d.send(t, map[string]string{"url": ca.ConfirmURL})
				} else {
					d.send(t, map[string]bool{"stop": true})
					done = true
				}
			}
		}
		d.wait(t)
		if !slices.Equal(states, []string{"confirmed", "confirmed"}) || len(bodies) != 2 {
			t.Fatalf("passkey runs = %v (%d bodies), want registration and A confirmed", states, len(bodies))
		}
		jws := string(c.raw(t, ctx, "GET", "/v1/txauth/confirmations/"+ca.ID+"/result"))
		res, err := txauth.VerifyResult(jws, c.raw(t, ctx, "GET", "/.well-known/jwks.json"))
		h := original.Hash()
		if err != nil || res.Outcome != txauth.StateConfirmed || !slices.Equal(res.Factors, []txauth.Factor{txauth.FactorPasskey}) || res.TransactionHash != b64(h[:]) {
			t.Fatalf("A's result = %+v, %v", res, err)
		}
		// The browser's assertion over A, sent for B (payee altered), does
		// not verify.
		_, tokB, _ := strings.Cut(cb.ConfirmURL, "#t=")
		pagePost := func(path, body string) (int, string) {
			req, _ := http.NewRequestWithContext(ctx, "POST", base+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Confirm "+tokB)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		if code, body := pagePost("/v1/txauth/page/passkey/begin", "{}"); code != 200 {
			t.Fatalf("B begin = %d %s", code, body)
		}
		if code, body := pagePost("/v1/txauth/page/passkey/finish", bodies[1]); code != 422 || !strings.Contains(body, "txauth-passkey") {
			t.Errorf("B finish with A's assertion = %d %s, want 422 txauth-passkey", code, body)
		}
	})
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// decoyOf returns a candidate id of the challenge's second cell that is
// not the right one.
func decoyOf(t *testing.T, ev driverEvent, right [2]string) string {
	t.Helper()
	if len(ev.IDs) != 2 {
		t.Fatalf("challenge event without candidate ids: %+v", ev)
	}
	for _, id := range ev.IDs[1] {
		if id != right[1] {
			return id
		}
	}
	t.Fatal("no decoy in the second cell")
	return ""
}

// relyingPage is the relying service's transfer page: it shows the payee,
// and posts the form to its own backend, which asks Madoguchi for the
// confirmation and sends the customer there.
const relyingPage = `<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>Bank</title></head><body>
<h1>お振込み</h1>
<form id="f"><p>振込先口座 <input id="account" value="1234567"></p><p>受取人 <input id="name" value="ヤマダ　タロウ"></p>
<button id="send" type="submit">振込</button></form>
<script>
document.getElementById('f').addEventListener('submit', async (e) => {
  e.preventDefault();
  const r = await fetch('/transfer', {method: 'POST', headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({account: document.getElementById('account').value, name: document.getElementById('name').value})});
  const j = await r.json();
  location.href = j.confirm_url;
});
</script></body></html>`

// raw sends an authenticated request without a body and returns the answer's
// bytes (a PDF, a JWS, the JWK set).
func (c testClient) raw(t *testing.T, ctx context.Context, method, path string) []byte {
	t.Helper()
	if c.token == "" || time.Now().After(c.expires) {
		if err := c.fetchToken(ctx); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s = %d %.200s (%v)", method, path, resp.StatusCode, b, err)
	}
	return b
}
