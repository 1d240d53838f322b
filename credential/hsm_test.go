//go:build cgo

package credential

// Keys held in a PKCS#11 token (real SoftHSM2, internal/hsm/hsmtest): the
// issuer key signs credentials and status lists, and a branch device's
// P-256 key unwraps the tenant's branch key through the token.

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/internal/hsm"
	"github.com/madoguchi/madoguchi/internal/hsm/hsmtest"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

func TestHSMIssuerKey(t *testing.T) {
	tk := hsmtest.New(t, "madoguchi-issuer")
	s, err := hsm.OpenSigner(tk.Generate(t, "credential-issuer", hsm.ECDSAP256))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	iss, err := NewIssuerSigner(s)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	f.iss = iss
	f.trust.Keys = KeySet{iss.kid: iss.Public()}
	f.setStatus(t, 2, -1, f.issuedAt) // signed by the token too

	is := f.issue(t, "tnt_a", 3, time.Hour)
	v, err := f.trust.Verify(is.Text, time.Now())
	if err != nil {
		t.Fatalf("Verify(credential signed in the token) = %v", err)
	}
	if sc, err := face.Compare(v.Template, f.tpl); err != nil || sc < 0.999 {
		t.Fatalf("Compare(decrypted, original) = %v, %v", sc, err)
	}
	// The kid is the token key's; another key under that kid does not
	// verify it.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.trust.Keys = KeySet{iss.kid: &other.PublicKey}
	if _, err := f.trust.Verify(is.Text, time.Now()); !errors.Is(err, ErrSignature) {
		t.Fatalf("Verify(another key under the kid) = %v, want ErrSignature", err)
	}

	ed, err := hsm.OpenSigner(tk.Generate(t, "ed25519", hsm.Ed25519))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ed.Close() })
	if _, err := NewIssuerSigner(ed); err == nil {
		t.Fatal("NewIssuerSigner(Ed25519 token key) succeeded; credentials are ES256")
	}
}

// TestHSMDeviceKey: a branch device whose HPKE key is a P-256 key in a
// token is enrolled, receives the tenant's branch key wrapped with
// DHKEM(P-256) to its own key, unwraps it through the token and reads a
// credential; another token key or an X25519 file key cannot.
func TestHSMDeviceKey(t *testing.T) {
	tk := hsmtest.New(t, "madoguchi-branch")
	open := func(label string) *hsm.KeyExchanger {
		x, err := hsm.OpenKeyExchanger(tk.Generate(t, label, hsm.ECDHP256))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { x.Close() })
		return x
	}
	dk, otherDK := open("device-hpke"), open("other-device")
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newSvcEnv(t, db)
		s := e.svc
		lsk, _, _ := note.GenerateKey(rand.Reader, "madoguchi.branch/hsm")
		ls, _ := audit.ParseSigner(lsk)
		ns, _ := note.NewSigner(lsk)
		code := EnrolmentCode(dk.PublicKey(), ls.VerifierKey())
		alice := Staff{ID: "stf_alice", Roles: []string{"admin"}, TenantID: e.tenantA}
		bob := Staff{ID: "stf_bob", Roles: []string{"admin"}}
		d, err := s.RequestDevice(ctx, alice, e.tenantA, "Shinjuku HSM", code)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ApproveDevice(ctx, bob, d.ID); err != nil {
			t.Fatal(err)
		}
		c, err := s.Issue(ctx, client, e.tenantA, IssueRequest{Customer: "cus_1"})
		if err != nil {
			t.Fatal(err)
		}
		signed, _ := note.Sign(&note.Note{Text: DeviceRequest(d.ID, time.Now())}, ns)
		b, err := s.Bundle(ctx, signed, fixedPolicy{})
		if err != nil {
			t.Fatal(err)
		}
		// DHKEM(P-256): enc is an uncompressed point (65 bytes), then the
		// 32-byte X25519 branch key sealed with AES-128-GCM (+16).
		if len(b.BranchKeys) != 1 || len(b.BranchKeys[0].Wrapped) != 65+32+16 {
			t.Fatalf("bundle branch keys = %d, wrapped %d bytes; want one, DHKEM(P-256) (113 bytes)", len(b.BranchKeys), len(b.BranchKeys[0].Wrapped))
		}
		keys, _ := s.IssuerKeys()
		counter := func(k ecdh.KeyExchanger) *Counter {
			sdb := storetest.SQLite(t)
			cl, _ := audit.New(sdb, ls)
			ctr, err := NewCounter(CounterConfig{Device: d.ID, DeviceKey: k, IssuerKids: []string{keys[0].Kid}, Engine: fakeEngine{}, DB: sdb, Log: cl})
			if err != nil {
				t.Fatal(err)
			}
			return ctr
		}
		ctr := counter(dk)
		if err := ctr.Install(b); err != nil {
			t.Fatalf("Install(bundle) with the token key = %v", err)
		}
		if scan, dec, err := ctr.Scan(ctx, c.Text); err != nil || dec != nil || len(scan.Steps) != 3 {
			t.Fatalf("Scan(credential) = %+v, %+v, %v; want the live-face steps", scan, dec, err)
		}
		xk, _ := ecdh.X25519().GenerateKey(rand.Reader)
		for name, k := range map[string]ecdh.KeyExchanger{"another token key": otherDK, "an X25519 file key": xk} {
			if err := counter(k).Install(b); !errors.Is(err, ErrDecrypt) {
				t.Errorf("Install(bundle) with %s = %v, want ErrDecrypt", name, err)
			}
		}
	})
}

// BenchmarkHSMIssue: a whole credential issuance (Compact, HPKE seal, CWT,
// COSE_Sign1) signed by a file key and by a SoftHSM2 key in one run.
func BenchmarkHSMIssue(b *testing.B) {
	tk := hsmtest.New(b, "madoguchi-bench")
	s, err := hsm.OpenSigner(tk.Generate(b, "credential-issuer", hsm.ECDSAP256))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	tokenKey, err := NewIssuerSigner(s)
	if err != nil {
		b.Fatal(err)
	}
	f := newFixture(b)
	f.tpl = randomTemplate(b, 1, 512)
	for name, k := range map[string]*IssuerKey{"file": f.iss, "pkcs11": tokenKey} {
		b.Run(name, func(b *testing.B) {
			f.iss = k
			for b.Loop() {
				f.issue(b, "tnt_a", 3, time.Hour)
			}
		})
	}
}

// BenchmarkHSMUnwrapBranchKey: what a counter does per branch key version
// when it installs a bundle, with an X25519 file key and a SoftHSM2 P-256
// key in one run.
func BenchmarkHSMUnwrapBranchKey(b *testing.B) {
	tk := hsmtest.New(b, "madoguchi-bench")
	x, err := hsm.OpenKeyExchanger(tk.Generate(b, "device-hpke", hsm.ECDHP256))
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	file, _ := ecdh.X25519().GenerateKey(rand.Reader)
	bk, _ := ecdh.X25519().GenerateKey(rand.Reader)
	for _, bc := range []struct {
		name string
		k    ecdh.KeyExchanger
	}{{"file-X25519", file}, {"pkcs11-P256", x}} {
		b.Run(bc.name, func(b *testing.B) {
			w, err := WrapBranchKey(bc.k.PublicKey(), "tnt_a", "bdv_1", 1, bk)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := UnwrapBranchKey(bc.k, "tnt_a", "bdv_1", 1, w); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
