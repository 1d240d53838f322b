package staff

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
)

// Passkeys are WebAuthn credentials of staff accounts, a second way to sign
// in beside password and TOTP (github.com/go-webauthn/webauthn is the
// relying party).
//
//   - A passkey is registered only by its owner, signed in already (the
//     portal's account page, after re-authentication). It is discoverable
//     (resident) and needs user verification, so one assertion is two
//     factors: the device and its PIN or biometric.
//   - Only the public key, the signature counter and flags are stored; the
//     user handle is the staff id (no personal data on the authenticator).
//   - A ceremony's server state lives in staff_webauthn_ceremonies under the
//     SHA-256 of a random value the browser keeps; it expires after
//     CeremonyTTL and is consumed by its first finish, success or not.
//   - A counter that goes backwards (a cloned authenticator) refuses the
//     sign-in. Every registration, removal, sign-in and refusal is audited.

// PasskeyConfig configures the relying party.
type PasskeyConfig struct {
	// RPID is the relying party id: the portal's host name
	// ("madoguchi.example.jp", or "localhost" in development).
	RPID string
	// RPName is shown by the authenticator (default "Madoguchi").
	RPName string
	// Origins are the full origins the portal is served from
	// ("https://madoguchi.example.jp").
	Origins []string
	// CeremonyTTL bounds a ceremony (default 5 minutes).
	CeremonyTTL time.Duration
}

// Passkeys registers staff passkeys and signs staff in with them.
type Passkeys struct {
	d   *Directory
	wa  *webauthn.WebAuthn
	ttl time.Duration
}

// Limits on passkey input.
const (
	MaxPasskeyNameLen  = 64
	MaxPasskeyResponse = 64 << 10 // a registration response with attestation
	MaxPasskeys        = 10       // per account
)

// Ceremony kinds.
const (
	ceremonyRegister = "register"
	ceremonyLogin    = "login"
)

// NewPasskeys returns the relying party for d.
func NewPasskeys(d *Directory, cfg PasskeyConfig) (*Passkeys, error) {
	if cfg.RPName == "" {
		cfg.RPName = "Madoguchi"
	}
	if cfg.CeremonyTTL <= 0 {
		cfg.CeremonyTTL = 5 * time.Minute
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          cfg.RPID,
		RPDisplayName: cfg.RPName,
		RPOrigins:     cfg.Origins,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementRequired,
			UserVerification: protocol.VerificationRequired,
		},
		AttestationPreference: protocol.PreferNoAttestation,
	})
	if err != nil {
		return nil, fmt.Errorf("staff: passkey relying party: %w", err)
	}
	return &Passkeys{d: d, wa: wa, ttl: cfg.CeremonyTTL}, nil
}

// Passkey is a registered passkey (no key material).
type Passkey struct {
	ID        string
	StaffID   string
	TenantID  string // the owner's tenant, "" for operator staff
	Name      string
	CreatedAt time.Time
	LastUsed  time.Time // zero until first used
}

// passkeyUser is a staff account as the relying-party library sees it.
type passkeyUser struct {
	id, username string
	creds        []webauthn.Credential
}

func (u *passkeyUser) WebAuthnID() []byte                         { return []byte(u.id) }
func (u *passkeyUser) WebAuthnName() string                       { return u.username }
func (u *passkeyUser) WebAuthnDisplayName() string                { return u.username }
func (u *passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// loadUser reads an active account and its credentials.
func (p *Passkeys) loadUser(ctx context.Context, q querier, id string) (*passkeyUser, string, error) {
	u := &passkeyUser{id: id}
	var tenantID *string
	if err := q.QueryRow(ctx, `SELECT username, tenant_id FROM staff_accounts WHERE id = ? AND status = 'active'`, id).
		Scan(&u.username, &tenantID); err != nil {
		return nil, "", mapErr(err)
	}
	rows, err := q.Query(ctx, `SELECT credential FROM staff_passkeys WHERE staff_id = ? ORDER BY created_at`, id)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, "", err
		}
		var c webauthn.Credential
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, "", fmt.Errorf("staff: stored passkey of %s: %w", id, err)
		}
		u.creds = append(u.creds, c)
	}
	t := ""
	if tenantID != nil {
		t = *tenantID
	}
	return u, t, rows.Err()
}

