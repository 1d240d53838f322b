package ekyc

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/chip"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

func reasonDetail(ss *Session, code string) (string, bool) {
	for _, r := range ss.Decision.Reasons {
		if r.Code == code {
			return r.Detail, true
		}
	}
	return "", false
}

// TestChipReused replays one verified chip read into another session of
// the same tenant and into another tenant's session: both are decided with
// chip.reused (reject by default, or the tenant's own action), and the
// other tenant's session learns neither tenant nor session.
func TestChipReused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		read := e.licence(7)
		first := e.runHe(e.tenantA, read, func(p *page) { p.selfies(7, 0.95) })
		if first.Outcome != OutcomeApproved {
			t.Fatalf("first session = %s %v, want approved", first.Outcome, first.Decision.ReasonCodes())
		}

		again := e.runHe(e.tenantA, maps.Clone(read), func(p *page) { p.selfies(7, 0.95) })
		d, ok := reasonDetail(again, ReasonChipReused)
		if again.Outcome != OutcomeRejected || !ok || !strings.Contains(d, "another session of this service") {
			t.Errorf("same chip, same tenant = %s %v (%q), want rejected with %s", again.Outcome, again.Decision.ReasonCodes(), d, ReasonChipReused)
		}

		// Another tenant, with the read re-spelt (case, extensions): one
		// read, one digest.
		respelt := map[string][]byte{}
		for n, b := range read {
			respelt[strings.ToUpper(n)+".bin"] = b
		}
		other := e.runHe(e.tenantB, respelt, func(p *page) { p.selfies(7, 0.95) })
		d, ok = reasonDetail(other, ReasonChipReused)
		if other.Outcome != OutcomeRejected || !ok || !strings.Contains(d, "another service") {
			t.Errorf("same chip, other tenant = %s %v (%q), want rejected with %s", other.Outcome, other.Decision.ReasonCodes(), d, ReasonChipReused)
		}
		for _, leak := range []string{e.tenantA, first.ID, again.ID, "bank-a"} {
			for _, r := range other.Decision.Reasons {
				if strings.Contains(r.Detail, leak) {
					t.Errorf("reason %s detail %q reveals %q", r.Code, r.Detail, leak)
				}
			}
		}
		// A different card of the same person is not reuse.
		fresh := e.runHe(e.tenantA, e.licence(7), func(p *page) { p.selfies(7, 0.95) })
		if fresh.Outcome != OutcomeApproved {
			t.Errorf("another card = %s %v, want approved", fresh.Outcome, fresh.Decision.ReasonCodes())
		}

		// The tenant's policy decides the action.
		p, _, err := e.svc.Policy(e.ctx, e.tenantB)
		if err != nil {
			t.Fatal(err)
		}
		p.Actions = map[string]Action{ReasonChipReused: Review}
		if _, err := e.svc.SetPolicy(e.ctx, System, e.tenantB, p); err != nil {
			t.Fatal(err)
		}
		if s := e.runHe(e.tenantB, maps.Clone(read), func(p *page) { p.selfies(7, 0.95) }); s.Outcome != OutcomeReview {
			t.Errorf("reuse under a review policy = %s %v, want review", s.Outcome, s.Decision.ReasonCodes())
		}

		// What is stored is a keyed digest, not a hash of the signed data.
		var stored [][]byte
		rows, err := db.Query(e.ctx, `SELECT digest FROM ekyc_chip_digests WHERE session_id = ?`, first.ID)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var d []byte
			if err := rows.Scan(&d); err != nil {
				t.Fatal(err)
			}
			stored = append(stored, d)
		}
		rows.Close()
		objs := chip.SignedObjects(document.KindJPDL, read)
		if len(stored) != len(objs) || len(objs) != 2 {
			t.Fatalf("stored %d digests for %d signed objects, want one each (2)", len(stored), len(objs))
		}
		k2, _ := NewReuseKey(bytes.Repeat([]byte{8}, 32))
		for name, b := range objs {
			plain := sha256.Sum256(b)
			want := ChipReuseDigest(e.svc.cfg.ChipReuseKey, document.KindJPDL, name, b)
			if !slices.ContainsFunc(stored, func(d []byte) bool { return bytes.Equal(d, want) }) {
				t.Errorf("no stored digest for %s", name)
			}
			if slices.ContainsFunc(stored, func(d []byte) bool { return bytes.Equal(d, plain[:]) }) {
				t.Errorf("a plain SHA-256 of %s is stored", name)
			}
			if bytes.Equal(ChipReuseDigest(k2, document.KindJPDL, name, b), want) {
				t.Errorf("the digest of %s does not depend on the key", name)
			}
		}
	})
}

// device is a test kiosk with its registered key.
type device struct {
	actor Actor
	id    string // key id
	sign  func(msg []byte) []byte
}

