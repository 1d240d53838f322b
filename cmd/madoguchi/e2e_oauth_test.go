package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/notify"
	"github.com/madoguchi/madoguchi/oauth"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
	"github.com/madoguchi/madoguchi/tenant"
	"github.com/madoguchi/madoguchi/web"
)

// testCA is a throw-away CA for the OAuth end-to-end tests: it signs the
// server's certificate, the ping receiver's and the mTLS clients'.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "madoguchi e2e CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{cert: c, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a leaf certificate for cn (server and client use), its
// PEM and its key's PEM.
func (ca *testCA) issue(t *testing.T, cn string, ips ...net.IP) (tls.Certificate, []byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn, Organization: []string{"e2e"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	cp := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	kp := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	c, err := tls.X509KeyPair(cp, kp)
	if err != nil {
		t.Fatal(err)
	}
	return c, cp, kp
}

// oauthHarness is a real server (the app's wiring, a TLS listener on
// loopback) with partner clients registered and activated through the
// onboarding path.
type oauthHarness struct {
	t      *testing.T
	a      *app
	base   string
	ca     *testCA
	dir    string
	http   *http.Client // trusts the CA
	tenant string
}

// startOAuthServer starts the server in-process on a TLS listener.
// ciba, if set, replaces the CIBA notifier (the webhook outbox that
// delivers CIBA pings trusts the test CA); more adjust the configuration
// further (the customer step).
func startOAuthServer(t *testing.T, ciba func(*oauthHarness) oauth.CIBANotifier, more ...func(*oauthHarness, *oauth.Config)) *oauthHarness {
	t.Helper()
	return startOAuthInstances(t, "", 1, ciba, more...)
}

// startOAuthInstances starts n instances of the server in-process, each
// with its own app (store connection, audit log, vault, OAuth server,
// notify worker) on one data directory's keys, behind one TLS listener
// that sends each request to the next instance in turn, as a load balancer
// without session affinity does. dsn is the record store ("" is SQLite in
// the data directory: one instance). The harness's app is the first.
func startOAuthInstances(t *testing.T, dsn string, n int, ciba func(*oauthHarness) oauth.CIBANotifier, more ...func(*oauthHarness, *oauth.Config)) *oauthHarness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	ca := newTestCA(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "https://" + ln.Addr().String()
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	h := &oauthHarness{t: t, base: base, ca: ca, dir: dir,
		http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	var stops []func()
	t.Cleanup(func() {
		cancel()
		for _, stop := range stops {
			stop()
		}
	})
	instances := make([]http.Handler, n)
	for i := range instances {
		a, err := openApp(ctx, modeDevelopment, dataFlags{data: dir, db: dsn}, slog.New(slog.DiscardHandler), true)
		if err != nil {
			t.Fatalf("openApp: %v", err)
		}
		stops = append(stops, func() { a.Close() })
		if h.a == nil {
			h.a = a
		}
		if err := a.newIssuer(base, 0); err != nil {
			t.Fatal(err)
		}
		// CIBA pings go out through the webhook outbox; its client trusts
		// the test CA (the ping receiver's certificate).
		ws, _, err := notify.LoadOrCreateDevSigner(a.webhookKeyPath())
		if err != nil {
			t.Fatal(err)
		}
		if a.notify, err = notify.New(notify.Config{DB: a.db, Audit: a.audit, Vault: a.vault, Signer: ws, AllowInsecure: true,
			HTTPClient: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}}); err != nil {
			t.Fatal(err)
		}
		err = a.newOAuth(base, true, func(c *oauth.Config) {
			if ciba != nil {
				c.CIBANotifier = ciba(h)
			}
			for _, m := range more {
				m(h, c)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		instances[i] = web.New(a.webConfig(serveFlags{}))
		go a.oauth.Run(ctx)
		worker := a.notify.Start(ctx, 200*time.Millisecond)
		stops = append([]func(){worker.Stop}, stops...) // workers stop before the apps close
	}
	var next atomic.Int64
	balancer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		instances[int(next.Add(1)-1)%n].ServeHTTP(w, r)
	})
	serverCert, _, _ := ca.issue(t, "127.0.0.1", net.ParseIP("127.0.0.1"))
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{serverCert}, ClientAuth: tls.RequestClientCert}
	hs := &http.Server{Handler: balancer, TLSConfig: tlsCfg, ReadHeaderTimeout: web.ReadHeaderTimeout}
	done := make(chan struct{})
	go func() { defer close(done); _ = hs.Serve(tls.NewListener(ln, tlsCfg)) }()
	stops = append([]func(){func() { _ = hs.Close(); <-done }}, stops...)
	ten, err := h.a.tenants.CreateTenant(ctx, tenant.Actor{Kind: audit.ActorSystem, ID: "e2e"}, "OAuth Bank")
	if err != nil {
		t.Fatal(err)
	}
	h.tenant = ten.ID
	return h
}

// partner registers an API client with an OAuth profile and takes it
// through onboarding: every criteria area recorded with evidence, signed
// off by a reviewer, activation requested by one admin and performed by
// another.
func (h *oauthHarness) partner(name string, spec tenant.ClientSpec, profile oauth.ProfileSpec) tenant.Client {
	h.t.Helper()
	ctx := context.Background()
	op := tenant.Actor{Kind: audit.ActorSystem, ID: "e2e"}
	var cl tenant.Client
	err := h.a.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		spec.Name = name
		cl, err = h.a.tenants.CreateClientTx(ctx, tx, op, h.tenant, spec)
		return err
	})
	if err != nil {
		h.t.Fatalf("CreateClientTx: %v", err)
	}
	if _, err := h.a.oauth.RegisterClient(ctx, oauth.Actor{Kind: audit.ActorStaff, ID: "admin-1"}, h.tenant, cl.ID, profile); err != nil {
		h.t.Fatalf("RegisterClient: %v", err)
	}
	activate(h.t, h.a, h.tenant, cl.ID)
	return cl
}