// querier is what both *store.DB and *store.Tx offer.
type querier interface {
	QueryRow(ctx context.Context, query string, args ...any) *store.Row
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func ceremonyHash(tok string) []byte {
	h := sha256.Sum256([]byte("madoguchi staff webauthn ceremony\x00" + tok))
	return h[:]
}

// saveCeremony stores the server side of a ceremony and returns the value
// the browser keeps. Expired ceremonies are swept on the way.
func (p *Passkeys) saveCeremony(ctx context.Context, kind, staffID string, sd *webauthn.SessionData) (Secret, error) {
	data, err := json.Marshal(sd)
	if err != nil {
		return "", err
	}
	tok := strings.ToLower(rand.Text()) + strings.ToLower(rand.Text())
	now := p.d.now()
	var sid any
	if staffID != "" {
		sid = staffID
	}
	err = p.d.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM staff_webauthn_ceremonies WHERE expires_at < ?`, store.Micros(now)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO staff_webauthn_ceremonies (id_hash, kind, staff_id, data, expires_at) VALUES (?, ?, ?, ?, ?)`,
			ceremonyHash(tok), kind, sid, data, store.Micros(now.Add(p.ttl)))
		return err
	})
	return Secret(tok), err
}

// takeCeremony consumes a ceremony: it is deleted whatever happens next.
// A missing, expired or already used one is ErrInvalidCredentials.
func (p *Passkeys) takeCeremony(ctx context.Context, tok, kind string) (staffID string, sd webauthn.SessionData, err error) {
	if tok == "" || len(tok) > 128 {
		return "", sd, ErrInvalidCredentials
	}
	h := ceremonyHash(tok)
	var (
		k       string
		sid     *string
		data    []byte
		expires int64
	)
	err = p.d.db.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT kind, staff_id, data, expires_at FROM staff_webauthn_ceremonies WHERE id_hash = ?`, h).
			Scan(&k, &sid, &data, &expires); err != nil {
			return mapErr(err)
		}
		res, err := tx.Exec(ctx, `DELETE FROM staff_webauthn_ceremonies WHERE id_hash = ?`, h)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrNotFound
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return "", sd, fmt.Errorf("%w: unknown or used passkey ceremony", ErrInvalidCredentials)
	}
	if err != nil {
		return "", sd, err
	}
	if k != kind || !p.d.now().Before(store.FromMicros(expires)) {
		return "", sd, fmt.Errorf("%w: expired or mismatched passkey ceremony", ErrInvalidCredentials)
	}
	if err := json.Unmarshal(data, &sd); err != nil {
		return "", sd, err
	}
	if sid != nil {
		staffID = *sid
	}
	return staffID, sd, nil
}

// BeginRegistration starts registering a passkey for the actor's own
// account. It returns the creation options for
// PublicKeyCredential.parseCreationOptionsFromJSON (JSON) and the ceremony
// value the browser must present to FinishRegistration.
func (p *Passkeys) BeginRegistration(ctx context.Context, actor Actor) (options []byte, ceremony Secret, err error) {
	if actor.Kind != audit.ActorStaff || actor.ID == "" {
		return nil, "", ErrForbidden
	}
	u, _, err := p.loadUser(ctx, p.d.db, actor.ID)
	if err != nil {
		return nil, "", err
	}
	if len(u.creds) >= MaxPasskeys {
		return nil, "", fmt.Errorf("%w: at most %d passkeys per account", ErrInvalidInput, MaxPasskeys)
	}
	creation, sd, err := p.wa.BeginRegistration(u, webauthn.WithExclusions(webauthn.Credentials(u.creds).CredentialDescriptors()))
	if err != nil {
		return nil, "", fmt.Errorf("staff: begin passkey registration: %w", err)
	}
	if options, err = json.Marshal(creation.Response); err != nil {
		return nil, "", err
	}
	ceremony, err = p.saveCeremony(ctx, ceremonyRegister, actor.ID, sd)
	return options, ceremony, err
}

// CheckPasskeyName validates a passkey's label.
func CheckPasskeyName(name string) error {
	if name == "" || len(name) > MaxPasskeyNameLen || !utf8.ValidString(name) {
		return fmt.Errorf("%w: a passkey name is 1-%d bytes of UTF-8", ErrInvalidInput, MaxPasskeyNameLen)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: a passkey name may not contain control characters", ErrInvalidInput)
		}
	}
	return nil
}

// FinishRegistration verifies the browser's registration response (the
// JSON of PublicKeyCredential.toJSON()) against the ceremony and stores the
// passkey under name. A response that does not verify is
// ErrInvalidCredentials.
func (p *Passkeys) FinishRegistration(ctx context.Context, actor Actor, ceremony, name string, response []byte) (Passkey, error) {
	if actor.Kind != audit.ActorStaff || actor.ID == "" {
		return Passkey{}, ErrForbidden
	}
	if err := CheckPasskeyName(name); err != nil {
		return Passkey{}, err
	}
	if len(response) > MaxPasskeyResponse {
		return Passkey{}, fmt.Errorf("%w: passkey response over %d bytes", ErrInvalidInput, MaxPasskeyResponse)
	}
	staffID, sd, err := p.takeCeremony(ctx, ceremony, ceremonyRegister)
	if err != nil {
		return Passkey{}, err
	}
	if staffID != actor.ID {
		return Passkey{}, fmt.Errorf("%w: ceremony of another account", ErrInvalidCredentials)
	}
	u, tenantID, err := p.loadUser(ctx, p.d.db, actor.ID)
	if err != nil {
		return Passkey{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBody(bytes.NewReader(response))
	if err != nil {
		return Passkey{}, fmt.Errorf("%w: passkey registration response: %v", ErrInvalidCredentials, err)
	}
	cred, err := p.wa.CreateCredential(u, sd, parsed)
	if err != nil {
		return Passkey{}, fmt.Errorf("%w: passkey registration does not verify: %v", ErrInvalidCredentials, err)
	}
	if !cred.Flags.UserVerified {
		return Passkey{}, fmt.Errorf("%w: the authenticator did not verify the user", ErrInvalidCredentials)
	}
	blob, err := json.Marshal(cred)
	if err != nil {
		return Passkey{}, err
	}
	pk := Passkey{ID: newID("pk_"), StaffID: actor.ID, TenantID: tenantID, Name: name, CreatedAt: p.d.now()}
	err = p.d.db.InTx(ctx, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM staff_passkeys WHERE staff_id = ?`, actor.ID).Scan(&n); err != nil {
			return err
		}
		if n >= MaxPasskeys {
			return fmt.Errorf("%w: at most %d passkeys per account", ErrInvalidInput, MaxPasskeys)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO staff_passkeys (id, staff_id, credential_id, credential, name, created_at, last_used) VALUES (?, ?, ?, ?, ?, ?, 0)`,
			pk.ID, pk.StaffID, cred.ID, blob, pk.Name, store.Micros(pk.CreatedAt)); err != nil {
			return mapErr(err)
		}
		e := actor.entry("staff.passkey.register", pk.ID, audit.OutcomeOK, map[string]string{"staff_id": actor.ID})
		e.TenantID = tenantID
		_, err := p.d.audit.Append(ctx, tx, e)
		return err
	})
	if err != nil {
		return Passkey{}, err
	}
	return pk, nil
}

// BeginLogin starts a passkey assertion. With staffID "" any registered
// passkey may answer (sign-in: the authenticator offers its discoverable
// credentials); with a staff id only that account's passkeys may
// (re-authentication).
func (p *Passkeys) BeginLogin(ctx context.Context, staffID string) (options []byte, ceremony Secret, err error) {
	var (
		assertion *protocol.CredentialAssertion
		sd        *webauthn.SessionData
	)
	if staffID == "" {
		assertion, sd, err = p.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	} else {
		u, _, lerr := p.loadUser(ctx, p.d.db, staffID)
		if lerr != nil {
			return nil, "", lerr
		}
		if len(u.creds) == 0 {
			return nil, "", fmt.Errorf("%w: no passkey registered", ErrNotFound)
		}
		assertion, sd, err = p.wa.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationRequired))
	}
	if err != nil {
		return nil, "", fmt.Errorf("staff: begin passkey sign-in: %w", err)
	}
	if options, err = json.Marshal(assertion.Response); err != nil {
		return nil, "", err
	}
	ceremony, err = p.saveCeremony(ctx, ceremonyLogin, staffID, sd)
	return options, ceremony, err
}

// FinishLogin verifies the browser's assertion (the JSON of
// PublicKeyCredential.toJSON()) against the ceremony and opens a session
// (method "passkey"). Anything that does not verify (unknown credential,
// wrong signature, replayed or expired ceremony, disabled account, a
// counter that went backwards) is ErrInvalidCredentials and is audited as
// a denied sign-in. details go into the sign-in's audit entry (the portal
// passes where the request came from).
func (p *Passkeys) FinishLogin(ctx context.Context, ceremony string, response []byte, requestID string, details map[string]string) (Session, error) {
	deny := func(staffID, reason string, cause error) (Session, error) {
		actor := Actor{Kind: audit.ActorSystem, RequestID: requestID}
		if staffID != "" {
			actor = Actor{Kind: audit.ActorStaff, ID: staffID, RequestID: requestID}
		}
		det := map[string]string{"reason": reason, "method": MethodPasskey}
		for k, v := range details {
			det[k] = v
		}
		err := p.d.db.InTx(ctx, func(tx *store.Tx) error {
			_, err := p.d.audit.Append(ctx, tx, actor.entry("staff.login", staffID, audit.OutcomeDenied, det))
			return err
		})
		if err != nil {
			return Session{}, err
		}
		return Session{}, fmt.Errorf("%w: %v", ErrInvalidCredentials, cause)
	}
	if len(response) > MaxPasskeyResponse {
		return deny("", "passkey", errors.New("response too large"))
	}
	want, sd, err := p.takeCeremony(ctx, ceremony, ceremonyLogin)
	if errors.Is(err, ErrInvalidCredentials) {
		return deny("", "ceremony", err)
	} else if err != nil {
		return Session{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(bytes.NewReader(response))
	if err != nil {
		return deny(want, "passkey", err)
	}
	var u *passkeyUser
	var cred *webauthn.Credential
	if want == "" {
		var found webauthn.User
		found, cred, err = p.wa.ValidatePasskeyLogin(func(rawID, userHandle []byte) (webauthn.User, error) {
			if len(userHandle) == 0 || len(userHandle) > 64 {
				return nil, ErrNotFound
			}
			u, _, err := p.loadUser(ctx, p.d.db, string(userHandle))
			return u, err
		}, sd, parsed)
		if found != nil {
			u, _ = found.(*passkeyUser)
		}
	} else {
		var lerr error
		if u, _, lerr = p.loadUser(ctx, p.d.db, want); lerr != nil {
			return deny(want, "account", lerr)
		}
		cred, err = p.wa.ValidateLogin(u, sd, parsed)
	}
	if err != nil || u == nil || cred == nil {
		id := want
		if u != nil {
			id = u.id
		}
		return deny(id, "passkey", err)
	}
	if cred.Authenticator.CloneWarning {
		return deny(u.id, "passkey_counter", errors.New("signature counter went backwards"))
	}
	if !cred.Flags.UserVerified {
		return deny(u.id, "passkey_uv", errors.New("user not verified"))
	}
	blob, err := json.Marshal(cred)
	if err != nil {
		return Session{}, err
	}
	actor := Actor{Kind: audit.ActorStaff, ID: u.id, RequestID: requestID}
	var sess Session
	err = p.d.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE staff_passkeys SET credential = ?, last_used = ? WHERE credential_id = ? AND staff_id = ?`,
			blob, store.Micros(p.d.now()), cred.ID, u.id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("%w: passkey removed during sign-in", ErrInvalidCredentials)
		}
		det := map[string]string{}
		for k, v := range details {
			det[k] = v
		}
		sess, err = p.d.openSessionTx(ctx, tx, u.id, MethodPasskey, actor, det)
		return err
	})
	if err != nil {
		return Session{}, err
	}
	sess.Roles, err = p.d.roles(ctx, p.d.db, u.id)
	return sess, err
}

