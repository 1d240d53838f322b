package oauth

import (
	"crypto/sha256"
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/revoke"
	"github.com/madoguchi/madoguchi/store"
)

// introspect is RFC 7662 token introspection for the client the token was
// issued to (any other client, and any other tenant, learns only
// active=false). With Accept: application/token-introspection+jwt the
// answer is a signed JWT (RFC 9701).
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) error {
	form, err := readForm(w, r)
	if err != nil {
		return err
	}
	c, err := s.authenticateClient(r, form)
	if err != nil {
		return err
	}
	if err := s.limitAuthenticated(r.Context(), c.TenantID, c.ID); err != nil {
		return err
	}
	tok, _, err := formParams(form).get("token")
	if err != nil || tok == "" {
		return invalidRequest("token is required once.", err)
	}
	out := map[string]any{"active": false}
	if len(tok) <= maxTokenLen && (strings.HasPrefix(tok, prefixAccess) || strings.HasPrefix(tok, prefixRefresh)) {
		ti, err := s.readToken(r.Context(), sha256.Sum256([]byte(tok)))
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return err
		case ti.clientID == c.ID && ti.tenantID == c.TenantID && !ti.revoked && s.now().Before(ti.exp):
			out = map[string]any{
				"active": true, "client_id": ti.clientID, "sub": ti.subject, "iss": s.issuer,
				"exp": ti.exp.Unix(), "iat": ti.issued.Unix(), "token_type": tokenTypeOf(ti),
			}
			if len(ti.scopes) > 0 {
				out["scope"] = strings.Join(ti.scopes, " ")
			}
			if len(ti.details) > 0 {
				out["authorization_details"] = ti.details
			}
			if ti.jkt != "" {
				out["cnf"] = map[string]string{"jkt": ti.jkt}
			} else if ti.x5t != "" {
				out["cnf"] = map[string]string{"x5t#S256": ti.x5t}
			}
			if err := s.cfg.DB.InTx(r.Context(), func(tx *store.Tx) error {
				return s.audit(r.Context(), tx, audit.ActorClient, c.ID, c.TenantID, "oauth.token.introspect", ti.grantID, nil)
			}); err != nil {
				return err
			}
		}
	}
	if wantsJWT(r.Header.Get("Accept")) {
		now := s.now()
		jwt, err := s.cfg.Signer.Sign("token-introspection+jwt", map[string]any{
			"iss": s.issuer, "aud": c.ID, "iat": now.Unix(), "token_introspection": out,
		})
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/token-introspection+jwt")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte(jwt))
		return nil
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func tokenTypeOf(ti *tokenInfo) string {
	switch {
	case ti.kind == kindRefresh:
		return "refresh_token"
	case ti.jkt != "":
		return "DPoP"
	}
	return "Bearer"
}

func wantsJWT(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && mt == "application/token-introspection+jwt" {
			return true
		}
	}
	return false
}

// revoke is RFC 7009 revocation. Revoking a refresh token revokes its
// consent and every token of it; an access token is revoked alone. Unknown
// tokens and tokens of other clients answer 200 and change nothing.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) error {
	form, err := readForm(w, r)
	if err != nil {
		return err
	}
	c, err := s.authenticateClient(r, form)
	if err != nil {
		return err
	}
	if err := s.limitAuthenticated(r.Context(), c.TenantID, c.ID); err != nil {
		return err
	}
	tok, _, err := formParams(form).get("token")
	if err != nil || tok == "" {
		return invalidRequest("token is required once.", err)
	}
	if len(tok) <= maxTokenLen && (strings.HasPrefix(tok, prefixAccess) || strings.HasPrefix(tok, prefixRefresh)) {
		h := sha256.Sum256([]byte(tok))
		ti, err := s.readToken(r.Context(), h)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return err
		case ti.clientID == c.ID && ti.tenantID == c.TenantID:
			now := s.now()
			who := Viewer{Kind: audit.ActorClient, ID: c.ID}
			err := s.cfg.DB.InTx(r.Context(), func(tx *store.Tx) error {
				if ti.kind == kindRefresh {
					return s.revokeGrantTx(r.Context(), tx, who, c.TenantID, ti.grantID, now, "oauth.token.revoke")
				}
				if _, err := tx.Exec(r.Context(), `UPDATE oauth_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL`, store.Micros(now), h[:]); err != nil {
					return err
				}
				if err := revoke.Publish(r.Context(), tx, tokenTag(h)); err != nil {
					return err
				}
				return s.audit(r.Context(), tx, who.Kind, who.ID, c.TenantID, "oauth.token.revoke", ti.grantID, map[string]string{"kind": ti.kind})
			})
			if err != nil {
				return err
			}
			if ti.kind == kindRefresh {
				s.cfg.Revocations.Invalidate(grantTag(ti.grantID))
			} else {
				s.cfg.Revocations.Invalidate(tokenTag(h))
			}
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	return nil
}
