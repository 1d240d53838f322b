package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestFAPISecurityProfile has one subtest per "shall" of the FAPI 2.0
// Security Profile that applies to an authorization server (named by
// clause; docs/fapi.md maps them), plus the replay, cross-tenant, time and
// binding refusals the issue lists. Each runs against a real server on
// SQLite and PostgreSQL.
func TestFAPISecurityProfile(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		c := e.partner(e.tenant)
		dk := newDPoPKey(t)
		tokenForm := func(code string) url.Values {
			return merge(e.clientAuth(c), url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}, "code_verifier": {testVerifier}})
		}
		dpopTok := func() map[string]string {
			return map[string]string{"DPoP": e.proof(dk, "POST", e.base+PathToken, "", nil)}
		}
		expect := func(t *testing.T, r reply, status int, code string) {
			t.Helper()
			if r.status != status || r.code() != code {
				t.Fatalf("got %d %q, want %d %q (%s)", r.status, r.code(), status, code, r.raw)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("Content-Type = %q, want application/json (RFC 6749 §5.2)", ct)
			}
		}

		t.Run("5.3.1.1/confidential clients only: PAR without client authentication", func(t *testing.T) {
			expect(t, e.post(PathPAR, merge(url.Values{"client_id": {c.id}}, parParams(testVerifier)), nil), 401, "invalid_client")
		})
		t.Run("5.3.1.1/client auth is private_key_jwt or mTLS: a client secret is refused", func(t *testing.T) {
			f := merge(url.Values{"client_id": {c.id}, "client_secret": {"s3cret"}}, parParams(testVerifier))
			expect(t, e.post(PathPAR, f, nil), 401, "invalid_client")
			req, _ := http.NewRequest("POST", e.base+PathPAR, strings.NewReader(parParams(testVerifier).Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(c.id, "s3cret")
			expect(t, e.do(req), 401, "invalid_client")
		})
		t.Run("5.3.1.1/reject the resource owner password credentials grant", func(t *testing.T) {
			f := merge(e.clientAuth(c), url.Values{"grant_type": {"password"}, "username": {"u"}, "password": {"p"}})
			expect(t, e.post(PathToken, f, nil), 400, "unsupported_grant_type")
		})
		t.Run("5.3.1.1/distribute discovery metadata", func(t *testing.T) {
			for _, p := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
				r := e.do(must1(http.NewRequest("GET", e.base+p, nil)))
				if r.status != 200 || r.body["issuer"] != e.base || r.body["require_pushed_authorization_requests"] != true {
					t.Fatalf("%s = %d %v", p, r.status, r.body)
				}
			}
		})
		t.Run("5.3.1.1/only sender-constrained access tokens", func(t *testing.T) {
			code := codeOf(t, e.authorize(c, parParams(testVerifier), nil))
			expect(t, e.post(PathToken, tokenForm(code), nil), 400, "invalid_request")
		})
		t.Run("5.3.1.1/dpop_jkt binds the code to the DPoP key", func(t *testing.T) {
			code := codeOf(t, e.authorize(c, parParams(testVerifier), &dk))
			other := newDPoPKey(t)
			expect(t, e.post(PathToken, tokenForm(code), map[string]string{"DPoP": e.proof(other, "POST", e.base+PathToken, "", nil)}), 400, "invalid_grant")
		})
		t.Run("5.3.1.1/accept the issuer identifier as aud; refuse another audience", func(t *testing.T) {
			ok := merge(url.Values{"client_id": {c.id}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
				"client_assertion": {e.assertion(c, nil)}}, parParams(testVerifier))
			if r := e.post(PathPAR, ok, nil); r.status != 201 {
				t.Fatalf("aud=issuer: %d %s", r.status, r.raw)
			}
			bad := merge(url.Values{"client_id": {c.id}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
				"client_assertion": {e.assertion(c, func(h, cl map[string]any) { cl["aud"] = "https://other.example" })}}, parParams(testVerifier))
			expect(t, e.post(PathPAR, bad, nil), 401, "invalid_client")
		})
		t.Run("5.3.1.1/no refresh token rotation", func(t *testing.T) {
			tk := e.tokens(c, dk)
			rt := tk["refresh_token"].(string)
			r := e.post(PathToken, merge(e.clientAuth(c), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}), dpopTok())
			if r.status != 200 || r.body["refresh_token"] != rt {
				t.Fatalf("refresh = %d %v", r.status, r.raw)
			}
		})
		t.Run("5.3.1.1/authorization codes live at most 60 s", func(t *testing.T) {
			code := codeOf(t, e.authorize(c, parParams(testVerifier), &dk))
			e.clock.advance(61 * time.Second)
			defer e.clock.advance(-61 * time.Second)
			expect(t, e.post(PathToken, tokenForm(code), dpopTok()), 400, "invalid_grant")
		})
		t.Run("5.3.1.2/request_uri expires in less than 600 s", func(t *testing.T) {
			r := e.post(PathPAR, merge(e.clientAuth(c), parParams(testVerifier)), nil)
			if ei, _ := r.body["expires_in"].(float64); r.status != 201 || ei <= 0 || ei >= 600 {
				t.Fatalf("PAR = %d expires_in %v", r.status, r.body["expires_in"])
			}
			e.clock.advance(PARTTL + time.Second)
			defer e.clock.advance(-PARTTL - time.Second)
			resp, _ := e.http.Get(e.base + PathAuthorize + "?" + url.Values{"client_id": {c.id}, "request_uri": {r.body["request_uri"].(string)}}.Encode())
			resp.Body.Close()
			if resp.StatusCode != 400 {
				t.Fatalf("expired request_uri: %d", resp.StatusCode)
			}
		})
		t.Run("5.3.1.1/JWT iat and nbf: 10 s ahead accepted, more than 60 s ahead refused", func(t *testing.T) {
			ahead := func(d int64) url.Values {
				return merge(url.Values{"client_id": {c.id}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
					"client_assertion": {e.assertion(c, func(h, cl map[string]any) {
						cl["iat"] = e.clock.now().Unix() + d
						cl["exp"] = e.clock.now().Unix() + d + 60
					})}},
					parParams(testVerifier))
			}
			if r := e.post(PathPAR, ahead(9), nil); r.status != 201 {
				t.Fatalf("iat +9 s: %d %s", r.status, r.raw)
			}
			expect(t, e.post(PathPAR, ahead(70), nil), 401, "invalid_client")
			dp := e.proof(dk, "POST", e.base+PathPAR, "", func(h, cl map[string]any) { cl["iat"] = e.clock.now().Unix() + 70 })
			expect(t, e.post(PathPAR, merge(e.clientAuth(c), parParams(testVerifier)), map[string]string{"DPoP": dp}), 400, "invalid_dpop_proof")
		})
		t.Run("5.3.1.2/response_type code only", func(t *testing.T) {
			f := merge(e.clientAuth(c), parParams(testVerifier))
			f.Set("response_type", "code id_token")
			expect(t, e.post(PathPAR, f, nil), 400, "unsupported_response_type")
			f = merge(e.clientAuth(c), parParams(testVerifier))
			f.Set("response_type", "token")
			expect(t, e.post(PathPAR, f, nil), 400, "unsupported_response_type")
		})
		t.Run("5.3.1.2/reject authorization requests sent without PAR", func(t *testing.T) {
			q := merge(url.Values{"client_id": {c.id}}, parParams(testVerifier))
			resp, err := e.http.Get(e.base + PathAuthorize + "?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
				t.Fatalf("non-PAR request: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
			}
		})
		t.Run("5.3.1.2/PKCE with S256 only", func(t *testing.T) {
			f := merge(e.clientAuth(c), parParams(testVerifier))
			f.Set("code_challenge_method", "plain")
			expect(t, e.post(PathPAR, f, nil), 400, "invalid_request")
			f = merge(e.clientAuth(c), parParams(testVerifier))
			f.Del("code_challenge")
			f.Del("code_challenge_method")
			expect(t, e.post(PathPAR, f, nil), 400, "invalid_request")
			code := codeOf(t, e.authorize(c, parParams(testVerifier), &dk))
			wrong := tokenForm(code)
			wrong.Set("code_verifier", strings.Repeat("a", 43))
			expect(t, e.post(PathToken, wrong, dpopTok()), 400, "invalid_grant")
		})
		t.Run("5.3.1.2/redirect_uri required in PAR and registered", func(t *testing.T) {
			f := merge(e.clientAuth(c), parParams(testVerifier))
			f.Del("redirect_uri")
			expect(t, e.post(PathPAR, f, nil), 400, "invalid_request")
			f = merge(e.clientAuth(c), parParams(testVerifier))
			f.Set("redirect_uri", "https://attacker.example/cb")
			expect(t, e.post(PathPAR, f, nil), 400, "invalid_request")
		})
		t.Run("5.3.1.2/iss in the authorization response, 303 not 307", func(t *testing.T) {
			resp := e.authorize(c, parParams(testVerifier), &dk)
			u, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusSeeOther || u.Query().Get("iss") != e.base || u.Query().Get("state") != "st" {
				t.Fatalf("authorization response %d %s", resp.StatusCode, u)
			}
		})
		t.Run("5.3.1.2/no http redirect URIs except loopback", func(t *testing.T) {
			for _, u := range []string{"http://partner.example/cb", "https://partner.example/cb#frag", "custom:/cb"} {
				spec := ProfileSpec{RedirectURIs: []string{u}, GrantTypes: []string{GrantAuthorizationCode}}
				if err := spec.check(); !errors.Is(err, ErrInvalidInput) {
					t.Errorf("redirect URI %q: %v, want ErrInvalidInput", u, err)
				}
			}
			spec := ProfileSpec{RedirectURIs: []string{"http://127.0.0.1:8765/cb"}, GrantTypes: []string{GrantAuthorizationCode}}
			if err := spec.check(); err != nil {
				t.Errorf("loopback redirect refused: %v", err)
			}
		})
		t.Run("5.3.1.2/codes are single use; a replay revokes the grant", func(t *testing.T) {
			code := codeOf(t, e.authorize(c, parParams(testVerifier), &dk))
			r := e.post(PathToken, tokenForm(code), dpopTok())
			if r.status != 200 {
				t.Fatalf("first redemption: %d %s", r.status, r.raw)
			}
			expect(t, e.post(PathToken, tokenForm(code), dpopTok()), 400, "invalid_grant")
			at := r.body["access_token"].(string)
			req, _ := http.NewRequest("GET", e.base+"/resource", nil)
			req.Header.Set("Authorization", "DPoP "+at)
			req.Header.Set("DPoP", e.proof(dk, "GET", e.base+"/resource", at, nil))
			if rr := e.do(req); rr.status != 401 {
				t.Fatalf("token of a replayed code still works: %d", rr.status)
			}
		})
		t.Run("5.3.1.2/request_uri single use at the authorization endpoint", func(t *testing.T) {
			r := e.post(PathPAR, merge(e.clientAuth(c), parParams(testVerifier)), nil)
			uri := r.body["request_uri"].(string)
			e.customer(c.id, uri, "cust-1")
			resp, _ := e.http.Get(e.base + PathAuthorize + "?" + url.Values{"client_id": {c.id}, "request_uri": {uri}}.Encode())
			resp.Body.Close()
			if resp.StatusCode != 400 {
				t.Fatalf("second use of a request_uri: %d", resp.StatusCode)
			}
		})
		t.Run("5.3.1.2/nonce up to 64 characters accepted", func(t *testing.T) {
			p := parParams(testVerifier)
			p.Set("nonce", strings.Repeat("n", 64))
			if r := e.post(PathPAR, merge(e.clientAuth(c), p), nil); r.status != 201 {
				t.Fatalf("64-character nonce: %d %s", r.status, r.raw)
			}
		})
		t.Run("5.4/PS256, ES256, EdDSA only: none, HS256 and RS256 refused", func(t *testing.T) {
			for _, alg := range []string{"none", "HS256", "RS256", "ES384"} {
				a := sign(t, map[string]any{"alg": alg, "kid": "k1"}, map[string]any{"iss": c.id, "sub": c.id, "aud": e.base, "jti": randomToken(),
					"iat": e.clock.now().Unix(), "exp": e.clock.now().Unix() + 60}, nil)
				f := merge(url.Values{"client_id": {c.id}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}}, parParams(testVerifier))
				expect(t, e.post(PathPAR, f, nil), 401, "invalid_client")
				dp := sign(t, map[string]any{"typ": "dpop+jwt", "alg": alg, "jwk": dk.jwk}, map[string]any{"jti": randomToken(), "htm": "POST",
					"htu": e.base + PathPAR, "iat": e.clock.now().Unix(), "nonce": nonceOf(t, e.srv)}, nil)
				expect(t, e.post(PathPAR, merge(e.clientAuth(c), parParams(testVerifier)), map[string]string{"DPoP": dp}), 400, "invalid_dpop_proof")
			}
		})
		t.Run("5.3.3/resource: bound token without its proof, with another key, wrong htu, replayed proof, bearer scheme", func(t *testing.T) {
			tk := e.tokens(c, dk)
			at := tk["access_token"].(string)
			call := func(scheme string, proof string) reply {
				req, _ := http.NewRequest("GET", e.base+"/resource", nil)
				req.Header.Set("Authorization", scheme+" "+at)
				if proof != "" {
					req.Header.Set("DPoP", proof)
				}
				return e.do(req)
			}
			good := e.proof(dk, "GET", e.base+"/resource", at, nil)
			if r := call("DPoP", good); r.status != 200 || r.body["sub"] != "cust-1" {
				t.Fatalf("valid proof: %d %s", r.status, r.raw)
			}
			if r := call("DPoP", good); r.status != 401 || r.code() != "invalid_dpop_proof" {
				t.Errorf("replayed proof: %d %s", r.status, r.raw)
			}
			if r := call("DPoP", ""); r.status != 401 || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "DPoP ") {
				t.Errorf("no proof: %d %q", r.status, r.header.Get("WWW-Authenticate"))
			}
			if r := call("Bearer", ""); r.status != 401 || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("bearer scheme: %d %q", r.status, r.header.Get("WWW-Authenticate"))
			}
			if r := call("DPoP", e.proof(newDPoPKey(t), "GET", e.base+"/resource", at, nil)); r.status != 401 {
				t.Errorf("another key: %d", r.status)
			}
			if r := call("DPoP", e.proof(dk, "GET", e.base+"/other", at, nil)); r.status != 401 || r.code() != "invalid_dpop_proof" {
				t.Errorf("wrong htu: %d %s", r.status, r.raw)
			}
			if r := call("DPoP", e.proof(dk, "POST", e.base+"/resource", at, nil)); r.status != 401 {
				t.Errorf("wrong htm: %d", r.status)
			}
			if r := call("DPoP", e.proof(dk, "GET", e.base+"/resource", "", nil)); r.status != 401 {
				t.Errorf("no ath: %d", r.status)
			}
			old := e.proof(dk, "GET", e.base+"/resource", at, func(h, c map[string]any) { c["iat"] = e.clock.now().Unix() - 120 })
			if r := call("DPoP", old); r.status != 401 {
				t.Errorf("expired proof: %d", r.status)
			}
			stale := e.proof(dk, "GET", e.base+"/resource", at, func(h, c map[string]any) { c["nonce"] = "not-a-nonce" })
			if r := call("DPoP", stale); r.status != 401 || r.code() != "use_dpop_nonce" || r.header.Get("DPoP-Nonce") == "" {
				t.Errorf("bad nonce: %d %s nonce %q", r.status, r.raw, r.header.Get("DPoP-Nonce"))
			}
			req, _ := http.NewRequest("GET", e.base+"/resource?access_token="+url.QueryEscape(at), nil)
			if r := e.do(req); r.status != 401 {
				t.Errorf("token in the query: %d", r.status)
			}
		})
		t.Run("replay/client assertion", func(t *testing.T) {
			a := e.assertion(c, nil)
			f := merge(url.Values{"client_id": {c.id}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}}, parParams(testVerifier))
			if r := e.post(PathPAR, f, nil); r.status != 201 {
				t.Fatalf("first: %d %s", r.status, r.raw)
			}
			expect(t, e.post(PathPAR, f, nil), 401, "invalid_client")
		})
		t.Run("replay/DPoP proof at the token endpoint", func(t *testing.T) {
			code := codeOf(t, e.authorize(c, parParams(testVerifier), &dk))
			p := e.proof(dk, "POST", e.base+PathToken, "", nil)
			if r := e.post(PathToken, tokenForm(code), map[string]string{"DPoP": p}); r.status != 200 {
				t.Fatalf("first: %d %s", r.status, r.raw)
			}
			tk := e.tokens(c, dk)
			r := e.post(PathToken, merge(e.clientAuth(c), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk["refresh_token"].(string)}}), map[string]string{"DPoP": p})
			expect(t, r, 400, "invalid_dpop_proof")
		})
		t.Run("cross-tenant/a client of another tenant cannot redeem, introspect or revoke", func(t *testing.T) {
			other, err := e.reg.CreateTenant(context.Background(), tenantActor(), "Other "+randomToken()[:6])
			if err != nil {
				t.Fatal(err)
			}
			oc := e.partner(other.ID)
			code := codeOf(t, e.authorize(c, parParams(testVerifier), &dk))
			f := merge(e.clientAuth(oc), url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}, "code_verifier": {testVerifier}})
			expect(t, e.post(PathToken, f, dpopTok()), 400, "invalid_grant")
			tk := e.tokens(c, dk)
			r := e.post(PathIntrospect, merge(e.clientAuth(oc), url.Values{"token": {tk["access_token"].(string)}}), nil)
			if r.status != 200 || r.body["active"] != false || len(r.body) != 1 {
				t.Fatalf("cross-tenant introspection: %d %s", r.status, r.raw)
			}
			e.post(PathRevoke, merge(e.clientAuth(oc), url.Values{"token": {tk["refresh_token"].(string)}}), nil)
			r = e.post(PathIntrospect, merge(e.clientAuth(c), url.Values{"token": {tk["access_token"].(string)}}), nil)
			if r.body["active"] != true {
				t.Fatalf("another tenant's revocation took effect: %s", r.raw)
			}
			if err := e.srv.RevokeConsent(context.Background(), Viewer{Kind: audit.ActorStaff, ID: "x"}, other.ID, "gr_nope"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("RevokeConsent across tenants: %v", err)
			}
		})
		t.Run("onboarding/a pending client is refused at PAR and the token endpoint until a second admin activates it", func(t *testing.T) {
			ctx := context.Background()
			pending := e.newPendingClient()
			expect(t, e.post(PathPAR, merge(e.clientAuth(pending), parParams(testVerifier)), nil), 401, "unauthorized_client")
			tf := merge(e.clientAuth(pending), url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "redirect_uri": {testRedirect}, "code_verifier": {testVerifier}})
			expect(t, e.post(PathToken, tf, dpopTok()), 401, "unauthorized_client")
			for _, a := range CriteriaAreas {
				if err := e.srv.SetAssessmentItem(ctx, Actor{Kind: audit.ActorStaff, ID: "filler"}, nil, e.tenant, pending.id, a, ItemNotApplicable, "", "", nil); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := e.srv.ActivationPayload(ctx, e.tenant, pending.id); !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("ActivationPayload before sign-off = %v, want ErrInvalidInput", err)
			}
			if _, err := e.srv.SignOff(ctx, Actor{Kind: audit.ActorStaff, ID: "rev"}, e.tenant, pending.id); err != nil {
				t.Fatal(err)
			}
			if err := e.approveActivation(e.tenant, pending.id, "a1", "a1"); !errors.Is(err, ErrSecondApprover) {
				t.Fatalf("same admin activated: %v", err)
			}
			expect(t, e.post(PathPAR, merge(e.clientAuth(pending), parParams(testVerifier)), nil), 401, "unauthorized_client")
			if err := e.approveActivation(e.tenant, pending.id, "a1", "a2"); err != nil {
				t.Fatal(err)
			}
			if r := e.post(PathPAR, merge(e.clientAuth(pending), parParams(testVerifier)), nil); r.status != 201 {
				t.Fatalf("PAR after activation: %d %s", r.status, r.raw)
			}
		})
		t.Run("rar/authorization_details refused unless understood and allowed", func(t *testing.T) {
			for _, ad := range []string{
				`[{"type":"jp_bank_transfer","amount":"100","currency":"USD","payee":{"bank_code":"0001","branch_code":"123","account_type":"ordinary","account_number":"1234567","name":"A"},"purpose":"x"}]`,
				`[{"type":"jp_bank_transfer","amount":"100","currency":"JPY","payee":{"bank_code":"0001","branch_code":"123","account_type":"ordinary","account_number":"1234567","name":"A"},"purpose":"x","extra":1}]`,
				`[{"type":"payment_initiation"}]`,
				`{"type":"account_information"}`,
				// A transfer the customer could not be asked to confirm
				// (txauth's Zengin rules): refused at PAR, not mid-flow.
				`[{"type":"jp_bank_transfer","amount":"100","currency":"JPY","payee":{"bank_code":"0001","branch_code":"123","account_type":"ordinary","account_number":"1234567","name":"山田太郎"},"purpose":"x"}]`,
				`[{"type":"jp_bank_transfer","amount":"100","currency":"JPY","payee":{"bank_code":"0001","branch_code":"123","account_type":"ordinary","account_number":"1234567","name":"yamada"},"purpose":"x"}]`,
				`[{"type":"jp_bank_transfer","amount":"100","currency":"JPY","payee":{"bank_code":"0001","branch_code":"123","account_type":"ordinary","account_number":"1234567","name":"ヤマダ"},"purpose":"` + strings.Repeat("あ", 101) + `"}]`,
				`[{"type":"jp_bank_transfer","amount":"100","currency":"JPY","payee":{"bank_code":"0001","branch_code":"123","account_type":"ordinary","account_number":"1234567","name":"ヤマダ"},"purpose":"a\u2028b"}]`,
				`[{"type":"account_information","actions":["read_balances"],"accounts":[{"bank_code":"0001","branch_code":"123","account_type":"ordinary","account_number":"1234567","name":"山田"}]}]`,
			} {
				p := parParams(testVerifier)
				p.Set("authorization_details", ad)
				expect(t, e.post(PathPAR, merge(e.clientAuth(c), p), nil), 400, "invalid_authorization_details")
			}
		})
		t.Run("limits/per-client rate limit answers 429 with Retry-After", func(t *testing.T) {
			slow := e.newPendingClient()
			ctx := context.Background()
			if _, err := e.db.Exec(ctx, `UPDATE oauth_clients SET rate_client = 1 WHERE client_id = ?`, slow.id); err != nil {
				t.Fatal(err)
			}
			e.activate(e.tenant, slow.id)
			var last reply
			for i := 0; i < 4; i++ {
				last = e.post(PathPAR, merge(e.clientAuth(slow), parParams(testVerifier)), nil)
			}
			if last.status != 429 || last.header.Get("Retry-After") == "" {
				t.Fatalf("4 requests at 1/s: %d Retry-After %q", last.status, last.header.Get("Retry-After"))
			}
		})
		t.Run("scope/a client's own scopes never reach a customer token", func(t *testing.T) {
			p := parParams(testVerifier)
			p.Set("scope", "openid audit:read")
			expect(t, e.post(PathPAR, merge(e.clientAuth(c), p), nil), 400, "invalid_scope")
		})
	})
}

func must1(r *http.Request, err error) *http.Request {
	if err != nil {
		panic(err)
	}
	return r
}

func tenantActor() tenantActorT { return tenantActorT{Kind: audit.ActorSystem, ID: "test"} }

// newPendingClient registers a client whose profile is not activated.
func (e *env) newPendingClient() pclient {
	e.t.Helper()
	ctx := context.Background()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := key.PublicKey.Bytes()
	jwks := `{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"` + b64.EncodeToString(pub[1:33]) + `","y":"` + b64.EncodeToString(pub[33:]) + `"}]}`
	var id string
	if err := e.db.InTx(ctx, func(tx *store.Tx) error {
		c, err := e.reg.CreateClientTx(ctx, tx, tenantActor(), e.tenant, tenantSpec(jwks))
		id = c.ID
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.srv.RegisterClient(ctx, Actor{Kind: audit.ActorStaff, ID: "a1"}, e.tenant, id,
		ProfileSpec{RedirectURIs: []string{testRedirect}, GrantTypes: []string{GrantAuthorizationCode}}); err != nil {
		e.t.Fatal(err)
	}
	return pclient{id: id, tenant: e.tenant, key: key}
}
