package tenant

import (
	"context"
	"errors"
	"testing"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestRotateClientKeys: the new key set replaces the old and the rotation
// is audited; a credential of the other method, none or both, a disabled
// client and another tenant's client are refused.
func TestRotateClientKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		tn, other := f.tenant(t, "Bank"), f.tenant(t, "Other")
		oldKey, newKey := newKey(t, "ES256", "old"), newKey(t, "ES256", "new")
		c := f.client(t, tn.ID, ClientSpec{Name: "app", Scopes: []string{"a"}, JWKS: jwksOf(oldKey)})
		_, certPEM := selfSigned(t, f.clock.Now())
		rotate := func(tenantID, clientID string, k KeyRotation) error {
			return db.InTx(ctx, func(tx *store.Tx) error { return f.reg.RotateClientKeysTx(ctx, tx, f.admin, tenantID, clientID, k) })
		}
		for _, tc := range []struct {
			name string
			err  error
			run  func() error
		}{
			{"certificate for a JWKS client", ErrInvalidInput, func() error { return rotate(tn.ID, c.ID, KeyRotation{CertPEM: certPEM}) }},
			{"both", ErrInvalidInput, func() error { return rotate(tn.ID, c.ID, KeyRotation{JWKS: jwksOf(newKey), CertPEM: certPEM}) }},
			{"nothing", ErrInvalidInput, func() error { return rotate(tn.ID, c.ID, KeyRotation{}) }},
			{"another tenant", ErrNotFound, func() error { return rotate(other.ID, c.ID, KeyRotation{JWKS: jwksOf(newKey)}) }},
		} {
			if err := tc.run(); !errors.Is(err, tc.err) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
			}
		}
		if err := rotate(tn.ID, c.ID, KeyRotation{JWKS: jwksOf(newKey)}); err != nil {
			t.Fatal(err)
		}
		got, err := f.reg.Client(ctx, tn.ID, c.ID)
		if err != nil || len(got.Keys.Keys()) != 1 || got.Keys.Keys()[0].Kid != "new" {
			t.Fatalf("after rotation: %+v, %v", got, err)
		}
		if a := f.rec.actions(); a[len(a)-1] != "client.rotate" {
			t.Errorf("audit = %v", a)
		}
		if err := f.reg.DisableClient(ctx, f.admin, tn.ID, c.ID); err != nil {
			t.Fatal(err)
		}
		if err := rotate(tn.ID, c.ID, KeyRotation{JWKS: jwksOf(oldKey)}); !errors.Is(err, ErrNotFound) {
			t.Errorf("rotating a disabled client = %v, want ErrNotFound", err)
		}
	})
}
