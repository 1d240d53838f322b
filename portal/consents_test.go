package portal

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/oauth"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
	"github.com/madoguchi/madoguchi/tenant"
)

// oauthEnv is the real authorization server (package oauth) on the
// portal's store, audit log and vault, with the development customer step:
// consents are made by the real flow (PAR with private_key_jwt, the
// authorization endpoint, the customer's approval).
type oauthEnv struct {
	srv     *oauth.Server
	h       http.Handler
	reg     *tenant.Registry
	clients map[string]oauthClient // tenant -> its partner
}

type oauthClient struct {
	id  string
	key *ecdsa.PrivateKey
}

const (
	oauthIssuer   = "https://portal.test"
	oauthRedirect = "https://partner.example/cb"
)

func (e *env) withOAuth() {
	e.t.Helper()
	is, err := tenant.NewIssuer(e.db, e.audit, tenant.IssuerConfig{Audiences: oauth.Audiences(oauthIssuer), Now: e.clock.Now})
	if err != nil {
		e.t.Fatal(err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sg, err := oauth.NewSigner(k)
	if err != nil {
		e.t.Fatal(err)
	}
	dev, _ := oauth.NewDevCustomers(false)
	srv, err := oauth.New(oauth.Config{Issuer: oauthIssuer, DB: e.db, Audit: e.audit, Clients: is, Sealer: e.vault, Signer: sg,
		Customers: dev, Now: e.clock.Now})
	if err != nil {
		e.t.Fatal(err)
	}
	mux := http.NewServeMux()
	for p, h := range srv.Routes() {
		mux.Handle(p, h)
	}
	e.oauth = &oauthEnv{srv: srv, h: mux, reg: tenant.NewRegistry(e.db, e.audit), clients: map[string]oauthClient{}}
	e.cfg.Consents, e.cfg.Partners = srv, srv
}

// partner is tenantID's active partner client (made once).
func (e *env) partner(tenantID string) oauthClient {
	e.t.Helper()
	if c, ok := e.oauth.clients[tenantID]; ok {
		return c
	}
	ctx := context.Background()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := key.PublicKey.Bytes()
	b64 := base64.RawURLEncoding
	jwks := `{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"` + b64.EncodeToString(pub[1:33]) + `","y":"` + b64.EncodeToString(pub[33:]) + `"}]}`
	sys := tenant.Actor{Kind: audit.ActorSystem, ID: "test"}
	var c tenant.Client
	if err := e.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		c, err = e.oauth.reg.CreateClientTx(ctx, tx, sys, tenantID, tenant.ClientSpec{Name: "partner of " + tenantID, Scopes: []string{"accounts:read"}, JWKS: jwks})
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	s := e.oauth.srv
	a1, a2 := oauth.Actor{Kind: audit.ActorStaff, ID: "st_a1"}, oauth.Actor{Kind: audit.ActorStaff, ID: "st_a2"}
	if _, err := s.RegisterClient(ctx, a1, tenantID, c.ID, oauth.ProfileSpec{RedirectURIs: []string{oauthRedirect},
		GrantTypes: []string{oauth.GrantAuthorizationCode}, RARTypes: []string{oauth.DetailTransfer}}); err != nil {
		e.t.Fatal(err)
	}
	for _, area := range oauth.CriteriaAreas {
		if err := s.SetAssessmentItem(ctx, a1, nil, tenantID, c.ID, area, oauth.ItemNotApplicable, "test", "", nil); err != nil {
			e.t.Fatal(err)
		}
	}
	if _, err := s.SignOff(ctx, a2, tenantID, c.ID); err != nil {
		e.t.Fatal(err)
	}
	payload, err := s.ActivationPayload(ctx, tenantID, c.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	ap := staff.Approval{ID: "ap_" + c.ID, Kind: oauth.KindActivate, Payload: payload, Requester: a1.ID, TenantID: tenantID}
	if err := e.db.InTx(ctx, func(tx *store.Tx) error {
		return s.ActivationExecutor().Run(ctx, tx, ap, staff.Actor{Kind: audit.ActorStaff, ID: a2.ID})
	}); err != nil {
		e.t.Fatal(err)
	}
	oc := oauthClient{id: c.ID, key: key}
	e.oauth.clients[tenantID] = oc
	return oc
}

// assertion is a private_key_jwt client assertion.
func (e *env) assertion(c oauthClient) string {
	b64 := base64.RawURLEncoding
	now := e.clock.Now().Unix()
	h, _ := json.Marshal(map[string]any{"alg": "ES256", "kid": "k1"})
	cl, _ := json.Marshal(map[string]any{"iss": c.id, "sub": c.id, "aud": oauthIssuer, "jti": rand.Text(), "iat": now, "exp": now + 60})
	in := b64.EncodeToString(h) + "." + b64.EncodeToString(cl)
	d := sha256.Sum256([]byte(in))
	r, s, err := ecdsa.Sign(rand.Reader, c.key, d[:])
	if err != nil {
		e.t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return in + "." + b64.EncodeToString(sig)
}

func (e *env) oauthDo(req *http.Request) *http.Response {
	w := httptest.NewRecorder()
	e.oauth.h.ServeHTTP(w, req)
	return w.Result()
}

var interactionRE = regexp.MustCompile(`name="interaction" value="([^"]+)"`)

// consent has customer approve a transfer of amount yen to tenantID's
// partner through the real flow and returns the consent's id.
func (e *env) consent(tenantID, customer, amount string) string {
	e.t.Helper()
	c := e.partner(tenantID)
	d := sha256.Sum256([]byte("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"))
	details := `[{"type":"jp_bank_transfer","amount":"` + amount + `","currency":"JPY","payee":{"bank_code":"0001","branch_code":"123","account_type":"ordinary","account_number":"1234567","name":"ﾃｽﾄ ﾀﾛｳ"},"purpose":"rent"}]`
	form := url.Values{"client_id": {c.id}, "client_assertion_type": {tenant.ClientAssertionType}, "client_assertion": {e.assertion(c)},
		"response_type": {"code"}, "redirect_uri": {oauthRedirect}, "scope": {"accounts:read"}, "state": {"st"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(d[:])}, "code_challenge_method": {"S256"}, "authorization_details": {details}}
	req := httptest.NewRequest(http.MethodPost, oauthIssuer+oauth.PathPAR, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp := e.oauthDo(req)
	var par struct {
		RequestURI string `json:"request_uri"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &par) != nil {
		e.t.Fatalf("PAR = %d %s", resp.StatusCode, b)
	}
	resp = e.oauthDo(httptest.NewRequest(http.MethodGet, oauthIssuer+oauth.PathAuthorize+"?"+url.Values{"client_id": {c.id}, "request_uri": {par.RequestURI}}.Encode(), nil))
	b, _ = io.ReadAll(resp.Body)
	m := interactionRE.FindSubmatch(b)
	if resp.StatusCode != http.StatusOK || m == nil {
		e.t.Fatalf("authorize = %d %s", resp.StatusCode, b)
	}
	req = httptest.NewRequest(http.MethodPost, oauthIssuer+oauth.PathDecide,
		strings.NewReader(url.Values{"interaction": {string(m[1])}, "customer": {customer}, "decision": {"approve"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, ck := range resp.Cookies() {
		req.AddCookie(ck)
	}
	if resp = e.oauthDo(req); resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("decide = %d", resp.StatusCode)
	}
	cs, err := e.oauth.srv.Consents(context.Background(), oauth.Viewer{Kind: audit.ActorSystem}, tenantID, oauth.ConsentFilter{Subject: customer})
	if err != nil || len(cs) == 0 {
		e.t.Fatalf("no consent recorded: %v", err)
	}
	return cs[0].ID
}

// TestConsentPages drives the consents pages against the real
// authorization server on both stores: a tenant's reviewers and admins see
// their tenant's consents (client, pseudonym, the transfer, status) and
// never another tenant's; only an admin revokes, after a recent sign-in,
// and only the tenant's own (another tenant's id is 404, as is an unknown
// one); the revocation is audited with the person and stops the consent.
func TestConsentPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnvOn(t, db)
		ctx := context.Background()
		ga := e.consent("tn_a", "cust-a1", "125000")
		gb := e.consent("tn_b", "cust-b1", "9900")
		pseudonym := oauth.CustomerViewer("tn_a", "cust-a1").ID

		ar, aa, ba := e.signedIn("a-reviewer"), e.signedIn("a-admin"), e.signedIn("b-admin")
		for _, tc := range []struct {
			who        *browser
			target     string
			status     int
			want, not  []string
			revokeForm bool
		}{
			{ar, "/consents", 200, []string{ga, pseudonym, e.partner("tn_a").id, "¥125000", "0001-123 ordinary 1234567", "rent"}, []string{gb, "cust-a1", "/revoke"}, false},
			{aa, "/consents", 200, []string{ga, "/portal/consents/" + ga + "/revoke"}, []string{gb}, true},
			{aa, "/consents?client=" + e.partner("tn_b").id, 200, nil, []string{gb, ga}, false},
			{aa, "/consents?client=" + e.partner("tn_a").id, 200, []string{ga}, nil, true},
			{ba, "/consents", 200, []string{gb}, []string{ga}, true},
			{aa, "/consents?client=a&client=b", 400, nil, nil, false},
			{aa, "/consents?client=" + strings.Repeat("c", 129), 400, nil, nil, false},
			{e.signedIn("a-auditor"), "/consents", 403, nil, nil, false},
			{e.signedIn("op-admin"), "/consents", 403, nil, nil, false},
		} {
			r := tc.who.get(Prefix + tc.target)
			if r.status != tc.status {
				t.Errorf("GET %s = %d, want %d", tc.target, r.status, tc.status)
				continue
			}
			for _, w := range tc.want {
				if !strings.Contains(r.body, w) {
					t.Errorf("GET %s does not show %q", tc.target, w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(r.body, n) {
					t.Errorf("GET %s shows %q", tc.target, n)
				}
			}
		}
		if len(e.audit.find("oauth.consent.list", audit.OutcomeOK)) == 0 {
			t.Error("listing consents is not audited")
		}

		for _, tc := range []struct {
			name string
			who  *browser
			id   string
			code int
		}{
			{"reviewer", ar, ga, http.StatusForbidden},
			{"another tenant's admin", ba, ga, http.StatusNotFound},
			{"unknown id", aa, "gr_unknown", http.StatusNotFound},
			{"overlong id", aa, strings.Repeat("g", 129), http.StatusNotFound},
		} {
			if r := tc.who.post(Prefix+"/consents/"+tc.id+"/revoke", url.Values{}); r.status != tc.code {
				t.Errorf("%s: POST revoke = %d, want %d", tc.name, r.status, tc.code)
			}
		}
		// A session older than the re-authentication window goes to re-authenticate first.
		e.clock.Add(6 * 60e9)
		if r := aa.post(Prefix+"/consents/"+ga+"/revoke", url.Values{}); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), Prefix+"/reauth") {
			t.Errorf("stale session: POST revoke = %d → %q, want 303 to /reauth", r.status, r.header.Get("Location"))
		}
		aa = e.signedIn("a-admin")
		if r := aa.post(Prefix+"/consents/"+ga+"/revoke", url.Values{}); r.status != http.StatusSeeOther || r.header.Get("Location") != Prefix+"/consents" {
			t.Fatalf("admin: POST revoke = %d → %q", r.status, r.header.Get("Location"))
		}
		for _, tc := range []struct{ tenant, id, status string }{{"tn_a", ga, oauth.ConsentRevoked}, {"tn_b", gb, oauth.ConsentActive}} {
			cs, err := e.oauth.srv.Consents(ctx, oauth.Viewer{Kind: audit.ActorSystem}, tc.tenant, oauth.ConsentFilter{})
			if err != nil || len(cs) != 1 || cs[0].ID != tc.id || cs[0].Status != tc.status {
				t.Errorf("%s consents after the revocation = %+v, %v; want %s %s", tc.tenant, cs, err, tc.id, tc.status)
			}
		}
		revokes := e.audit.find("oauth.consent.revoke", audit.OutcomeOK)
		if len(revokes) != 1 || revokes[0].ActorKind != audit.ActorStaff || revokes[0].ActorID != e.people["a-admin"].id || revokes[0].Object != ga {
			t.Errorf("audit oauth.consent.revoke = %+v, want one for %s by a-admin", revokes, ga)
		}
		if r := aa.get(Prefix + "/consents"); strings.Contains(r.body, "/portal/consents/"+ga+"/revoke") || !strings.Contains(r.body, e.msg("consent.status.revoked")) {
			t.Errorf("the list after revocation still offers it, or does not say revoked")
		}
		// Revoking again is harmless (the service leaves it as it is).
		if r := aa.post(Prefix+"/consents/"+ga+"/revoke", url.Values{}); r.status != http.StatusSeeOther {
			t.Errorf("second revoke = %d, want 303", r.status)
		}
		if n := len(e.audit.find("oauth.consent.revoke", "")); n != 1 {
			t.Errorf("%d revoke audit entries after a second revoke, want 1", n)
		}
	})
}