func (e *env) device(tenant, client string, ed bool) *device {
	e.t.Helper()
	d := &device{actor: Actor{Kind: client, ID: client}}
	d.actor.Kind = "client"
	var (
		der []byte
		err error
	)
	if ed {
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		der, err = x509.MarshalPKIXPublicKey(pub)
		d.sign = func(msg []byte) []byte { return ed25519.Sign(priv, msg) }
	} else {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, err = x509.MarshalPKIXPublicKey(&k.PublicKey)
		d.sign = func(msg []byte) []byte {
			h := sha256.Sum256(msg)
			r, s, err := ecdsa.Sign(rand.Reader, k, h[:])
			if err != nil {
				e.t.Fatal(err)
			}
			out := make([]byte, 64)
			r.FillBytes(out[:32])
			s.FillBytes(out[32:])
			return out
		}
	}
	if err != nil {
		e.t.Fatal(err)
	}
	dk, err := e.svc.RegisterDeviceKey(e.ctx, Actor{Kind: "client", ID: "cl_admin"}, tenant, client, der)
	if err != nil {
		e.t.Fatalf("RegisterDeviceKey = %v", err)
	}
	d.id = dk.ID
	return d
}

// signed signs files for session id with the session's nonce.
func (d *device) signed(e *env, tenant, id string, files map[string][]byte) *DeviceSignature {
	e.t.Helper()
	nonce, err := e.svc.ChipChallenge(e.ctx, d.actor, tenant, id)
	if err != nil {
		e.t.Fatal(err)
	}
	named, err := chip.Normalize(document.KindJPDL, files)
	if err != nil {
		e.t.Fatal(err)
	}
	return &DeviceSignature{KeyID: d.id, Signature: d.sign(DeviceSigningInput(id, nonce, chip.BundleDigest(named)))}
}

func TestDeviceSignedChipReads(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		p, _, err := e.svc.Policy(e.ctx, e.tenantA)
		if err != nil {
			t.Fatal(err)
		}
		p.DeviceSignature = DeviceSignatureRefuse
		if _, err := e.svc.SetPolicy(e.ctx, System, e.tenantA, p); err != nil {
			t.Fatal(err)
		}
		k1 := e.device(e.tenantA, "cl_kiosk1", false) // ES256
		k2 := e.device(e.tenantA, "cl_kiosk2", true)  // Ed25519
		kb := e.device(e.tenantB, "cl_kioskB", false)

		submit := func(d *device, id string, files map[string][]byte, sig *DeviceSignature) error {
			_, err := e.svc.SubmitChipRead(e.ctx, d.actor, e.tenantA, id, ChipRead{Kind: "jpdl", Files: files, Device: sig})
			return err
		}
		// The accepted read: kiosk 1 signs session A's nonce and files.
		sa := e.create(e.tenantA, "he")
		read := e.licence(7)
		good := k1.signed(e, e.tenantA, sa.Session.ID, read)

		sb := e.create(e.tenantA, "he")
		forged := *good
		forged.Signature = bytes.Clone(good.Signature)
		forged.Signature[10] ^= 1
		otherFiles := e.licence(8)
		revoked := e.device(e.tenantA, "cl_kiosk3", false)
		if err := e.svc.RevokeDeviceKey(e.ctx, System, e.tenantA, revoked.id); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name  string
			dev   *device
			files map[string][]byte
			sig   func() *DeviceSignature
		}{
			{"unsigned under a refuse policy", k1, read, func() *DeviceSignature { return nil }},
			{"forged signature", k1, read, func() *DeviceSignature { return &forged }},
			{"signature over other files", k1, otherFiles, func() *DeviceSignature { return k1.signed(e, e.tenantA, sb.Session.ID, read) }},
			{"another session's nonce", k1, read, func() *DeviceSignature { return k1.signed(e, e.tenantA, sa.Session.ID, read) }},
			{"another device's key id", k1, read, func() *DeviceSignature { return k2.signed(e, e.tenantA, sb.Session.ID, read) }},
			{"signed with another device's private key", k1, read, func() *DeviceSignature {
				s := k2.signed(e, e.tenantA, sb.Session.ID, read)
				s.KeyID = k1.id
				return s
			}},
			{"another tenant's key", kb, read, func() *DeviceSignature {
				nonce, _ := e.svc.ChipChallenge(e.ctx, k1.actor, e.tenantA, sb.Session.ID)
				named, _ := chip.Normalize(document.KindJPDL, read)
				return &DeviceSignature{KeyID: kb.id, Signature: kb.sign(DeviceSigningInput(sb.Session.ID, nonce, chip.BundleDigest(named)))}
			}},
			{"revoked key", revoked, read, func() *DeviceSignature {
				nonce, _ := e.svc.ChipChallenge(e.ctx, k1.actor, e.tenantA, sb.Session.ID)
				named, _ := chip.Normalize(document.KindJPDL, read)
				return &DeviceSignature{KeyID: revoked.id, Signature: revoked.sign(DeviceSigningInput(sb.Session.ID, nonce, chip.BundleDigest(named)))}
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				blobs := e.countRows(`SELECT COUNT(*) FROM blobs`)
				err := submit(tc.dev, sb.Session.ID, tc.files, tc.sig())
				if !errors.Is(err, ErrDeviceSignature) {
					t.Fatalf("SubmitChipRead = %v, want ErrDeviceSignature", err)
				}
				if n := e.countRows(`SELECT COUNT(*) FROM ekyc_chips WHERE session_id = ?`, sb.Session.ID); n != 0 {
					t.Errorf("%d chip rows stored, want 0", n)
				}
				if n := e.countRows(`SELECT COUNT(*) FROM blobs`); n != blobs {
					t.Errorf("blobs %d -> %d, want nothing sealed", blobs, n)
				}
			})
		}
		if n := e.countRows(`SELECT COUNT(*) FROM audit_entries WHERE object = ? AND action = 'ekyc.chip.add'`, sb.Session.ID); n != 8 {
			t.Errorf("%d chip reads audited for the session that stored none, want the 8 refusals", n)
		}

		// The good read is accepted, once; replayed into its session it is
		// already received, into another session its signature fails.
		if err := submit(k1, sa.Session.ID, read, good); err != nil {
			t.Fatalf("signed read = %v, want accepted", err)
		}
		if err := submit(k1, sa.Session.ID, read, good); !errors.Is(err, ErrAlreadyReceived) {
			t.Errorf("replay into the same session = %v, want ErrAlreadyReceived", err)
		}
		if err := submit(k1, sb.Session.ID, read, good); !errors.Is(err, ErrDeviceSignature) {
			t.Errorf("replay into another session = %v, want ErrDeviceSignature", err)
		}
		ss, err := e.svc.Get(e.ctx, e.tenantA, sa.Session.ID)
		if err != nil {
			t.Fatal(err)
		}
		cr, _, err := e.svc.chip(e.ctx, db, ss)
		if err != nil || !cr.DeviceSigned || cr.DeviceKey != k1.id {
			t.Errorf("chip result = %+v, %v, want signed by %s", cr, err, k1.id)
		}
		// Ed25519 works too.
		if err := submit(k2, sb.Session.ID, otherFiles, k2.signed(e, e.tenantA, sb.Session.ID, otherFiles)); err != nil {
			t.Errorf("Ed25519-signed read = %v, want accepted", err)
		}

		// Under a "reason" policy an unsigned read is accepted and decided
		// with chip.device_unsigned.
		p.DeviceSignature = DeviceSignatureReason
		if _, err := e.svc.SetPolicy(e.ctx, System, e.tenantA, p); err != nil {
			t.Fatal(err)
		}
		s := e.runHe(e.tenantA, e.licence(7), func(p *page) { p.selfies(7, 0.95) })
		if s.Outcome != OutcomeRejected || !slices.Contains(s.Decision.ReasonCodes(), ReasonChipUnsigned) {
			t.Errorf("unsigned read under a reason policy = %s %v, want rejected with %s", s.Outcome, s.Decision.ReasonCodes(), ReasonChipUnsigned)
		}
	})
}

func TestRegisterDeviceKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		admin := Actor{Kind: "client", ID: "cl_admin"}
		ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		rk, _ := rsa.GenerateKey(rand.Reader, 2048)
		der := func(k any) []byte {
			b, err := x509.MarshalPKIXPublicKey(k)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		k, err := e.svc.RegisterDeviceKey(e.ctx, admin, e.tenantA, "cl_kiosk", der(&ec.PublicKey))
		if err != nil || k.Alg != AlgES256 {
			t.Fatalf("RegisterDeviceKey(P-256) = %+v, %v", k, err)
		}
		if acts := e.auditActions(k.ID); !slices.Equal(acts, []string{"ekyc.device_key.register"}) {
			t.Errorf("audit = %v, want the registration", acts)
		}
		for _, tc := range []struct {
			name string
			der  []byte
			want error
		}{
			{"twice", der(&ec.PublicKey), ErrState},
			{"P-384", der(&p384.PublicKey), ErrInvalidInput},
			{"RSA", der(&rk.PublicKey), ErrInvalidInput},
			{"not DER", []byte("-----BEGIN PUBLIC KEY-----"), ErrInvalidInput},
			{"empty", nil, ErrInvalidInput},
		} {
			if _, err := e.svc.RegisterDeviceKey(e.ctx, admin, e.tenantA, "cl_kiosk", tc.der); !errors.Is(err, tc.want) {
				t.Errorf("RegisterDeviceKey(%s) = %v, want %v", tc.name, err, tc.want)
			}
		}
		if err := e.svc.RevokeDeviceKey(e.ctx, admin, e.tenantB, k.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("RevokeDeviceKey(another tenant's) = %v, want ErrNotFound", err)
		}
		if err := e.svc.RevokeDeviceKey(e.ctx, admin, e.tenantA, k.ID); err != nil {
			t.Fatal(err)
		}
		if acts := e.auditActions(k.ID); !slices.Equal(acts, []string{"ekyc.device_key.register", "ekyc.device_key.revoke"}) {
			t.Errorf("audit = %v, want registration and revocation", acts)
		}
		ks, err := e.svc.DeviceKeys(e.ctx, e.tenantA)
		if err != nil || len(ks) != 1 || ks[0].RevokedAt.IsZero() {
			t.Errorf("DeviceKeys = %+v, %v, want the one key, revoked", ks, err)
		}
	})
}
