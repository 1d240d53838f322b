package oauth

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/madoguchi/madoguchi/tenant"
)

// Principal is who a resource request acts for: a client for itself
// (client_credentials; Subject empty) or a client for a customer.
type Principal struct {
	TenantID string
	ClientID string
	Subject  string
	Scopes   []string
	Details  []Detail
	GrantID  string
}

const maxTokenLen = 4096

// AuthenticateResource authenticates a resource request (RFC 6750, RFC
// 9449 §7, RFC 8705 §3): the token only from the Authorization header; a
// DPoP-bound token only with the DPoP scheme and a valid proof for this
// method, URL and token from the same key; a certificate-bound token only
// over that TLS client certificate. Client_credentials tokens are checked
// by package tenant. Failures are *Error with a WWW-Authenticate challenge
// matching the scheme tried (and DPoP-Nonce where a nonce is needed).
func (s *Server) AuthenticateResource(r *http.Request) (Principal, error) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	isDPoP := strings.EqualFold(scheme, "DPoP")
	fail := func(code, desc string, cause error) *Error {
		e := oerr(http.StatusUnauthorized, code, desc, cause)
		if isDPoP {
			e.Challenge = fmt.Sprintf(`DPoP error=%q, algs="ES256 PS256 EdDSA"`, code)
		} else {
			e.Challenge = fmt.Sprintf(`Bearer error=%q`, code)
		}
		return e
	}
	if !ok || tok == "" || len(tok) > maxTokenLen || !(isDPoP || strings.EqualFold(scheme, "Bearer")) {
		e := oerr(http.StatusUnauthorized, "invalid_request", "Send an access token in the Authorization header (DPoP or Bearer).", nil)
		e.Challenge = `DPoP algs="ES256 PS256 EdDSA", Bearer`
		return Principal{}, e
	}
	if strings.HasPrefix(tok, "mdg_at_") {
		if isDPoP {
			return Principal{}, fail("invalid_token", "This token is not DPoP-bound; use the Bearer scheme.", ErrBinding)
		}
		p, err := s.cfg.Clients.Authenticate(r.Context(), tok, peerCert(r))
		if err != nil {
			if errors.Is(err, tenant.ErrInvalidToken) {
				return Principal{}, fail("invalid_token", "The access token is invalid, expired, or not bound to this client's certificate.", err)
			}
			return Principal{}, err
		}
		return Principal{TenantID: p.TenantID, ClientID: p.ClientID, Scopes: p.Scopes}, nil
	}
	if !strings.HasPrefix(tok, prefixAccess) {
		return Principal{}, fail("invalid_token", "The access token is invalid.", ErrNotFound)
	}
	ti, err := s.lookupToken(r.Context(), tok)
	switch {
	case errors.Is(err, ErrNotFound):
		return Principal{}, fail("invalid_token", "The access token is invalid.", err)
	case err != nil:
		return Principal{}, err
	case ti.kind != kindAccess || ti.revoked:
		return Principal{}, fail("invalid_token", "The access token is invalid or revoked.", ErrNotFound)
	case !s.now().Before(ti.exp):
		return Principal{}, fail("invalid_token", "The access token has expired.", ErrExpired)
	}
	switch {
	case ti.jkt != "":
		if !isDPoP {
			return Principal{}, fail("invalid_token", "This token is DPoP-bound: use the DPoP scheme with a proof.", ErrBinding)
		}
		proof, err := s.verifyDPoP(r, dpopCheck{method: r.Method, htu: s.endpointURL(r), ath: &ti.hash}, true)
		if err != nil {
			return Principal{}, err
		}
		if proof == nil {
			return Principal{}, fail("invalid_token", "A DPoP proof is required with this token.", ErrBinding)
		}
		if subtle.ConstantTimeCompare([]byte(proof.jkt), []byte(ti.jkt)) != 1 {
			return Principal{}, fail("invalid_token", "The DPoP proof is signed by another key than the token's.", ErrBinding)
		}
	case ti.x5t != "":
		pc := peerCert(r)
		if isDPoP || pc == nil || subtle.ConstantTimeCompare([]byte(tenant.CertThumbprint(pc)), []byte(ti.x5t)) != 1 {
			return Principal{}, fail("invalid_token", "This token is bound to a TLS client certificate that was not presented.", ErrBinding)
		}
	default:
		return Principal{}, fail("invalid_token", "The access token is invalid.", ErrBinding)
	}
	if err := s.limitCustomer("customer", ti.tenantID, ti.subject, ti.rateCustomer); err != nil {
		return Principal{}, err
	}
	return Principal{TenantID: ti.tenantID, ClientID: ti.clientID, Subject: ti.subject, Scopes: ti.scopes, Details: ti.details, GrantID: ti.grantID}, nil
}

// userinfo is the OpenID UserInfo endpoint: the customer's sub for a token
// with openid.
func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) error {
	p, err := s.AuthenticateResource(r)
	if err != nil {
		return err
	}
	if p.Subject == "" || !contains(p.Scopes, "openid") {
		e := oerr(http.StatusForbidden, "insufficient_scope", "The token needs the openid scope.", nil)
		e.Challenge = `DPoP error="insufficient_scope", scope="openid"`
		return e
	}
	writeJSON(w, http.StatusOK, map[string]any{"sub": p.Subject})
	return nil
}

func contains(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}
