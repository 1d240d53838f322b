package oauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/revoke"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/tenant"
	"github.com/madoguchi/madoguchi/vault"
)

// clock is a test clock shared by the server and the tenant issuer.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// env is a real authorization server (SQLite or PostgreSQL, real audit log,
// vault and tenant issuer) behind an httptest TLS server.
type env struct {
	t      testing.TB
	db     *store.DB
	srv    *Server
	reg    *tenant.Registry
	base   string
	http   *http.Client
	clock  *clock
	tenant string
	watch  *revoke.Watcher
	audit  *audit.Log
	vault  *vault.Vault
	dir    string // the key files (audit signer, KEK)
	// handler is what the TLS server serves: one instance's routes, or a
	// balancer over several (balanced).
	handler *atomic.Pointer[http.Handler]
}

// newEnv starts the server; opts change its Config before New.
func newEnv(t testing.TB, db *store.DB, opts ...func(*Config)) *env {
	t.Helper()
	dir := t.TempDir()
	signer, _, err := audit.LoadOrCreateDevSigner(filepath.Join(dir, "audit.key"), "test/audit")
	if err != nil {
		t.Fatal(err)
	}
	al, err := audit.New(db, signer)
	if err != nil {
		t.Fatal(err)
	}
	kf, _, err := vault.OpenOrCreateDevKeyFile(filepath.Join(dir, "kek.json"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.New(kf, db, al)
	if err != nil {
		t.Fatal(err)
	}
	handler := new(atomic.Pointer[http.Handler])
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*handler.Load()).ServeHTTP(w, r) }))
	// Client certificates are requested (not required), as serve does, so
	// certificate-bound tokens can be tested.
	ts.TLS = &tls.Config{ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	clk := &clock{}
	is, err := tenant.NewIssuer(db, al, tenant.IssuerConfig{Audiences: Audiences(ts.URL), Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	// The revocation watcher an instance runs (as serve does): the token
	// cache is on in every test.
	watch, err := revoke.NewWatcher(db, revoke.Config{})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stopWatch := context.WithCancel(context.Background())
	watchDone := make(chan struct{})
	go func() { defer close(watchDone); watch.Run(wctx) }()
	t.Cleanup(func() { stopWatch(); <-watchDone })
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sg, _ := NewSigner(key)
	dev, _ := NewDevCustomers(false)
	cfg := Config{Issuer: ts.URL, DB: db, Audit: al, Clients: is, Sealer: v, Signer: sg, Customers: dev,
		CIBANotifier: nopNotifier{}, MutualTLS: true, Revocations: watch, Now: clk.now}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = instanceMux(s)
	handler.Store(&h)
	jar, _ := cookiejar.New(nil)
	hc := ts.Client()
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	reg := tenant.NewRegistry(db, al)
	ten, err := reg.CreateTenant(context.Background(), tenant.Actor{Kind: audit.ActorSystem, ID: "test"}, "Bank "+randomToken()[:6])
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, db: db, srv: s, reg: reg, base: ts.URL, http: hc, clock: clk, tenant: ten.ID, watch: watch, audit: al, vault: v, handler: handler, dir: dir}
}

// instanceMux is one instance's routes, with a bare handler for each
// benchmark and /resource behind AuthenticateResource.
func instanceMux(s *Server) *http.ServeMux {
	mux := http.NewServeMux()
	for p, h := range s.Routes() {
		mux.Handle(p, h)
	}
	mux.Handle("GET /bare", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"sub": "x", "client": "y"})
	}))
	// The token endpoint's bare counterpart: read the form, answer JSON.
	mux.Handle("POST /bare", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") == "" {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		writeJSON(w, 200, map[string]any{"access_token": "x", "token_type": "Bearer", "expires_in": 300})
	}))
	mux.Handle("GET /resource", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.AuthenticateResource(r)
		if err != nil {
			s.renderError(w, r, err, "")
			return
		}
		writeJSON(w, 200, map[string]any{"sub": p.Subject, "client": p.ClientID})
	}))
	return mux
}

type nopNotifier struct{}

func (nopNotifier) Notify(context.Context, CIBANotice) error { return nil }

// pclient is a partner client with its signing key.
type pclient struct {
	id     string
	tenant string
	key    *ecdsa.PrivateKey
}

const testRedirect = "https://partner.example/cb"

// partner creates an active private_key_jwt partner client in tenantID.
func (e *env) partner(tenantID string, grants ...string) pclient {
	e.t.Helper()
	return e.partnerWith(tenantID, nil, grants...)
}

