package txauth

// Passkeys with dynamic linking (go-webauthn). A customer registers a
// WebAuthn credential after eKYC approval (a passkey_registration
// confirmation, user verification required); to confirm a transaction the
// authenticator signs a challenge derived from the transaction's hash and a
// fresh nonce:
//
//	challenge = SHA-256("madoguchi/txauth/passkey/v1" 0x00 || SHA-256(JCS(transaction)) || nonce)
//
// so an assertion made for one transaction does not verify for any other:
// a change of amount or payee changes the hash, hence the challenge. The
// ceremony state (the library's SessionData) is sealed under the
// customer's subject, bound to one confirmation, and spent by the first
// answer. Credentials are sealed too; only the credential id is stored in
// clear, to find the credential.
//
// The passkey binds the transaction cryptographically, but the
// authenticator does not display it: what the customer sees is Madoguchi's
// page (WYSIWYS holds only as far as that page is trusted; see
// docs/txauth.md).

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// KindPasskeyRegistration registers a passkey for the customer.
const KindPasskeyRegistration Kind = "passkey_registration"

// ErrPasskey: the WebAuthn response did not verify (wrong challenge, wrong
// origin, no user verification, unknown credential, bad signature).
var ErrPasskey = errors.New("txauth: passkey response refused")

// MaxWebAuthnResponse bounds a credential JSON from the browser.
const MaxWebAuthnResponse = 64 << 10

// PasskeyChallenge is the challenge an authenticator signs for a
// transaction with hash txHash and the ceremony's nonce.
func PasskeyChallenge(txHash [32]byte, nonce []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte("madoguchi/txauth/passkey/v1\x00"))
	h.Write(txHash[:])
	h.Write(nonce)
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// relyingParty builds the WebAuthn relying party of the public URL: the RP
// ID is its host name, the only accepted origin the URL's origin. A public
// URL on an IP address cannot carry passkeys (browsers refuse IP RP IDs).
func relyingParty(publicURL string) (*webauthn.WebAuthn, error) {
	u, err := url.Parse(publicURL)
	if err != nil {
		return nil, err
	}
	host := u.Hostname()
	if net.ParseIP(host) != nil {
		return nil, fmt.Errorf("%w: passkeys need a public URL with a host name (e.g. http://localhost:8080), not an IP address", ErrFactor)
	}
	return webauthn.New(&webauthn.Config{
		RPID: host, RPDisplayName: "Madoguchi", RPOrigins: []string{u.Scheme + "://" + u.Host},
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementPreferred, UserVerification: protocol.VerificationRequired,
		},
	})
}

// passkeyUser is a customer as a WebAuthn user: the opaque customer id as
// user handle, the tenant's reference as name.
type passkeyUser struct {
	c     *ekyc.Customer
	creds []webauthn.Credential
}

func (u passkeyUser) WebAuthnID() []byte                         { return []byte(u.c.ID) }
func (u passkeyUser) WebAuthnName() string                       { return u.c.Reference }
func (u passkeyUser) WebAuthnDisplayName() string                { return u.c.Reference }
func (u passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func passkeyAAD(id string) []byte  { return vault.AAD("txauth.passkey", id) }
func ceremonyAAD(id string) []byte { return vault.AAD("txauth.webauthn", id) }

// storedPasskey is a registered credential row.
type storedPasskey struct {
	id   string
	cred webauthn.Credential
}

// loadPasskeys opens the customer's registered credentials.
func (s *Service) loadPasskeys(ctx context.Context, cu *ekyc.Customer) ([]storedPasskey, error) {
	rows, err := s.db.Query(ctx, `SELECT id, sealed FROM txauth_passkeys WHERE tenant_id = ? AND customer_id = ? ORDER BY created_at`, cu.TenantID, cu.ID)
	if err != nil {
		return nil, err
	}
	type row struct {
		id     string
		sealed []byte
	}
	var list []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.sealed); err != nil {
			rows.Close()
			return nil, err
		}
		list = append(list, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]storedPasskey, 0, len(list))
	for _, r := range list {
		body, err := s.cfg.Vault.Open(ctx, s.db, cu.Subject(), passkeyAAD(r.id), r.sealed)
		if errors.Is(err, vault.ErrShredded) {
			return nil, ErrShredded
		} else if err != nil {
			return nil, err
		}
		var c webauthn.Credential
		if err := json.Unmarshal(body, &c); err != nil {
			return nil, errors.New("txauth: stored passkey unreadable")
		}
		out = append(out, storedPasskey{id: r.id, cred: c})
	}
	return out, nil
}

