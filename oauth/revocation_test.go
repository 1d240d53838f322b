package oauth

import (
	"context"
	"crypto/sha256"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/tenant"
)

// TestRevocationAcrossInstances: two instances of the server on one
// PostgreSQL schema, each with its own store connection, revocation
// watcher and token cache. Instance B caches a DPoP-bound token (a second
// use is a cache hit, no store read); a revocation committed through
// instance A — the revocation endpoint, a revoked refresh token (the
// consent), the tenant revoking the consent, the client disabled — reaches
// B through package revoke's notification (no polling of the token
// tables), and B refuses the token. The one-second bound itself is
// package revoke's invariant, tested there; the latency is logged here.
func TestRevocationAcrossInstances(t *testing.T) {
	ctx := context.Background()
	e, inst := twoInstances(t) // A serves HTTP
	b, wB := inst.srv, inst.watch

	// onB presents at with a fresh proof to instance B's resource path.
	onB := func(dk dpopKey, at string) error {
		r := httptest.NewRequest("GET", e.base+"/resource", nil)
		r.Header.Set("Authorization", "DPoP "+at)
		r.Header.Set("DPoP", e.proof(dk, "GET", e.base+"/resource", at, func(_, c map[string]any) { c["nonce"] = nonceOf(t, b) }))
		_, err := b.AuthenticateResource(r)
		return err
	}
	// cachedOnB makes B cache the token and checks that a second use did
	// not read the store.
	cachedOnB := func(t *testing.T, dk dpopKey, at string) {
		t.Helper()
		if err := onB(dk, at); err != nil {
			t.Fatalf("B, first use: %v", err)
		}
		hits, _ := b.tokens.Counts()
		if err := onB(dk, at); err != nil {
			t.Fatalf("B, second use: %v", err)
		}
		if h, _ := b.tokens.Counts(); h != hits+1 {
			t.Fatalf("B's second use was not a cache hit (hits %d → %d)", hits, h)
		}
	}
	// refusedOnB waits for B to refuse the token and logs how long it took.
	refusedOnB := func(t *testing.T, dk dpopKey, at string, since time.Time) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); onB(dk, at) == nil; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("B still accepts the token revoked on A")
			}
		}
		t.Logf("revoked on A, refused by B after %v (bound %v)", time.Since(since).Round(time.Millisecond), wB.Bound())
	}
	revokeAt := func(c pclient, tok string) {
		r := e.post(PathRevoke, merge(e.clientAuth(c), url.Values{"token": {tok}}), nil)
		if r.status != 200 {
			t.Fatalf("revoke on A = %d %s", r.status, r.raw)
		}
	}

	c := e.partner(e.tenant)
	// Many tokens for one customer: lift the per-customer rate limit.
	if _, err := e.db.Exec(ctx, `UPDATE oauth_clients SET rate_customer = ? WHERE client_id = ?`, 1<<30, c.id); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		revoke func(t *testing.T, c pclient, tokens map[string]any)
	}{
		{"access token at A's revocation endpoint", func(t *testing.T, c pclient, tk map[string]any) { revokeAt(c, tk["access_token"].(string)) }},
		{"refresh token at A's revocation endpoint revokes the consent", func(t *testing.T, c pclient, tk map[string]any) { revokeAt(c, tk["refresh_token"].(string)) }},
		{"tenant staff revoke the consent on A", func(t *testing.T, c pclient, tk map[string]any) {
			ti, err := e.srv.readToken(ctx, sha256.Sum256([]byte(tk["access_token"].(string))))
			if err != nil {
				t.Fatal(err)
			}
			if err := e.srv.RevokeConsent(ctx, Viewer{Kind: audit.ActorStaff, ID: "st1"}, e.tenant, ti.grantID); err != nil {
				t.Fatal(err)
			}
		}},
		{"client disabled on A", func(t *testing.T, c pclient, tk map[string]any) {
			if err := e.reg.DisableClient(ctx, tenant.Actor{Kind: audit.ActorStaff, ID: "st1"}, e.tenant, c.id); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dk := newDPoPKey(t)
			tk := e.tokens(c, dk)
			at := tk["access_token"].(string)
			cachedOnB(t, dk, at)
			otherDK := newDPoPKey(t) // another consent of the same client
			otherAT := e.tokens(c, otherDK)["access_token"].(string)
			cachedOnB(t, otherDK, otherAT)
			before := wB.Stats()
			start := time.Now()
			tc.revoke(t, c, tk)
			refusedOnB(t, dk, at, start)
			switch st := wB.Stats(); {
			case st.Notifications > before.Notifications:
			case st.Flushes > before.Flushes:
				// On a loaded machine B's epoch check can see the
				// revocation before its notification arrives; the
				// watcher then drops every entry (package revoke's
				// fail-safe path, tested there). Refused all the same.
				t.Logf("B refused after a flush, not a notification (stats %+v)", st)
			default:
				t.Errorf("B refused without a revocation notification or a flush (stats %+v)", st)
			}
			if tc.name != "client disabled on A" {
				// Only what was revoked: the other consent's token still works on B.
				if err := onB(otherDK, otherAT); err != nil {
					t.Errorf("B refuses a token that was not revoked: %v", err)
				}
			}
		})
	}
}