// partnerWith is partner with mod changing the OAuth profile.
func (e *env) partnerWith(tenantID string, mod func(*ProfileSpec), grants ...string) pclient {
	e.t.Helper()
	if len(grants) == 0 {
		grants = []string{GrantAuthorizationCode, GrantRefreshToken}
	}
	ctx := context.Background()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := key.PublicKey.Bytes()
	jwks := `{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"` + b64.EncodeToString(pub[1:33]) + `","y":"` + b64.EncodeToString(pub[33:]) + `"}]}`
	var c tenant.Client
	if err := e.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		c, err = e.reg.CreateClientTx(ctx, tx, tenant.Actor{Kind: audit.ActorSystem, ID: "test"}, tenantID,
			tenant.ClientSpec{Name: "partner " + randomToken()[:6], Scopes: []string{"accounts:read", "transfers:write", "audit:read"}, JWKS: jwks})
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	spec := ProfileSpec{RedirectURIs: []string{testRedirect}, GrantTypes: grants, RARTypes: []string{DetailTransfer, DetailAccounts}, RateClient: 10000}
	if contains(grants, GrantCIBA) {
		spec.CIBAMode = "poll"
	}
	if mod != nil {
		mod(&spec)
	}
	if _, err := e.srv.RegisterClient(ctx, Actor{Kind: audit.ActorStaff, ID: "a1"}, tenantID, c.ID, spec); err != nil {
		e.t.Fatal(err)
	}
	e.activate(tenantID, c.ID)
	return pclient{id: c.ID, tenant: tenantID, key: key}
}

func (e *env) activate(tenantID, clientID string) {
	e.t.Helper()
	ctx := context.Background()
	for _, a := range CriteriaAreas {
		if err := e.srv.SetAssessmentItem(ctx, Actor{Kind: audit.ActorStaff, ID: "filler"}, nil, tenantID, clientID, a, ItemNotApplicable, "n/a in test", "", nil); err != nil {
			e.t.Fatal(err)
		}
	}
	if _, err := e.srv.SignOff(ctx, Actor{Kind: audit.ActorStaff, ID: "rev"}, tenantID, clientID); err != nil {
		e.t.Fatal(err)
	}
	if err := e.approveActivation(tenantID, clientID, "a1", "a2"); err != nil {
		e.t.Fatal(err)
	}
}

// approveActivation files the activation payload as requester's approval
// and runs the executor as approver, in one transaction as staff.Approve
// does (the staff side, admins and scopes, is tested in portal and the CLI).
func (e *env) approveActivation(tenantID, clientID, requester, approver string) error {
	ctx := context.Background()
	payload, err := e.srv.ActivationPayload(ctx, tenantID, clientID)
	if err != nil {
		return err
	}
	return e.db.InTx(ctx, func(tx *store.Tx) error {
		return e.srv.ActivationExecutor().Run(ctx, tx, stApproval(payload, tenantID, requester), stActor(approver))
	})
}

// sign makes a compact JWS with an arbitrary header (for forged tokens too).
func sign(t testing.TB, header, claims map[string]any, key crypto.Signer) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	in := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		d := sha256.Sum256([]byte(in))
		r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
		if err != nil {
			t.Fatal(err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return in + "." + b64.EncodeToString(sig)
	case ed25519.PrivateKey:
		return in + "." + b64.EncodeToString(ed25519.Sign(k, []byte(in)))
	case *rsa.PrivateKey:
		d := sha256.Sum256([]byte(in))
		sig, err := rsa.SignPSS(rand.Reader, k, crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		if err != nil {
			t.Fatal(err)
		}
		return in + "." + b64.EncodeToString(sig)
	case nil:
		return in + "."
	}
	t.Fatalf("key %T", key)
	return ""
}

func (e *env) assertion(c pclient, mod func(h, cl map[string]any)) string {
	now := e.clock.now().Unix()
	h := map[string]any{"alg": "ES256", "kid": "k1"}
	cl := map[string]any{"iss": c.id, "sub": c.id, "aud": e.base, "jti": randomToken(), "iat": now, "exp": now + 60}
	if mod != nil {
		mod(h, cl)
	}
	return sign(e.t, h, cl, c.key)
}

func (e *env) clientAuth(c pclient) url.Values {
	return url.Values{"client_id": {c.id}, "client_assertion_type": {tenant.ClientAssertionType}, "client_assertion": {e.assertion(c, nil)}}
}

// dpopKey is a DPoP key with its proof algorithm and public JWK.
type dpopKey struct {
	key crypto.Signer
	alg string
	jwk map[string]string
	jkt string
}

// newDPoPKey makes an ES256 (P-256) DPoP key.
func newDPoPKey(t testing.TB) dpopKey { return newDPoPKeyAlg(t, "ES256") }

// newDPoPKeyAlg makes a DPoP key for one of the algorithms the server
// accepts: ES256 (P-256), EdDSA (Ed25519) or PS256 (RSA-2048).
func newDPoPKeyAlg(t testing.TB, alg string) dpopKey {
	t.Helper()
	var key crypto.Signer
	var jwk map[string]string
	switch alg {
	case "ES256":
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		pub, _ := k.PublicKey.Bytes()
		key, jwk = k, map[string]string{"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(pub[1:33]), "y": b64.EncodeToString(pub[33:])}
	case "EdDSA":
		pub, k, _ := ed25519.GenerateKey(rand.Reader)
		key, jwk = k, map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64.EncodeToString(pub)}
	case "PS256":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		key, jwk = k, map[string]string{"kty": "RSA", "n": b64.EncodeToString(k.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(k.E)).Bytes())}
	default:
		t.Fatalf("newDPoPKeyAlg(%q): no such algorithm here", alg)
	}
	k, err := tenant.ParseJWK(must(json.Marshal(jwk)))
	if err != nil {
		t.Fatal(err)
	}
	return dpopKey{key: key, alg: alg, jwk: jwk, jkt: k.Thumbprint()}
}

