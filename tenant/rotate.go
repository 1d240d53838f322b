package tenant

import (
	"context"
	"fmt"
	"time"

	"github.com/madoguchi/madoguchi/store"
)

// KeyRotation is the new credential of a client: exactly one of JWKS (a
// private_key_jwt client), CertPEM (a self_signed_tls_client_auth client)
// or a TLSIdentity (a tls_client_auth client: its name and CA), of the
// client's existing method.
type KeyRotation struct {
	JWKS    string `json:"jwks,omitempty"`
	CertPEM string `json:"cert_pem,omitempty"`
	TLSIdentity
}

// Validate checks the new credential alone (the client's method is checked
// when it runs), so a request for approval can be refused before it is
// filed.
func (k KeyRotation) Validate(now time.Time) error {
	_, err := k.check(now)
	return err
}

// check validates the credential with ClientSpec's checks (the name and
// scope stand in: only the credential is used).
func (k KeyRotation) check(now time.Time) (checkedSpec, error) {
	return ClientSpec{Name: "rotation", Scopes: []string{"rotation"}, JWKS: k.JWKS, CertPEM: k.CertPEM, TLSIdentity: k.TLSIdentity}.check(now)
}

// RotateClientKeysTx replaces the keys (or pinned certificate) of an active
// client of tenantID inside tx and revokes its access tokens, audited as
// client.rotate. It is meant to run as the executor of an approved
// "client.rotate" request (dual control, like client creation): the new key
// decides who can act as the client. A credential of another method than
// the client's is ErrInvalidInput; a missing or disabled client is
// ErrNotFound.
func (r *Registry) RotateClientKeysTx(ctx context.Context, tx *store.Tx, actor Actor, tenantID, clientID string, k KeyRotation) error {
	cs, err := k.check(r.now().UTC())
	if err != nil {
		return err
	}
	c, err := scanClient(tx.QueryRow(ctx, `SELECT `+clientCols+` FROM api_clients WHERE tenant_id = ? AND id = ?`, tenantID, clientID))
	if err != nil {
		return err
	}
	if c.Status != StatusActive {
		return fmt.Errorf("%w: client is %s", ErrNotFound, c.Status)
	}
	if c.Method != cs.method {
		return fmt.Errorf("%w: client authenticates with %s; give a credential of that method", ErrInvalidInput, c.Method)
	}
	cred := cs.columns()
	if _, err := tx.Exec(ctx, `UPDATE api_clients SET jwks = ?, cert_sha256 = ?, tls_name_kind = ?, tls_name = ?, tls_ca_pem = ? WHERE tenant_id = ? AND id = ?`,
		cred[0], cred[1], cred[2], cred[3], cred[4], tenantID, clientID); err != nil {
		return mapErr(err)
	}
	res, err := tx.Exec(ctx, `DELETE FROM access_tokens WHERE tenant_id = ? AND client_id = ?`, tenantID, clientID)
	if err != nil {
		return err
	}
	n, _ := res.RowsAffected()
	_, err = r.audit.Append(ctx, tx, actor.entry("client.rotate", tenantID, clientID,
		map[string]string{"method": string(c.Method), "tokens_revoked": fmt.Sprint(n)}))
	return err
}
