package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/txauth"
	"github.com/madoguchi/madoguchi/web"
)

// TestTxAuthAPI drives the transaction-authentication API of a real server
// process over HTTP: tenant isolation (404), the page's credential (401),
// single-use challenges (409), wrong answers as problems that never say
// which cell (422), and the signed result.
func TestTxAuthAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	ctx := context.Background()
	dir := t.TempDir()
	srv := startServer(t, dir)
	a := testApp(t, dir)
	scopes := []string{web.ScopeEKYCSessions, web.ScopeTxAuthConfirm, web.ScopeTxAuthCards, web.ScopeTxAuthAdmin}
	ca := newTenantClient(t, a, srv.url(), "Bank A", scopes...)
	cb := newTenantClient(t, a, srv.url(), "Bank B", scopes...)
	es, err := a.newEKYC(srv.url())
	if err != nil {
		t.Fatal(err)
	}
	a.ekyc = es
	holder, err := a.newTxAuth(srv.url())
	if err != nil {
		t.Fatal(err)
	}
	p := txauth.ExamplePolicy()
	p.UnusualHours = [2]int{0, 0}
	for _, c := range []testClient{ca, cb} {
		if err := c.call(ctx, "PUT", "/v1/txauth/policy", p, nil); err != nil {
			t.Fatal(err)
		}
	}
	insertApprovedSession(t, a, ca.tenantID, "ses_e2eapi00000001", "C-API")
	var cu struct{ ID string }
	if err := ca.call(ctx, "POST", "/v1/customers", map[string]string{"session": "ses_e2eapi00000001", "reference": "C-API"}, &cu); err != nil {
		t.Fatal(err)
	}
	var card struct{ ID string }
	if err := ca.call(ctx, "POST", "/v1/txauth/cards", map[string]string{"customer": cu.ID}, &card); err != nil {
		t.Fatal(err)
	}
	ca.call(ctx, "POST", "/v1/txauth/cards/"+card.ID+"/mailed", map[string]string{"tracking": "1"}, nil)
	ca.call(ctx, "POST", "/v1/txauth/cards/"+card.ID+"/delivered", nil, nil)
	var act struct {
		ID         string `json:"id"`
		ConfirmURL string `json:"confirm_url"`
	}
	if err := ca.call(ctx, "POST", "/v1/txauth/cards/"+card.ID+"/activation", map[string]string{}, &act); err != nil {
		t.Fatal(err)
	}
	_, tok, _ := strings.Cut(act.ConfirmURL, "#t=")

	status := func(err error) int {
		var ae *apiError
		if errors.As(err, &ae) {
			return ae.Status
		}
		if err == nil {
			return 200
		}
		t.Fatalf("request: %v", err)
		return 0
	}
	// Tenant isolation: B sees none of A's objects.
	for _, path := range []string{"/v1/customers/" + cu.ID, "/v1/txauth/cards/" + card.ID, "/v1/txauth/confirmations/" + act.ID,
		"/v1/txauth/confirmations/" + act.ID + "/result"} {
		if got := status(cb.call(ctx, "GET", path, nil, nil)); got != 404 {
			t.Errorf("tenant B GET %s = %d, want 404", path, got)
		}
	}
	if got := status(cb.call(ctx, "POST", "/v1/txauth/confirmations", map[string]any{"customer": cu.ID, "transaction": sampleTransaction()}, nil)); got != 404 {
		t.Errorf("tenant B confirmation for A's customer = %d, want 404", got)
	}

	page := func(method, path, auth, body string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, method, srv.url()+path, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s = %d with %s, want problem+json", method, path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		return resp.StatusCode, string(b)
	}
	if code, _ := page("POST", "/v1/txauth/page", "", "{}"); code != 401 {
		t.Errorf("page without a token = %d, want 401", code)
	}
	if code, _ := page("POST", "/v1/txauth/page", "Confirm AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "{}"); code != 401 {
		t.Errorf("page with an unknown token = %d, want 401", code)
	}
	code, body := page("POST", "/v1/txauth/page", "Confirm "+tok, "{}")
	if code != 200 {
		t.Fatalf("page = %d %s", code, body)
	}
	var v txauth.PageView
	if err := jsonUnmarshal(body, &v); err != nil || v.Challenge == nil {
		t.Fatalf("page view = %s", body)
	}
	right, err := holder.HolderPicks(ctx, ca.tenantID, v.Challenge.ID)
	if err != nil {
		t.Fatal(err)
	}
	wrong := `{"challenge":"` + v.Challenge.ID + `","picks":["` + right[0] + `","` + right[0] + `"]}`
	code, body = page("POST", "/v1/txauth/page/answer", "Confirm "+tok, wrong)
	if code != 422 || !strings.Contains(body, "txauth-wrong-answer") || !strings.Contains(body, `"attempts_left"`) || strings.Contains(body, v.Challenge.Cells[1]) {
		t.Errorf("wrong answer = %d %s, want 422 txauth-wrong-answer with attempts_left and no cell named", code, body)
	}
	if code, body = page("POST", "/v1/txauth/page/answer", "Confirm "+tok, wrong); code != 409 || !strings.Contains(body, "txauth-replay") {
		t.Errorf("replayed answer = %d %s, want 409 txauth-replay", code, body)
	}
	if code, _ = page("POST", "/v1/txauth/page/answer", "Confirm "+tok, `{"challenge":"x","picks":["a"],"extra":1}`); code != 400 {
		t.Errorf("malformed answer = %d, want 400", code)
	}
	if code, _ = page("POST", "/v1/txauth/page/answer", "Confirm "+tok, strings.Repeat("x", 8<<10)); code != 413 && code != 400 {
		t.Errorf("oversized answer = %d, want 413 or 400", code)
	}
	_, body = page("POST", "/v1/txauth/page", "Confirm "+tok, "{}")
	jsonUnmarshal(body, &v)
	right, _ = holder.HolderPicks(ctx, ca.tenantID, v.Challenge.ID)
	ok := `{"challenge":"` + v.Challenge.ID + `","picks":["` + right[0] + `","` + right[1] + `"]}`
	if code, body = page("POST", "/v1/txauth/page/answer", "Confirm "+tok, ok); code != 200 || !strings.Contains(body, `"state":"confirmed"`) {
		t.Fatalf("right answer = %d %s", code, body)
	}
	jws := string(ca.raw(t, ctx, "GET", "/v1/txauth/confirmations/"+act.ID+"/result"))
	res, err := txauth.VerifyResult(jws, ca.raw(t, ctx, "GET", "/.well-known/jwks.json"))
	if err != nil || res.Outcome != txauth.StateConfirmed || res.Audience != ca.tenantID {
		t.Errorf("result = %+v, %v", res, err)
	}
	// Decoupled confirmation started by the page's QR code (tenant B,
	// whose policy asks for the registered device).
	pd := txauth.ExamplePolicy()
	pd.UnusualHours, pd.Require = [2]int{0, 0}, []txauth.Factor{txauth.FactorDevice}
	if err := cb.call(ctx, "PUT", "/v1/txauth/policy", pd, nil); err != nil {
		t.Fatal(err)
	}
	insertApprovedSession(t, a, cb.tenantID, "ses_e2eapiqr000001", "C-QR")
	var cuB struct{ ID string }
	if err := cb.call(ctx, "POST", "/v1/customers", map[string]string{"session": "ses_e2eapiqr000001", "reference": "C-QR"}, &cuB); err != nil {
		t.Fatal(err)
	}
	dk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&dk.PublicKey)
	var dev struct{ Token string }
	if err := cb.call(ctx, "POST", "/v1/txauth/devices", map[string]any{"customer": cuB.ID, "name": "phone", "public_key": der}, &dev); err != nil {
		t.Fatal(err)
	}
	var qc struct {
		ID         string `json:"id"`
		ConfirmURL string `json:"confirm_url"`
	}
	if err := cb.call(ctx, "POST", "/v1/txauth/confirmations", map[string]any{"customer": cuB.ID, "transaction": sampleTransaction()}, &qc); err != nil {
		t.Fatal(err)
	}
	_, qtok, _ := strings.Cut(qc.ConfirmURL, "#t=")
	if code, body := page("GET", "/v1/txauth/page/device/qr", "Confirm "+qtok, ""); code != 200 || !strings.HasPrefix(body, "\x89PNG") {
		t.Errorf("device QR = %d, want a PNG", code)
	}
	if code, _ := page("GET", "/v1/txauth/page/device/qr", "Confirm "+tok, ""); code != 422 && code != 409 {
		t.Errorf("device QR of a confirmation without the device factor = %d, want a refusal", code)
	}
	code2, _, err := holder.DeviceQR(ctx, qtok) // what the phone's camera reads (voids the page's)
	if err != nil {
		t.Fatal(err)
	}
	scan := func(auth, code string) (int, string) {
		return page("POST", "/v1/txauth/device/scan", auth, `{"code":"`+code+`"}`)
	}
	if c, _ := scan("Device AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", code2); c != 401 {
		t.Errorf("scan by an unknown device = %d, want 401", c)
	}
	if c, _ := scan("Device "+dev.Token, "MDGTX1:not-a-code"); c != 400 {
		t.Errorf("scan of a malformed code = %d, want 400", c)
	}
	c, body := scan("Device "+dev.Token, code2)
	var pend txauth.Pending
	if c != 200 || jsonUnmarshal(body, &pend) != nil || pend.Confirmation != qc.ID {
		t.Fatalf("scan = %d %s", c, body)
	}
	if c, body := scan("Device "+dev.Token, code2); c != 409 || !strings.Contains(body, "txauth-replay") {
		t.Errorf("second scan = %d %s, want 409 txauth-replay", c, body)
	}
	h, _ := base64.RawURLEncoding.DecodeString(pend.Hash)
	n, _ := base64.RawURLEncoding.DecodeString(pend.Nonce)
	d := txauth.DeviceChallenge([32]byte(h), n, txauth.DeviceApprove)
	sig, _ := ecdsa.SignASN1(rand.Reader, dk, d[:])
	dj, _ := json.Marshal(map[string]any{"decision": txauth.DeviceApprove, "signature": sig})
	if c, body := page("POST", "/v1/txauth/device/confirmations/"+qc.ID, "Device "+dev.Token, string(dj)); c != 200 || !strings.Contains(body, `"state":"confirmed"`) {
		t.Errorf("device decision after the scan = %d %s", c, body)
	}

	// A transaction with an invalid payee is refused field by field.
	bad := sampleTransaction()
	bad.Payee.NameKana = "山田"
	if got := status(ca.call(ctx, "POST", "/v1/txauth/confirmations", map[string]any{"customer": cu.ID, "transaction": bad}, nil)); got != 400 {
		t.Errorf("kanji payee name = %d, want 400", got)
	}
}

func sampleTransaction() txauth.Transaction {
	return txauth.Transaction{AmountJPY: 1000, Payee: txauth.Payee{BankCode: "0001", BranchCode: "001", AccountType: "ordinary",
		AccountNumber: "1234567", NameKana: "ヤマダ　タロウ"}, Channel: "web"}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