// nonceOf is s's current DPoP nonce.
func nonceOf(t testing.TB, s *Server) string {
	t.Helper()
	n, err := s.nonces.current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// proof makes a DPoP proof; mod may change header or claims.
func (e *env) proof(k dpopKey, method, u, token string, mod func(h, c map[string]any)) string {
	h := map[string]any{"typ": "dpop+jwt", "alg": k.alg, "jwk": k.jwk}
	c := map[string]any{"jti": randomToken(), "htm": method, "htu": u, "iat": e.clock.now().Unix(), "nonce": nonceOf(e.t, e.srv)}
	if token != "" {
		d := sha256.Sum256([]byte(token))
		c["ath"] = b64.EncodeToString(d[:])
	}
	if mod != nil {
		mod(h, c)
	}
	return sign(e.t, h, c, k.key)
}

// reply is an HTTP answer with its JSON body.
type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r reply) code() string { s, _ := r.body["error"].(string); return s }

func (e *env) post(path string, form url.Values, hdr map[string]string) reply {
	e.t.Helper()
	req := formRequest(e.base+path, form)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return e.do(req)
}

// formRequest is a POST of form to u.
func formRequest(u string, form url.Values) *http.Request {
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func (e *env) do(req *http.Request) reply {
	e.t.Helper()
	return e.doOn(e.http, req)
}

// doOn is do over hc (another client of the same server: a TLS client
// certificate).
func (e *env) doOn(hc *http.Client, req *http.Request) reply {
	e.t.Helper()
	resp, err := hc.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	_ = json.Unmarshal(b, &r.body)
	return r
}

// parParams are valid PAR parameters for a code challenge of verifier.
func parParams(verifier string) url.Values {
	d := sha256.Sum256([]byte(verifier))
	return url.Values{
		"response_type": {"code"}, "redirect_uri": {testRedirect}, "scope": {"openid accounts:read"},
		"code_challenge": {b64.EncodeToString(d[:])}, "code_challenge_method": {"S256"}, "state": {"st"}, "nonce": {"n-0S6_WzA2Mj"},
	}
}

func merge(a, b url.Values) url.Values {
	out := url.Values{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

var ixPattern = regexp.MustCompile(`name="interaction" value="([^"]+)"`)

// authorize pushes params, runs the customer step and returns the 303.
func (e *env) authorize(c pclient, params url.Values, dk *dpopKey) *http.Response {
	e.t.Helper()
	hdr := map[string]string{}
	if dk != nil {
		hdr["DPoP"] = e.proof(*dk, "POST", e.base+PathPAR, "", nil)
	}
	r := e.post(PathPAR, merge(e.clientAuth(c), params), hdr)
	if r.status != 201 {
		e.t.Fatalf("PAR = %d %s", r.status, r.raw)
	}
	return e.customer(c.id, r.body["request_uri"].(string), "cust-1")
}

func (e *env) customer(clientID, uri, customer string) *http.Response {
	e.t.Helper()
	resp, err := e.http.Get(e.base + PathAuthorize + "?" + url.Values{"client_id": {clientID}, "request_uri": {uri}}.Encode())
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := ixPattern.FindSubmatch(b)
	if resp.StatusCode != 200 || m == nil {
		e.t.Fatalf("authorize = %d %s", resp.StatusCode, b)
	}
	resp, err = e.http.PostForm(e.base+PathDecide, url.Values{"interaction": {string(m[1])}, "customer": {customer}, "decision": {"approve"}})
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func codeOf(t testing.TB, resp *http.Response) string {
	t.Helper()
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || u.Query().Get("code") == "" {
		t.Fatalf("no code in %q (status %d)", resp.Header.Get("Location"), resp.StatusCode)
	}
	return u.Query().Get("code")
}

const testVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

// tokens runs a full code flow bound to dk and returns the token response.
func (e *env) tokens(c pclient, dk dpopKey) map[string]any {
	e.t.Helper()
	code := codeOf(e.t, e.authorize(c, parParams(testVerifier), &dk))
	r := e.post(PathToken, merge(e.clientAuth(c), url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {testRedirect}, "code_verifier": {testVerifier}}), map[string]string{"DPoP": e.proof(dk, "POST", e.base+PathToken, "", nil)})
	if r.status != 200 {
		e.t.Fatalf("token = %d %s", r.status, r.raw)
	}
	return r.body
}

type tenantActorT = tenant.Actor

func tenantSpec(jwks string) tenant.ClientSpec {
	return tenant.ClientSpec{Name: "pending " + randomToken()[:6], Scopes: []string{"accounts:read"}, JWKS: jwks}
}
