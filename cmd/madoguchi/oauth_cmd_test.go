package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/oauth"
	"github.com/madoguchi/madoguchi/tenant"
)

// harnessConsent has customer approve the partner's pushed request through
// the running server (PAR with private_key_jwt, the authorization endpoint,
// the development customer step) and returns the consent's id.
func harnessConsent(t *testing.T, h *oauthHarness, c *apiClient, customer string) string {
	t.Helper()
	as, err := c.assertion(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"))
	resp, err := h.http.PostForm(h.base+oauth.PathPAR, url.Values{"client_id": {c.clientID}, "client_assertion_type": {tenant.ClientAssertionType},
		"client_assertion": {as}, "response_type": {"code"}, "redirect_uri": {"https://partner.example/cb"}, "scope": {"accounts:read"},
		"state": {"st"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(d[:])}, "code_challenge_method": {"S256"}})
	if err != nil {
		t.Fatal(err)
	}
	var par struct {
		RequestURI string `json:"request_uri"`
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &par) != nil {
		t.Fatalf("PAR = %d %s", resp.StatusCode, b)
	}
	resp, err = h.http.Get(h.base + oauth.PathAuthorize + "?" + url.Values{"client_id": {c.clientID}, "request_uri": {par.RequestURI}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	m := ixRE.FindSubmatch(b)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("authorize = %d %s", resp.StatusCode, b)
	}
	req, _ := http.NewRequest(http.MethodPost, h.base+oauth.PathDecide,
		strings.NewReader(url.Values{"interaction": {string(m[1])}, "customer": {customer}, "decision": {"approve"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, ck := range resp.Cookies() {
		req.AddCookie(ck)
	}
	if resp, err = h.http.Do(req); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("decide = %v %v", resp, err)
	}
	resp.Body.Close()
	cs, err := h.a.oauth.Consents(context.Background(), oauth.Viewer{Kind: audit.ActorSystem}, h.tenant, oauth.ConsentFilter{Subject: customer})
	if err != nil || len(cs) != 1 {
		t.Fatalf("consents of %s = %d, %v", customer, len(cs), err)
	}
	return cs[0].ID
}

// TestOAuthConsentsCommand: "oauth consents list" shows a tenant's
// consents (customers by pseudonym) and is audited; "oauth consents
// revoke" needs an admin's password and TOTP code, refuses another
// tenant's or an unknown consent, revokes the consent in the store and
// audits it with the admin as actor.
func TestOAuthConsentsCommand(t *testing.T) {
	t.Parallel() // waits for fresh TOTP steps: overlaps with the other CLI tests that do
	h := startOAuthServer(t, nil)
	spec, _, key := ecClient(t, "accounts:read")
	cl := h.partner("consents partner", spec, oauth.ProfileSpec{RedirectURIs: []string{"https://partner.example/cb"},
		GrantTypes: []string{oauth.GrantAuthorizationCode}})
	c := &apiClient{base: h.base, audience: h.base, clientID: cl.ID, kid: "k1", key: key, http: h.http}
	g1, g2 := harnessConsent(t, h, c, "cust-1"), harnessConsent(t, h, c, "cust-2")
	other, err := h.a.tenants.CreateTenant(context.Background(), tenant.Actor{Kind: audit.ActorSystem, ID: "e2e"}, "Other Bank")
	if err != nil {
		t.Fatal(err)
	}
	alice, _, aliceID := twoAdmins(t, h.dir)

	oauthRun := func(stdin string, args ...string) (string, error) {
		out, errb, err := cliRun(runOAuth, stdin, append(args, "--data", h.dir)...)
		if err != nil {
			t.Logf("oauth %s: %v (stderr %q)", strings.Join(args, " "), err, errb)
		}
		return out, err
	}
	out, err := oauthRun("", "consents", "list", "--tenant", h.tenant)
	if err != nil || !strings.Contains(out, g1) || !strings.Contains(out, g2) || !strings.Contains(out, oauth.CustomerViewer(h.tenant, "cust-1").ID) ||
		strings.Contains(out, "cust-1") || strings.Count(out, "\tactive\t") != 2 {
		t.Fatalf("consents list = %q, %v; want both consents, active, by pseudonym", out, err)
	}
	if out, err := oauthRun("", "consents", "list", "--tenant", h.tenant, "--customer", "cust-2"); err != nil || strings.Contains(out, g1) || !strings.Contains(out, g2) {
		t.Errorf("consents list --customer cust-2 = %q, %v", out, err)
	}
	if out, err := oauthRun("", "consents", "list", "--tenant", other.ID); err != nil || out != "" {
		t.Errorf("another tenant's list = %q, %v; want empty", out, err)
	}
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
	}{
		{"no --as", "", []string{"consents", "revoke", g1, "--tenant", h.tenant}},
		{"no id", "", []string{"consents", "revoke", "--tenant", h.tenant, "--as", "alice"}},
		{"wrong password", "not the password\n000000\n", []string{"consents", "revoke", g1, "--tenant", h.tenant, "--as", "alice"}},
		{"another tenant", alice.creds(t), []string{"consents", "revoke", g1, "--tenant", other.ID, "--as", "alice"}},
		{"unknown consent", alice.creds(t), []string{"consents", "revoke", "gr_unknown", "--tenant", h.tenant, "--as", "alice"}},
		{"no subcommand", "", []string{"consents", "drop"}},
	} {
		if _, err := oauthRun(tc.stdin, tc.args...); err == nil {
			t.Errorf("%s: revoke succeeded", tc.name)
		}
	}
	if out, err := oauthRun(alice.creds(t), "consents", "revoke", g1, "--tenant", h.tenant, "--as", "alice"); err != nil || out != "revoked "+g1+"\n" {
		t.Fatalf("revoke = %q, %v", out, err)
	}
	cs, err := h.a.oauth.Consents(context.Background(), oauth.Viewer{Kind: audit.ActorSystem}, h.tenant, oauth.ConsentFilter{})
	if err != nil || len(cs) != 2 {
		t.Fatalf("consents after revoke: %d, %v", len(cs), err)
	}
	for _, cn := range cs {
		want := map[string]string{g1: oauth.ConsentRevoked, g2: oauth.ConsentActive}[cn.ID]
		if cn.Status != want || (cn.ID == g1 && cn.RevokedBy != audit.ActorStaff+":"+aliceID) {
			t.Errorf("consent %s: status %s by %q, want %s (by alice)", cn.ID, cn.Status, cn.RevokedBy, want)
		}
	}
	var revokes, lists int
	size, _ := h.a.audit.Size(context.Background())
	for i := range size {
		_, leaf, _ := h.a.audit.Entry(context.Background(), i)
		en, err := audit.ParseLeaf(leaf)
		if err != nil {
			continue
		}
		switch {
		case en.Action == "oauth.consent.revoke" && en.Object == g1 && en.ActorKind == audit.ActorStaff && en.ActorID == aliceID:
			revokes++
		case en.Action == "oauth.consent.list" && en.ActorKind == audit.ActorSystem && strings.HasPrefix(en.ActorID, "cli:"):
			lists++
		}
	}
	if revokes != 1 || lists < 3 {
		t.Errorf("audit: %d revocations by alice, %d CLI listings; want 1 and at least 3", revokes, lists)
	}
}
