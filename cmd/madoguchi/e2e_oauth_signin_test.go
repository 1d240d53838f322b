package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/internal/webauthntest"
	"github.com/madoguchi/madoguchi/oauth"
	"github.com/madoguchi/madoguchi/txauth"
)

// signinOrigin is txauth's public URL in this test: passkeys need a host
// name, and the server listens on 127.0.0.1. The customer's authenticator
// (software, internal/webauthntest) answers txauth's real ceremonies
// through the page operations the confirmation page calls.
const signinOrigin = "https://localhost"

// signinCustomer is the customer's side: the software passkey and the
// ceremonies on txauth's confirmation page.
type signinCustomer struct {
	t  *testing.T
	a  *app
	pk *webauthntest.Authenticator
	mu sync.Mutex
}

func (c *signinCustomer) passkey(confirmURL string, register bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, tok, ok := strings.Cut(confirmURL, "#t=")
	if !ok {
		return fmt.Errorf("confirmation URL without a token")
	}
	ctx := context.Background()
	opts, err := c.a.txauth.PasskeyBegin(ctx, tok)
	if err != nil {
		return err
	}
	var resp []byte
	if register {
		resp, err = c.pk.Create(opts)
	} else {
		resp, err = c.pk.Get(opts)
	}
	if err != nil {
		return err
	}
	v, err := c.a.txauth.PasskeyFinish(ctx, tok, resp)
	if err != nil {
		return err
	}
	if v.State != txauth.StateConfirmed {
		return fmt.Errorf("confirmation is %s after the passkey", v.State)
	}
	return nil
}

var customerStepRE = regexp.MustCompile(`id="customer-step" href="([^"]+)"`)

// signinDevice plays the customer's phone for CIBA: it opens the device
// page, completes the txauth confirmation there with the passkey, and
// approves.
type signinDevice struct {
	h *oauthHarness
	c *signinCustomer
}