// CreatePasskeyRegistration opens a confirmation in which the customer
// registers a passkey on the page (user verification required).
func (s *Service) CreatePasskeyRegistration(ctx context.Context, a Actor, tenant, customerID, webhook string) (*Created, error) {
	if s.rp == nil {
		return nil, s.rpErr
	}
	if err := checkWebhook(webhook); err != nil {
		return nil, err
	}
	cu, err := s.customer(ctx, tenant, customerID)
	if err != nil {
		return nil, err
	}
	p, _, err := loadPolicy(ctx, s.db, tenant)
	if err != nil {
		return nil, err
	}
	body := []byte(`{"passkey_registration":"` + cu.ID + `"}`)
	as := Assessment{Required: []Factor{FactorPasskey}, Signals: []string{}, Rules: []string{}}
	return s.open(ctx, a, tenant, cu, &p, KindPasskeyRegistration, "", webhook, body, sha256.Sum256(body), as, seenKeys{}, s.now())
}

// ceremony is a WebAuthn ceremony's state, sealed per confirmation.
type ceremony struct {
	Session webauthn.SessionData `json:"session"`
	Nonce   []byte               `json:"nonce,omitempty"`
}

// PasskeyBegin starts the page's WebAuthn ceremony for the token's
// confirmation: credential creation for a registration, an assertion over
// the transaction-derived challenge otherwise. It returns the options for
// navigator.credentials.create/get as JSON. A new call replaces the
// previous ceremony of the confirmation.
func (s *Service) PasskeyBegin(ctx context.Context, token string) (json.RawMessage, error) {
	if s.rp == nil {
		return nil, s.rpErr
	}
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
	if !slices.Contains(c.Required, FactorPasskey) || slices.Contains(c.Satisfied, FactorPasskey) {
		return nil, fmt.Errorf("%w: no passkey is due here", ErrFactor)
	}
	cu, err := s.customer(ctx, c.TenantID, c.CustomerID)
	if err != nil {
		return nil, err
	}
	creds, err := s.loadPasskeys(ctx, cu)
	if err != nil {
		return nil, err
	}
	user := passkeyUser{c: cu}
	var descs []protocol.CredentialDescriptor
	for _, k := range creds {
		user.creds = append(user.creds, k.cred)
		descs = append(descs, k.cred.Descriptor())
	}
	var (
		options any
		cer     ceremony
	)
	if c.Kind == KindPasskeyRegistration {
		opts, sess, err := s.rp.BeginRegistration(user, webauthn.WithExclusions(descs),
			webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{ResidentKey: protocol.ResidentKeyRequirementPreferred, UserVerification: protocol.VerificationRequired}))
		if err != nil {
			return nil, err
		}
		options, cer.Session = opts, *sess
	} else {
		if len(creds) == 0 {
			return nil, fmt.Errorf("%w: the customer has no passkey", ErrFactor)
		}
		if cer.Nonce, err = s.random(32); err != nil {
			return nil, err
		}
		ch := PasskeyChallenge(c.TxHash, cer.Nonce)
		opts, sess, err := s.rp.BeginLogin(user, webauthn.WithChallenge(ch[:]), webauthn.WithUserVerification(protocol.VerificationRequired))
		if err != nil {
			return nil, err
		}
		options, cer.Session = opts, *sess
	}
	body, err := json.Marshal(cer)
	if err != nil {
		return nil, err
	}
	out, err := json.Marshal(options)
	if err != nil {
		return nil, err
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		sealed, err := s.cfg.Vault.Seal(ctx, tx, cu.Subject(), ceremonyAAD(c.ID), body)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM txauth_webauthn WHERE confirmation_id = ?`, c.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO txauth_webauthn (confirmation_id, tenant_id, sealed, created_at) VALUES (?, ?, ?, ?)`,
			c.ID, c.TenantID, sealed, store.Micros(s.now())); err != nil {
			return err
		}
		return s.record(ctx, tx, pageActor, c.TenantID, "txauth.passkey.begin", c.ID, audit.OutcomeOK, map[string]string{"kind": string(c.Kind)})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PasskeyFinish verifies the browser's credential JSON for the token's
