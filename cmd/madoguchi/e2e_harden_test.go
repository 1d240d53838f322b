package main

// End-to-end tests of the hardening of issue 11 against a real server
// process, with third-party clients where the point is interoperability:
// golang.org/x/oauth2 (token errors), golang.org/x/mod/sumdb/note (the
// audit checkpoint and its published verifier key). RFC 8414 discovery by a
// certified third-party client (oauth4webapi) is in the Node suite
// (TestOAuthCertifiedClients).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// TestOAuthInterop: a client written by someone else — x/oauth2's
// client_credentials flow, token endpoint found through the RFC 8414
// metadata — gets a token with private_key_jwt, and sees the RFC 6749 error
// codes when it fails.
func TestOAuthInterop(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	ctx := context.Background()
	dir := t.TempDir()
	srv := startServer(t, dir)
	a := testApp(t, dir)
	ca := newTenantClient(t, a, srv.url(), "Bank A", "audit:read")

	var md struct {
		Issuer                                     string   `json:"issuer"`
		TokenEndpoint                              string   `json:"token_endpoint"`
		GrantTypesSupported                        []string `json:"grant_types_supported"`
		TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
		TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	}
	mr, err := http.Get(srv.url() + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(io.LimitReader(mr.Body, 64<<10)).Decode(&md)
	mr.Body.Close()
	if err != nil || mr.StatusCode != 200 || md.Issuer != srv.url() {
		t.Fatalf("metadata = %d issuer %q, %v", mr.StatusCode, md.Issuer, err)
	}
	// The server's one metadata document (package oauth's, tested there)
	// names this token endpoint, the grant and method this client uses,
	// and the algorithm it signs with.
	if md.TokenEndpoint != srv.url()+"/v1/oauth/token" || !strings.Contains(fmt.Sprint(md.GrantTypesSupported), "client_credentials") ||
		!strings.Contains(fmt.Sprint(md.TokenEndpointAuthMethodsSupported), "private_key_jwt") ||
		!strings.Contains(fmt.Sprint(md.TokenEndpointAuthSigningAlgValuesSupported), "ES256") {
		t.Errorf("metadata = token %q grants %v methods %v algs %v", md.TokenEndpoint, md.GrantTypesSupported,
			md.TokenEndpointAuthMethodsSupported, md.TokenEndpointAuthSigningAlgValuesSupported)
	}

	assertion, err := ca.assertion(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cc := clientcredentials.Config{
		ClientID: ca.clientID, TokenURL: md.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams,
		EndpointParams: url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}},
	}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("x/oauth2 Token = %v", err)
	}
	resp, err := oauth2.NewClient(ctx, oauth2.StaticTokenSource(tok)).Get(srv.url() + "/v1/whoami")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || tok.AccessToken == "" {
		t.Errorf("whoami with the x/oauth2 token = %d", resp.StatusCode)
	}

	code := func(cfg clientcredentials.Config) (string, *http.Response) {
		t.Helper()
		_, err := cfg.Token(ctx)
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) {
			t.Fatalf("Token = %v, want an *oauth2.RetrieveError", err)
		}
		return re.ErrorCode, re.Response
	}
	// The same assertion again is a replay: invalid_client, no challenge
	// (the client did not use the Authorization header).
	if c, r := code(cc); c != "invalid_client" || r.StatusCode != 401 || r.Header.Get("WWW-Authenticate") != "" {
		t.Errorf("replayed assertion: error %q status %d challenge %q", c, r.StatusCode, r.Header.Get("WWW-Authenticate"))
	}
	// A client trying client_secret_basic gets a Basic challenge.
	basic := clientcredentials.Config{ClientID: ca.clientID, ClientSecret: "guess", TokenURL: md.TokenEndpoint, AuthStyle: oauth2.AuthStyleInHeader}
	if c, r := code(basic); c != "invalid_client" || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic ") {
		t.Errorf("client_secret_basic: error %q challenge %q", c, r.Header.Get("WWW-Authenticate"))
	}
	fresh, _ := ca.assertion(time.Now())
	scoped := cc
	scoped.EndpointParams = url.Values{"client_assertion_type": cc.EndpointParams["client_assertion_type"], "client_assertion": {fresh}}
	scoped.Scopes = []string{"ekyc:results"}
	if c, r := code(scoped); c != "invalid_scope" || r.StatusCode != 400 || r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("scope not granted: error %q status %d", c, r.StatusCode)
	}
}

