package ekyc

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/madoguchi/madoguchi/document/jpki"
	"github.com/madoguchi/madoguchi/document/jpki/jpkitest"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// testStart is newEnv's clock start; the test PKI is generated at it.
var testStart = time.Date(2026, 5, 1, 1, 0, 0, 0, time.UTC)

func newPKI(t *testing.T) *jpkitest.PKI {
	t.Helper()
	p, err := jpkitest.New(jpkitest.Options{Now: testStart})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func issue(t *testing.T, p *jpkitest.PKI, o jpkitest.CardOptions) *jpkitest.Card {
	t.Helper()
	c, err := p.Issue(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// crls is a CRL store holding current CRLs of both test roots, revoking
// the given certificates.
func crls(t *testing.T, p *jpkitest.PKI, now func() time.Time, revoked ...*x509.Certificate) *jpki.CRLStore {
	t.Helper()
	st, err := p.CRLStore(now, revoked...)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// newWaEnv is newEnv with a JPKI verifier over p's roots, the store-backed
// nonce spender and rev, and method wa offered by both tenants.
func newWaEnv(t *testing.T, db *store.DB, p *jpkitest.PKI, rev func(now func() time.Time) jpki.RevocationChecker) *env {
	t.Helper()
	clk := &clock{t: testStart}
	v, err := jpki.NewVerifier(jpki.Config{
		Anchors:    jpki.NewAnchors([]*x509.Certificate{p.Sign.Cert}, []*x509.Certificate{p.Auth.Cert}),
		Revocation: rev(clk.Now),
		Spender:    NewJPKINonces(db, clk.Now),
		Now:        clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, db, func(c *Config) { c.JPKI, c.Now = v, clk.Now })
	e.clock = clk
	offerWa(t, e)
	return e
}

func offerWa(t *testing.T, e *env) {
	t.Helper()
	for _, tn := range []string{e.tenantA, e.tenantB} {
		pol := ExamplePolicy(0.5)
		pol.Methods = []string{"he", "ho", "wa"}
		if _, err := e.svc.SetPolicy(e.ctx, System, tn, pol); err != nil {
			t.Fatal(err)
		}
	}
}

// challenges opens a wa session for tenant and returns the capture key
// and the issued challenges (sign, link).
func (e *env) waChallenges(tenant string) (*Created, string, []JPKIChallenge) {
	e.t.Helper()
	c := e.create(tenant, "wa")
	pg := e.open(c)
	chs, err := e.svc.JPKIChallenges(e.ctx, pg.start.Key)
	if err != nil {
		e.t.Fatalf("JPKIChallenges = %v, want nil", err)
	}
	if len(chs) != 2 || chs[0].Purpose != JPKIPurposeSign || chs[1].Purpose != JPKIPurposeLink {
		e.t.Fatalf("JPKIChallenges = %+v, want sign and link", chs)
	}
	return c, pg.start.Key, chs
}

func signRaw(t *testing.T, card *jpkitest.Card, msg []byte) JPKISignature {
	t.Helper()
	sig, err := card.SignRaw(msg)
	if err != nil {
		t.Fatal(err)
	}
	return JPKISignature{Form: "raw", Signature: sig, Certificate: card.DER()}
}

func reasonCodes(ss *Session) []string {
	if ss.Decision == nil {
		return nil
	}
	return ss.Decision.ReasonCodes()
}

func TestWaApprovedAndReauth(t *testing.T) {
	p := newPKI(t)
	signCard := issue(t, p, jpkitest.CardOptions{Usage: jpki.UsageSign})
	authCard := issue(t, p, jpkitest.CardOptions{Usage: jpki.UsageAuth})
	otherAuth := issue(t, p, jpkitest.CardOptions{Usage: jpki.UsageAuth})
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newWaEnv(t, db, p, func(now func() time.Time) jpki.RevocationChecker { return crls(t, p, now) })
		c, key, chs := e.waChallenges(e.tenantA)
		sub := JPKISubmission{Sign: signRaw(t, signCard, chs[0].Bytes)}
		auth := signRaw(t, authCard, chs[1].Bytes)
		sub.Auth = &auth
		ss, err := e.svc.SubmitJPKI(e.ctx, key, sub)
		if err != nil {
			t.Fatalf("SubmitJPKI = %v, want nil", err)
		}
		if ss.State != StateDecided || ss.Outcome != OutcomeApproved {
			t.Fatalf("SubmitJPKI = %s/%s %v, want decided/approved", ss.State, ss.Outcome, reasonCodes(ss))
		}
		// A second submission is refused: the session is no longer capturing.
		if _, err := e.svc.SubmitJPKI(e.ctx, key, sub); !errors.Is(err, ErrState) {
			t.Errorf("SubmitJPKI(again) = %v, want ErrState", err)
		}

		// verified_claims shape.
		jws, err := e.svc.Result(e.ctx, client, e.tenantA, ss.ID)
		if err != nil {
			t.Fatal(err)
		}
		body, err := VerifyResult(jws, e.svc.JWKS())
		if err != nil {
			t.Fatal(err)
		}
		var res struct {
			Method         string `json:"method"`
			Outcome        string `json:"outcome"`
			VerifiedClaims struct {
				Verification struct {
					TrustFramework string           `json:"trust_framework"`
					Evidence       []map[string]any `json:"evidence"`
					Process        string           `json:"verification_process"`
				} `json:"verification"`
				Claims map[string]any `json:"claims"`
			} `json:"verified_claims"`
		}
		if err := json.Unmarshal(body, &res); err != nil {
			t.Fatal(err)
		}
		vc := res.VerifiedClaims
		if res.Method != "wa" || res.Outcome != "approved" || vc.Verification.TrustFramework != "jp_aml" || len(vc.Verification.Evidence) != 1 {
			t.Fatalf("Result = %s", body)
		}
		ev := vc.Verification.Evidence[0]
		wantSerial := strings.ToUpper(signCard.Cert.SerialNumber.Text(16))
		if ev["type"] != "electronic_signature" || ev["signature_type"] != "https://madoguchi.test/signature/jpki_sign" ||
			ev["serial_number"] != wantSerial || !strings.Contains(ev["issuer"].(string), "OU=JPKI for digital signature") ||
			ev["created_at"] != chsIssued(t, chs[0]).Format(time.RFC3339) || ev["check_details"] != nil {
			t.Errorf("evidence = %v, want electronic_signature of serial %s", ev, wantSerial)
		}
		wantClaims := map[string]any{"name": "山田　太郎", "birthdate": "1990-01-02", "gender": "male",
			"address": map[string]any{"formatted": "東京都千代田区千代田１－１", "country": "JP"}}
		if diff := cmp.Diff(wantClaims, vc.Claims); diff != "" {
			t.Errorf("claims (-want +got):\n%s", diff)
		}

		// The record keeps the signed bytes, the chain and the CRL.
		rec, err := e.svc.loadRecord(e.ctx, e.db, ss)
		if err != nil {
			t.Fatal(err)
		}
		if rec.ID != vc.Verification.Process || rec.JPKI == nil || rec.JPKI.Sign == nil || rec.JPKI.Auth == nil {
			t.Fatalf("record = %+v, want JPKI sign and auth parts", rec.JPKI)
		}
		r := rec.JPKI.Sign
		if string(r.SignedBytes) != string(chs[0].Bytes) || len(r.Chain) != 2 || string(r.Chain[0]) != string(signCard.DER()) ||
			string(r.Chain[1]) != string(p.Sign.Cert.Raw) || r.RevocationType != "crl" || len(r.Revocation) == 0 {
			t.Errorf("record JPKI sign = usage %s chain %d revocation %s/%d bytes", r.Usage, len(r.Chain), r.RevocationType, len(r.Revocation))
		}
		if rec.Claims["name"] != "山田　太郎" || !rec.JPKI.NameExact {
			t.Errorf("record claims = %v exact %v", rec.Claims["name"], rec.JPKI.NameExact)
		}

		// Re-authentication with the linked user-authentication card.
		reauth := func(tenant string, card *jpkitest.Card) (*Reauth, error) {
			ch, err := e.svc.ReauthChallenge(e.ctx, client, tenant)
			if err != nil {
				t.Fatalf("ReauthChallenge = %v", err)
			}
			return e.svc.Reauthenticate(e.ctx, client, tenant, ch.ID, signRaw(t, card, ch.Bytes))
		}
		got, err := reauth(e.tenantA, authCard)
		if err != nil || got.SessionID != ss.ID || got.Reference != c.Session.Reference {
			t.Errorf("Reauthenticate(linked card) = %+v, %v, want session %s", got, err, ss.ID)
		}
		if got, err := reauth(e.tenantA, otherAuth); !errors.Is(err, ErrNotFound) {
			t.Errorf("Reauthenticate(unlinked card) = %+v, %v, want ErrNotFound", got, err)
		}
		if got, err := reauth(e.tenantB, authCard); !errors.Is(err, ErrNotFound) {
			t.Errorf("Reauthenticate(other tenant) = %+v, %v, want ErrNotFound", got, err)
		}
		// The signing key is not a user-authentication key.
		var je *JPKIError
		if got, err := reauth(e.tenantA, signCard); !errors.As(err, &je) || je.Code != ReasonJPKIChain {
			t.Errorf("Reauthenticate(signing card) = %+v, %v, want JPKIError %s", got, err, ReasonJPKIChain)
		}
		// A challenge of tenant A cannot be used by tenant B.
		ch, err := e.svc.ReauthChallenge(e.ctx, client, e.tenantA)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Reauthenticate(e.ctx, client, e.tenantB, ch.ID, signRaw(t, authCard, ch.Bytes)); !errors.Is(err, ErrNotFound) {
			t.Errorf("Reauthenticate(B, A's challenge) = %v, want ErrNotFound", err)
		}
		// Single use: the same signature again is a replay.
		sig := signRaw(t, authCard, ch.Bytes)
		if _, err := e.svc.Reauthenticate(e.ctx, client, e.tenantA, ch.ID, sig); err != nil {
			t.Fatalf("Reauthenticate = %v", err)
		}
		if _, err := e.svc.Reauthenticate(e.ctx, client, e.tenantA, ch.ID, sig); !errors.As(err, &je) || je.Code != ReasonJPKIReplayed {
			t.Errorf("Reauthenticate(replayed) = %v, want %s", err, ReasonJPKIReplayed)
		}
		if acts := append(e.auditActions(ss.ID), e.auditActions(recordID(ss.ID))...); !contains(acts, "ekyc.jpki.submit") || !contains(acts, "ekyc.record.create") {
			t.Errorf("audit actions = %v", acts)
		}
	})
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func chsIssued(t *testing.T, c JPKIChallenge) time.Time {
	t.Helper()
	ch, err := jpki.ParseChallenge(c.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return ch.IssuedAt
}

func TestWaRejected(t *testing.T) {
	p := newPKI(t)
	good := issue(t, p, jpkitest.CardOptions{Usage: jpki.UsageSign})
	revoked := issue(t, p, jpkitest.CardOptions{Usage: jpki.UsageSign})
	expired := issue(t, p, jpkitest.CardOptions{Usage: jpki.UsageSign, NotBefore: testStart.AddDate(-5, 0, 0), NotAfter: testStart.Add(-time.Minute)})
	foreignRoot, err := p.NewRoot(pkixName("JPKI for digital signature"), testStart.AddDate(-1, 0, 0), testStart.AddDate(5, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	foreign := issue(t, p, jpkitest.CardOptions{Usage: jpki.UsageSign, Issuer: foreignRoot})
	authCard := issue(t, p, jpkitest.CardOptions{Usage: jpki.UsageAuth})

	tests := []struct {
		name string
		// sign returns the submission for the issued challenges; e may
		// advance the clock or spend nonces.
		sign func(t *testing.T, e *env, chs []JPKIChallenge) JPKISubmission
		want string
	}{
		{"other bytes", func(t *testing.T, e *env, chs []JPKIChallenge) JPKISubmission {
			return JPKISubmission{Sign: signRaw(t, good, chs[1].Bytes)}
		}, ReasonJPKISignature},
		{"echoed other challenge", func(t *testing.T, e *env, chs []JPKIChallenge) JPKISubmission {
			s := signRaw(t, good, chs[1].Bytes)
			s.Challenge = chs[1].Bytes
			return JPKISubmission{Sign: s}
		}, ReasonJPKIWrongChallenge},
		{"replayed challenge", func(t *testing.T, e *env, chs []JPKIChallenge) JPKISubmission {
			ch, err := jpki.ParseChallenge(chs[0].Bytes)
			if err != nil {
				t.Fatal(err)
			}
			// Another instance already accepted a signature over it.
			other := NewJPKINonces(e.db, e.clock.Now)
			if fresh, err := other.Spend(e.ctx, ch.Nonce, ch.ExpiresAt); err != nil || !fresh {
				t.Fatalf("Spend = %v, %v, want true", fresh, err)
			}
			return JPKISubmission{Sign: signRaw(t, good, chs[0].Bytes)}
		}, ReasonJPKIReplayed},
		{"expired challenge", func(t *testing.T, e *env, chs []JPKIChallenge) JPKISubmission {
			e.clock.Add(JPKIChallengeLife + time.Second)
			return JPKISubmission{Sign: signRaw(t, good, chs[0].Bytes)}
		}, ReasonJPKIChallengeExpire},
		{"revoked (CRL)", func(t *testing.T, e *env, chs []JPKIChallenge) JPKISubmission {
			return JPKISubmission{Sign: signRaw(t, revoked, chs[0].Bytes)}
		}, ReasonJPKIRevoked},
		{"expired certificate", func(t *testing.T, e *env, chs []JPKIChallenge) JPKISubmission {
			return JPKISubmission{Sign: signRaw(t, expired, chs[0].Bytes)}
		}, ReasonJPKICertExpired},
		{"untrusted root", func(t *testing.T, e *env, chs []JPKIChallenge) JPKISubmission {
			return JPKISubmission{Sign: signRaw(t, foreign, chs[0].Bytes)}
		}, ReasonJPKIChain},
		{"auth key as signing key", func(t *testing.T, e *env, chs []JPKIChallenge) JPKISubmission {
			return JPKISubmission{Sign: signRaw(t, authCard, chs[0].Bytes)}
		}, ReasonJPKIChain},
		{"link signature over the sign challenge", func(t *testing.T, e *env, chs []JPKIChallenge) JPKISubmission {
			a := signRaw(t, authCard, chs[0].Bytes)
			return JPKISubmission{Sign: signRaw(t, good, chs[0].Bytes), Auth: &a}
		}, ReasonJPKIAuth},
		{"garbage certificate", func(t *testing.T, e *env, chs []JPKIChallenge) JPKISubmission {
			s := signRaw(t, good, chs[0].Bytes)
			s.Certificate = []byte{0x30, 0x03, 0x02, 0x01}
			return JPKISubmission{Sign: s}
		}, ReasonJPKICertificate},
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newWaEnv(t, db, p, func(now func() time.Time) jpki.RevocationChecker { return crls(t, p, now, revoked.Cert) })
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, key, chs := e.waChallenges(e.tenantA)
				ss, err := e.svc.SubmitJPKI(e.ctx, key, tt.sign(t, e, chs))
				if err != nil {
					t.Fatalf("SubmitJPKI = %v, want nil (a decision)", err)
				}
				if ss.Outcome != OutcomeRejected || !cmp.Equal(reasonCodes(ss), []string{tt.want}) {
					t.Errorf("SubmitJPKI = %s %v, want rejected [%s]", ss.Outcome, reasonCodes(ss), tt.want)
				}
				jws, err := e.svc.Result(e.ctx, client, e.tenantA, ss.ID)
				if err != nil {
					t.Fatal(err)
				}
				body, err := VerifyResult(jws, e.svc.JWKS())
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(body), "verified_claims") || strings.Contains(string(body), "山田") {
					t.Errorf("rejected result carries claims: %s", body)
				}
				rec, err := e.svc.loadRecord(e.ctx, e.db, ss)
				if err != nil {
					t.Fatal(err)
				}
				if rec.JPKI == nil || rec.JPKI.Verified || len(rec.JPKI.Received.Signature) == 0 || len(rec.Claims) != 0 {
					t.Errorf("record of a rejected session = %+v, want the received signature and no claims", rec.JPKI)
				}
			})
		}
	})
}

func TestWaOCSPAndDevice(t *testing.T) {
	p := newPKI(t)
	good := issue(t, p, jpkitest.CardOptions{Usage: jpki.UsageSign})
	revoked := issue(t, p, jpkitest.CardOptions{Usage: jpki.UsageSign})
	var down atomic.Bool
	responder := p.OCSPResponder(p.Sign, jpkitest.ResponderOptions{Revoked: []*x509.Certificate{revoked.Cert}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		responder.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		down.Store(false)
		e := newWaEnv(t, db, p, func(now func() time.Time) jpki.RevocationChecker {
			c, err := jpki.NewOCSPClient(srv.URL, srv.Client())
			if err != nil {
				t.Fatal(err)
			}
			c.Now = now
			return c
		})
		// A kiosk (device API) drives the session from created.
		device := func(tenant string, card *jpkitest.Card) (*Session, error) {
			c := e.create(e.tenantA, "wa")
			chs, err := e.svc.JPKIChallengesForDevice(e.ctx, kiosk, tenant, c.Session.ID)
			if err != nil {
				return nil, err
			}
			return e.svc.SubmitJPKIFromDevice(e.ctx, kiosk, tenant, c.Session.ID, JPKISubmission{Sign: signRaw(t, card, chs[0].Bytes)})
		}
		ss, err := device(e.tenantA, good)
		if err != nil || ss.Outcome != OutcomeApproved {
			t.Fatalf("device(good) = %v, %v, want approved", ss, err)
		}
		rec, err := e.svc.loadRecord(e.ctx, e.db, ss)
		if err != nil || rec.JPKI.Sign.RevocationType != "ocsp" || rec.JPKI.Source != kiosk.ID {
			t.Errorf("record = %+v, %v, want OCSP evidence from the kiosk", rec.JPKI, err)
		}
		ss, err = device(e.tenantA, revoked)
		if err != nil || ss.Outcome != OutcomeRejected || !cmp.Equal(reasonCodes(ss), []string{ReasonJPKIRevoked}) {
			t.Errorf("device(revoked) = %v %v, want rejected [%s]", reasonCodes(ss), err, ReasonJPKIRevoked)
		}
		// Another tenant's session is not found.
		if _, err := device(e.tenantB, good); !errors.Is(err, ErrNotFound) {
			t.Errorf("device(other tenant) = %v, want ErrNotFound", err)
		}
		// Responder down: no decision, the session can retry.
		down.Store(true)
		c := e.create(e.tenantA, "wa")
		chs, err := e.svc.JPKIChallengesForDevice(e.ctx, kiosk, e.tenantA, c.Session.ID)
		if err != nil {
			t.Fatal(err)
		}
		sub := JPKISubmission{Sign: signRaw(t, good, chs[0].Bytes)}
		if _, err := e.svc.SubmitJPKIFromDevice(e.ctx, kiosk, e.tenantA, c.Session.ID, sub); !errors.Is(err, ErrJPKIUnavailable) {
			t.Fatalf("SubmitJPKIFromDevice(responder down) = %v, want ErrJPKIUnavailable", err)
		}
		down.Store(false)
		ss, err = e.svc.SubmitJPKIFromDevice(e.ctx, kiosk, e.tenantA, c.Session.ID, sub)
		if err != nil || ss.Outcome != OutcomeApproved {
			t.Errorf("SubmitJPKIFromDevice(retry) = %v, %v, want approved", reasonCodes(ss), err)
		}
	})
}

func TestWaDisabledWithoutVerifier(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		offerWa(t, e)
		_, err := e.svc.Create(e.ctx, client, e.tenantA, CreateRequest{Method: "wa", Reference: "cust-1"})
		if !errors.Is(err, ErrJPKIDisabled) || !errors.Is(err, ErrMethodNotOffered) {
			t.Errorf("Create(wa) = %v, want ErrJPKIDisabled and ErrMethodNotOffered", err)
		}
		if _, err := e.svc.ReauthChallenge(e.ctx, client, e.tenantA); !errors.Is(err, ErrJPKIDisabled) {
			t.Errorf("ReauthChallenge = %v, want ErrJPKIDisabled", err)
		}
		// Other methods are unaffected.
		e.create(e.tenantA, "he")
	})
}

