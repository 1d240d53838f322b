package signin

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
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
	"github.com/madoguchi/madoguchi/internal/webauthntest"
	"github.com/madoguchi/madoguchi/notify"
	"github.com/madoguchi/madoguchi/oauth"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/tenant"
	"github.com/madoguchi/madoguchi/txauth"
	"github.com/madoguchi/madoguchi/vault"
	"github.com/madoguchi/madoguchi/vault/vaulttest"
)

// The harness is a real server: SQLite or PostgreSQL, the audit log, the
// vault, eKYC customers, txauth with its passkey factor, and the
// authorization server with this package's Authenticator behind an
// httptest TLS server. The customer's authenticator is software
// (internal/webauthntest) answering txauth's real WebAuthn ceremonies.

// txOrigin is txauth's public URL: the WebAuthn RP ID needs a host name,
// not the test server's IP; the tests take the page token from the
// confirmation URL and call txauth's page operations as the page does.
const txOrigin = "https://madoguchi.test"

// clock is the real time plus an offset (client assertions are checked
// against it), shared by every component.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.off) }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

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

type txNotifier struct{ n *notify.Notifier }

func (a txNotifier) Notify(ctx context.Context, tx *store.Tx, m txauth.Notification) error {
	_, err := a.n.Enqueue(ctx, tx, notify.Event{ID: m.EventID, Kind: m.Type, Tenant: m.TenantID, URL: m.URL,
		ContentType: "application/jwt", Body: []byte(m.Payload), Subject: m.Subject})
	return err
}

// inbox is the customer's device in the CIBA tests: the last device-page
// URL per login_hint.
type inbox struct {
	mu   sync.Mutex
	urls map[string]string
}

func (b *inbox) Notify(_ context.Context, n oauth.CIBANotice) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.urls[n.LoginHint] = n.URL
	return nil
}

func (b *inbox) url(hint string) string { b.mu.Lock(); defer b.mu.Unlock(); return b.urls[hint] }

type env struct {
	t       testing.TB
	ctx     context.Context
	db      *store.DB
	clk     *clock
	ekyc    *ekyc.Service
	tx      *txauth.Service
	authn   *Authenticator
	srv     *oauth.Server
	reg     *tenant.Registry
	idKey   *ecdsa.PrivateKey
	base    string
	http    *http.Client
	inbox   *inbox
	signer  *ekyc.Signer
	notify  txauth.Notifier
	vault   *vault.Vault
	tenantA string
	tenantB string
}

// envOption adjusts the eKYC and txauth configurations before they are
// built (the face engine, the JPKI verifier).
type envOption func(clk *clock, ec *ekyc.Config, tc *txauth.Config)