const passkeyCols = `p.id, p.staff_id, a.tenant_id, p.name, p.created_at, p.last_used`

func scanPasskey(r rowScanner) (Passkey, error) {
	var pk Passkey
	var tenantID *string
	var created, used int64
	if err := r.Scan(&pk.ID, &pk.StaffID, &tenantID, &pk.Name, &created, &used); err != nil {
		return Passkey{}, mapErr(err)
	}
	if tenantID != nil {
		pk.TenantID = *tenantID
	}
	pk.CreatedAt = store.FromMicros(created)
	if used != 0 {
		pk.LastUsed = store.FromMicros(used)
	}
	return pk, nil
}

// Passkeys lists an account's passkeys, oldest first.
func (d *Directory) Passkeys(ctx context.Context, staffID string) ([]Passkey, error) {
	rows, err := d.db.Query(ctx, `SELECT `+passkeyCols+` FROM staff_passkeys p JOIN staff_accounts a ON a.id = p.staff_id
		WHERE p.staff_id = ? ORDER BY p.created_at, p.id`, staffID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Passkey{}
	for rows.Next() {
		pk, err := scanPasskey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, pk)
	}
	return out, rows.Err()
}

// Passkey returns one passkey by id (ErrNotFound if none).
func (d *Directory) Passkey(ctx context.Context, id string) (Passkey, error) {
	if id == "" || len(id) > 64 {
		return Passkey{}, ErrNotFound
	}
	return scanPasskey(d.db.QueryRow(ctx, `SELECT `+passkeyCols+` FROM staff_passkeys p JOIN staff_accounts a ON a.id = p.staff_id WHERE p.id = ?`, id))
}

// DeletePasskey removes one of the actor's own passkeys; anyone else's is
// ErrNotFound.
func (d *Directory) DeletePasskey(ctx context.Context, actor Actor, id string) error {
	if actor.Kind != audit.ActorStaff || actor.ID == "" {
		return ErrForbidden
	}
	return d.db.InTx(ctx, func(tx *store.Tx) error {
		pk, err := scanPasskey(tx.QueryRow(ctx, `SELECT `+passkeyCols+` FROM staff_passkeys p JOIN staff_accounts a ON a.id = p.staff_id WHERE p.id = ?`, id))
		if err != nil {
			return err
		}
		if pk.StaffID != actor.ID {
			return ErrNotFound
		}
		if _, err := tx.Exec(ctx, `DELETE FROM staff_passkeys WHERE id = ?`, id); err != nil {
			return err
		}
		e := actor.entry("staff.passkey.delete", id, audit.OutcomeOK, map[string]string{"staff_id": actor.ID})
		e.TenantID = pk.TenantID
		_, err = d.audit.Append(ctx, tx, e)
		return err
	})
}
