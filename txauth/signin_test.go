package txauth

import (
	"encoding/hex"
	"errors"
	"slices"
	"testing"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestSignInCanonical is a known-answer vector: the body a sign-in
// confirmation seals and the hash its passkey challenge derives from.
func TestSignInCanonical(t *testing.T) {
	var b [32]byte
	for i := range b {
		b[i] = byte(i)
	}
	si := SignIn{Client: "cl_partner", Binding: b}
	const want = `{"sign_in":{"binding":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8","client":"cl_partner"}}`
	if got := string(si.Canonical()); got != want {
		t.Errorf("Canonical() = %s, want %s", got, want)
	}
	h := si.Hash()
	if got := hex.EncodeToString(h[:]); got != "fa5ca468f1f595c9ab536319cb29483d63cea53b4417f28a4d4f531d7620600d" {
		t.Errorf("Hash() = %s", got)
	}
	if got := string((SignIn{Client: "a<b&c", Binding: b}).Canonical()); got != `{"sign_in":{"binding":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8","client":"a<b&c"}}` {
		t.Error("Canonical escapes HTML characters (RFC 8785 does not)")
	}
}

// TestSignIn: a sign-in confirmation needs the policy's sign_in factors;
// a passkey assertion made for one sign-in does not complete another.
func TestSignIn(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		cu := e.customer(e.tenantA, "C-SI")
		x, y := SignIn{Client: "cl_p", Binding: [32]byte{1}}, SignIn{Client: "cl_p", Binding: [32]byte{2}}
		if _, err := e.svc.CreateSignIn(e.ctx, client, e.tenantA, cu.ID, x); !errors.Is(err, ErrFactor) {
			t.Fatalf("CreateSignIn(no sign_in factors) = %v, want ErrFactor", err)
		}
		p, _, _ := e.svc.Policy(e.ctx, e.tenantA)
		p.SignIn = []Factor{FactorPasskey}
		if _, err := e.svc.SetPolicy(e.ctx, System, e.tenantA, p); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.CreateSignIn(e.ctx, client, e.tenantA, cu.ID, SignIn{Binding: x.Binding}); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("CreateSignIn(no client) = %v, want ErrInvalidInput", err)
		}
		if _, err := e.svc.CreateSignIn(e.ctx, client, e.tenantB, cu.ID, x); !errors.Is(err, ErrNotFound) {
			t.Errorf("CreateSignIn(other tenant's customer) = %v, want ErrNotFound", err)
		}
		auth := newSoftAuthenticator(t)
		if err := e.registerPasskey(e.tenantA, cu.ID, auth); err != nil {
			t.Fatal(err)
		}
		cx, err := e.svc.CreateSignIn(e.ctx, client, e.tenantA, cu.ID, x)
		if err != nil {
			t.Fatal(err)
		}
		cy, err := e.svc.CreateSignIn(e.ctx, client, e.tenantA, cu.ID, y)
		if err != nil {
			t.Fatal(err)
		}
		if cx.Confirmation.Kind != KindSignIn || cx.Confirmation.TxHash != x.Hash() || !slices.Equal(cx.Confirmation.Required, []Factor{FactorPasskey}) {
			t.Fatalf("sign-in confirmation = %+v", cx.Confirmation)
		}
		tx, ty := tokenOf(t, cx.ConfirmURL), tokenOf(t, cy.ConfirmURL)
		ox, err := e.svc.PasskeyBegin(e.ctx, tx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.PasskeyBegin(e.ctx, ty); err != nil {
			t.Fatal(err)
		}
		ax := auth.get(t, ox)
		if _, err := e.svc.PasskeyFinish(e.ctx, ty, ax); !errors.Is(err, ErrPasskey) {
			t.Errorf("PasskeyFinish(y, assertion for x) = %v, want ErrPasskey", err)
		}
		v, err := e.svc.PasskeyFinish(e.ctx, tx, ax)
		if err != nil || v.State != StateConfirmed || v.Transaction != nil {
			t.Fatalf("PasskeyFinish(x) = %+v, %v; want confirmed, no transaction shown", v, err)
		}
		if locked, err := e.svc.AccountLocked(e.ctx, e.tenantA, cu.ID); err != nil || locked {
			t.Errorf("AccountLocked = %v, %v", locked, err)
		}
		if err := e.svc.LockAccount(e.ctx, staffB, e.tenantA, cu.ID); err != nil {
			t.Fatal(err)
		}
		if locked, err := e.svc.AccountLocked(e.ctx, e.tenantA, cu.ID); err != nil || !locked {
			t.Errorf("AccountLocked after LockAccount = %v, %v", locked, err)
		}
		if _, err := e.svc.CreateSignIn(e.ctx, client, e.tenantA, cu.ID, y); !errors.Is(err, ErrLocked) {
			t.Errorf("CreateSignIn(locked) = %v, want ErrLocked", err)
		}
	})
}
