package oauth

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestRateLimits: every endpoint a client calls takes from that client's
// bucket (1 request/s, bursts of 2 here: the fourth quick request is 429
// with Retry-After); the resource path takes from the customer's bucket,
// which another customer's requests do not drain.
func TestRateLimits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		slow := func(c pclient, col string, v int) {
			t.Helper()
			if _, err := e.db.Exec(ctx, `UPDATE oauth_clients SET `+col+` = ? WHERE client_id = ?`, v, c.id); err != nil {
				t.Fatal(err)
			}
		}
		dk := newDPoPKey(t)
		for _, tc := range []struct {
			endpoint string
			grants   []string
			send     func(c pclient) reply
		}{
			{PathPAR, nil, func(c pclient) reply { return e.post(PathPAR, merge(e.clientAuth(c), parParams(testVerifier)), nil) }},
			{PathToken, nil, func(c pclient) reply {
				f := merge(e.clientAuth(c), url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "redirect_uri": {testRedirect}, "code_verifier": {testVerifier}})
				return e.post(PathToken, f, map[string]string{"DPoP": e.proof(dk, "POST", e.base+PathToken, "", nil)})
			}},
			{PathCIBA, []string{GrantCIBA}, func(c pclient) reply {
				return e.post(PathCIBA, merge(e.clientAuth(c), url.Values{"scope": {"openid"}, "login_hint": {"cust-1"}, "binding_message": {"A1"}}), nil)
			}},
			{PathIntrospect, nil, func(c pclient) reply {
				return e.post(PathIntrospect, merge(e.clientAuth(c), url.Values{"token": {"nope"}}), nil)
			}},
			{PathRevoke, nil, func(c pclient) reply {
				return e.post(PathRevoke, merge(e.clientAuth(c), url.Values{"token": {"nope"}}), nil)
			}},
		} {
			t.Run("per client at "+tc.endpoint, func(t *testing.T) {
				c := e.partner(e.tenant, tc.grants...)
				slow(c, "rate_client", 1)
				var last reply
				for i := 0; i < 4; i++ {
					if last = tc.send(c); i == 0 && last.status == http.StatusTooManyRequests {
						t.Fatalf("the first request was limited: %s", last.raw)
					}
				}
				if last.status != http.StatusTooManyRequests || last.code() != "slow_down" || last.header.Get("Retry-After") == "" {
					t.Fatalf("4 requests at 1/s: %d %s Retry-After %q, want 429 slow_down", last.status, last.raw, last.header.Get("Retry-After"))
				}
			})
		}

		t.Run("per customer on the resource path", func(t *testing.T) {
			c := e.partner(e.tenant)
			slow(c, "rate_customer", 6) // 6 a minute: a burst of 1
			token := func(customer string) string {
				t.Helper()
				r := e.post(PathPAR, merge(e.clientAuth(c), parParams(testVerifier)), map[string]string{"DPoP": e.proof(dk, "POST", e.base+PathPAR, "", nil)})
				code := codeOf(t, e.customer(c.id, r.body["request_uri"].(string), customer))
				tr := e.post(PathToken, merge(e.clientAuth(c), url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect},
					"code_verifier": {testVerifier}}), map[string]string{"DPoP": e.proof(dk, "POST", e.base+PathToken, "", nil)})
				if tr.status != 200 {
					t.Fatalf("token: %d %s", tr.status, tr.raw)
				}
				return tr.body["access_token"].(string)
			}
			get := func(at string) reply {
				req, _ := http.NewRequest("GET", e.base+"/resource", nil)
				req.Header.Set("Authorization", "DPoP "+at)
				req.Header.Set("DPoP", e.proof(dk, "GET", e.base+"/resource", at, nil))
				return e.do(req)
			}
			a1, a2, b := token("cust-rl-a"), token("cust-rl-a"), token("cust-rl-b")
			if r := get(a1); r.status != 200 {
				t.Fatalf("first request: %d %s", r.status, r.raw)
			}
			// Another token of the same customer shares the bucket.
			if r := get(a2); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
				t.Fatalf("second request for the customer: %d %s, want 429 with Retry-After", r.status, r.raw)
			}
			if r := get(b); r.status != 200 {
				t.Fatalf("another customer's request: %d %s, want 200", r.status, r.raw)
			}
		})

		t.Run("per customer at the CIBA endpoint", func(t *testing.T) {
			c := e.partner(e.tenant, GrantCIBA)
			slow(c, "rate_customer", 6) // 6 a minute: a burst of 1
			ciba := func(hint string) reply {
				return e.post(PathCIBA, merge(e.clientAuth(c), url.Values{"scope": {"openid"}, "login_hint": {hint}, "binding_message": {"A1"}}), nil)
			}
			if r := ciba("cust-ciba-a"); r.status != 200 {
				t.Fatalf("first CIBA request for the customer: %d %s", r.status, r.raw)
			}
			// The client's own rate (20/s) is far from spent: the
			// customer's is.
			if r := ciba("cust-ciba-a"); r.status != http.StatusTooManyRequests || r.code() != "slow_down" || r.header.Get("Retry-After") == "" {
				t.Fatalf("second CIBA request for the customer: %d %s, want 429 slow_down with Retry-After", r.status, r.raw)
			}
			if r := ciba("cust-ciba-b"); r.status != 200 {
				t.Fatalf("another customer's CIBA request: %d %s, want 200", r.status, r.raw)
			}
		})

		t.Run("the authorization page says the client is too busy, not inactive", func(t *testing.T) {
			c := e.partner(e.tenant)
			slow(c, "rate_client", 1)
			// PAR until the client's bucket (1/s, bursts of 2) is empty.
			var uri string
			for i := 0; ; i++ {
				r := e.post(PathPAR, merge(e.clientAuth(c), parParams(testVerifier)), nil)
				if r.status == http.StatusTooManyRequests {
					break
				}
				if r.status != 201 || i > 4 {
					t.Fatalf("PAR %d: %d %s", i, r.status, r.raw)
				}
				uri = r.body["request_uri"].(string)
			}
			req, _ := http.NewRequest("GET", e.base+PathAuthorize+"?"+url.Values{"client_id": {c.id}, "request_uri": {uri}}.Encode(), nil)
			last := e.do(req)
			if last.status != http.StatusTooManyRequests || !strings.Contains(string(last.raw), "混み合って") || strings.Contains(string(last.raw), "not active") {
				t.Fatalf("authorization page of a limited client: %d %.300s, want 429 saying it is busy", last.status, last.raw)
			}
		})
	})
}
