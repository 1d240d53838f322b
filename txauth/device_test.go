package txauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"slices"
	"testing"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// phone is the customer's second device: its key never leaves it.
type phone struct {
	key   *ecdsa.PrivateKey
	token string
}

func (p *phone) sign(t *testing.T, pending Pending, decision string) []byte {
	t.Helper()
	h, _ := base64.RawURLEncoding.DecodeString(pending.Hash)
	nonce, _ := base64.RawURLEncoding.DecodeString(pending.Nonce)
	d := DeviceChallenge([32]byte(h), nonce, decision)
	sig, err := ecdsa.SignASN1(rand.Reader, p.key, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func TestDecoupledDevice(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		cu := e.customer(e.tenantA, "C-900")
		p, _, _ := e.svc.Policy(e.ctx, e.tenantA)
		p.Require = []Factor{FactorDevice}
		if _, err := e.svc.SetPolicy(e.ctx, System, e.tenantA, p); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: sampleTx()}); !errors.Is(err, ErrFactor) {
			t.Fatalf("Create(no device) = %v, want ErrFactor", err)
		}
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
		rsa := []byte("not a key")
		if _, err := e.svc.RegisterDevice(e.ctx, client, e.tenantA, cu.ID, "iPhone", rsa); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("RegisterDevice(garbage key) = %v, want ErrInvalidInput", err)
		}
		if _, err := e.svc.RegisterDevice(e.ctx, client, e.tenantB, cu.ID, "iPhone", der); !errors.Is(err, ErrNotFound) {
			t.Errorf("RegisterDevice(other tenant) = %v, want ErrNotFound", err)
		}
		reg, err := e.svc.RegisterDevice(e.ctx, client, e.tenantA, cu.ID, "iPhone", der)
		if err != nil {
			t.Fatal(err)
		}
		ph := &phone{key: k, token: reg.Token}

		// The PC's malware sent an altered payee; the phone shows the
		// server's copy, so the customer sees it.
		altered := sampleTx()
		altered.Payee.AccountNumber = "7654321"
		bad, err := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: altered})
		if err != nil {
			t.Fatal(err)
		}
		good, err := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: sampleTx()})
		if err != nil {
			t.Fatal(err)
		}
		pend, err := e.svc.DevicePending(e.ctx, ph.token)
		if err != nil || len(pend) != 2 {
			t.Fatalf("DevicePending = %+v, %v, want two", pend, err)
		}
		byID := map[string]Pending{}
		for _, x := range pend {
			byID[x.Confirmation] = x
		}
		if got := byID[bad.Confirmation.ID].Transaction.Payee.AccountNumber; got != "7654321" {
			t.Errorf("the phone shows account %s, want the server's copy 7654321", got)
		}
		// A signature for the good transaction does not approve the bad one.
		if _, err := e.svc.DeviceDecide(e.ctx, ph.token, bad.Confirmation.ID, DeviceApprove, ph.sign(t, byID[good.Confirmation.ID], DeviceApprove)); !errors.Is(err, ErrDeviceSignature) {
			t.Errorf("DeviceDecide(bad, signature over good) = %v, want ErrDeviceSignature", err)
		}
		// The nonce is spent: no second try on that confirmation.
		if _, err := e.svc.DeviceDecide(e.ctx, ph.token, bad.Confirmation.ID, DeviceReject, ph.sign(t, byID[bad.Confirmation.ID], DeviceReject)); !errors.Is(err, ErrReplay) {
			t.Errorf("DeviceDecide(spent nonce) = %v, want ErrReplay", err)
		}
		// An approval signature cannot be turned into another decision.
		if _, err := e.svc.DeviceDecide(e.ctx, ph.token, good.Confirmation.ID, DeviceReject, ph.sign(t, byID[good.Confirmation.ID], DeviceApprove)); !errors.Is(err, ErrDeviceSignature) {
			t.Errorf("DeviceDecide(reject with an approve signature) = %v, want ErrDeviceSignature", err)
		}
		// Fresh confirmations: approve the good, refuse the bad.
		good2, _ := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: sampleTx()})
		bad2, _ := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: altered})
		pend, _ = e.svc.DevicePending(e.ctx, ph.token)
		byID = map[string]Pending{}
		for _, x := range pend {
			byID[x.Confirmation] = x
		}
		c, err := e.svc.DeviceDecide(e.ctx, ph.token, good2.Confirmation.ID, DeviceApprove, ph.sign(t, byID[good2.Confirmation.ID], DeviceApprove))
		if err != nil || c.State != StateConfirmed || !slices.Equal(c.Satisfied, []Factor{FactorDevice}) {
			t.Fatalf("DeviceDecide(approve) = %+v, %v", c, err)
		}
		c, err = e.svc.DeviceDecide(e.ctx, ph.token, bad2.Confirmation.ID, DeviceReject, ph.sign(t, byID[bad2.Confirmation.ID], DeviceReject))
		if err != nil || c.State != StateRejected {
			t.Fatalf("DeviceDecide(reject) = %+v, %v", c, err)
		}
		if ev := e.events(e.tenantA); !slices.Contains(ev, EventAlert+":"+AlertMismatch) {
			t.Errorf("events %v lack the mismatch alert", ev)
		}
		// A revoked device can no longer poll.
		if err := e.svc.RevokeDevice(e.ctx, client, e.tenantA, reg.Device.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.DevicePending(e.ctx, ph.token); !errors.Is(err, ErrToken) {
			t.Errorf("DevicePending(revoked) = %v, want ErrToken", err)
		}
	})
}