func TestWaInputLimits(t *testing.T) {
	p := newPKI(t)
	good := issue(t, p, jpkitest.CardOptions{Usage: jpki.UsageSign})
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newWaEnv(t, db, p, func(now func() time.Time) jpki.RevocationChecker { return crls(t, p, now) })
		_, key, chs := e.waChallenges(e.tenantA)
		base := signRaw(t, good, chs[0].Bytes)
		for name, tt := range map[string]struct {
			edit func(*JPKISignature)
			want error
		}{
			"empty signature":   {func(s *JPKISignature) { s.Signature = nil }, ErrTooLarge},
			"huge signature":    {func(s *JPKISignature) { s.Signature = make([]byte, MaxJPKISignature+1) }, ErrTooLarge},
			"huge certificate":  {func(s *JPKISignature) { s.Certificate = make([]byte, MaxJPKICertificate+1) }, ErrTooLarge},
			"many intermediate": {func(s *JPKISignature) { s.Intermediates = make([][]byte, MaxJPKIIntermediates+1) }, ErrTooLarge},
			"unknown form":      {func(s *JPKISignature) { s.Form = "pkcs7" }, ErrInvalidInput},
		} {
			s := base
			tt.edit(&s)
			if _, err := e.svc.SubmitJPKI(e.ctx, key, JPKISubmission{Sign: s}); !errors.Is(err, tt.want) {
				t.Errorf("SubmitJPKI(%s) = %v, want %v", name, err, tt.want)
			}
		}
		// Still capturing: a valid signature is decided.
		ss, err := e.svc.SubmitJPKI(e.ctx, key, JPKISubmission{Sign: base})
		if err != nil || ss.Outcome != OutcomeApproved {
			t.Errorf("SubmitJPKI(valid) = %v, %v, want approved", reasonCodes(ss), err)
		}
		// A he session takes no JPKI signature.
		he := e.open(e.create(e.tenantA, "he"))
		if _, err := e.svc.JPKIChallenges(e.ctx, he.start.Key); !errors.Is(err, ErrState) {
			t.Errorf("JPKIChallenges(he) = %v, want ErrState", err)
		}
	})
}

