package txauth

// JPKI (公的個人認証) factors, through the My Number card's client (a phone
// app or a kiosk reader):
//
//   - jpki_auth: the existing re-authentication (package ekyc): the card's
//     user-authentication key signs an ekyc re-authentication challenge; the
//     certificate must be the one linked at the customer's ワ onboarding.
//   - jpki_sign: for the highest amounts, the card's signing key signs the
//     transaction itself. The signed bytes are a jpki.Challenge whose
//     session id is the confirmation, relying service the tenant, purpose
//     "txauth-sign", and whose nonce is SHA-256 of the transaction text
//     (Transaction.Text, which names every field and the transaction hash)
//     followed by 16 random bytes; the client shows the text, the card signs
//     the challenge. The signing certificate must be the one the customer's
//     ワ session was verified with (ekyc CustomerSigningKey). The signed
//     bytes and signature are kept, sealed, as evidence.

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/document/jpki"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// JPKIVerifier verifies signing-key signatures (*jpki.Verifier).
type JPKIVerifier interface {
	VerifySignature(ctx context.Context, challenge []byte, sig jpki.Signature) (*jpki.Result, error)
}

// JPKIReauth is eKYC's JPKI re-authentication and the customer's signing
// key (*ekyc.Service).
type JPKIReauth interface {
	ReauthChallenge(ctx context.Context, a ekyc.Actor, tenant string) (*ekyc.JPKIChallenge, error)
	Reauthenticate(ctx context.Context, a ekyc.Actor, tenant, challengeID string, sig ekyc.JPKISignature) (*ekyc.Reauth, error)
	CustomerSigningKey(ctx context.Context, a ekyc.Actor, tenant, customerID string) (jpki.Secret, error)
}

// JPKI usages on the page.
const (
	JPKIAuth = "auth"
	JPKISign = "sign"
)

// PurposeTxSign is the jpki.Challenge purpose of a transaction signature.
const PurposeTxSign = "txauth-sign"

// ErrJPKI: the card's signature failed a check, or the certificate is not
// the customer's.
var ErrJPKI = errors.New("txauth: JPKI signature refused")

