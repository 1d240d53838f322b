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
			for _, tb := range []string{"oauth_par", "oauth_jtis", "oauth_interactions", "oauth_codes", "oauth_tokens", "oauth_grants"} {
				var n int64
				if err := db.QueryRow(ctx, `SELECT count(*) FROM `+tb).Scan(&n); err != nil {
					t.Fatal(err)
				}
				out[tb] = n
			}
			return out
		}
		before := count()
		for _, step := range []struct {
			advance time.Duration
			swept   map[string]int64
		}{
			{0, map[string]int64{}},
			// Past the pushed requests' 90 s and the request object's exp
			// (300 s + skew); codes, interactions and tokens are kept.
			{6 * time.Minute, map[string]int64{"oauth_par": 2, "oauth_jtis": 1}},
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
