package tenant

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/revoke"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// cachedFixture is a fixture whose issuer keeps validated tokens in memory,
// kept honest by a running revocation watcher.
func cachedFixture(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	f := newFixture(t, db)
	w, err := revoke.NewWatcher(db, revoke.Config{Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	for deadline := time.Now().Add(5 * time.Second); !w.Fresh(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("revocation watcher never checked the epoch")
		}
	}
	if f.iss, err = NewIssuer(db, f.rec, IssuerConfig{Audiences: []string{testIssuer, testTokenURL}, Now: f.clock.Now, Revocations: w}); err != nil {
		t.Fatal(err)
	}
	return f
}

// refusedWithin polls Authenticate until it answers ErrInvalidToken, failing
// after the documented bound plus slack for a loaded machine.
func refusedWithin(t *testing.T, f *fixture, tok, what string) {
	t.Helper()
	deadline := time.Now().Add(revoke.DefaultBound + time.Second)
	for {
		_, err := f.iss.Authenticate(context.Background(), tok, nil)
		if errors.Is(err, ErrInvalidToken) {
			return
		}
		if err != nil {
			t.Fatalf("Authenticate(after %s) = %v, want ErrInvalidToken", what, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("Authenticate(after %s) still succeeds after the bound", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAuthenticateCached(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := cachedFixture(t, db)
		tn := f.tenant(t, "Bank A")
		k := newKey(t, AlgES256, "k")
		c := f.client(t, tn.ID, ClientSpec{Name: "app", Scopes: []string{"a", "b"}, JWKS: jwksOf(k)})
		issue := func(peer bool) string {
			t.Helper()
			req := jwtRequest(k.sign(t, nil, mustJSON(claims(c.ID, f.clock.Now()))))
			if peer {
				req.PeerCert, _ = selfSigned(t, f.clock.Now())
			}
			tok, err := f.iss.Token(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			return tok.AccessToken.Reveal()
		}
		tok := issue(false)
		for range 3 {
			p, err := f.iss.Authenticate(ctx, tok, nil)
			if err != nil || p.ClientID != c.ID || p.TenantID != tn.ID || len(p.Scopes) != 2 {
				t.Fatalf("Authenticate = %+v, %v", p, err)
			}
			p.Scopes[0] = "mutated by a handler"
		}
		if hits, misses := f.iss.tokens.Counts(); hits != 2 || misses != 1 {
			t.Errorf("cache hits, misses = %d, %d; want 2, 1 (one store read)", hits, misses)
		}
		if p, _ := f.iss.Authenticate(ctx, tok, nil); p.Scopes[0] != "a" {
			t.Errorf("a caller's change to Scopes reached the cache: %q", p.Scopes)
		}

		// A certificate-bound token stays bound when served from memory.
		bound := issue(true)
		other, _ := selfSigned(t, f.clock.Now())
		for range 2 {
			if _, err := f.iss.Authenticate(ctx, bound, other); !errors.Is(err, ErrCertMismatch) {
				t.Errorf("Authenticate(bound token, other certificate) = %v, want ErrCertMismatch", err)
			}
		}

		// Expiry is checked on every request, cached or not.
		f.clock.Add(DefaultTokenTTL - time.Second)
		if _, err := f.iss.Authenticate(ctx, tok, nil); err != nil {
			t.Fatalf("Authenticate(before expiry) = %v", err)
		}
		f.clock.Add(time.Second)
		if _, err := f.iss.Authenticate(ctx, tok, nil); !errors.Is(err, ErrTokenExpired) {
			t.Errorf("Authenticate(expired, cached) = %v, want ErrTokenExpired", err)
		}

		// Disabling the client revokes its cached tokens within the bound.
		tok = issue(false)
		if _, err := f.iss.Authenticate(ctx, tok, nil); err != nil {
			t.Fatal(err)
		}
		if err := f.reg.DisableClient(ctx, f.admin, tn.ID, c.ID); err != nil {
			t.Fatal(err)
		}
		refusedWithin(t, f, tok, "DisableClient")

		// Disabling the tenant (no API yet: an operator's SQL) too.
		c2 := f.client(t, tn.ID, ClientSpec{Name: "app2", Scopes: []string{"a"}, JWKS: jwksOf(k)})
		c = c2
		tok = issue(false)
		if _, err := f.iss.Authenticate(ctx, tok, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `UPDATE tenants SET status = ? WHERE id = ?`, StatusDisabled, tn.ID); err != nil {
			t.Fatal(err)
		}
		refusedWithin(t, f, tok, "tenant disabled")
	})
}