// JPKIChallengeView is what the card's client signs (Bytes) and shows
// (Text, for a transaction signature).
type JPKIChallengeView struct {
	ID        string    `json:"id"`
	Usage     string    `json:"usage"`
	Bytes     []byte    `json:"bytes"`
	Text      string    `json:"text,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
}

func jpkiEvidenceAAD(id string) []byte { return vault.AAD("txauth.jpki", id) }

func (s *Service) jpkiAvailable(f Factor) error {
	if s.cfg.JPKIReauth == nil || (f == FactorJPKISign && s.cfg.JPKI == nil) {
		return fmt.Errorf("%w: JPKI is not configured on this server", ErrFactor)
	}
	return nil
}

// JPKIChallenge issues the bytes the card signs for the token's
// confirmation: usage "auth" (jpki_auth) or "sign" (jpki_sign).
func (s *Service) JPKIChallenge(ctx context.Context, token, usage string) (*JPKIChallengeView, error) {
	f := map[string]Factor{JPKIAuth: FactorJPKIAuth, JPKISign: FactorJPKISign}[usage]
	if f == "" {
		return nil, fmt.Errorf("%w: usage must be auth or sign", ErrInvalidInput)
	}
	if err := s.jpkiAvailable(f); err != nil {
		return nil, err
	}
	c, err := confirmationByToken(ctx, s.db, token)
	if err != nil {
		return nil, err
	}
	if err := s.expireIfDue(ctx, c); err != nil {
		return nil, err
	}
	if c.State.Final() || !slices.Contains(c.Required, f) || slices.Contains(c.Satisfied, f) {
		return nil, fmt.Errorf("%w: no %s is due here", ErrFactor, f)
	}
	v := &JPKIChallengeView{Usage: usage}
	var ekycID string
	if usage == JPKIAuth {
		ch, err := s.cfg.JPKIReauth.ReauthChallenge(ctx, ekyc.Actor{Kind: audit.ActorSystem, ID: pageActor.ID}, c.TenantID)
		if err != nil {
			return nil, err
		}
		v.Bytes, v.ExpiresAt, ekycID = ch.Bytes, ch.ExpiresAt, ch.ID
	} else {
		if c.Kind != KindTransaction {
			return nil, fmt.Errorf("%w: only a transaction is signed", ErrFactor)
		}
		t, err := s.openTransaction(ctx, s.db, c)
		if err != nil {
			return nil, err
		}
		v.Text = t.Text()
		rnd, err := s.random(16)
		if err != nil {
			return nil, err
		}
		th := sha256.Sum256([]byte(v.Text))
		now := s.now().Truncate(time.Second)
		ch := &jpki.Challenge{SessionID: c.ID, Nonce: append(th[:], rnd...), RelyingService: c.TenantID, Purpose: PurposeTxSign,
			IssuedAt: now, ExpiresAt: now.Add(ekyc.JPKIChallengeLife)}
		if v.Bytes, err = ch.Marshal(); err != nil {
			return nil, err
		}
		v.ExpiresAt = ch.ExpiresAt
	}
	if v.ID, err = s.newID("jc_"); err != nil {
		return nil, err
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO txauth_jpki (id, tenant_id, confirmation_id, usage, ekyc_challenge, challenge, expires_at, used_at, evidence)
			VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)`, v.ID, c.TenantID, c.ID, usage, ekycID, v.Bytes, store.Micros(v.ExpiresAt), []byte{}); err != nil {
			return err
		}
		return s.record(ctx, tx, pageActor, c.TenantID, "txauth.jpki.challenge", c.ID, audit.OutcomeOK, map[string]string{"usage": usage, "challenge": v.ID})
	})
	return v, err
}

