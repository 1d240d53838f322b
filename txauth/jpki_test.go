package txauth

import (
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/document/jpki"
	"github.com/madoguchi/madoguchi/document/jpki/jpkitest"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

var jpkiStart = time.Date(2026, 6, 1, 2, 0, 0, 0, time.UTC)

// withJPKI gives eKYC and txauth a JPKI verifier over p's test roots, with
// current CRLs and the store's nonce spender.
func withJPKI(t *testing.T, p *jpkitest.PKI) envOption {
	return func(clk *clock, ec *ekyc.Config, tc *Config) {
		v, _, err := p.Verifier(ekyc.NewJPKINonces(ec.DB, clk.Now), clk.Now)
		if err != nil {
			t.Fatal(err)
		}
		ec.JPKI, tc.JPKI = v, v
	}
}

func rawSig(t *testing.T, card *jpkitest.Card, msg []byte) ekyc.JPKISignature {
	t.Helper()
	sig, err := card.SignRaw(msg)
	if err != nil {
		t.Fatal(err)
	}
	return ekyc.JPKISignature{Form: "raw", Signature: sig, Certificate: card.DER()}
}

// waCustomer verifies a customer by method ワ with signCard, linking authCard.
func (e *env) waCustomer(t *testing.T, reference string, signCard, authCard *jpkitest.Card) *ekyc.Customer {
	t.Helper()
	pol := ekyc.ExamplePolicy(0.5)
	pol.Methods = []string{"wa"}
	if _, err := e.ekyc.SetPolicy(e.ctx, ekyc.System, e.tenantA, pol); err != nil {
		t.Fatal(err)
	}
	a := ekyc.Actor{Kind: audit.ActorClient, ID: "cl_test"}
	cr, err := e.ekyc.Create(e.ctx, a, e.tenantA, ekyc.CreateRequest{Method: "wa", Reference: reference})
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.ekyc.StartCapture(e.ctx, tokenOf(t, strings.Replace(cr.CaptureURL, "#t=", "#t=", 1)))
	if err != nil {
		t.Fatal(err)
	}
	chs, err := e.ekyc.JPKIChallenges(e.ctx, st.Key)
	if err != nil {
		t.Fatal(err)
	}
	auth := rawSig(t, authCard, chs[1].Bytes)
	ss, err := e.ekyc.SubmitJPKI(e.ctx, st.Key, ekyc.JPKISubmission{Sign: rawSig(t, signCard, chs[0].Bytes), Auth: &auth})
	if err != nil || ss.Outcome != ekyc.OutcomeApproved {
		t.Fatalf("SubmitJPKI = %+v, %v", ss, err)
	}
	c, err := e.ekyc.CreateCustomer(e.ctx, a, e.tenantA, ss.ID, reference)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestJPKIFactors(t *testing.T) {
	t.Parallel()
	p, err := jpkitest.New(jpkitest.Options{Now: jpkiStart})
	if err != nil {
		t.Fatal(err)
	}
	issue := func(u jpki.Usage) *jpkitest.Card {
		c, err := p.Issue(jpkitest.CardOptions{Usage: u})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	signCard, authCard, otherSign := issue(jpki.UsageSign), issue(jpki.UsageAuth), issue(jpki.UsageSign)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, withJPKI(t, p))
		cu := e.waCustomer(t, "C-JPKI", signCard, authCard)
		pol, _, _ := e.svc.Policy(e.ctx, e.tenantA)
		pol.Require = []Factor{FactorJPKIAuth}
		pol.Rules = []Rule{{Name: "highest amounts", AmountAtLeast: 1_000_000, Require: []Factor{FactorJPKISign}}}
		if _, err := e.svc.SetPolicy(e.ctx, System, e.tenantA, pol); err != nil {
			t.Fatal(err)
		}
		big := sampleTx()
		big.AmountJPY = 5_000_000
		cr, err := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: big})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(cr.Confirmation.Required, []Factor{FactorJPKIAuth, FactorJPKISign}) {
			t.Fatalf("required = %v", cr.Confirmation.Required)
		}
		tok := tokenOf(t, cr.ConfirmURL)

		// The signing key signs the transaction: the challenge's nonce
		// commits to the transaction text, which names the hash.
		ch, err := e.svc.JPKIChallenge(e.ctx, tok, JPKISign)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := jpki.ParseChallenge(ch.Bytes)
		h := big.Hash()
		th := sha256.Sum256([]byte(ch.Text))
		if err != nil || parsed.SessionID != cr.Confirmation.ID || parsed.Purpose != PurposeTxSign || string(parsed.Nonce[:32]) != string(th[:]) ||
			!strings.Contains(ch.Text, "5,000,000円") || !strings.Contains(ch.Text, hexOf(h[:])) {
			t.Fatalf("sign challenge = %+v (%v), text %q", parsed, err, ch.Text)
		}
		// Another person's signing card is refused (and spends the challenge).
		if _, err := e.svc.JPKISubmit(e.ctx, tok, ch.ID, rawSig(t, otherSign, ch.Bytes)); !errors.Is(err, ErrJPKI) {
			t.Errorf("JPKISubmit(another signing card) = %v, want ErrJPKI", err)
		}
		if _, err := e.svc.JPKISubmit(e.ctx, tok, ch.ID, rawSig(t, signCard, ch.Bytes)); !errors.Is(err, ErrReplay) {
			t.Errorf("JPKISubmit(spent challenge) = %v, want ErrReplay", err)
		}
		// A signature over another confirmation's challenge does not verify.
		other, _ := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: big})
		och, err := e.svc.JPKIChallenge(e.ctx, tokenOf(t, other.ConfirmURL), JPKISign)
		if err != nil {
			t.Fatal(err)
		}
		ch, _ = e.svc.JPKIChallenge(e.ctx, tok, JPKISign)
		if _, err := e.svc.JPKISubmit(e.ctx, tok, ch.ID, rawSig(t, signCard, och.Bytes)); !errors.Is(err, ErrJPKI) {
			t.Errorf("JPKISubmit(signature over another transaction) = %v, want ErrJPKI", err)
		}
		ch, _ = e.svc.JPKIChallenge(e.ctx, tok, JPKISign)
		v, err := e.svc.JPKISubmit(e.ctx, tok, ch.ID, rawSig(t, signCard, ch.Bytes))
		if err != nil || !slices.Contains(v.Satisfied, FactorJPKISign) || v.State != StatePending {
			t.Fatalf("JPKISubmit(sign) = %+v, %v", v, err)
		}
		// The user-authentication key: eKYC's re-authentication.
		ach, err := e.svc.JPKIChallenge(e.ctx, tok, JPKIAuth)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.JPKISubmit(e.ctx, tok, ach.ID, rawSig(t, issue(jpki.UsageAuth), ach.Bytes)); !errors.Is(err, ErrJPKI) {
			t.Errorf("JPKISubmit(unlinked auth card) = %v, want ErrJPKI", err)
		}
		ach, _ = e.svc.JPKIChallenge(e.ctx, tok, JPKIAuth)
		v, err = e.svc.JPKISubmit(e.ctx, tok, ach.ID, rawSig(t, authCard, ach.Bytes))
		if err != nil || v.State != StateConfirmed {
			t.Fatalf("JPKISubmit(auth) = %+v, %v", v, err)
		}
		if got := e.auditActions(cr.Confirmation.ID); !slices.Contains(got, "txauth.jpki.submit") {
			t.Errorf("audit = %v", got)
		}
		// A customer verified by another method has no signing key on record.
		he := e.customer(e.tenantA, "C-HE")
		pol.Require = []Factor{FactorJPKISign}
		pol.Rules = nil
		e.svc.SetPolicy(e.ctx, System, e.tenantA, pol)
		hc, err := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: he.ID, Transaction: big})
		if err != nil {
			t.Fatal(err)
		}
		htok := tokenOf(t, hc.ConfirmURL)
		hch, _ := e.svc.JPKIChallenge(e.ctx, htok, JPKISign)
		if _, err := e.svc.JPKISubmit(e.ctx, htok, hch.ID, rawSig(t, signCard, hch.Bytes)); !errors.Is(err, ErrJPKI) {
			t.Errorf("JPKISubmit(customer verified by ヘ) = %v, want ErrJPKI", err)
		}
	})
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, x := range b {
		out = append(out, digits[x>>4], digits[x&15])
	}
	return string(out)
}