// TestAuditKeyVerifiesCheckpoint: the verifier key served at /v1/audit/key
// verifies the checkpoint served at /v1/audit/checkpoint with
// golang.org/x/mod/sumdb/note, and is the key in the data directory.
func TestAuditKeyVerifiesCheckpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	dir := t.TempDir()
	srv := startServer(t, dir)
	get := func(path string) (*http.Response, []byte) {
		resp, err := http.Get(srv.url() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s = %d %s", path, resp.StatusCode, b)
		}
		return resp, b
	}
	resp, key := get("/v1/audit/key")
	if cc := resp.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "public") {
		t.Errorf("key Cache-Control = %q, want public", cc)
	}
	_, cp := get("/v1/audit/checkpoint")
	v, err := note.NewVerifier(strings.TrimSpace(string(key)))
	if err != nil {
		t.Fatalf("note.NewVerifier(served key) = %v", err)
	}
	n, err := note.Open(cp, note.VerifierList(v))
	if err != nil {
		t.Fatalf("note.Open(served checkpoint, served key) = %v", err)
	}
	if !strings.HasPrefix(n.Text, v.Name()+"\n") {
		t.Errorf("checkpoint origin line = %q, want %q", strings.SplitN(n.Text, "\n", 2)[0], v.Name())
	}
	if want := testApp(t, dir).audit.VerifierKey(); strings.TrimSpace(string(key)) != want {
		t.Errorf("served key %q, data directory's %q", key, want)
	}
}

var volatileProblemFields = regexp.MustCompile(`"(request_id|instance)":"[^"]*",?`)

