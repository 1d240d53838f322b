package txauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// newPhone registers a device for the tenant's customer.
func (e *env) newPhone(t *testing.T, tenant, customer string) *phone {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	reg, err := e.svc.RegisterDevice(e.ctx, client, tenant, customer, "phone", der)
	if err != nil {
		t.Fatal(err)
	}
	return &phone{key: k, token: reg.Token}
}

// TestDeviceQR: the page's code starts the decoupled flow on the
// customer's own device: one scan, a new code voids the old one, it
// expires, it names nothing, and another customer's or tenant's device, a
// tampered code, a revoked device get nothing; scanning approves nothing
// without the device's signature.
func TestDeviceQR(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		cu := e.customer(e.tenantA, "C-QR")
		other := e.customer(e.tenantA, "C-QR-2")
		cuB := e.customer(e.tenantB, "C-QR")
		for _, tn := range []string{e.tenantA, e.tenantB} {
			p, _, _ := e.svc.Policy(e.ctx, tn)
			p.Require = []Factor{FactorDevice}
			if _, err := e.svc.SetPolicy(e.ctx, System, tn, p); err != nil {
				t.Fatal(err)
			}
		}
		ph := e.newPhone(t, e.tenantA, cu.ID)
		phOther := e.newPhone(t, e.tenantA, other.ID)
		phB := e.newPhone(t, e.tenantB, cuB.ID)

		cr, err := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: sampleTx()})
		if err != nil {
			t.Fatal(err)
		}
		tok := tokenOf(t, cr.ConfirmURL)
		old, _, err := e.svc.DeviceQR(e.ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		code, exp, err := e.svc.DeviceQR(e.ctx, tok)
		if err != nil || !exp.Equal(e.clock.Now().Add(DeviceQRLife)) {
			t.Fatalf("DeviceQR = %q, %v, %v", code, exp, err)
		}
		if strings.Contains(code, cr.Confirmation.ID) || len(code) != len(DeviceQRPrefix)+32 || code == old {
			t.Errorf("code %q: want a fresh opaque code naming nothing", code)
		}
		if _, err := e.svc.DeviceScan(e.ctx, ph.token, old); !errors.Is(err, ErrNotFound) {
			t.Errorf("DeviceScan(the code drawn before) = %v, want ErrNotFound", err)
		}
		tampered := code[:len(code)-1] + map[bool]string{true: "B", false: "A"}[strings.HasSuffix(code, "A")]
		if _, err := e.svc.DeviceScan(e.ctx, ph.token, tampered); !errors.Is(err, ErrNotFound) {
			t.Errorf("DeviceScan(tampered code) = %v, want ErrNotFound", err)
		}
		for name, bad := range map[string]string{"lower case": strings.ToLower(code), "no prefix": code[len(DeviceQRPrefix):], "long": code + "A", "empty": ""} {
			if _, err := e.svc.DeviceScan(e.ctx, ph.token, bad); !errors.Is(err, ErrInvalidInput) {
				t.Errorf("DeviceScan(%s) = %v, want ErrInvalidInput", name, err)
			}
		}
		if _, err := e.svc.DeviceScan(e.ctx, "bm90LWEtdG9rZW4", code); !errors.Is(err, ErrToken) {
			t.Errorf("DeviceScan(unknown device) = %v, want ErrToken", err)
		}
		// Another customer's device, another tenant's device: nothing, and
		// the code still works for the customer's own device.
		if _, err := e.svc.DeviceScan(e.ctx, phOther.token, code); !errors.Is(err, ErrNotFound) {
			t.Errorf("DeviceScan(another customer's device) = %v, want ErrNotFound", err)
		}
		if _, err := e.svc.DeviceScan(e.ctx, phB.token, code); !errors.Is(err, ErrNotFound) {
			t.Errorf("DeviceScan(another tenant's device) = %v, want ErrNotFound", err)
		}
		p, err := e.svc.DeviceScan(e.ctx, ph.token, code)
		if err != nil || p.Confirmation != cr.Confirmation.ID || p.Transaction.Payee.AccountNumber != sampleTx().Payee.AccountNumber {
			t.Fatalf("DeviceScan = %+v, %v", p, err)
		}
		if _, err := e.svc.DeviceScan(e.ctx, ph.token, code); !errors.Is(err, ErrReplay) {
			t.Errorf("DeviceScan(again) = %v, want ErrReplay", err)
		}
		if c, _ := e.svc.Get(e.ctx, e.tenantA, cr.Confirmation.ID); c.State != StatePending {
			t.Errorf("after the scan the confirmation is %s, want pending (scanning approves nothing)", c.State)
		}
		if _, err := e.svc.DeviceDecide(e.ctx, phOther.token, p.Confirmation, DeviceApprove, phOther.sign(t, *p, DeviceApprove)); !errors.Is(err, ErrNotFound) {
			t.Errorf("DeviceDecide(another customer's device) = %v, want ErrNotFound", err)
		}
		c, err := e.svc.DeviceDecide(e.ctx, ph.token, p.Confirmation, DeviceApprove, ph.sign(t, *p, DeviceApprove))
		if err != nil || c.State != StateConfirmed {
			t.Fatalf("DeviceDecide after the scan = %+v, %v", c, err)
		}
		if _, _, err := e.svc.DeviceQR(e.ctx, tok); !errors.Is(err, ErrState) {
			t.Errorf("DeviceQR(decided confirmation) = %v, want ErrState", err)
		}
		if got := e.auditActions(cr.Confirmation.ID); !slices.Contains(got, "txauth.device.qr") || !slices.Contains(got, "txauth.device.scan") {
			t.Errorf("confirmation audit %v lacks the code and the scan", got)
		}

		// Expiry: a code works for DeviceQRLife.
		cr2, _ := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: sampleTx()})
		code2, _, err := e.svc.DeviceQR(e.ctx, tokenOf(t, cr2.ConfirmURL))
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Add(DeviceQRLife + time.Second)
		if _, err := e.svc.DeviceScan(e.ctx, ph.token, code2); !errors.Is(err, ErrExpired) {
			t.Errorf("DeviceScan(expired code) = %v, want ErrExpired", err)
		}
		// A revoked device cannot scan.
		cr3, _ := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: sampleTx()})
		code3, _, _ := e.svc.DeviceQR(e.ctx, tokenOf(t, cr3.ConfirmURL))
		devs := e.deviceIDs(e.tenantA, cu.ID)
		for _, id := range devs {
			if err := e.svc.RevokeDevice(e.ctx, client, e.tenantA, id); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.svc.DeviceScan(e.ctx, ph.token, code3); !errors.Is(err, ErrToken) {
			t.Errorf("DeviceScan(revoked device) = %v, want ErrToken", err)
		}
		// No device factor, no code.
		p2, _, _ := e.svc.Policy(e.ctx, e.tenantB)
		p2.Require = []Factor{FactorImageCard}
		if _, err := e.svc.SetPolicy(e.ctx, System, e.tenantB, p2); err != nil {
			t.Fatal(err)
		}
		e.activeCard(e.tenantB, cuB.ID)
		crB, err := e.svc.Create(e.ctx, client, e.tenantB, Request{Customer: cuB.ID, Transaction: sampleTx()})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.DeviceQR(e.ctx, tokenOf(t, crB.ConfirmURL)); !errors.Is(err, ErrFactor) {
			t.Errorf("DeviceQR(no device factor) = %v, want ErrFactor", err)
		}
	})
}

// deviceIDs lists the customer's registered devices.
func (e *env) deviceIDs(tenant, customer string) []string {
	e.t.Helper()
	rows, err := e.db.Query(e.ctx, `SELECT id FROM txauth_devices WHERE tenant_id = ? AND customer_id = ?`, tenant, customer)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, id)
	}
	return out
}

func FuzzParseDeviceQR(f *testing.F) {
	f.Add(DeviceQRPrefix + strings.Repeat("A", 32))
	f.Add(DeviceQRPrefix + "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
	f.Add("MDGTX1:")
	f.Add(strings.Repeat("Z", 40))
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseDeviceQR(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) || b != nil {
				t.Fatalf("ParseDeviceQR(%q) = %x, %v", s, b, err)
			}
			return
		}
		// Accepted codes are canonical: exactly what DeviceQR writes.
		if len(b) != deviceQRSecret || DeviceQRPrefix+qrBase32.EncodeToString(b) != s {
			t.Fatalf("ParseDeviceQR(%q) = %x: not the canonical code", s, b)
		}
	})
}