func activate(t *testing.T, a *app, tenantID, clientID string) {
	t.Helper()
	ctx := context.Background()
	filler, reviewer := oauth.Actor{Kind: audit.ActorStaff, ID: "filler"}, oauth.Actor{Kind: audit.ActorStaff, ID: "reviewer"}
	for _, area := range oauth.CriteriaAreas {
		if err := a.oauth.SetAssessmentItem(ctx, filler, a.blobs, tenantID, clientID, area, oauth.ItemMet, "checked", area+".pdf", []byte("%PDF-1.7 evidence for "+area)); err != nil {
			t.Fatalf("SetAssessmentItem(%s): %v", area, err)
		}
	}
	if _, err := a.oauth.SignOff(ctx, reviewer, tenantID, clientID); err != nil {
		t.Fatalf("SignOff: %v", err)
	}
	payload, err := a.oauth.ActivationPayload(ctx, tenantID, clientID)
	if err != nil {
		t.Fatalf("ActivationPayload: %v", err)
	}
	// The approval's executor, as staff.Directory.Approve runs it for a
	// second admin (the staff side is TestOAuthPartnerCLI's).
	ap := staff.Approval{ID: "ap_e2e", Kind: oauth.KindActivate, Payload: payload, Requester: "admin-1", TenantID: tenantID}
	if err := a.db.InTx(ctx, func(tx *store.Tx) error {
		return a.oauth.ActivationExecutor().Run(ctx, tx, ap, staff.Actor{Kind: audit.ActorStaff, ID: "admin-2"})
	}); err != nil {
		t.Fatalf("activate: %v", err)
	}
}

// privateJWK is an EC P-256 private JWK for the Node client.
func privateJWK(kid string, k *ecdsa.PrivateKey) map[string]string {
	b := base64.RawURLEncoding.EncodeToString
	pub, _ := k.PublicKey.Bytes() // 0x04 || X || Y
	d, _ := k.Bytes()
	return map[string]string{"kty": "EC", "crv": "P-256", "x": b(pub[1:33]), "y": b(pub[33:65]), "d": b(d), "kid": kid, "alg": "ES256"}
}

// ecClient makes a private_key_jwt client spec and its private JWK.
func ecClient(t *testing.T, scopes ...string) (tenant.ClientSpec, map[string]string, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := publicJWKS("k1", key)
	if err != nil {
		t.Fatal(err)
	}
	return tenant.ClientSpec{Scopes: scopes, JWKS: jwks}, privateJWK("k1", key), key
}