// confirmation: a registration stores the new credential; an assertion
// must verify over the challenge derived from this confirmation's
// transaction. The ceremony is spent whatever the outcome.
func (s *Service) PasskeyFinish(ctx context.Context, token string, response []byte) (*PageView, error) {
	if s.rp == nil {
		return nil, s.rpErr
	}
	if len(response) > MaxWebAuthnResponse {
		return nil, fmt.Errorf("%w: response larger than %d bytes", ErrInvalidInput, MaxWebAuthnResponse)
	}
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
	cu, err := s.customer(ctx, c.TenantID, c.CustomerID)
	if err != nil {
		return nil, err
	}
	creds, err := s.loadPasskeys(ctx, cu)
	if err != nil {
		return nil, err
	}
	user := passkeyUser{c: cu}
	for _, k := range creds {
		user.creds = append(user.creds, k.cred)
	}
	err = s.inTx(ctx, func(tx *store.Tx) error {
		var sealed []byte
		err := tx.QueryRow(ctx, `SELECT sealed FROM txauth_webauthn WHERE confirmation_id = ?`, c.ID).Scan(&sealed)
		if errors.Is(err, store.ErrNotFound) {
			return ErrReplay
		} else if err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `DELETE FROM txauth_webauthn WHERE confirmation_id = ?`, c.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrReplay
		}
		body, err := s.cfg.Vault.Open(ctx, tx, cu.Subject(), ceremonyAAD(c.ID), sealed)
		if err != nil {
			return err
		}
		var cer ceremony
		if err := json.Unmarshal(body, &cer); err != nil {
			return errors.New("txauth: stored ceremony unreadable")
		}
		deny := func(reason string, cause error) error {
			if err := s.record(ctx, tx, pageActor, c.TenantID, "txauth.passkey.finish", c.ID, audit.OutcomeDenied, map[string]string{"reason": reason}); err != nil {
				return err
			}
			return errCommit{fmt.Errorf("%w: %s", ErrPasskey, reason)}
		}
		if c.Kind == KindPasskeyRegistration {
			parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
			if err != nil {
				return deny("unparsable", err)
			}
			cred, err := s.rp.CreateCredential(user, cer.Session, parsed)
			if err != nil {
				return deny("registration_invalid", err)
			}
			if !cred.Flags.UserVerified {
				return deny("no_user_verification", nil)
			}
			id, err := s.newID("pk_")
			if err != nil {
				return err
			}
			cj, err := json.Marshal(cred)
			if err != nil {
				return err
			}
			sc, err := s.cfg.Vault.Seal(ctx, tx, cu.Subject(), passkeyAAD(id), cj)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO txauth_passkeys (id, tenant_id, customer_id, credential_id, sealed, created_at, last_used_at)
				VALUES (?, ?, ?, ?, ?, ?, 0)`, id, c.TenantID, cu.ID, cred.ID, sc, store.Micros(s.now())); err != nil {
				if errors.Is(err, store.ErrConflict) {
					return deny("credential_exists", err)
				}
				return err
			}
			if err := s.record(ctx, tx, pageActor, c.TenantID, "txauth.passkey.register", id, audit.OutcomeOK, map[string]string{"customer": cu.ID, "confirmation": c.ID}); err != nil {
				return err
			}
			return s.satisfy(ctx, tx, c, FactorPasskey, pageActor)
		}
		// Dynamic linking: the session's challenge must be the one derived
		// from this confirmation's transaction hash and the nonce.
		want := PasskeyChallenge(c.TxHash, cer.Nonce)
		if cer.Session.Challenge != protocol.URLEncodedBase64(want[:]).String() {
			return deny("challenge_not_bound", nil)
		}
		parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
		if err != nil {
			return deny("unparsable", err)
		}
		cred, err := s.rp.ValidateLogin(user, cer.Session, parsed)
		if err != nil {
			return deny("assertion_invalid", err)
		}
		if !parsed.Response.AuthenticatorData.Flags.HasUserVerified() {
			return deny("no_user_verification", nil)
		}
		if cred.Authenticator.CloneWarning {
			return deny("clone_warning", nil)
		}
		for _, k := range creds {
			if string(k.cred.ID) != string(cred.ID) {
				continue
			}
			cj, err := json.Marshal(cred)
			if err != nil {
				return err
			}
			sc, err := s.cfg.Vault.Seal(ctx, tx, cu.Subject(), passkeyAAD(k.id), cj)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE txauth_passkeys SET sealed = ?, last_used_at = ? WHERE id = ?`, sc, store.Micros(s.now()), k.id); err != nil {
				return err
			}
			if err := s.record(ctx, tx, pageActor, c.TenantID, "txauth.passkey.assert", c.ID, audit.OutcomeOK,
				map[string]string{"passkey": k.id, "challenge": b64(want[:]), "nonce": b64(cer.Nonce)}); err != nil {
				return err
			}
			return s.satisfy(ctx, tx, c, FactorPasskey, pageActor)
		}
		return deny("unknown_credential", nil)
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

// passkeyAvailable checks at opening that the customer has a passkey.
func (s *Service) passkeyAvailable(ctx context.Context, q rowQuerier, c *Confirmation) error {
	if s.rp == nil {
		return s.rpErr
	}
	if c.Kind == KindPasskeyRegistration {
		return nil
	}
	var n int
	if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM txauth_passkeys WHERE tenant_id = ? AND customer_id = ?`, c.TenantID, c.CustomerID).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: the customer has no passkey", ErrFactor)
	}
	return nil
}
