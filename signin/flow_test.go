package signin

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/oauth"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
	"github.com/madoguchi/madoguchi/txauth"
)

const transferJSON = `[{"type":"jp_bank_transfer","amount":"123456","currency":"JPY","payee":{"bank_code":"0001","branch_code":"001",` +
	`"account_type":"ordinary","account_number":"1234567","name":"ヤマダ タロウ"},"purpose":"家賃"}]`

// TestAuthorizationCodeFlow runs the whole flow through HTTP: PAR, the
// authorization endpoint, the customer's reference, txauth's confirmation
// with a real passkey ceremony (a software authenticator), the code, the
// token endpoint with DPoP, and the ID token's acr/amr. A sign-in binds the
// interaction; a transfer binds amount and payee (dynamic linking).
func TestAuthorizationCodeFlow(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		cu, pk := e.customer(e.tenantA, "C-100")
		c := e.partner(e.tenantA, oauth.GrantAuthorizationCode)
		for _, tc := range []struct {
			name    string
			extra   url.Values
			kind    txauth.Kind
			wantACR string
		}{
			{"sign-in", nil, txauth.KindSignIn, ACRCustomer},
			{"transfer", url.Values{"authorization_details": {transferJSON}, "scope": {"openid transfers:write"}}, txauth.KindTransaction, ACRLinked},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := e.authorizePage(c, e.par(c, tc.extra))
				ix := p.interaction()
				if p.status != 200 || ix == "" || !strings.Contains(p.body, `name="customer"`) {
					t.Fatalf("authorize = %d, want the consent page asking for the customer number:\n%s", p.status, p.body)
				}
				p = e.submit(oauth.PathDecide, ix, url.Values{FieldCustomer: {"C-100"}})
				link := p.confirmURL()
				if p.status != 200 || link == "" || strings.Contains(p.body, `role="alert"`) {
					t.Fatalf("after the customer number = %d, want the link to the confirmation page and no error:\n%s", p.status, p.body)
				}
				// Approve before the factor: still pending, nothing issued.
				if p = e.submit(oauth.PathDecide, ix, nil); p.status != 200 || p.confirmURL() != link {
					t.Fatalf("approve before the factor = %d %q, want the same page again", p.status, p.location)
				}
				if err := e.passkey(pk, link, false); err != nil {
					t.Fatalf("passkey = %v", err)
				}
				p = e.submit(oauth.PathDecide, ix, nil)
				u, err := url.Parse(p.location)
				if p.status != 303 || err != nil || u.Query().Get("code") == "" || u.Query().Get("iss") != e.base {
					t.Fatalf("approve = %d %q, want 303 with code and iss", p.status, p.location)
				}
				r := e.token(c, newDPoP(), url.Values{"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")},
					"redirect_uri": {redirect}, "code_verifier": {verifier}})
				if r.status != 200 {
					t.Fatalf("token = %d %s", r.status, r.raw)
				}
				id := e.idClaims(r.body["id_token"].(string))
				amr, _ := id["amr"].([]any)
				if id["sub"] != cu.ID || id["acr"] != tc.wantACR || id["nonce"] != "n-0S6_WzA2Mj" ||
					!slices.Equal(amr, []any{"pop", "user"}) {
					t.Errorf("ID token sub %v acr %v amr %v nonce %v; want %s, %s, [pop user]", id["sub"], id["acr"], id["amr"], id["nonce"], cu.ID, tc.wantACR)
				}
				// The confirmation behind it is the kind the request called for.
				var kind string
				if err := db.QueryRow(e.ctx, `SELECT kind FROM signin_confirmations WHERE interaction_hash = ?`, bindingOf(ix)).Scan(&kind); err != nil || kind != string(tc.kind) {
					t.Errorf("bound confirmation kind = %q, %v; want %s", kind, err, tc.kind)
				}
			})
		}
	})
}

func bindingOf(ix string) []byte { b := Binding(ix); return b[:] }