func TestJPKINoncesSingleUse(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clk := &clock{t: testStart}
		a, b := NewJPKINonces(db, clk.Now), NewJPKINonces(db, clk.Now)
		nonce := []byte("0123456789abcdef0123456789abcdef")
		exp := testStart.Add(10 * time.Minute)
		for i, tt := range []struct {
			n    *JPKINonces
			want bool
		}{{a, true}, {b, false}, {a, false}} {
			if got, err := tt.n.Spend(t.Context(), nonce, exp); err != nil || got != tt.want {
				t.Errorf("Spend #%d = %v, %v, want %v", i, got, err, tt.want)
			}
		}
		// Pruned well after expiry (the verifier refuses the expired
		// challenge by then anyway).
		clk.Add(10*time.Minute + nonceKeep + time.Second)
		if got, err := b.Spend(t.Context(), []byte("another nonce, 16+ bytes"), clk.Now().Add(time.Minute)); err != nil || !got {
			t.Fatalf("Spend(other) = %v, %v", got, err)
		}
		var n int
		if err := db.QueryRow(t.Context(), `SELECT COUNT(*) FROM jpki_nonces`).Scan(&n); err != nil || n != 1 {
			t.Errorf("jpki_nonces rows = %d, %v, want 1 after pruning", n, err)
		}
		if _, err := a.Spend(t.Context(), nil, exp); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("Spend(nil) = %v, want ErrInvalidInput", err)
		}
		// Concurrent instances: exactly one spends a nonce.
		var (
			wg    sync.WaitGroup
			fresh atomic.Int32
			fails atomic.Int32
		)
		race := []byte("concurrent nonce for instances")
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := NewJPKINonces(db, clk.Now).Spend(t.Context(), race, clk.Now().Add(time.Minute))
				if err != nil {
					fails.Add(1)
				} else if ok {
					fresh.Add(1)
				}
			}()
		}
		wg.Wait()
		if fresh.Load() != 1 || fails.Load() != 0 {
			t.Errorf("concurrent Spend: %d fresh, %d errors; want 1 and 0", fresh.Load(), fails.Load())
		}
	})
}