func newEnv(t testing.TB, db *store.DB, opts ...envOption) *env {
	t.Helper()
	ctx := context.Background()
	st := vaulttest.New(t, db)
	al, bs, v := st.Audit, st.Blobs, st.Vault
	rk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rs, err := ekyc.NewSigner(rk)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{}
	_, wk, _ := ed25519.GenerateKey(rand.Reader)
	ws, err := notify.NewSigner(wk)
	if err != nil {
		t.Fatal(err)
	}
	nt, err := notify.New(notify.Config{DB: db, Audit: al, Vault: v, Signer: ws, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	reuse, err := ekyc.NewReuseKey(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	ec := ekyc.Config{DB: db, Audit: al, Vault: v, Blobs: bs, Face: noFace{}, Chips: noChips{}, Signer: rs, Notify: nt,
		ChipReuseKey: reuse, PublicURL: txOrigin, Now: clk.now}
	dk, err := fraud.NewKey(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	tc := txauth.Config{DB: db, Audit: al, Vault: v, Signer: rs, Notifier: txNotifier{nt}, Digests: dk, PublicURL: txOrigin, Now: clk.now}
	for _, o := range opts {
		o(clk, &ec, &tc)
	}
	es, err := ekyc.New(ec)
	if err != nil {
		t.Fatal(err)
	}
	tc.Customers = es
	if tc.Face != nil {
		tc.Selfies = es
	}
	if tc.JPKI != nil {
		tc.JPKIReauth = es
	}
	ts, err := txauth.New(tc)
	if err != nil {
		t.Fatal(err)
	}
	authn, err := New(Config{DB: db, Audit: al, Vault: v, Confirmations: ts, Customers: es, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	var handler http.Handler
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	hs.StartTLS()
	t.Cleanup(hs.Close)
	is, err := tenant.NewIssuer(db, al, tenant.IssuerConfig{Audiences: oauth.Audiences(hs.URL), Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	idKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sg, err := oauth.NewSigner(idKey)
	if err != nil {
		t.Fatal(err)
	}
	ib := &inbox{urls: map[string]string{}}
	srv, err := oauth.New(oauth.Config{Issuer: hs.URL, DB: db, Audit: al, Clients: is, Sealer: v, Signer: sg, Customers: authn,
		CIBANotifier: ib, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for p, h := range srv.Routes() {
		mux.Handle(p, h)
	}
	handler = mux
	jar, _ := cookiejar.New(nil)
	hc := hs.Client()
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	e := &env{t: t, ctx: ctx, db: db, clk: clk, ekyc: es, tx: ts, authn: authn, srv: srv, reg: tenant.NewRegistry(db, al),
		idKey: idKey, base: hs.URL, http: hc, inbox: ib, signer: rs, notify: txNotifier{nt}, vault: v}
	for i := range 2 {
		tn, err := e.reg.CreateTenant(ctx, tenant.Actor{Kind: audit.ActorSystem, ID: "test"}, fmt.Sprintf("bank-%d-%d", i, seq.Add(1)))
		if err != nil {
			t.Fatal(err)
		}
		p := txauth.ExamplePolicy()
		p.Require = []txauth.Factor{txauth.FactorPasskey}
		p.SignIn = []txauth.Factor{txauth.FactorPasskey}
		p.UnusualHours = [2]int{0, 0}
		p.VelocityMax, p.VelocityWindowSeconds = 0, 0
		p.Webhook = "https://bank.example/txauth-events"
		if _, err := ts.SetPolicy(ctx, txauth.System, tn.ID, p); err != nil {
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

var seq atomic.Int64

// customer makes a verified customer of the tenant (an approved eKYC
// session written as ekyc's decision writes it) with a registered passkey
// on a new software authenticator.
func (e *env) customer(tenantID, reference string) (*ekyc.Customer, *webauthntest.Authenticator) {
	e.t.Helper()
	n := seq.Add(1)
	sid := fmt.Sprintf("ses_signintest%06d", n)
	now := store.Micros(e.clk.now())
	err := e.db.InTx(e.ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(e.ctx, `INSERT INTO ekyc_sessions (id, tenant_id, client_id, method, reference, webhook, locale,
			subject, state, outcome, version, policy_version, nonce, challenge, token_hash, token_expires, token_used,
			key_hash, frame_nonce, frame_nonce_at, frame_seq, created_at, expires_at, updated_at, submitted_at, decided_at,
			decision, claims, reviewer, claim_expires)
			VALUES (?, ?, 'cl_test', ?, ?, '', 'ja', ?, 'decided', 'approved', 3, 1, ?, '[]', ?, 0, 1, NULL, NULL, 0, 0, ?, ?, ?, ?, ?, '', NULL, '', 0)`,
			sid, tenantID, ekyc.CodeHe, reference, "sub_"+sid, []byte("nonce"), []byte(sid), now, now, now, now, now)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	cu, err := e.ekyc.CreateCustomer(e.ctx, ekyc.Actor{Kind: audit.ActorClient, ID: "cl_test"}, tenantID, sid, reference)
	if err != nil {
		e.t.Fatalf("CreateCustomer = %v", err)
	}
	return cu, e.registerPasskey(tenantID, cu.ID)
}

// passkey completes a passkey ceremony on the confirmation page of
// confirmURL, as the page's script does with navigator.credentials.
func (e *env) passkey(a *webauthntest.Authenticator, confirmURL string, register bool) error {
	e.t.Helper()
	_, tok, ok := strings.Cut(confirmURL, "#t=")
	if !ok {
		e.t.Fatalf("confirmation URL without a token")
	}
	opts, err := e.tx.PasskeyBegin(e.ctx, tok)
	if err != nil {
		return err
	}
	var resp []byte
	if register {
		resp, err = a.Create(opts)
	} else {
		resp, err = a.Get(opts)
	}
	if err != nil {
		return err
	}
	v, err := e.tx.PasskeyFinish(e.ctx, tok, resp)
	if err != nil {
		return err
	}
	if v.State != txauth.StateConfirmed {
		return fmt.Errorf("confirmation is %s after the passkey", v.State)
	}
	return nil
}

// pclient is a partner client with its signing key.
type pclient struct {
	id, tenant string
	key        *ecdsa.PrivateKey
}

const redirect = "https://partner.example/cb"

func (e *env) partner(tenantID string, grants ...string) pclient {
	e.t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := key.PublicKey.Bytes()
	jwks := `{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"` + b64(pub[1:33]) + `","y":"` + b64(pub[33:]) + `"}]}`
	var c tenant.Client
	if err := e.db.InTx(e.ctx, func(tx *store.Tx) error {
		var err error
		c, err = e.reg.CreateClientTx(e.ctx, tx, tenant.Actor{Kind: audit.ActorSystem, ID: "test"}, tenantID,
			tenant.ClientSpec{Name: fmt.Sprintf("partner %d", seq.Add(1)), Scopes: []string{"accounts:read", "transfers:write"}, JWKS: jwks})
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	spec := oauth.ProfileSpec{RedirectURIs: []string{redirect}, GrantTypes: grants,
		RARTypes: []string{oauth.DetailTransfer, oauth.DetailAccounts}, RateClient: 10000}
	for _, g := range grants {
		if g == oauth.GrantCIBA {
			spec.CIBAMode = "poll"
		}
	}
	by := func(id string) oauth.Actor { return oauth.Actor{Kind: audit.ActorStaff, ID: id} }
	if _, err := e.srv.RegisterClient(e.ctx, by("a1"), tenantID, c.ID, spec); err != nil {
		e.t.Fatal(err)
	}
	for _, area := range oauth.CriteriaAreas {
		if err := e.srv.SetAssessmentItem(e.ctx, by("filler"), nil, tenantID, c.ID, area, oauth.ItemNotApplicable, "n/a in test", "", nil); err != nil {
			e.t.Fatal(err)
		}
	}
	if _, err := e.srv.SignOff(e.ctx, by("rev"), tenantID, c.ID); err != nil {
		e.t.Fatal(err)
	}
	// Activation is a staff approval: a1 files it, a2 approves (the
	// executor runs in the approval's transaction, as staff.Approve does).
	payload, err := e.srv.ActivationPayload(e.ctx, tenantID, c.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.db.InTx(e.ctx, func(tx *store.Tx) error {
		ap := staff.Approval{ID: fmt.Sprintf("ap_%d", seq.Add(1)), Kind: oauth.KindActivate, Payload: payload, Requester: "a1", TenantID: tenantID}
		return e.srv.ActivationExecutor().Run(e.ctx, tx, ap, staff.Actor{Kind: audit.ActorStaff, ID: "a2"})
	}); err != nil {
		e.t.Fatal(err)
	}
	return pclient{id: c.ID, tenant: tenantID, key: key}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jws signs claims with header h (ES256).
func jws(t testing.TB, h, claims map[string]any, key *ecdsa.PrivateKey) string {
	hb, _ := json.Marshal(h)
	cb, _ := json.Marshal(claims)
	in := b64(hb) + "." + b64(cb)
	d := sha256.Sum256([]byte(in))
	r, s, err := ecdsa.Sign(rand.Reader, key, d[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return in + "." + b64(sig)
}

func (e *env) clientAuth(c pclient) url.Values {
	now := e.clk.now().Unix()
	a := jws(e.t, map[string]any{"alg": "ES256", "kid": "k1"},
		map[string]any{"iss": c.id, "sub": c.id, "aud": e.base, "jti": b64(random(16)), "iat": now, "exp": now + 60}, c.key)
	return url.Values{"client_id": {c.id}, "client_assertion_type": {tenant.ClientAssertionType}, "client_assertion": {a}}
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (e *env) post(path string, form url.Values, hdr map[string]string) reply {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	_ = json.Unmarshal(b, &r.body)
	return r
}

func merge(vs ...url.Values) url.Values {
	out := url.Values{}
	for _, v := range vs {
		for k, x := range v {
			out[k] = x
		}
	}
	return out
}

// dpop is a DPoP key; proofs carry the server's nonce once learned.
type dpop struct {
	key   *ecdsa.PrivateKey
	jwk   map[string]string
	nonce string
}

func newDPoP() *dpop {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := k.PublicKey.Bytes()
	return &dpop{key: k, jwk: map[string]string{"kty": "EC", "crv": "P-256", "x": b64(pub[1:33]), "y": b64(pub[33:])}}
}

func (e *env) proof(d *dpop, u string) string {
	c := map[string]any{"jti": b64(random(16)), "htm": "POST", "htu": u, "iat": e.clk.now().Unix()}
	if d.nonce != "" {
		c["nonce"] = d.nonce
	}
	return jws(e.t, map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": d.jwk}, c, d.key)
}

// token posts a token request with a DPoP proof, learning the server's
// nonce on use_dpop_nonce.
func (e *env) token(c pclient, d *dpop, form url.Values) reply {
	e.t.Helper()
	for range 2 {
		r := e.post(oauth.PathToken, merge(e.clientAuth(c), form), map[string]string{"DPoP": e.proof(d, e.base+oauth.PathToken)})
		if r.body["error"] == "use_dpop_nonce" {
			d.nonce = r.header.Get("DPoP-Nonce")
			continue
		}
		return r
	}
	e.t.Fatal("token endpoint kept asking for a DPoP nonce")
	return reply{}
}

const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

// par pushes an authorization request (openid, PKCE S256, nonce) with
// extra parameters and returns the request_uri.
func (e *env) par(c pclient, extra url.Values) string {
	e.t.Helper()
	d := sha256.Sum256([]byte(verifier))
	ps := url.Values{"response_type": {"code"}, "redirect_uri": {redirect}, "scope": {"openid accounts:read"},
		"code_challenge": {b64(d[:])}, "code_challenge_method": {"S256"}, "state": {"st"}, "nonce": {"n-0S6_WzA2Mj"}}
	r := e.post(oauth.PathPAR, merge(e.clientAuth(c), ps, extra), nil)
	if r.status != 201 {
		e.t.Fatalf("PAR = %d %s", r.status, r.raw)
	}
	return r.body["request_uri"].(string)
}

var (
	ixRE   = regexp.MustCompile(`name="interaction" value="([^"]+)"`)
	linkRE = regexp.MustCompile(`id="customer-step" href="([^"]+)"`)
)

// page is an HTML answer of the authorization endpoint.
type page struct {
	status   int
	location string
	body     string
}

func (p page) interaction() string {
	m := ixRE.FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return m[1]
}

// confirmURL is the link to txauth's confirmation page, if shown.
func (p page) confirmURL() string {
	m := linkRE.FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func (e *env) do(req *http.Request) page {
	e.t.Helper()
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(b)}
}

func (e *env) get(u string) page {
	req, _ := http.NewRequest("GET", u, nil)
	return e.do(req)
}

func (e *env) submit(path, ix string, extra url.Values) page {
	req, _ := http.NewRequest("POST", e.base+path, strings.NewReader(merge(url.Values{"interaction": {ix}, "decision": {"approve"}}, extra).Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.do(req)
}

func (e *env) authorizePage(c pclient, uri string) page {
	return e.get(e.base + oauth.PathAuthorize + "?" + url.Values{"client_id": {c.id}, "request_uri": {uri}}.Encode())
}

// idClaims verifies an ID token's ES256 signature with the server's key
// and returns its claims.
func (e *env) idClaims(tok string) map[string]any {
	e.t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		e.t.Fatalf("ID token has %d parts", len(parts))
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		e.t.Fatalf("ID token signature unreadable")
	}
	d := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(&e.idKey.PublicKey, d[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		e.t.Fatal("ID token signature does not verify with the server's key")
	}
	body, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		e.t.Fatal(err)
	}
	return m
}
