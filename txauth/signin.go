package txauth

// Sign-in confirmations: a verified customer signs in at Madoguchi's
// authorization server (package signin adapts this to oauth's customer
// step). There is no transfer to bind, so the confirmation binds what the
// customer is signing in to instead:
//
//	{"sign_in":{"binding":"<base64url SHA-256 of the interaction>","client":"<client id>"}}
//
// The binding is a hash of the authorization server's interaction (never
// the interaction id itself, a bearer secret), so a passkey assertion made
// for one sign-in does not verify for any other (the challenge derives
// from this body's hash, as for a transaction). The factors are the
// tenant policy's SignIn list, all of them; a policy without one refuses
// every sign-in (ErrFactor). The confirmation page, the factors' lockouts,
// the account lock, the expiry and the signed result are those of any
// confirmation.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
)

// KindSignIn is a customer's sign-in at the authorization server.
const KindSignIn Kind = "sign_in"

// SignInFactors are the factors a policy may require for a sign-in: the
// ones that authenticate the person (a passkey with user verification,
// face re-authentication against the eKYC selfie, the JPKI
// user-authentication certificate). Possession-only factors (the image
// card, the tenant's legacy method) and the transfer-only jpki_sign are
// not among them.
var SignInFactors = []Factor{FactorPasskey, FactorFace, FactorJPKIAuth}

// SignIn is what a sign-in confirmation binds.
type SignIn struct {
	// Client is the OAuth client the customer signs in to.
	Client string
	// Binding is SHA-256 of the authorization server's interaction.
	Binding [32]byte
}

// Canonical is the body the confirmation seals and hashes (RFC 8785: the
// members in order, no whitespace).
func (si SignIn) Canonical() []byte {
	inner := struct {
		Binding string `json:"binding"`
		Client  string `json:"client"`
	}{base64.RawURLEncoding.EncodeToString(si.Binding[:]), si.Client}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // RFC 8785 escapes only what JSON must
	_ = enc.Encode(map[string]any{"sign_in": inner})
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// Hash is SHA-256 of Canonical: a sign-in confirmation's TxHash.
func (si SignIn) Hash() [32]byte { return sha256.Sum256(si.Canonical()) }

// CreateSignIn opens a sign-in confirmation for the tenant's customer with
// the factors of the tenant policy's SignIn list.
func (s *Service) CreateSignIn(ctx context.Context, a Actor, tenant, customer string, si SignIn) (*Created, error) {
	if si.Client == "" || !displayText(si.Client, 128) {
		return nil, fmt.Errorf("%w: client must be 1-128 printable characters", ErrInvalidInput)
	}
	cu, err := s.customer(ctx, tenant, customer)
	if err != nil {
		return nil, err
	}
	p, _, err := loadPolicy(ctx, s.db, tenant)
	if err != nil {
		return nil, err
	}
	if len(p.SignIn) == 0 {
		return nil, fmt.Errorf("%w: the tenant's policy names no sign-in factors", ErrFactor)
	}
	as := Assessment{Required: slices.Clone(p.SignIn), Signals: []string{}, Rules: []string{}}
	return s.open(ctx, a, tenant, cu, &p, KindSignIn, "", "", si.Canonical(), si.Hash(), as, seenKeys{}, s.now())
}

// AccountLocked reports whether staff locked the tenant's customer's
// account (LockAccount): no confirmation opens for them, and a finished
// one must not be used.
func (s *Service) AccountLocked(ctx context.Context, tenant, customer string) (bool, error) {
	_, locked, err := account(ctx, s.db, tenant, customer)
	return !locked.IsZero(), err
}

// Blocked reports why a pending confirmation can no longer be completed,
// "" if it still can: "locked" when the customer's account is locked (the
// image card's lock, which also refuses every sign-in), "face_locked" when
// it still needs face re-authentication and that is locked for the
// customer. A confirmation that is not pending is never blocked.
func (s *Service) Blocked(ctx context.Context, tenant, id string) (string, error) {
	c, err := s.Get(ctx, tenant, id)
	if err != nil || c.State != StatePending {
		return "", err
	}
	_, locked, err := account(ctx, s.db, tenant, c.CustomerID)
	if err != nil {
		return "", err
	}
	if !locked.IsZero() {
		return "locked", nil
	}
	if slices.Contains(c.Required, FactorFace) && !slices.Contains(c.Satisfied, FactorFace) {
		_, faceLocked, err := faceLock(ctx, s.db, tenant, c.CustomerID)
		if err != nil {
			return "", err
		}
		if !faceLocked.IsZero() {
			return "face_locked", nil
		}
	}
	return "", nil
}
