package oauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/tenant"
)

var verifierRE = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

// token is the token endpoint: the one for every grant.
func (s *Server) token(w http.ResponseWriter, r *http.Request) error {
	form, err := readForm(w, r)
	if err != nil {
		return err
	}
	gt, _, gerr := formParams(form).get("grant_type")
	if gerr != nil {
		return invalidRequest("grant_type is repeated.", gerr)
	}
	if gt == "" {
		return invalidRequest("grant_type is required.", nil)
	}
	if gt == GrantClientCredentials {
		return s.clientCredentials(w, r, form)
	}
	switch gt {
	case GrantAuthorizationCode, GrantRefreshToken, GrantCIBA:
		if s.cfg.Customers == nil {
			return oerr(400, "unsupported_grant_type", "Only grant_type=client_credentials is supported.", nil)
		}
	default:
		return oerr(400, "unsupported_grant_type", "Supported grants: authorization_code, refresh_token, CIBA and client_credentials.", nil)
	}
	// The proof first, so a use_dpop_nonce answer spends nothing.
	proof, err := s.verifyDPoP(r, dpopCheck{method: http.MethodPost, htu: s.tokenURL}, false)
	if err != nil {
		return err
	}
	c, err := s.authenticateClient(r, form)
	if err != nil {
		return err
	}
	p, err := s.activeProfile(r.Context(), c.TenantID, c.ID, gt)
	if err != nil {
		return err
	}
	var b binding
	switch {
	case proof != nil:
		b.jkt = proof.jkt
	case peerCert(r) != nil:
		b.x5t = tenant.CertThumbprint(peerCert(r))
	default:
		return invalidRequest("Tokens here are sender-constrained: send a DPoP proof or use a TLS client certificate.", ErrBinding)
	}
	var resp map[string]any
	switch gt {
	case GrantAuthorizationCode:
		resp, err = s.codeGrant(r.Context(), form, c, p, b)
	case GrantRefreshToken:
		resp, err = s.refreshGrant(r.Context(), form, c, b)
	case GrantCIBA:
		resp, err = s.cibaGrant(r.Context(), form, c, p, b)
	}
	if err != nil {
		return err
	}
	if proof != nil {
		s.setNonce(w, r.Context())
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func tokenType(b binding) string {
	if b.jkt != "" {
		return "DPoP"
	}
	return "Bearer"
}

// codeGrant redeems an authorization code: once, within 60 s, by the client
// it was issued to, with the same redirect_uri and the PKCE verifier; a
// code pushed with dpop_jkt only with that key. A second redemption
// revokes everything issued from the code's grant (RFC 6749 §4.1.2).
func (s *Server) codeGrant(ctx context.Context, form map[string][]string, c tenant.Client, p Profile, b binding) (map[string]any, error) {
	fp := formParams(form)
	code, _, e1 := fp.get("code")
	redirect, _, e2 := fp.get("redirect_uri")
	verifier, _, e3 := fp.get("code_verifier")
	if errors.Join(e1, e2, e3) != nil || code == "" || len(code) > 128 {
		return nil, invalidRequest("code, redirect_uri and code_verifier are each required once.", nil)
	}
	if !verifierRE.MatchString(verifier) {
		return nil, invalidGrant("code_verifier is malformed.", ErrPKCE)
	}
	now := s.now()
	h := hashOf(code)
	var (
		grantID, clientID, tenantID, redirectURI, challenge, jkt, nonce string
		authTime, exp                                                   int64
		usedAt                                                          *int64
	)
	err := s.cfg.DB.QueryRow(ctx, `SELECT grant_id, client_id, tenant_id, redirect_uri, code_challenge, dpop_jkt, nonce, auth_time, expires_at, used_at
		FROM oauth_codes WHERE code_hash = ?`, h).Scan(&grantID, &clientID, &tenantID, &redirectURI, &challenge, &jkt, &nonce, &authTime, &exp, &usedAt)
	if errors.Is(err, store.ErrNotFound) {
		return nil, invalidGrant("The code is unknown.", ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	if clientID != c.ID || tenantID != c.TenantID {
		return nil, invalidGrant("The code is unknown.", fmt.Errorf("%w: code of another client", ErrNotFound))
	}
	if usedAt != nil {
		// Replay: the code leaked or was raced. Revoke what it produced.
		err := s.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
			return s.revokeGrantTx(ctx, tx, Viewer{Kind: audit.ActorSystem}, tenantID, grantID, now, "oauth.code.replay")
		})
		s.cfg.Revocations.Invalidate(grantTag(grantID))
		if err != nil {
			return nil, err
		}
		return nil, invalidGrant("The code was already used; its grant is revoked.", ErrReplay)
	}
	if !now.Before(store.FromMicros(exp)) {
		return nil, invalidGrant("The code has expired.", ErrExpired)
	}
	if redirect != redirectURI {
		return nil, invalidGrant("redirect_uri does not match the authorization request.", nil)
	}
	d := sha256.Sum256([]byte(verifier))
	if subtle.ConstantTimeCompare([]byte(b64.EncodeToString(d[:])), []byte(challenge)) != 1 {
		return nil, invalidGrant("code_verifier does not match the code_challenge.", ErrPKCE)
	}
	if jkt != "" && b.jkt != jkt {
		return nil, invalidGrant("The code is bound to another DPoP key.", ErrBinding)
	}
	var resp map[string]any
	err = s.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE oauth_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL`, store.Micros(now), h)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return invalidGrant("The code was already used.", ErrReplay)
		}
		g, err := s.loadGrant(ctx, tx, tenantID, grantID)
		if err != nil {
			return invalidGrant("The consent behind this code is no longer valid.", err)
		}
		resp, err = s.tokenResponse(ctx, tx, g, b, slices.Contains(p.GrantTypes, GrantRefreshToken), nonce, store.FromMicros(authTime))
		return err
	})
	return resp, err
}

// tokenResponse issues tokens for g and builds the RFC 6749 §5.1 body with
// authorization_details (RFC 9396 §7) and, for openid, an ID token.
func (s *Server) tokenResponse(ctx context.Context, tx *store.Tx, g *grantRow, b binding, refresh bool, nonce string, authTime time.Time) (map[string]any, error) {
	access, rt, err := s.issueTokens(ctx, tx, g, b, refresh)
	if err != nil {
		return nil, err
	}
	resp := map[string]any{
		"access_token": access,
		"token_type":   tokenType(b),
		"expires_in":   int(min(s.cfg.AccessTTL, g.exp.Sub(s.now())) / time.Second),
	}
	if len(g.scopes) > 0 {
		resp["scope"] = strings.Join(g.scopes, " ")
	}
	if len(g.details) > 0 {
		resp["authorization_details"] = g.details
	}
	if rt != "" {
		resp["refresh_token"] = rt
	}
	if slices.Contains(g.scopes, "openid") && !authTime.IsZero() {
		idt, err := s.idToken(g, nonce, authTime)
		if err != nil {
			return nil, err
		}
		resp["id_token"] = idt
	}
	return resp, nil
}

// idToken signs an ID token with acr and amr for the customer's sign-in.
func (s *Server) idToken(g *grantRow, nonce string, authTime time.Time) (string, error) {
	now := s.now()
	c := map[string]any{
		"iss": s.issuer, "sub": g.subject, "aud": g.clientID, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"auth_time": authTime.Unix(), "acr": g.acr, "amr": g.amr,
	}
	if nonce != "" {
		c["nonce"] = nonce
	}
	return s.cfg.Signer.Sign("JWT", c)
}

// refreshGrant issues a new access token from a refresh token. The refresh
// token is not rotated (FAPI 2.0 §5.3.1.1) and stays bound to the key or
// certificate it was issued with.
func (s *Server) refreshGrant(ctx context.Context, form map[string][]string, c tenant.Client, b binding) (map[string]any, error) {
	rt, _, err := formParams(form).get("refresh_token")
	if err != nil || rt == "" || len(rt) > 128 || !strings.HasPrefix(rt, prefixRefresh) {
		return nil, invalidRequest("refresh_token is required once.", err)
	}
	if sc, _, _ := formParams(form).get("scope"); sc != "" {
		return nil, oerr(400, "invalid_scope", "A refresh keeps the consent's scopes; do not send scope.", nil)
	}
	ti, err := s.readToken(ctx, sha256.Sum256([]byte(rt)))
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, invalidGrant("The refresh token is unknown.", err)
	case err != nil:
		return nil, err
	case ti.kind != kindRefresh || ti.clientID != c.ID || ti.tenantID != c.TenantID:
		return nil, invalidGrant("The refresh token is unknown.", ErrNotFound)
	case ti.revoked:
		return nil, invalidGrant("The refresh token was revoked.", ErrNotFound)
	case !s.now().Before(ti.exp):
		return nil, invalidGrant("The refresh token has expired.", ErrExpired)
	case ti.jkt != "" && ti.jkt != b.jkt, ti.x5t != "" && ti.x5t != b.x5t:
		return nil, invalidGrant("The refresh token is bound to another key or certificate.", ErrBinding)
	}
	var resp map[string]any
	err = s.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		g, err := s.loadGrant(ctx, tx, ti.tenantID, ti.grantID)
		if err != nil {
			return invalidGrant("The consent is no longer valid.", err)
		}
		resp, err = s.tokenResponse(ctx, tx, g, b, false, "", time.Time{})
		return err
	})
	if err != nil {
		return nil, err
	}
	resp["refresh_token"] = rt
	return resp, nil
}

// clientCredentials delegates the client_credentials grant to package
// tenant, unchanged for existing clients.
func (s *Server) clientCredentials(w http.ResponseWriter, r *http.Request, form map[string][]string) error {
	req, err := tenant.ParseTokenRequest(form)
	if err == nil {
		req.PeerCert, req.PeerIntermediates = peerCert(r), peerIntermediates(r)
		req.RequestID = requestID(r.Context())
		var tok tenant.Token
		tok, err = s.cfg.Clients.Token(r.Context(), req)
		if err == nil {
			w.Header().Set("Pragma", "no-cache")
			resp := map[string]any{"access_token": tok.AccessToken.Reveal(), "token_type": tok.TokenType, "expires_in": int(tok.ExpiresIn / time.Second)}
			if len(tok.Scopes) > 0 {
				resp["scope"] = strings.Join(tok.Scopes, " ")
			}
			writeJSON(w, http.StatusOK, resp)
			return nil
		}
	}
	switch {
	case errors.Is(err, tenant.ErrInvalidClient):
		e := oerr(http.StatusUnauthorized, "invalid_client", "Client authentication failed.", err)
		e.Challenge = clientChallenge(r)
		return e
	case errors.Is(err, tenant.ErrInvalidScope):
		return oerr(400, "invalid_scope", "A requested scope is not granted to this client.", err)
	case errors.Is(err, tenant.ErrInvalidRequest):
		return invalidRequest("The token request is missing or repeats a parameter.", err)
	case errors.Is(err, tenant.ErrUnsupportedGrantType):
		return oerr(400, "unsupported_grant_type", "Unsupported grant type.", err)
	}
	return err
}
