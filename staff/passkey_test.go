package staff

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/internal/webauthntest"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

const testOrigin = "https://portal.example.jp"

func newPasskeys(t *testing.T, f *fixture) *Passkeys {
	t.Helper()
	p, err := NewPasskeys(f.dir, PasskeyConfig{RPID: "portal.example.jp", Origins: []string{testOrigin}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// register registers a passkey for actor with auth and returns it.
func register(t *testing.T, p *Passkeys, auth *webauthntest.Authenticator, actor Actor, name string) Passkey {
	t.Helper()
	ctx := context.Background()
	opts, cer, err := p.BeginRegistration(ctx, actor)
	if err != nil {
		t.Fatalf("BeginRegistration = %v", err)
	}
	resp, err := auth.Create(opts)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := p.FinishRegistration(ctx, actor, cer.Reveal(), name, resp)
	if err != nil {
		t.Fatalf("FinishRegistration = %v", err)
	}
	return pk
}

// tamper returns the response with one byte of a base64url field flipped.
func tamper(t *testing.T, resp []byte, field string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(resp, &m); err != nil {
		t.Fatal(err)
	}
	r := m["response"].(map[string]any)
	s := []byte(r[field].(string))
	s[len(s)/2] ^= 0x01
	if s[len(s)/2] == '-' || s[len(s)/2] == '_' || s[len(s)/2] < '0' {
		s[len(s)/2] = 'A'
	}
	r[field] = string(s)
	b, _ := json.Marshal(m)
	return b
}

func TestPasskeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a, b := f.admins(t)
		insertTenant(t, db, "tn_a")
		rev := f.tenantAccount(t, a, b, "tn_a", "reviewer1", RoleReviewer)
		p := newPasskeys(t, f)
		auth := webauthntest.New(testOrigin)
		me := staffActor(rev.Account.ID)

		pk := register(t, p, auth, me, "office laptop")
		if pk.TenantID != "tn_a" || pk.StaffID != rev.Account.ID {
			t.Errorf("registered passkey = %+v", pk)
		}
		list, err := f.dir.Passkeys(ctx, rev.Account.ID)
		if err != nil || len(list) != 1 || list[0].Name != "office laptop" || !list[0].LastUsed.IsZero() {
			t.Fatalf("Passkeys = %+v, %v", list, err)
		}

		// Sign in with it (discoverable: no username).
		login := func(mod func([]byte) []byte, staffID string) (Session, error) {
			opts, cer, err := p.BeginLogin(ctx, staffID)
			if err != nil {
				return Session{}, err
			}
			resp, err := auth.Get(opts)
			if err != nil {
				return Session{}, err
			}
			if mod != nil {
				resp = mod(resp)
			}
			return p.FinishLogin(ctx, cer.Reveal(), resp, "req-pk", map[string]string{"ip": "192.0.2.1"})
		}
		sess, err := login(nil, "")
		if err != nil {
			t.Fatalf("passkey sign-in = %v", err)
		}
		pr, err := f.dir.CheckSession(ctx, sess.Token.Reveal())
		if err != nil || pr.StaffID != rev.Account.ID || pr.Method != MethodPasskey || pr.TenantID != "tn_a" {
			t.Fatalf("passkey session = %+v, %v", pr, err)
		}
		if f.rec.count("staff.login", audit.OutcomeOK) < 1 {
			t.Error("passkey sign-in not audited")
		}
		// Re-authentication: only this account's passkeys may answer.
		if _, err := login(nil, rev.Account.ID); err != nil {
			t.Errorf("reauth with own passkey = %v", err)
		}
		if _, _, err := p.BeginLogin(ctx, a.Account.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("BeginLogin for an account without passkeys = %v, want ErrNotFound", err)
		}

		// Every forgery or replay is ErrInvalidCredentials and audited.
		denied := f.rec.count("staff.login", audit.OutcomeDenied)
		for _, tc := range []struct {
			name string
			run  func() error
		}{
			{"forged signature", func() error {
				_, err := login(func(r []byte) []byte { return tamper(t, r, "signature") }, "")
				return err
			}},
			{"tampered client data", func() error {
				_, err := login(func(r []byte) []byte { return tamper(t, r, "clientDataJSON") }, "")
				return err
			}},
			{"tampered authenticator data", func() error {
				_, err := login(func(r []byte) []byte { return tamper(t, r, "authenticatorData") }, "")
				return err
			}},
			{"wrong origin", func() error {
				auth.Origin = "https://evil.example"
				defer func() { auth.Origin = testOrigin }()
				_, err := login(nil, "")
				return err
			}},
			{"counter went backwards (cloned authenticator)", func() error {
				auth.Counter = 1
				_, err := login(nil, "")
				auth.Counter = 100
				return err
			}},
			{"replayed ceremony", func() error {
				opts, cer, err := p.BeginLogin(ctx, "")
				if err != nil {
					return err
				}
				resp, _ := auth.Get(opts)
				if _, err := p.FinishLogin(ctx, cer.Reveal(), resp, "", nil); err != nil {
					return errors.New("first use failed: " + err.Error())
				}
				resp2, _ := auth.Get(opts)
				_, err = p.FinishLogin(ctx, cer.Reveal(), resp2, "", nil)
				return err
			}},
			{"unknown ceremony", func() error {
				opts, _, _ := p.BeginLogin(ctx, "")
				resp, _ := auth.Get(opts)
				_, err := p.FinishLogin(ctx, "not-a-ceremony", resp, "", nil)
				return err
			}},
			{"garbage response", func() error {
				_, err := login(func([]byte) []byte { return []byte(`{"id":"x"}`) }, "")
				return err
			}},
			{"oversized response", func() error {
				_, err := login(func([]byte) []byte { return bytes.Repeat([]byte("a"), MaxPasskeyResponse+1) }, "")
				return err
			}},
			{"reauth as someone else", func() error {
				// Another account's ceremony cannot be answered with this passkey.
				other := webauthntest.New(testOrigin)
				register(t, p, other, staffActor(b.Account.ID), "bob's key")
				opts, cer, err := p.BeginLogin(ctx, b.Account.ID)
				if err != nil {
					return err
				}
				var o map[string]any
				_ = json.Unmarshal(opts, &o)
				resp, err := auth.Sign(mustCredID(t, auth, p, me), o["challenge"].(string), "portal.example.jp")
				if err != nil {
					return err
				}
				_, err = p.FinishLogin(ctx, cer.Reveal(), resp, "", nil)
				return err
			}},
		} {
			if err := tc.run(); !errors.Is(err, ErrInvalidCredentials) {
				t.Errorf("%s: err = %v, want ErrInvalidCredentials", tc.name, err)
			}
		}
		if got := f.rec.count("staff.login", audit.OutcomeDenied) - denied; got < 9 {
			t.Errorf("denied passkey sign-ins audited = %d, want each refusal", got)
		}

		// A disabled account's passkey no longer signs in.
		if _, err := db.Exec(ctx, `UPDATE staff_accounts SET status = 'disabled' WHERE id = ?`, rev.Account.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := login(nil, ""); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("disabled account: passkey sign-in = %v, want ErrInvalidCredentials", err)
		}
		if _, err := db.Exec(ctx, `UPDATE staff_accounts SET status = 'active' WHERE id = ?`, rev.Account.ID); err != nil {
			t.Fatal(err)
		}

		// Registration is refused for a ceremony of another account, a
		// used ceremony, a bad name or a tampered attestation.
		opts, cer, err := p.BeginRegistration(ctx, me)
		if err != nil {
			t.Fatal(err)
		}
		resp, _ := auth.Create(opts)
		if _, err := p.FinishRegistration(ctx, staffActor(b.Account.ID), cer.Reveal(), "x", resp); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("FinishRegistration by another account = %v, want ErrInvalidCredentials", err)
		}
		if _, err := p.FinishRegistration(ctx, me, cer.Reveal(), "x", resp); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("FinishRegistration with a used ceremony = %v, want ErrInvalidCredentials", err)
		}
		opts, cer, _ = p.BeginRegistration(ctx, me)
		resp, _ = auth.Create(opts)
		if _, err := p.FinishRegistration(ctx, me, cer.Reveal(), "x", tamper(t, resp, "clientDataJSON")); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("FinishRegistration tampered = %v, want ErrInvalidCredentials", err)
		}
		for _, bad := range []string{"", string(bytes.Repeat([]byte("n"), MaxPasskeyNameLen+1)), "tab\there"} {
			if _, err := p.FinishRegistration(ctx, me, "c", bad, resp); !errors.Is(err, ErrInvalidInput) {
				t.Errorf("FinishRegistration(name %q) = %v, want ErrInvalidInput", bad, err)
			}
		}

		// Removal: only the owner.
		if err := f.dir.DeletePasskey(ctx, staffActor(b.Account.ID), pk.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("DeletePasskey by another account = %v, want ErrNotFound", err)
		}
		if err := f.dir.DeletePasskey(ctx, me, pk.ID); err != nil {
			t.Fatalf("DeletePasskey = %v", err)
		}
		if _, err := f.dir.Passkey(ctx, pk.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleted passkey still there: %v", err)
		}
		if _, err := login(nil, ""); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("sign-in with a removed passkey = %v, want ErrInvalidCredentials", err)
		}
	})
}

// mustCredID returns the credential id of actor's newest passkey as the
// authenticator knows it (by asking it to answer a request for actor).
func mustCredID(t *testing.T, auth *webauthntest.Authenticator, p *Passkeys, actor Actor) []byte {
	t.Helper()
	opts, _, err := p.BeginLogin(context.Background(), actor.ID)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := auth.Get(opts)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		RawID string `json:"rawId"`
	}
	_ = json.Unmarshal(resp, &m)
	id, err := b64.DecodeString(m.RawID)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