// autoApprove plays the customer's device for CIBA: it opens the device
// page it was sent and approves as the customer the client named.
type autoApprove struct{ h *oauthHarness }

var ixRE = regexp.MustCompile(`name="interaction" value="([^"]+)"`)

// devicePage opens the CIBA device page of a notice as the customer's
// device does, a moment after the notice: its status and body.
func (h *oauthHarness) devicePage(no oauth.CIBANotice) (int, []byte, error) {
	time.Sleep(300 * time.Millisecond)
	resp, err := h.http.Get(no.URL)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

func (n autoApprove) Notify(ctx context.Context, no oauth.CIBANotice) error {
	go func() {
		status, body, err := n.h.devicePage(no)
		if err != nil {
			n.h.t.Errorf("device page: %v", err)
			return
		}
		m := ixRE.FindSubmatch(body)
		if status != 200 || m == nil || !bytes.Contains(body, []byte(no.BindingMessage)) {
			n.h.t.Errorf("device page: status %d, binding message shown %v", status, bytes.Contains(body, []byte(no.BindingMessage)))
			return
		}
		resp, err := n.h.http.PostForm(n.h.base+oauth.PathDevice, url.Values{"interaction": {string(m[1])}, "customer": {no.LoginHint}, "decision": {"approve"}})
		if err != nil {
			n.h.t.Errorf("device decide: %v", err)
			return
		}
		resp.Body.Close()
	}()
	return nil
}

// nodeOAuthDir is where the Node client suite lives.
func nodeOAuthDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "e2e", "oauth"))
	if err != nil {
		t.Fatal(err)
	}
	_, errNode := exec.LookPath("node")
	_, errMod := os.Stat(filepath.Join(dir, "node_modules", "openid-client"))
	if errNode != nil || errMod != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the OAuth client suite needs node and `npm ci` in e2e/oauth (node: %v, modules: %v)", errNode, errMod)
		}
		t.Skipf("node or e2e/oauth/node_modules missing (run `npm ci` in e2e/oauth): node %v, modules %v", errNode, errMod)
	}
	return dir
}

// TestOAuthCertifiedClients drives every flow with panva's openid-client
// and oauth4webapi (certified OpenID client libraries) under Node against a
// real server: discovery; PAR + PKCE + private_key_jwt + DPoP authorization
// code with the customer step; refresh; UserInfo and a DPoP-protected /v1
// resource; introspection (JSON and RFC 9701 JWT); revocation; JAR + JARM;
// the mTLS variants (self_signed_tls_client_auth and tls_client_auth, a
// subject DN against the partner's CA; certificate-bound tokens); CIBA poll
// and ping.
func TestOAuthCertifiedClients(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the Node client suite")
	}
	dir := nodeOAuthDir(t)
	certifiedClients(t, dir, startOAuthServer(t, func(h *oauthHarness) oauth.CIBANotifier { return autoApprove{h} }))
}

// TestOAuthCertifiedClientsBalanced: the same flows by the same clients
// against two instances on one PostgreSQL database behind a balancer that
// sends each request to the other instance, as one without session
// affinity does: DPoP nonces and the replay cache are the deployment's,
// codes, request_uris, CIBA requests, pings and revocations cross
// instances (docs/fapi.md, "DPoP with several instances").
func TestOAuthCertifiedClientsBalanced(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the Node client suite")
	}
	dir := nodeOAuthDir(t)
	h := startOAuthInstances(t, storetest.PostgresURL(t), 2, func(h *oauthHarness) oauth.CIBANotifier { return autoApprove{h} })
	certifiedClients(t, dir, h)
}

