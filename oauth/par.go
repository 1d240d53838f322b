package oauth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// RequestURIPrefix starts every request_uri (RFC 9126 §2.2).
const RequestURIPrefix = "urn:ietf:params:oauth:request_uri:"

// randomToken returns 256 random bits, base64url (43 characters).
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return b64.EncodeToString(b[:])
}

// clientSubject is the vault subject for a client's in-flight requests,
// before a customer is known.
func clientSubject(tenantID, clientID string) vault.SubjectRef {
	return vault.SubjectRef{Tenant: tenantID, Subject: "oauth-client:" + clientID}
}

// par is the pushed authorization request endpoint (RFC 9126), the only
// way into the authorization endpoint (FAPI 2.0 §5.3.1.2).
func (s *Server) par(w http.ResponseWriter, r *http.Request) error {
	form, err := readForm(w, r)
	if err != nil {
		return err
	}
	// The proof is checked first: a use_dpop_nonce answer must come before
	// anything single-use (the assertion, the request object) is spent, as
	// the client resends the same request with the nonce.
	proof, err := s.verifyDPoP(r, dpopCheck{method: http.MethodPost, htu: s.parURL}, false)
	if err != nil {
		return err
	}
	c, err := s.authenticateClient(r, form)
	if err != nil {
		return err
	}
	p, err := s.activeProfile(r.Context(), c.TenantID, c.ID, GrantAuthorizationCode)
	if err != nil {
		return err
	}
	var ps params = formParams(form)
	signed := false
	if raw, ok, _ := ps.get("request"); ok {
		for k := range form {
			if !slices.Contains(authParams, k) {
				return invalidRequest("With a request object, send every parameter inside it.", nil)
			}
		}
		cp, e := s.verifyRequestObject(r.Context(), raw, c)
		if e != nil {
			return e
		}
		ps, signed = cp, true
	}
	req, e := parseAuthzRequest(ps, c, p)
	if e != nil {
		return e
	}
	req.Signed = signed
	if proof != nil {
		if req.DPoPJKT != "" && req.DPoPJKT != proof.jkt {
			return invalidRequest("dpop_jkt does not match the DPoP proof's key.", nil)
		}
		req.DPoPJKT = proof.jkt
	}
	uri := RequestURIPrefix + randomToken()
	if err := s.storePAR(r.Context(), c.TenantID, uri, req); err != nil {
		return err
	}
	if proof != nil {
		s.setNonce(w, r.Context())
	}
	writeJSON(w, http.StatusCreated, map[string]any{"request_uri": uri, "expires_in": int(PARTTL / time.Second)})
	return nil
}

func (s *Server) storePAR(ctx context.Context, tenantID, uri string, req *authzRequest) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	h := hashOf(uri)
	now := s.now()
	return s.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		sealed, err := s.cfg.Sealer.Seal(ctx, tx, clientSubject(tenantID, req.ClientID), []byte("oauth-par:"+hex.EncodeToString(h)), b)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO oauth_par (uri_hash, tenant_id, client_id, request, expires_at) VALUES (?, ?, ?, ?, ?)`,
			h, tenantID, req.ClientID, sealed, store.Micros(now.Add(PARTTL))); err != nil {
			return err
		}
		return s.audit(ctx, tx, audit.ActorClient, req.ClientID, tenantID, "oauth.par", "",
			map[string]string{"detail_types": joinTypes(req.Details), "signed": fmt.Sprint(req.Signed), "dpop_bound": fmt.Sprint(req.DPoPJKT != "")})
	})
}

// takePAR consumes a request_uri of clientID: it is deleted in the same
// transaction that reads it, so it works once (FAPI 2.0 §5.3.1.2), and an
// expired one is ErrExpired.
func (s *Server) takePAR(ctx context.Context, clientID, uri string) (string, *authzRequest, error) {
	h := hashOf(uri)
	var (
		tenantID string
		sealed   []byte
		exp      int64
		req      authzRequest
	)
	err := s.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		err := tx.QueryRow(ctx, `SELECT tenant_id, request, expires_at FROM oauth_par WHERE uri_hash = ? AND client_id = ?`, h, clientID).
			Scan(&tenantID, &sealed, &exp)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM oauth_par WHERE uri_hash = ?`, h); err != nil {
			return err
		}
		if !s.now().Before(store.FromMicros(exp)) {
			return ErrExpired
		}
		b, err := s.cfg.Sealer.Open(ctx, tx, clientSubject(tenantID, clientID), []byte("oauth-par:"+hex.EncodeToString(h)), sealed)
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &req)
	})
	if err != nil {
		return "", nil, err
	}
	return tenantID, &req, nil
}

func joinTypes(ds []Detail) string {
	out := ""
	for i, t := range detailTypes(ds) {
		if i > 0 {
			out += " "
		}
		out += t
	}
	return out
}