// TestStaffSignInHardening over HTTP: a real account and an unknown
// username answer with identical statuses, bodies and headers (request ids
// aside) through the whole failure sequence; an attacker's failures from
// one address put only that address in backoff — the holder signs in from
// their own; an admin sees the alert (API, metric), disables and re-enables
// a client and a staff account through the admin API; logging out an
// unknown session is 401.
func TestStaffSignInHardening(t *testing.T) {
	if testing.Short() {
		t.Skip("argon2id at production cost and a server process")
	}
	dir := t.TempDir()
	alice, bob, _ := twoAdmins(t, dir)
	srv := startServer(t, dir)
	a := testApp(t, dir)

	// The attacker signs in from 127.0.0.2, the holders from 127.0.0.1.
	attacker := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext}}
	type answer struct {
		status int
		body   string
		hdr    string
	}
	signIn := func(hc *http.Client, username, creds string) (answer, map[string]any) {
		t.Helper()
		parts := strings.Split(strings.TrimSpace(creds), "\n")
		body, _ := json.Marshal(map[string]string{"username": username, "password": parts[0], "totp": parts[1]})
		resp, err := hc.Post(srv.url()+"/v1/staff/sessions", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		// Retry-After counts down from each pair's own last failure, so
		// it is compared as present and within the first backoff (30 s),
		// not to the second.
		ra := resp.Header.Get("Retry-After")
		if n, err := strconv.Atoi(ra); ra != "" && (err != nil || n < 1 || n > 30) {
			t.Errorf("Retry-After = %q, want 1..30", ra)
		} else if ra != "" {
			ra = "present"
		}
		return answer{resp.StatusCode, volatileProblemFields.ReplaceAllString(string(b), ""),
			resp.Header.Get("Content-Type") + "|" + ra + "|" + resp.Header.Get("WWW-Authenticate")}, m
	}
	var realSeq, unkSeq []answer
	for range 7 {
		r, _ := signIn(attacker, "alice", "wrong password!!\n000000\n")
		u, _ := signIn(attacker, "nobody", "wrong password!!\n000000\n")
		realSeq, unkSeq = append(realSeq, r), append(unkSeq, u)
	}
	for i := range realSeq {
		if realSeq[i] != unkSeq[i] {
			t.Errorf("attempt %d: real account %+v, unknown %+v", i+1, realSeq[i], unkSeq[i])
		}
	}
	var statuses []int
	for _, r := range realSeq {
		statuses = append(statuses, r.status)
	}
	if !slices.Equal(statuses, []int{401, 401, 401, 401, 401, 429, 429}) {
		t.Errorf("statuses = %v, want 401 x5 then 429 (backoff)", statuses)
	}
	// The holder is not locked out from their own address.
	ans, m := signIn(http.DefaultClient, "alice", alice.creds(t))
	if ans.status != 200 {
		t.Fatalf("alice from her own address = %+v", ans)
	}
	aliceTok, _ := m["token"].(string)
	ans, m = signIn(http.DefaultClient, "bob", bob.creds(t))
	if ans.status != 200 {
		t.Fatalf("bob = %+v", ans)
	}
	bobTok, _ := m["token"].(string)

	call := func(method, path, tok string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.url()+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	st, b := call("GET", "/v1/admin/alerts", aliceTok)
	var alerts struct {
		Alerts []map[string]any `json:"alerts"`
	}
	_ = json.Unmarshal(b, &alerts)
	kinds := map[string]map[string]any{}
	for _, al := range alerts.Alerts {
		kinds[al["kind"].(string)] = al
	}
	if st != 200 || kinds["signin.backoff"]["source"] != "127.0.0.2" || kinds["signin.backoff"]["staff_id"] == nil {
		t.Errorf("alerts = %d %s, want a signin.backoff alert for alice from 127.0.0.2", st, b)
	}
	if _, metrics := call("GET", "/metrics", ""); !regexp.MustCompile(`(?m)^madoguchi_staff_signin_alerts_total [1-9]`).Match(metrics) {
		t.Errorf("metrics lack madoguchi_staff_signin_alerts_total > 0")
	}

	// Client disable/enable through the admin API: the token dies at once.
	ca := newTenantClient(t, a, srv.url(), "Bank A", "audit:read")
	ctx := context.Background()
	if err := ca.call(ctx, "GET", "/v1/whoami", nil, nil); err != nil {
		t.Fatal(err)
	}
	clientPath := "/v1/admin/tenants/" + ca.tenantID + "/clients/" + ca.clientID
	if st, b := call("POST", clientPath+"/disable", aliceTok); st != 200 {
		t.Fatalf("disable client = %d %s", st, b)
	}
	if st, _ := call("GET", "/v1/whoami", ca.token); st != 401 {
		t.Errorf("whoami with a disabled client's token = %d, want 401", st)
	}
	if st, _ := call("POST", "/v1/admin/tenants/tn_other/clients/"+ca.clientID+"/enable", aliceTok); st != 404 {
		t.Errorf("enable under another tenant = %d, want 404", st)
	}
	if st, _ := call("POST", clientPath+"/enable", aliceTok); st != 200 {
		t.Errorf("enable client = %d", st)
	}
	ca.token = ""
	if err := ca.call(ctx, "GET", "/v1/whoami", nil, nil); err != nil {
		t.Errorf("whoami after re-enable with a new token = %v", err)
	}
	// Staff disable: bob's session ends at once; alice cannot disable herself.
	bobID := testAppAccountID(t, a, "bob")
	if st, _ := call("POST", "/v1/admin/staff/"+bobID+"/disable", aliceTok); st != 200 {
		t.Fatalf("disable bob = %d", st)
	}
	if st, _ := call("GET", "/v1/admin/alerts", bobTok); st != 401 {
		t.Errorf("disabled bob's session = %d, want 401", st)
	}
	if st, _ := call("POST", "/v1/admin/staff/"+testAppAccountID(t, a, "alice")+"/disable", aliceTok); st != 409 {
		t.Errorf("alice disabling herself = %d, want 409", st)
	}
	if st, _ := call("POST", "/v1/admin/staff/"+bobID+"/enable", aliceTok); st != 200 {
		t.Errorf("enable bob = %d", st)
	}
	if st, _ := call("POST", clientPath+"/disable", ""); st != 401 {
		t.Errorf("admin API without a session = %d, want 401", st)
	}
	// Logout: an unknown session is 401; alice's real one 204, then 401.
	if st, _ := call("DELETE", "/v1/staff/sessions/current", "mdg_st_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); st != 401 {
		t.Errorf("logout of an unknown session = %d, want 401", st)
	}
	if st, _ := call("DELETE", "/v1/staff/sessions/current", aliceTok); st != 204 {
		t.Errorf("logout = %d, want 204", st)
	}
	if st, _ := call("DELETE", "/v1/staff/sessions/current", aliceTok); st != 401 {
		t.Errorf("second logout = %d, want 401", st)
	}
}

func testAppAccountID(t *testing.T, a *app, username string) string {
	t.Helper()
	acc, err := a.staff.AccountByUsername(context.Background(), username)
	if err != nil {
		t.Fatal(err)
	}
	return acc.ID
}