func (d signinDevice) Notify(ctx context.Context, no oauth.CIBANotice) error {
	go func() {
		status, body, err := d.h.devicePage(no)
		if err != nil {
			d.h.t.Errorf("device page: %v", err)
			return
		}
		// Showing the page opens nothing; the customer's first Approve
		// opens the confirmation and shows its link.
		ix := ixRE.FindSubmatch(body)
		if status != 200 || ix == nil || customerStepRE.Match(body) || !bytes.Contains(body, []byte(no.BindingMessage)) {
			d.h.t.Errorf("device page: status %d, interaction %v, confirmation link before Approve %v, binding message %v",
				status, ix != nil, customerStepRE.Match(body), bytes.Contains(body, []byte(no.BindingMessage)))
			return
		}
		resp, err := d.h.http.PostForm(d.h.base+oauth.PathDevice, url.Values{"interaction": {string(ix[1])}, "decision": {"approve"}})
		if err != nil {
			d.h.t.Errorf("device start: %v", err)
			return
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		link := customerStepRE.FindSubmatch(body)
		if link == nil {
			d.h.t.Errorf("device page after Approve: status %d, no confirmation link", resp.StatusCode)
			return
		}
		if err := d.c.passkey(html.UnescapeString(string(link[1])), false); err != nil {
			d.h.t.Errorf("device passkey: %v", err)
			return
		}
		resp, err = d.h.http.PostForm(d.h.base+oauth.PathDevice, url.Values{"interaction": {string(ix[1])}, "decision": {"approve"}})
		if err != nil {
			d.h.t.Errorf("device decide: %v", err)
			return
		}
		resp.Body.Close()
	}()
	return nil
}

// startSignInServer is startOAuthServer in production customer mode:
// package signin over txauth (whose pages are at txOrigin) as the customer
// step, a policy asking a passkey for sign-in and transfers at any hour,
// and one verified customer with the reference (no passkey yet).
func startSignInServer(t *testing.T, txOrigin string, ciba func(*oauthHarness) oauth.CIBANotifier, reference string) (*oauthHarness, *ekyc.Customer) {
	t.Helper()
	h := startOAuthServer(t, ciba, func(h *oauthHarness, c *oauth.Config) {
		a := h.a
		if _, err := a.newNotifier(); err != nil {
			t.Fatal(err)
		}
		var err error
		if a.ekyc, err = a.newEKYC(h.base); err != nil {
			t.Fatal(err)
		}
		if a.txauth, err = a.newTxAuth(txOrigin); err != nil {
			t.Fatal(err)
		}
		s, err := a.newSignIn()
		if err != nil {
			t.Fatal(err)
		}
		c.Customers = s
	})
	ctx := context.Background()
	p := txauth.ExamplePolicy()
	p.Require, p.SignIn, p.UnusualHours = []txauth.Factor{txauth.FactorPasskey}, []txauth.Factor{txauth.FactorPasskey}, [2]int{0, 0}
	if _, err := h.a.txauth.SetPolicy(ctx, txauth.System, h.tenant, p); err != nil {
		t.Fatal(err)
	}
	session := "ses_e2e" + strings.ReplaceAll(strings.ToLower(reference), "-", "") + "0000000000000"
	insertApprovedSession(t, h.a, h.tenant, session[:20], reference)
	cu, err := h.a.ekyc.CreateCustomer(ctx, ekyc.Actor{Kind: audit.ActorClient, ID: "e2e"}, h.tenant, session[:20], reference)
	if err != nil {
		t.Fatal(err)
	}
	return h, cu
}

// TestOAuthCertifiedClientsSignIn drives the production customer step
// (package signin over txauth) with panva's openid-client: PAR with a
// transfer, the customer number on the consent page, a real passkey
// ceremony on txauth's confirmation page (the Go side plays the customer's
// authenticator when the script prints the link), the code grant with
// DPoP, and the ID token's acr/amr validated by the certified client; then
// CIBA poll with the passkey on the device.
func TestOAuthCertifiedClientsSignIn(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the Node client suite")
	}
	dir := nodeOAuthDir(t)
	cust := &signinCustomer{t: t, pk: webauthntest.New(signinOrigin)}
	h, cu := startSignInServer(t, signinOrigin, func(h *oauthHarness) oauth.CIBANotifier { return signinDevice{h: h, c: cust} }, "C-OIDC")
	cust.a = h.a
	ctx := context.Background()
	reg, err := h.a.txauth.CreatePasskeyRegistration(ctx, txauth.Actor{Kind: audit.ActorClient, ID: "e2e"}, h.tenant, cu.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := cust.passkey(reg.ConfirmURL, true); err != nil {
		t.Fatalf("register the passkey: %v", err)
	}

	redirect := "https://partner.example/cb"
	spec, jwk, _ := ecClient(t, "accounts:read", "transfers:write")
	cl := h.partner("signin partner", spec, oauth.ProfileSpec{RedirectURIs: []string{redirect},
		GrantTypes: []string{oauth.GrantAuthorizationCode}, RARTypes: []string{oauth.DetailTransfer}})
	pollSpec, pollJWK, _ := ecClient(t, "accounts:read", "transfers:write")
	pollCl := h.partner("signin CIBA partner", pollSpec, oauth.ProfileSpec{GrantTypes: []string{oauth.GrantCIBA}, CIBAMode: "poll", RARTypes: []string{oauth.DetailTransfer}})

	cfg := map[string]any{"issuer": h.base, "redirect_uri": redirect, "customer": "C-OIDC", "subject": cu.ID,
		"pkjwt": map[string]any{"client_id": cl.ID, "jwk": jwk}, "ciba_poll": map[string]any{"client_id": pollCl.ID, "jwk": pollJWK}}
	cfgPath := filepath.Join(h.dir, "e2e-signin.json")
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	caPath := filepath.Join(h.dir, "ca.pem")
	if err := os.WriteFile(caPath, h.ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(rctx, "node", "signin.mjs", cfgPath)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_EXTRA_CA_CERTS="+caPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in, err := cmd.StdinPipe()
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
		case strings.HasPrefix(line, "confirm "):
			// The script reached txauth's confirmation page: the customer
			// completes the passkey there.
			answer := "done\n"
			if err := cust.passkey(strings.TrimPrefix(line, "confirm "), false); err != nil {
				t.Errorf("customer passkey: %v", err)
				answer = "failed\n"
			}
			if _, err := io.WriteString(in, answer); err != nil {
				t.Errorf("answer the script: %v", err)
			}
		case strings.HasPrefix(line, "ok "):
			passed[strings.TrimPrefix(line, "ok ")] = true
		case strings.HasPrefix(line, "not ok "):
			t.Errorf("node: %s", line)
		}
	}
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Errorf("node signin.mjs: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{"discovery", "signin transfer code", "id_token acr/amr", "signin ciba poll"} {
		if !passed[want] {
			t.Errorf("flow %q did not pass", want)
		}
	}
}
