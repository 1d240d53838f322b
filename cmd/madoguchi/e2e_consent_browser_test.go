package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/oauth"
	"github.com/madoguchi/madoguchi/signin"
	"github.com/madoguchi/madoguchi/tenant"
	"github.com/madoguchi/madoguchi/txauth"
	"github.com/madoguchi/madoguchi/web"
)

// consentTransfer is the transfer the partner pushes in the browser test.
const consentTransfer = `[{"type":"jp_bank_transfer","amount":"98765","currency":"JPY","payee":{"bank_code":"0001","branch_code":"001",` +
	`"account_type":"ordinary","account_number":"7654321","name":"サトウ ハナコ"},"purpose":"請求書 INV-42"}]`

// TestBrowserConsentSignIn drives the production authorization-code flow
// as a customer does, in Chromium (e2e/browser/consent.mjs): the partner's
// PAR (private_key_jwt) here; in the browser the authorization URL, the
// customer number, txauth's confirmation page in a new tab with the
// passkey (the virtual authenticator), Approve, and the partner's
// redirect URI with code and iss; here again the code exchanged (bound to
// a TLS client certificate) and the ID token's sub, acr and amr. The
// transfer case checks that the consent page and the confirmation page
// both show the amount, payee and purpose the partner pushed; axe-core
// checks the consent page, which must wear the customer pages' style sheet
// (loaded under its CSP, which allows that and no inline style).
func TestBrowserConsentSignIn(t *testing.T) {
	requireBrowser(t)
	// txauth's pages on a host name (the passkey's RP ID; browsers refuse
	// IP addresses): a second, plain-HTTP listener on localhost serving
	// the same application.
	txln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	txOrigin := fmt.Sprintf("http://localhost:%d", txln.Addr().(*net.TCPAddr).Port)
	h, cu := startSignInServer(t, txOrigin, nil, "C-BROWSER")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	served := make(chan struct{})
	go func() { defer close(served); _ = web.New(h.a.webConfig(serveFlags{})).Serve(ctx, txln, nil) }()
	t.Cleanup(func() { cancel(); <-served })

	reg, err := h.a.txauth.CreatePasskeyRegistration(ctx, txauth.Actor{Kind: audit.ActorClient, ID: "e2e"}, h.tenant, cu.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	redirect := "https://partner.example/cb"
	spec, _, key := ecClient(t, "accounts:read", "transfers:write")
	cl := h.partner("consent partner", spec, oauth.ProfileSpec{RedirectURIs: []string{redirect},
		GrantTypes: []string{oauth.GrantAuthorizationCode}, RARTypes: []string{oauth.DetailTransfer}})
	partner := &apiClient{base: h.base, audience: h.base, clientID: cl.ID, kid: "k1", key: key, http: h.http}

	flows := []consentFlow{
		{name: "signin", scope: "openid accounts:read", acr: signin.ACRCustomer},
		{name: "transfer", scope: "openid transfers:write", details: consentTransfer, acr: signin.ACRLinked},
	}
	var cases []map[string]any
	for i := range flows {
		f := &flows[i]
		f.verifier, f.nonce = oauthRandom(t, 32), oauthRandom(t, 16)
		uri := consentPAR(t, h, partner, redirect, *f)
		cases = append(cases, map[string]any{"name": f.name, "transfer": f.details != "",
			"url": h.base + oauth.PathAuthorize + "?" + url.Values{"client_id": {cl.ID}, "request_uri": {uri}}.Encode()})
	}
	shots := os.Getenv("MADOGUCHI_E2E_SHOTS")
	if shots == "" {
		shots = filepath.Join(t.TempDir(), "shots")
	}
	arg, _ := json.Marshal(map[string]any{"register": reg.ConfirmURL, "customer": "C-BROWSER", "redirect": redirect,
		"cases": cases, "shots": shots, "chromium": chromiumPath})
	run := runBrowserScript(ctx, t, "consent.mjs", arg, nil)

	want := []string{"passkey registered", "no console errors or CSP violations"}
	for _, f := range flows {
		want = append(want, "axe consent "+f.name, f.name+": CSP allows the style sheet only", f.name+": style sheet applied", f.name+": link to the confirmation page", f.name+": confirmed", f.name+": redirected to the partner")
	}
	for _, w := range want {
		if !slices.Contains(run.checks, w) {
			t.Errorf("check %q did not run; ran %v", w, run.checks)
		}
	}
	// Dynamic linking: each page shows what the partner pushed.
	for _, page := range []string{"consent", "confirm"} {
		for field, v := range map[string]string{"amount": "98765", "payee": "サトウ ハナコ", "account": "7654321", "purpose": "請求書 INV-42"} {
			if got := run.values[page+"."+field]; got != v {
				t.Errorf("%s page shows %s %q, want %q", page, field, got, v)
			}
		}
	}

	// The partner redeems each code; its ID token names the customer and
	// says how they authenticated.
	cert, _, _ := h.ca.issue(t, "consent partner")
	roots := x509.NewCertPool()
	roots.AddCert(h.ca.cert)
	mtls := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}}}}
	for _, f := range flows {
		code := run.values[f.name+".code"]
		if iss, st := run.values[f.name+".iss"], run.values[f.name+".state"]; code == "" || iss != h.base || st != "st-"+f.name {
			t.Errorf("%s: redirect code %t iss %q state %q; want a code, iss %s, state st-%s", f.name, code != "", iss, st, h.base, f.name)
			continue
		}
		as, err := partner.assertion(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		resp, err := mtls.PostForm(h.base+oauth.PathToken, url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {redirect}, "code_verifier": {f.verifier}, "client_id": {cl.ID},
			"client_assertion_type": {tenant.ClientAssertionType}, "client_assertion": {as}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var tok struct {
			IDToken string `json:"id_token"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &tok) != nil || tok.IDToken == "" {
			t.Errorf("%s: token = %d %s", f.name, resp.StatusCode, b)
			continue
		}
		id := jwtClaims(t, tok.IDToken)
		amr, _ := id["amr"].([]any)
		if id["sub"] != cu.ID || id["acr"] != f.acr || id["nonce"] != f.nonce || !slices.Contains(amr, any("pop")) || !slices.Contains(amr, any("user")) {
			t.Errorf("%s: ID token sub %v acr %v amr %v nonce ok %t; want %s, %s, [pop user]", f.name, id["sub"], id["acr"], id["amr"], id["nonce"] == f.nonce, cu.ID, f.acr)
		}
	}
	t.Logf("browser: %d checks, %d screenshots, %d axe runs; slow steps %v", len(run.checks), run.screens, run.axe, run.slow)
}

// consentFlow is one authorization the customer approves in the browser.
type consentFlow struct {
	name, scope, details, acr string
	verifier, nonce           string
}

// consentPAR pushes f's authorization request (PKCE S256, nonce, state)
// with private_key_jwt and returns the request_uri.
func consentPAR(t *testing.T, h *oauthHarness, c *apiClient, redirect string, f consentFlow) string {
	t.Helper()
	as, err := c.assertion(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte(f.verifier))
	form := url.Values{"client_id": {c.clientID}, "client_assertion_type": {tenant.ClientAssertionType}, "client_assertion": {as},
		"response_type": {"code"}, "redirect_uri": {redirect}, "scope": {f.scope}, "state": {"st-" + f.name}, "nonce": {f.nonce},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(d[:])}, "code_challenge_method": {"S256"}}
	if f.details != "" {
		form.Set("authorization_details", f.details)
	}
	resp, err := h.http.PostForm(h.base+oauth.PathPAR, form)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var par struct {
		RequestURI string `json:"request_uri"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &par) != nil {
		t.Fatalf("PAR %s = %d %s", f.name, resp.StatusCode, b)
	}
	return par.RequestURI
}

func oauthRandom(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// jwtClaims returns a JWT's claims (the partner trusts the TLS channel to
// the token endpoint; the certified-client test verifies signatures).
func jwtClaims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("JWT has %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	if err != nil || json.Unmarshal(b, &m) != nil {
		t.Fatalf("JWT claims unreadable: %v", err)
	}
	return m
}