func pkixName(ou string) pkix.Name {
	return pkix.Name{Country: []string{"JP"}, Organization: []string{"JPKI"}, OrganizationalUnit: []string{ou}}
}

func TestWaCMS(t *testing.T) {
	p := newPKI(t)
	card := issue(t, p, jpkitest.CardOptions{Usage: jpki.UsageSign})
	cms := func(t *testing.T, content []byte) JPKISignature {
		t.Helper()
		sig, err := card.SignCMS(content, jpkitest.CMSOptions{EmbedCert: true})
		if err != nil {
			t.Fatal(err)
		}
		return JPKISignature{Signature: sig, Certificate: card.DER()} // form detected
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newWaEnv(t, db, p, func(now func() time.Time) jpki.RevocationChecker { return crls(t, p, now) })
		for _, tt := range []struct {
			name    string
			content func(chs []JPKIChallenge) []byte
			outcome Outcome
			reasons []string
		}{
			{"issued challenge", func(chs []JPKIChallenge) []byte { return chs[0].Bytes }, OutcomeApproved, []string{}},
			{"other challenge", func(chs []JPKIChallenge) []byte { return chs[1].Bytes }, OutcomeRejected, []string{ReasonJPKIWrongChallenge}},
		} {
			_, key, chs := e.waChallenges(e.tenantA)
			ss, err := e.svc.SubmitJPKI(e.ctx, key, JPKISubmission{Sign: cms(t, tt.content(chs))})
			if err != nil || ss.Outcome != tt.outcome || !cmp.Equal(reasonCodes(ss), tt.reasons) {
				t.Errorf("SubmitJPKI(CMS over %s) = %v %v, %v; want %s %v", tt.name, outcomeOf(ss), reasonCodes(ss), err, tt.outcome, tt.reasons)
			}
		}
		// The generic capture submit never decides a ワ session: it stays
		// capturing for the JPKI app's signature.
		pg := e.open(e.create(e.tenantA, "wa"))
		if ss, err := e.svc.Submit(e.ctx, pg.start.Key); !errors.Is(err, ErrIncomplete) {
			t.Errorf("Submit(wa without signature) = %v %v, %v; want ErrIncomplete", outcomeOf(ss), reasonCodes(ss), err)
		}
		if st, err := e.svc.CaptureState(e.ctx, pg.start.Key); err != nil || st.State != StateCapturing {
			t.Errorf("CaptureState after the refused submit = %v, %v; want capturing", st, err)
		}
		h, err := e.svc.IssueHandoff(e.ctx, pg.start.Key)
		if err != nil || !strings.HasPrefix(h.Link, "https://madoguchi.test/ekyc/capture#h=") || strings.Contains(h.Link, pg.start.Key) {
			t.Errorf("IssueHandoff = %+v, %v; want a #h= link without the capture key", h, err)
		}
	})
}

