package oauth

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestSweep: the periodic sweep deletes pushed requests, replay-cache
// entries, interactions, codes and tokens only once they are past their
// expiry and retention, never a consent; a swept code's late replay is no
// longer recognised only after the hour it is kept.
func TestSweep(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		c := e.partner(e.tenant)
		dk := newDPoPKey(t)
		e.tokens(c, dk) // an interaction, a used code, a consent, an access and a refresh token
		if r := e.post(PathPAR, merge(e.clientAuth(c), parParams(testVerifier)), nil); r.status != 201 {
			t.Fatalf("PAR = %d %s", r.status, r.raw) // a pushed request not yet used
		}
		if r := e.post(PathPAR, merge(e.clientAuth(c), url.Values{"request": {e.requestObject(c, nil)}}), nil); r.status != 201 {
			t.Fatalf("PAR(JAR) = %d %s", r.status, r.raw) // a request object's jti in the replay cache
		}
		count := func() map[string]int64 {
			out := map[string]int64{}
			for _, tb := range []string{"oauth_par", "oauth_jtis", "oauth_interactions", "oauth_codes", "oauth_tokens", "oauth_grants", "oauth_dpop_nonces"} {
				var n int64
				if err := db.QueryRow(ctx, `SELECT count(*) FROM `+tb).Scan(&n); err != nil {
					t.Fatal(err)
				}
				out[tb] = n
			}
			return out
		}
		before := count()
		// On PostgreSQL the two DPoP proofs (PAR and token) are in the
		// shared replay cache too. The DPoP nonces of the slots the flow
		// ran in (one, or two across a minute's turn) expire with them.
		jtis := int64(1)
		if db.Dialect() == store.Postgres {
			jtis = 3
		}
		for _, step := range []struct {
			advance time.Duration
			swept   map[string]int64
		}{
			{0, map[string]int64{}},
			// Past the pushed requests' 90 s and the request object's exp
			// (300 s + skew); codes, interactions and tokens are kept.
			// The four client assertions' spent ids (tenant's table) too.
			{6 * time.Minute, map[string]int64{"oauth_par": 2, "oauth_jtis": jtis, "oauth_dpop_nonces": before["oauth_dpop_nonces"], "client_assertion_jtis": 4}},
			// Past the code's and interaction's hour.
			{2 * time.Hour, map[string]int64{"oauth_interactions": 1, "oauth_codes": 1}},
			// Past the access token's day; the refresh token lives with the consent.
			{24 * time.Hour, map[string]int64{"oauth_tokens": 1}},
		} {
			e.clock.advance(step.advance)
			got, err := e.srv.Sweep(ctx)
			if err != nil {
				t.Fatalf("Sweep = %v", err)
			}
			for k, v := range got {
				if v == 0 {
					delete(got, k)
				}
			}
			if diff := cmp.Diff(step.swept, got); diff != "" {
				t.Errorf("Sweep after +%v (-want +got):\n%s", step.advance, diff)
			}
		}
		after := count()
		if after["oauth_grants"] != before["oauth_grants"] || after["oauth_tokens"] != 1 {
			t.Errorf("rows before %v, after %v: want the consent and its refresh token kept", before, after)
		}
	})
}

// tokenPathTables are what the token endpoint writes: a DELETE on any of
// them during a token request fails the request in the test below.
var tokenPathTables = []string{"access_tokens", "client_assertion_jtis", "oauth_tokens", "oauth_codes", "oauth_jtis", "oauth_interactions", "oauth_grants"}

// forbidDeletes makes every DELETE on tables fail (a statement trigger on
// PostgreSQL, so even one that matches no row; a row trigger on SQLite,
// so the test keeps expired rows around for a pruning DELETE to hit). It
// returns the function that lifts the ban.
func forbidDeletes(t *testing.T, db *store.DB, tables []string) func() {
	t.Helper()
	ctx := context.Background()
	var undo []string
	if db.Dialect() == store.Postgres {
		if _, err := db.Exec(ctx, `CREATE OR REPLACE FUNCTION test_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'DELETE on the token path'; END $$`); err != nil {
			t.Fatal(err)
		}
	}
	for _, tb := range tables {
		q := `CREATE TRIGGER no_delete_` + tb + ` BEFORE DELETE ON ` + tb + ` BEGIN SELECT RAISE(ABORT, 'DELETE on the token path'); END`
		if db.Dialect() == store.Postgres {
			q = `CREATE TRIGGER no_delete_` + tb + ` BEFORE DELETE ON ` + tb + ` FOR EACH STATEMENT EXECUTE FUNCTION test_no_delete()`
		}
		if _, err := db.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
		u := `DROP TRIGGER no_delete_` + tb
		if db.Dialect() == store.Postgres {
			u += ` ON ` + tb
		}
		undo = append(undo, u)
	}
	return func() {
		for _, u := range undo {
			if _, err := db.Exec(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestTokenPathDeletesNothing: with expired access tokens, assertion ids,
// codes and tokens in the store, client_credentials (tenant's issuer), the
// code exchange and refresh issue no DELETE; the periodic Sweep removes the
// expired rows afterwards.
func TestTokenPathDeletesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		c := e.partner(e.tenant)
		dk := newDPoPKey(t)
		cc := func() {
			t.Helper()
			r := e.post(PathToken, merge(e.clientAuth(c), url.Values{"grant_type": {GrantClientCredentials}, "scope": {"accounts:read"}}), nil)
			if r.status != 200 {
				t.Fatalf("client_credentials = %d %s", r.status, r.raw)
			}
		}
		cc()
		e.tokens(c, dk)
		e.clock.advance(25 * time.Hour) // all of it expired (the consent lives on)
		code := codeOf(t, e.authorize(c, parParams(testVerifier), &dk))

		allow := forbidDeletes(t, db, tokenPathTables)
		cc()
		r := e.post(PathToken, merge(e.clientAuth(c), url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {testRedirect}, "code_verifier": {testVerifier}}), map[string]string{"DPoP": e.proof(dk, "POST", e.base+PathToken, "", nil)})
		if r.status != 200 {
			t.Fatalf("code exchange = %d %s", r.status, r.raw)
		}
		r = e.post(PathToken, merge(e.clientAuth(c), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.body["refresh_token"].(string)}}),
			map[string]string{"DPoP": e.proof(dk, "POST", e.base+PathToken, "", nil)})
		if r.status != 200 {
			t.Fatalf("refresh = %d %s", r.status, r.raw)
		}
		allow()

		got, err := e.srv.Sweep(ctx)
		if err != nil {
			t.Fatalf("Sweep = %v", err)
		}
		if got["access_tokens"] != 1 || got["client_assertion_jtis"] < 3 || got["oauth_tokens"] != 1 || got["oauth_codes"] != 1 {
			t.Errorf("Sweep = %v, want the expired client_credentials token, assertion ids, code and access token", got)
		}
	})
}