// certifiedClients registers the partner clients flows.mjs needs on h and
// runs it: openid-client and oauth4webapi drive every flow; each must pass.
func certifiedClients(t *testing.T, dir string, h *oauthHarness) {
	scopes := []string{"accounts:read", "transfers:write"}
	redirect := "https://partner.example/cb"

	pk, pkJWK, _ := ecClient(t, scopes...)
	pkCl := h.partner("DPoP partner", pk, oauth.ProfileSpec{RedirectURIs: []string{redirect},
		GrantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}, RARTypes: []string{oauth.DetailTransfer, oauth.DetailAccounts}})

	_, mtlsCertPEM, mtlsKeyPEM := h.ca.issue(t, "mtls partner")
	mtlsCl := h.partner("mTLS partner", tenant.ClientSpec{Scopes: scopes, CertPEM: string(mtlsCertPEM)}, oauth.ProfileSpec{RedirectURIs: []string{redirect},
		GrantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}, RARTypes: []string{oauth.DetailAccounts}})

	// tls_client_auth: the partner's own CA issues its certificates; the
	// client is registered with its subject DN and that CA.
	partnerCA := newTestCA(t)
	_, tlsCertPEM, tlsKeyPEM := partnerCA.issue(t, "tls partner")
	_, wrongCACertPEM, wrongCAKeyPEM := h.ca.issue(t, "tls partner")
	_, wrongDNCertPEM, wrongDNKeyPEM := partnerCA.issue(t, "tls partner 2")
	tlsCl := h.partner("tls_client_auth partner", tenant.ClientSpec{Scopes: scopes, TLSIdentity: tenant.TLSIdentity{SubjectDN: "CN=tls partner,O=e2e", CAPEM: string(partnerCA.pem)}},
		oauth.ProfileSpec{RedirectURIs: []string{redirect}, GrantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}, RARTypes: []string{oauth.DetailAccounts}})

	pollSpec, pollJWK, _ := ecClient(t, scopes...)
	pollCl := h.partner("CIBA poll partner", pollSpec, oauth.ProfileSpec{GrantTypes: []string{oauth.GrantCIBA}, CIBAMode: "poll", RARTypes: []string{oauth.DetailTransfer}})

	pingLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pingPort := pingLn.Addr().(*net.TCPAddr).Port
	pingLn.Close()
	pingSpec, pingJWK, _ := ecClient(t, scopes...)
	pingCl := h.partner("CIBA ping partner", pingSpec, oauth.ProfileSpec{GrantTypes: []string{oauth.GrantCIBA}, CIBAMode: "ping",
		CIBAEndpoint: fmt.Sprintf("https://127.0.0.1:%d/ciba", pingPort)})
	_, pingCertPEM, pingKeyPEM := h.ca.issue(t, "127.0.0.1", net.ParseIP("127.0.0.1"))

	cfg := map[string]any{
		"issuer": h.base, "redirect_uri": redirect, "customer": "cust-0001",
		"pkjwt": map[string]any{"client_id": pkCl.ID, "jwk": pkJWK},
		"mtls":  map[string]any{"client_id": mtlsCl.ID, "cert": string(mtlsCertPEM), "key": string(mtlsKeyPEM)},
		"tlsauth": map[string]any{"client_id": tlsCl.ID, "cert": string(tlsCertPEM), "key": string(tlsKeyPEM),
			"wrong_ca_cert": string(wrongCACertPEM), "wrong_ca_key": string(wrongCAKeyPEM), "wrong_dn_cert": string(wrongDNCertPEM), "wrong_dn_key": string(wrongDNKeyPEM)},
		"ciba_poll": map[string]any{"client_id": pollCl.ID, "jwk": pollJWK},
		"ciba_ping": map[string]any{"client_id": pingCl.ID, "jwk": pingJWK, "port": pingPort, "cert": string(pingCertPEM), "key": string(pingKeyPEM)},
	}
	cfgPath := filepath.Join(h.dir, "e2e-oauth.json")
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	caPath := filepath.Join(h.dir, "ca.pem")
	if err := os.WriteFile(caPath, h.ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "flows.mjs", cfgPath)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_EXTRA_CA_CERTS="+caPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	passed := map[string]bool{}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "ok "):
			passed[strings.TrimPrefix(line, "ok ")] = true
		case strings.HasPrefix(line, "not ok "):
			t.Errorf("node: %s", line)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("node flows.mjs: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{
		"discovery", "par+pkce+private_key_jwt+dpop code", "id_token acr/amr", "dpop resource", "userinfo",
		"refresh without rotation", "introspection json", "introspection jwt", "revocation",
		"jar+jarm", "mtls code", "mtls bound resource", "tls_client_auth code", "ciba poll", "ciba ping",
	} {
		if !passed[want] {
			t.Errorf("flow %q did not pass", want)
		}
	}
}