func outcomeOf(ss *Session) Outcome {
	if ss == nil {
		return OutcomeNone
	}
	return ss.Outcome
}

// authDown answers revocation for signing certificates and is unavailable
// for user-authentication ones.
type authDown struct {
	jpki.RevocationChecker
	auth *x509.Certificate
}

func (a authDown) CheckRevocation(ctx context.Context, cert, issuer *x509.Certificate) (*jpki.RevocationEvidence, error) {
	if issuer.Equal(a.auth) {
		return nil, fmt.Errorf("%w: responder down", jpki.ErrRevocationUnavailable)
	}
	return a.RevocationChecker.CheckRevocation(ctx, cert, issuer)
}

func TestWaLinkUnavailable(t *testing.T) {
	p := newPKI(t)
	signCard := issue(t, p, jpkitest.CardOptions{Usage: jpki.UsageSign})
	authCard := issue(t, p, jpkitest.CardOptions{Usage: jpki.UsageAuth})
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newWaEnv(t, db, p, func(now func() time.Time) jpki.RevocationChecker {
			return authDown{crls(t, p, now), p.Auth.Cert}
		})
		_, key, chs := e.waChallenges(e.tenantA)
		auth := signRaw(t, authCard, chs[1].Bytes)
		ss, err := e.svc.SubmitJPKI(e.ctx, key, JPKISubmission{Sign: signRaw(t, signCard, chs[0].Bytes), Auth: &auth})
		// The signing nonce is spent, so the session is decided on the
		// signature alone; the link is not recorded.
		if err != nil || ss.Outcome != OutcomeApproved {
			t.Fatalf("SubmitJPKI = %v, %v, want approved", reasonCodes(ss), err)
		}
		var n int
		if err := db.QueryRow(e.ctx, `SELECT COUNT(*) FROM jpki_links`).Scan(&n); err != nil || n != 0 {
			t.Errorf("jpki_links rows = %d, %v, want 0", n, err)
		}
	})
}

