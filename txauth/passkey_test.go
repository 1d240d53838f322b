package txauth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// softAuthenticator is a platform authenticator in software: one P-256
// credential, "none" attestation, user verification performed (or not).
type softAuthenticator struct {
	key    *ecdsa.PrivateKey
	id     []byte
	user   []byte
	count  uint32
	noUV   bool
	origin string
}

func newSoftAuthenticator(t *testing.T) *softAuthenticator {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	return &softAuthenticator{key: k, id: id, origin: "https://madoguchi.test"}
}

func cborBytes(b []byte) []byte {
	switch {
	case len(b) < 24:
		return append([]byte{0x40 | byte(len(b))}, b...)
	case len(b) < 256:
		return append([]byte{0x58, byte(len(b))}, b...)
	}
	return append([]byte{0x59, byte(len(b) >> 8), byte(len(b))}, b...)
}

func cborText(s string) []byte { return append([]byte{0x60 | byte(len(s))}, s...) }

func (a *softAuthenticator) authData(rpID string, attested bool) []byte {
	h := sha256.Sum256([]byte(rpID))
	flags := byte(0x01) // UP
	if !a.noUV {
		flags |= 0x04
	}
	if attested {
		flags |= 0x40
	}
	a.count++
	b := append(h[:], flags)
	b = binary.BigEndian.AppendUint32(b, a.count)
	if attested {
		b = append(b, make([]byte, 16)...) // AAGUID
		b = binary.BigEndian.AppendUint16(b, uint16(len(a.id)))
		b = append(b, a.id...)
		x, y := a.key.X.FillBytes(make([]byte, 32)), a.key.Y.FillBytes(make([]byte, 32))
		cose := []byte{0xA5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21}
		cose = append(append(cose, cborBytes(x)...), 0x22)
		cose = append(cose, cborBytes(y)...)
		b = append(b, cose...)
	}
	return b
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

type options struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RPID      string `json:"rpId"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	} `json:"publicKey"`
}

func (a *softAuthenticator) clientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.origin, "crossOrigin": false})
	return b
}

// create answers navigator.credentials.create(options).
func (a *softAuthenticator) create(t testing.TB, raw []byte) []byte {
	t.Helper()
	var o options
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatal(err)
	}
	a.user, _ = base64.RawURLEncoding.DecodeString(o.PublicKey.User.ID)
	cd := a.clientData("webauthn.create", o.PublicKey.Challenge)
	att := []byte{0xA3}
	att = append(att, cborText("fmt")...)
	att = append(att, cborText("none")...)
	att = append(att, cborText("attStmt")...)
	att = append(att, 0xA0)
	att = append(att, cborText("authData")...)
	att = append(att, cborBytes(a.authData(o.PublicKey.RP.ID, true))...)
	out, _ := json.Marshal(map[string]any{"id": b64u(a.id), "rawId": b64u(a.id), "type": "public-key",
		"response": map[string]string{"clientDataJSON": b64u(cd), "attestationObject": b64u(att)}})
	return out
}

// get answers navigator.credentials.get(options).
func (a *softAuthenticator) get(t testing.TB, raw []byte) []byte {
	t.Helper()
	var o options
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatal(err)
	}
	cd := a.clientData("webauthn.get", o.PublicKey.Challenge)
	ad := a.authData(o.PublicKey.RPID, false)
	h := sha256.Sum256(cd)
	d := sha256.Sum256(append(append([]byte(nil), ad...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, d[:])
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(map[string]any{"id": b64u(a.id), "rawId": b64u(a.id), "type": "public-key",
		"response": map[string]string{"clientDataJSON": b64u(cd), "authenticatorData": b64u(ad), "signature": b64u(sig), "userHandle": b64u(a.user)}})
	return out
}

func (e *env) registerPasskey(tenant, customer string, a *softAuthenticator) error {
	e.t.Helper()
	reg, err := e.svc.CreatePasskeyRegistration(e.ctx, client, tenant, customer, "")
	if err != nil {
		e.t.Fatalf("CreatePasskeyRegistration = %v", err)
	}
	tok := tokenOf(e.t, reg.ConfirmURL)
	opts, err := e.svc.PasskeyBegin(e.ctx, tok)
	if err != nil {
		e.t.Fatalf("PasskeyBegin(registration) = %v", err)
	}
	v, err := e.svc.PasskeyFinish(e.ctx, tok, a.create(e.t, opts))
	if err == nil && v.State != StateConfirmed {
		e.t.Fatalf("registration view = %+v", v)
	}
	return err
}

func TestPasskeyDynamicLinking(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		cu := e.customer(e.tenantA, "C-800")
		card := e.activeCard(e.tenantA, cu.ID)
		p, _, _ := e.svc.Policy(e.ctx, e.tenantA)
		p.Rules = append(p.Rules, Rule{Name: "large transfer", AmountAtLeast: 100_000, Require: []Factor{FactorPasskey}})
		if _, err := e.svc.SetPolicy(e.ctx, System, e.tenantA, p); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: sampleTx()}); !errors.Is(err, ErrFactor) {
			t.Fatalf("Create(passkey required, none registered) = %v, want ErrFactor", err)
		}
		// User verification is required at registration.
		lazy := newSoftAuthenticator(t)
		lazy.noUV = true
		if err := e.registerPasskey(e.tenantA, cu.ID, lazy); !errors.Is(err, ErrPasskey) {
			t.Errorf("register without user verification = %v, want ErrPasskey", err)
		}
		auth := newSoftAuthenticator(t)
		if err := e.registerPasskey(e.tenantA, cu.ID, auth); err != nil {
			t.Fatalf("register = %v", err)
		}

		// The customer meant A; malware sent B (payee altered). Both are
		// open; the customer's authenticator signs A's challenge.
		original := sampleTx()
		altered := sampleTx()
		altered.Payee.AccountNumber, altered.Payee.NameKana = "7654321", "ｱｸﾆﾝ"
		ca, err := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: original})
		if err != nil {
			t.Fatal(err)
		}
		cb, err := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: altered})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(ca.Confirmation.Required, FactorPasskey) {
			t.Fatalf("required = %v, want the passkey for a large transfer", ca.Confirmation.Required)
		}
		ta, tb := tokenOf(t, ca.ConfirmURL), tokenOf(t, cb.ConfirmURL)
		optsA, err := e.svc.PasskeyBegin(e.ctx, ta)
		if err != nil {
			t.Fatal(err)
		}
		optsB, err := e.svc.PasskeyBegin(e.ctx, tb)
		if err != nil {
			t.Fatal(err)
		}
		var oa, ob options
		json.Unmarshal(optsA, &oa)
		json.Unmarshal(optsB, &ob)
		if oa.PublicKey.Challenge == ob.PublicKey.Challenge {
			t.Fatal("two transactions got the same passkey challenge")
		}
		assertionA := auth.get(t, optsA)
		// The assertion over A does not verify for B.
		if _, err := e.svc.PasskeyFinish(e.ctx, tb, assertionA); !errors.Is(err, ErrPasskey) {
			t.Errorf("PasskeyFinish(B, assertion over A) = %v, want ErrPasskey", err)
		}
		// B's ceremony is spent: even B's own assertion now needs a new one.
		if _, err := e.svc.PasskeyFinish(e.ctx, tb, auth.get(t, optsB)); !errors.Is(err, ErrReplay) {
			t.Errorf("PasskeyFinish(B again, spent ceremony) = %v, want ErrReplay", err)
		}
		// A verifies; with the image card it is confirmed.
		v, err := e.svc.PasskeyFinish(e.ctx, ta, assertionA)
		if err != nil || !slices.Contains(v.Satisfied, FactorPasskey) {
			t.Fatalf("PasskeyFinish(A) = %+v, %v", v, err)
		}
		if _, err := e.svc.PasskeyFinish(e.ctx, ta, assertionA); !errors.Is(err, ErrReplay) && !errors.Is(err, ErrFactor) {
			t.Errorf("PasskeyFinish(A replayed) = %v, want ErrReplay", err)
		}
		v, _ = e.svc.Page(e.ctx, ta)
		if v, err = e.svc.Answer(e.ctx, ta, v.Challenge.ID, e.rightPicks(card, v.Challenge)); err != nil || v.State != StateConfirmed {
			t.Fatalf("Answer(A) = %+v, %v", v, err)
		}
		// A challenge derived from another hash with the same nonce differs.
		nonce := bytes.Repeat([]byte{7}, 32)
		if PasskeyChallenge(original.Hash(), nonce) == PasskeyChallenge(altered.Hash(), nonce) {
			t.Error("the derived challenge ignores the transaction")
		}
		if got := e.auditActions(cb.Confirmation.ID); !slices.Contains(got, "txauth.passkey.finish") {
			t.Errorf("refused assertion not audited: %v", got)
		}
	})
}
