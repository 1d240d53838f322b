package tenant

import (
	"context"
	"fmt"
	"net/url"

	"github.com/madoguchi/madoguchi/store"
)

// ParseClientAuth reads only the client-authentication parameters
// (client_id, client_assertion_type, client_assertion) of a request to an
// endpoint that authenticates clients without issuing a client_credentials
// token: pushed authorization requests, the authorization-code and refresh
// grants, CIBA, introspection and revocation. A parameter given twice is
// refused. The caller sets PeerCert and RequestID.
func ParseClientAuth(form url.Values) (TokenRequest, error) {
	var r TokenRequest
	for _, p := range []struct {
		name string
		max  int
		dst  *string
	}{
		{"client_id", maxClientIDLen, &r.ClientID},
		{"client_assertion_type", 128, &r.ClientAssertionType},
		{"client_assertion", MaxAssertionLen, &r.ClientAssertion},
	} {
		v := form[p.name]
		switch {
		case len(v) > 1:
			return r, fmt.Errorf("%w: %s given more than once", ErrInvalidRequest, p.name)
		case len(v) == 1 && len(v[0]) > p.max:
			return r, fmt.Errorf("%w: %s longer than %d bytes", ErrInvalidRequest, p.name, p.max)
		case len(v) == 1:
			*p.dst = v[0]
		}
	}
	return r, nil
}

// AuthenticateClient authenticates the client of req by private_key_jwt or
// mutual TLS exactly as the client_credentials grant does, and spends the
// assertion's jti in its own transaction (a replay is ErrInvalidClient
// wrapping ErrReplay). Every failure is ErrInvalidClient wrapping the reason.
func (is *Issuer) AuthenticateClient(ctx context.Context, req TokenRequest) (Client, error) {
	now := is.cfg.Now()
	c, jti, jtiExp, err := is.authenticateClient(ctx, req, now)
	if err != nil {
		return Client{}, err
	}
	if jti != "" {
		if err := is.db.InTx(ctx, func(tx *store.Tx) error { return recordJTI(ctx, tx, c.ID, jti, jtiExp) }); err != nil {
			return Client{}, err
		}
	}
	return c, nil
}