// BenchmarkWaSession is a whole ワ session on SQLite (create, capture
// start, challenges, verification with CRL, decision, sealed record);
// BenchmarkWaVerifierOnly is the jpki verification alone, the reference.
// The card's signature is made outside the timer in both.
func BenchmarkWaSession(b *testing.B) {
	p, err := jpkitest.New(jpkitest.Options{Now: testStart, Keys: 1})
	if err != nil {
		b.Fatal(err)
	}
	card, err := p.Issue(jpkitest.CardOptions{Usage: jpki.UsageSign})
	if err != nil {
		b.Fatal(err)
	}
	db := storetest.SQLite(b)
	clk := &clock{t: testStart}
	st, err := jpki.NewCRLStore([]*x509.Certificate{p.Sign.Cert}, clk.Now)
	if err != nil {
		b.Fatal(err)
	}
	der, err := p.CRL(p.Sign, jpkitest.CRLOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.Import(der); err != nil {
		b.Fatal(err)
	}
	v, err := jpki.NewVerifier(jpki.Config{Anchors: jpki.NewAnchors([]*x509.Certificate{p.Sign.Cert}, []*x509.Certificate{p.Auth.Cert}),
		Revocation: st, Spender: NewJPKINonces(db, clk.Now), Now: clk.Now})
	if err != nil {
		b.Fatal(err)
	}
	e := newEnv(b, db, func(c *Config) { c.JPKI, c.Now = v, clk.Now })
	for _, tn := range []string{e.tenantA} {
		pol := ExamplePolicy(0.5)
		pol.Methods = []string{"wa"}
		if _, err := e.svc.SetPolicy(e.ctx, System, tn, pol); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("session", func(b *testing.B) {
		for b.Loop() {
			c, err := e.svc.Create(e.ctx, client, e.tenantA, CreateRequest{Method: "wa", Reference: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			start, err := e.svc.StartCapture(e.ctx, tokenOf(b, c))
			if err != nil {
				b.Fatal(err)
			}
			chs, err := e.svc.JPKIChallenges(e.ctx, start.Key)
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			sig, err := card.SignRaw(chs[0].Bytes)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			ss, err := e.svc.SubmitJPKI(e.ctx, start.Key, JPKISubmission{Sign: JPKISignature{Signature: sig, Certificate: card.DER()}})
			if err != nil || ss.Outcome != OutcomeApproved {
				b.Fatalf("SubmitJPKI = %v, %v", reasonCodes(ss), err)
			}
		}
	})
	b.Run("verifier_only", func(b *testing.B) {
		mv, err := jpki.NewVerifier(jpki.Config{Anchors: jpki.NewAnchors([]*x509.Certificate{p.Sign.Cert}, nil),
			Revocation: st, Spender: jpki.NewMemorySpender(clk.Now), Now: clk.Now})
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			b.StopTimer()
			ch, err := jpki.NewChallenge(randReader(), "ses_bench", "tn_bench", JPKIPurposeSign, clk.Now(), time.Minute)
			if err != nil {
				b.Fatal(err)
			}
			msg, _ := ch.Marshal()
			sig, err := card.SignRaw(msg)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if _, err := mv.VerifySignature(e.ctx, msg, jpki.Signature{Form: jpki.FormRaw, Value: sig, Certificate: card.DER()}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