// TestCIBAFlow: the partner names the customer (login_hint); the device
// page asks nothing and opens nothing; the customer's Approve opens the confirmation; the customer approves with their
// passkey on the device; the poll returns tokens whose ID token carries
// the acr/amr of the factor. A device page opened for another customer's
// hint shows no confirmation.
func TestCIBAFlow(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		cu, pk := e.customer(e.tenantA, "C-200")
		c := e.partner(e.tenantA, oauth.GrantCIBA)
		d := newDPoP()
		r := e.post(oauth.PathCIBA, merge(e.clientAuth(c), url.Values{"scope": {"openid"}, "login_hint": {"C-200"},
			"binding_message": {"K7-42"}, "authorization_details": {transferJSON}}), nil)
		if r.status != 200 {
			t.Fatalf("backchannel = %d %s", r.status, r.raw)
		}
		authReq := r.body["auth_req_id"].(string)
		poll := func() reply {
			return e.token(c, d, url.Values{"grant_type": {oauth.GrantCIBA}, "auth_req_id": {authReq}})
		}
		if r := poll(); r.body["error"] != "authorization_pending" {
			t.Fatalf("poll before the customer = %d %s, want authorization_pending", r.status, r.raw)
		}
		p := e.get(e.inbox.url("C-200"))
		ix := p.interaction()
		if p.status != 200 || ix == "" || p.confirmURL() != "" || strings.Contains(p.body, `name="customer"`) || !strings.Contains(p.body, "K7-42") {
			t.Fatalf("device page = %d, want the binding message, no customer number and no confirmation yet:\n%s", p.status, p.body)
		}
		// The customer's first Approve opens the confirmation.
		link := e.submit(oauth.PathDevice, ix, nil).confirmURL()
		if link == "" {
			t.Fatal("Approve on the device page showed no confirmation link")
		}
		if err := e.passkey(pk, link, false); err != nil {
			t.Fatalf("passkey = %v", err)
		}
		e.clk.advance(6 * 1e9) // the poll interval
		if p = e.submit(oauth.PathDevice, ix, nil); p.status != 200 || !strings.Contains(p.body, "承認しました") {
			t.Fatalf("device approve = %d:\n%s", p.status, p.body)
		}
		r = poll()
		if r.status != 200 {
			t.Fatalf("poll after approval = %d %s", r.status, r.raw)
		}
		id := e.idClaims(r.body["id_token"].(string))
		if id["sub"] != cu.ID || id["acr"] != ACRLinked {
			t.Errorf("ID token sub %v acr %v, want %s %s", id["sub"], id["acr"], cu.ID, ACRLinked)
		}

		// A hint that names nobody: the device page says verification
		// could not start, links nowhere, and Approve is refused.
		r = e.post(oauth.PathCIBA, merge(e.clientAuth(c), url.Values{"scope": {"openid"}, "login_hint": {"C-nobody"},
			"binding_message": {"X0-00"}}), nil)
		if r.status != 200 {
			t.Fatalf("backchannel(unknown hint) = %d %s", r.status, r.raw)
		}
		p = e.get(e.inbox.url("C-nobody"))
		if p.status != 200 || strings.Contains(p.body, `id="customer-step"`) || !strings.Contains(p.body, `id="customer-step-text"`) {
			t.Fatalf("device page (unknown hint) = %d, want a notice and no link:\n%s", p.status, p.body)
		}
		if p = e.submit(oauth.PathDevice, p.interaction(), nil); !strings.Contains(p.body, `role="alert"`) || strings.Contains(p.body, "承認しました") {
			t.Errorf("approve (unknown hint) = %d, want the refusal:\n%s", p.status, p.body)
		}
	})
}

// TestCIBADecoupledDevice: the tenant's policy confirms transfers on the
// customer's registered device (txauth's decoupled approval). The device
// shows the server's copy of the transfer the partner pushed, signs it,
// and the CIBA poll then returns tokens whose acr says the transfer was
// confirmed with a linking factor.
func TestCIBADecoupledDevice(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		cu, _ := e.customer(e.tenantA, "C-400")
		p, _, err := e.tx.Policy(e.ctx, e.tenantA)
		if err != nil {
			t.Fatal(err)
		}
		p.Require = []txauth.Factor{txauth.FactorDevice}
		if _, err := e.tx.SetPolicy(e.ctx, txauth.System, e.tenantA, p); err != nil {
			t.Fatal(err)
		}
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
		phone, err := e.tx.RegisterDevice(e.ctx, txauth.Actor{Kind: "client", ID: "cl_test"}, e.tenantA, cu.ID, "iPhone", der)
		if err != nil {
			t.Fatal(err)
		}
		c := e.partner(e.tenantA, oauth.GrantCIBA)
		r := e.post(oauth.PathCIBA, merge(e.clientAuth(c), url.Values{"scope": {"openid"}, "login_hint": {"C-400"},
			"binding_message": {"Q9-17"}, "authorization_details": {transferJSON}}), nil)
		if r.status != 200 {
			t.Fatalf("backchannel = %d %s", r.status, r.raw)
		}
		ix := e.get(e.inbox.url("C-400")).interaction()
		pg := e.submit(oauth.PathDevice, ix, nil) // the customer starts: the confirmation opens
		if pg.status != 200 || ix == "" || pg.confirmURL() == "" {
			t.Fatalf("device page = %d:\n%s", pg.status, pg.body)
		}
		pend, err := e.tx.DevicePending(e.ctx, phone.Token)
		if err != nil || len(pend) != 1 {
			t.Fatalf("DevicePending = %+v, %v; want the one transfer", pend, err)
		}
		x := pend[0]
		if x.Transaction.AmountJPY != 123456 || x.Transaction.Payee.AccountNumber != "1234567" {
			t.Fatalf("the device shows %+v, want the partner's amount and payee", x.Transaction)
		}
		h, _ := base64.RawURLEncoding.DecodeString(x.Hash)
		nonce, _ := base64.RawURLEncoding.DecodeString(x.Nonce)
		d := txauth.DeviceChallenge([32]byte(h), nonce, txauth.DeviceApprove)
		sig, err := ecdsa.SignASN1(rand.Reader, key, d[:])
		if err != nil {
			t.Fatal(err)
		}
		if cf, err := e.tx.DeviceDecide(e.ctx, phone.Token, x.Confirmation, txauth.DeviceApprove, sig); err != nil || cf.State != txauth.StateConfirmed {
			t.Fatalf("DeviceDecide = %+v, %v", cf, err)
		}
		if pg = e.submit(oauth.PathDevice, ix, nil); pg.status != 200 || !strings.Contains(pg.body, "承認しました") {
			t.Fatalf("device approve = %d:\n%s", pg.status, pg.body)
		}
		r = e.token(c, newDPoP(), url.Values{"grant_type": {oauth.GrantCIBA}, "auth_req_id": {r.body["auth_req_id"].(string)}})
		if r.status != 200 {
			t.Fatalf("poll = %d %s", r.status, r.raw)
		}
		id := e.idClaims(r.body["id_token"].(string))
		amr, _ := id["amr"].([]any)
		if id["sub"] != cu.ID || id["acr"] != ACRLinked || !slices.Equal(amr, []any{"pop"}) {
			t.Errorf("ID token sub %v acr %v amr %v, want %s %s [pop]", id["sub"], id["acr"], id["amr"], cu.ID, ACRLinked)
		}
	})
}