// JPKISubmit verifies the card's signature over the challenge challengeID
// of the token's confirmation. The challenge is spent whatever the outcome.
func (s *Service) JPKISubmit(ctx context.Context, token, challengeID string, sig ekyc.JPKISignature) (*PageView, error) {
	c, err := confirmationByToken(ctx, s.db, token)
	if err != nil {
		return nil, err
	}
	if err := s.expireIfDue(ctx, c); err != nil {
		return nil, err
	}
	if c.State.Final() {
		return nil, fmt.Errorf("%w: the confirmation is %s", ErrState, c.State)
	}
	if !validID(challengeID) {
		return nil, ErrNotFound
	}
	var (
		usage, ekycID string
		bytes         []byte
		expires       int64
	)
	err = s.db.QueryRow(ctx, `SELECT usage, ekyc_challenge, challenge, expires_at FROM txauth_jpki WHERE id = ? AND confirmation_id = ?`,
		challengeID, c.ID).Scan(&usage, &ekycID, &bytes, &expires)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, err
	}
	f := map[string]Factor{JPKIAuth: FactorJPKIAuth, JPKISign: FactorJPKISign}[usage]
	if err := s.jpkiAvailable(f); err != nil {
		return nil, err
	}
	// Spend the challenge first: one answer per challenge.
	now := s.now()
	res, err := s.db.Exec(ctx, `UPDATE txauth_jpki SET used_at = ? WHERE id = ? AND used_at = 0 AND expires_at > ?`, store.Micros(now), challengeID, store.Micros(now))
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		if !now.Before(store.FromMicros(expires)) {
			return nil, ErrExpired
		}
		return nil, ErrReplay
	}
	cu, err := s.customer(ctx, c.TenantID, c.CustomerID)
	if err != nil {
		return nil, err
	}
	deny := func(reason string) error {
		if err := s.db.InTx(ctx, func(tx *store.Tx) error {
			return s.record(ctx, tx, pageActor, c.TenantID, "txauth.jpki.submit", c.ID, audit.OutcomeDenied, map[string]string{"usage": usage, "reason": reason})
		}); err != nil {
			return err
		}
		return fmt.Errorf("%w: %s", ErrJPKI, reason)
	}
	ea := ekyc.Actor{Kind: audit.ActorSystem, ID: pageActor.ID}
	var evidence []byte
	if usage == JPKIAuth {
		r, err := s.cfg.JPKIReauth.Reauthenticate(ctx, ea, c.TenantID, ekycID, sig)
		var je *ekyc.JPKIError
		switch {
		case errors.As(err, &je):
			return nil, deny(je.Code)
		case errors.Is(err, ekyc.ErrNotFound):
			return nil, deny("not_linked")
		case err != nil:
			return nil, err
		}
		// The card must be the one linked at the customer's own
		// verification. A session's reference is only a label the client
		// chose: another approved ワ session run under the customer's
		// number (a re-verification link completed by someone else) links
		// another person's card, and must not sign the customer in.
		if r.SessionID != cu.SessionID {
			return nil, deny("another_customer")
		}
		evidence, _ = json.Marshal(map[string]any{"session": r.SessionID, "verified_at": r.VerifiedAt})
	} else {
		if sig.Challenge != nil && subtle.ConstantTimeCompare(sig.Challenge, bytes) != 1 {
			return nil, deny("wrong_challenge")
		}
		form := jpki.DetectForm(sig.Signature)
		switch sig.Form {
		case "raw":
			form = jpki.FormRaw
		case "cms":
			form = jpki.FormCMS
		}
		r, err := s.cfg.JPKI.VerifySignature(ctx, bytes, jpki.Signature{Form: form, Value: sig.Signature, Certificate: sig.Certificate, Intermediates: sig.Intermediates})
		if err != nil {
			if errors.Is(err, jpki.ErrRevocationUnavailable) || errors.Is(err, jpki.ErrStaleCRL) || errors.Is(err, jpki.ErrOCSP) || errors.Is(err, jpki.ErrCRL) {
				return nil, fmt.Errorf("%w: %w", ekyc.ErrJPKIUnavailable, err)
			}
			return nil, deny("signature_invalid")
		}
		want, err := s.cfg.JPKIReauth.CustomerSigningKey(ctx, ea, c.TenantID, c.CustomerID)
		if errors.Is(err, ekyc.ErrNotFound) {
			return nil, deny("no_signing_certificate_on_record")
		} else if err != nil {
			return nil, err
		}
		if subtle.ConstantTimeCompare([]byte(jpki.LinkKeyOf(r.Certificate)), []byte(want.Reveal())) != 1 {
			return nil, deny("another_certificate")
		}
		evidence, _ = json.Marshal(map[string]any{"signed": r.SignedBytes, "signature": r.SignatureBytes, "certificate": r.Certificate.Raw,
			"signing_time": r.SigningTime, "verified_at": r.VerifiedAt})
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		sealed, err := s.cfg.Vault.Seal(ctx, tx, cu.Subject(), jpkiEvidenceAAD(challengeID), evidence)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE txauth_jpki SET evidence = ? WHERE id = ?`, sealed, challengeID); err != nil {
			return err
		}
		fresh, err := getConfirmation(ctx, tx, c.TenantID, c.ID)
		if err != nil {
			return err
		}
		if err := s.record(ctx, tx, pageActor, c.TenantID, "txauth.jpki.submit", c.ID, audit.OutcomeOK, map[string]string{"usage": usage, "challenge": challengeID}); err != nil {
			return err
		}
		return s.satisfy(ctx, tx, fresh, f, pageActor)
	})
	if err != nil {
		return nil, err
	}
	fresh, err := getConfirmation(ctx, s.db, c.TenantID, c.ID)
	if err != nil {
		return nil, err
	}
	return s.pageView(ctx, fresh)
}
