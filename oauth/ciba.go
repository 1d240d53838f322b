package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/madoguchi/madoguchi/notify"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/tenant"
)

// CIBA (OpenID Connect Client-Initiated Backchannel Authentication, FAPI-CIBA
// profile): poll and ping, no push; binding_message required.

// cibaRequest is what a backchannel request adds to an interaction.
type cibaRequest struct {
	LoginHint         string `json:"login_hint"`
	BindingMessage    string `json:"binding_message"`
	NotificationToken string `json:"client_notification_token,omitempty"`
	AuthReqID         string `json:"auth_req_id"`
	Mode              string `json:"mode"`
	Endpoint          string `json:"endpoint,omitempty"`
}

// CIBANotice is what the customer's device is told.
type CIBANotice struct {
	TenantID, ClientID, ClientName string
	// LoginHint is the customer the client named.
	LoginHint      string
	BindingMessage string
	// URL is the device page where the customer authenticates and decides;
	// it is a capability: deliver it only to the customer's own device.
	URL string
}

// CIBANotifier delivers a CIBA request to the customer's authentication
// device (the bank's app, a push service). It must not log the URL.
type CIBANotifier interface {
	Notify(ctx context.Context, n CIBANotice) error
}

const maxBindingMessage = 64

// backchannel is the backchannel authentication endpoint.
func (s *Server) backchannel(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.CIBANotifier == nil {
		return oerr(http.StatusNotFound, "invalid_request", "CIBA is not offered by this server.", nil)
	}
	form, err := readForm(w, r)
	if err != nil {
		return err
	}
	c, err := s.authenticateClient(r, form)
	if err != nil {
		return err
	}
	p, err := s.activeProfile(r.Context(), c.TenantID, c.ID, GrantCIBA)
	if err != nil {
		return err
	}
	var ps params = formParams(form)
	signed := false
	if raw, ok, _ := ps.get("request"); ok {
		for k := range form {
			if !slices.Contains(authParams, k) {
				return invalidRequest("With a signed authentication request, send every parameter inside it.", nil)
			}
		}
		cp, e := s.verifyRequestObject(r.Context(), raw, c)
		if e != nil {
			return e
		}
		ps, signed = cp, true
	}
	get := func(name string) (string, error) {
		v, _, err := ps.get(name)
		return v, err
	}
	for _, n := range []string{"id_token_hint", "login_hint_token", "user_code"} {
		if v, _ := get(n); v != "" {
			return invalidRequest(n+" is not supported; send login_hint.", nil)
		}
	}
	hint, err := get("login_hint")
	if err != nil || hint == "" || len(hint) > 128 || !utf8.ValidString(hint) {
		return invalidRequest("login_hint is required (the customer's reference).", err)
	}
	// Each request pushes to the customer's device: a partner may not
	// flood one customer (per customer, whatever its per-client rate).
	if err := s.limitCustomer("ciba", c.TenantID, hint, p.RateCustomer); err != nil {
		return err
	}
	bm, err := get("binding_message")
	if err != nil || bm == "" || utf8.RuneCountInString(bm) > maxBindingMessage || !printableText(bm) {
		return invalidRequest(fmt.Sprintf("binding_message is required: 1-%d printable characters the customer compares on their device.", maxBindingMessage), err)
	}
	req := &authzRequest{ClientID: c.ID, ResponseMode: "query", Signed: signed}
	scope, _ := get("scope")
	var e *Error
	if req.Scopes, e = checkScopes(scope, c); e != nil {
		return e
	}
	if !slices.Contains(req.Scopes, "openid") {
		return oerr(400, "invalid_scope", "A CIBA request's scope must include openid.", nil)
	}
	if ad, _ := get("authorization_details"); ad != "" {
		ds, err := ParseDetails(ad, p.RARTypes)
		if err != nil {
			return oerr(400, "invalid_authorization_details", "authorization_details is invalid or not allowed for this client.", err)
		}
		req.Details = ds
	}
	acr, _ := get("acr_values")
	req.ACRValues = splitFields(acr)
	ttl := CIBATTL
	if v, _ := get("requested_expiry"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 10 || n > int(CIBATTL/time.Second) {
			return invalidRequest(fmt.Sprintf("requested_expiry must be 10-%d seconds.", int(CIBATTL/time.Second)), err)
		}
		ttl = time.Duration(n) * time.Second
	}
	cr := &cibaRequest{LoginHint: hint, BindingMessage: bm, Mode: p.CIBAMode, Endpoint: p.CIBAEndpoint}
	if p.CIBAMode == "ping" {
		if s.pinger == nil {
			return oerr(400, "invalid_request", "CIBA ping mode is not offered by this server; register the client for poll mode.", nil)
		}
		// The token goes into the ping's Authorization header: CIBA Core
		// §7.1 makes it an RFC 6750 bearer credential of ≤ 1024 characters.
		nt, err := get("client_notification_token")
		if err != nil || !notify.ValidBearer(nt) {
			return invalidRequest("client_notification_token is required in ping mode: an RFC 6750 bearer token of at most 1024 characters.", err)
		}
		cr.NotificationToken = nt
	}
	cr.AuthReqID = randomToken()
	id := randomToken()
	ix := &interaction{idHash: hashOf(id), kind: "ciba", tenantID: c.TenantID, clientID: c.ID, req: req, ciba: cr,
		state: "pending", expires: s.now().Add(ttl)}
	if err := s.storeInteraction(r.Context(), ix, hashOf(cr.AuthReqID)); err != nil {
		return err
	}
	name, err := s.clientName(r.Context(), c.TenantID, c.ID)
	if err != nil {
		return err
	}
	if err := s.cfg.CIBANotifier.Notify(r.Context(), CIBANotice{TenantID: c.TenantID, ClientID: c.ID, ClientName: name, LoginHint: hint,
		BindingMessage: bm, URL: s.issuer + PathDevice + "?ix=" + url.QueryEscape(id)}); err != nil {
		return fmt.Errorf("oauth: notify the customer's device: %w", err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"auth_req_id": cr.AuthReqID, "expires_in": int(ttl / time.Second), "interval": int(CIBAInterval / time.Second)})
	return nil
}

func printableText(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}

func splitFields(s string) []string {
	var out []string
	start := -1
	for i, r := range s {
		if r == ' ' {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}

// devicePage shows a CIBA request on the customer's device.
func (s *Server) devicePage(w http.ResponseWriter, r *http.Request) error {
	id := r.URL.Query().Get("ix")
	ix, err := s.loadInteraction(r.Context(), hashOf(id), "ciba")
	if id == "" || err != nil {
		return &pageError{Status: 400, Public: "このリクエストは無効か期限切れです。 This request is no longer valid.", Cause: err}
	}
	return s.showConsent(w, r, ix, id, PathDevice, "")
}

// deviceDecide receives the customer's decision on their device; the
// client learns it by polling or after a ping.
func (s *Server) deviceDecide(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		return &pageError{Status: 400, Public: "フォームを読み取れませんでした。 The form could not be read.", Cause: err}
	}
	id := r.PostForm.Get("interaction")
	ix, err := s.loadInteraction(r.Context(), hashOf(id), "ciba")
	if id == "" || err != nil {
		return &pageError{Status: 400, Public: "このリクエストは無効か期限切れです。 This request is no longer valid.", Cause: err}
	}
	if r.PostForm.Get("decision") != "approve" {
		if err := s.finishInteraction(r.Context(), ix, "denied", nil); err != nil {
			return err
		}
		s.endStep(r.Context(), ix, id)
		renderPage(w, http.StatusOK, "", pageData{Notice: "拒否しました。 You declined the request."})
		return nil
	}
	auth, err := s.cfg.Customers.Verify(r.Context(), s.step(ix, id), r.PostForm)
	if errors.Is(err, ErrCustomerPending) {
		return s.showConsent(w, r, ix, id, PathDevice, "")
	}
	if err != nil {
		if errors.Is(err, ErrCustomer) {
			return s.showConsent(w, r, ix, id, PathDevice, "本人確認できませんでした。 We could not confirm it is you; try again.")
		}
		return err
	}
	if err := s.finishInteraction(r.Context(), ix, "approved", &approval{auth: auth}); err != nil {
		return err
	}
	renderPage(w, http.StatusOK, "", pageData{Notice: "承認しました。サービスの画面に戻ってください。 Approved: return to the service."})
	return nil
}

// cibaGrant redeems an auth_req_id at the token endpoint.
func (s *Server) cibaGrant(ctx context.Context, form map[string][]string, c tenant.Client, p Profile, b binding) (map[string]any, error) {
	id, _, err := formParams(form).get("auth_req_id")
	if err != nil || id == "" || len(id) > 128 {
		return nil, invalidRequest("auth_req_id is required once.", err)
	}
	h := hashOf(id)
	now := s.now()
	var resp map[string]any
	err = s.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		var (
			state, clientID, tenantID string
			grantID                   *string
			interval                  int
			lastPoll, authTime        *int64
			exp                       int64
		)
		err := tx.QueryRow(ctx, `SELECT state, client_id, tenant_id, grant_id, poll_interval, last_poll_at, auth_time, expires_at
			FROM oauth_interactions WHERE auth_req_hash = ? AND kind = 'ciba'`, h).Scan(&state, &clientID, &tenantID, &grantID, &interval, &lastPoll, &authTime, &exp)
		if errors.Is(err, store.ErrNotFound) || (err == nil && (clientID != c.ID || tenantID != c.TenantID)) {
			return invalidGrant("The auth_req_id is unknown.", ErrNotFound)
		}
		if err != nil {
			return err
		}
		switch state {
		case "denied":
			return oerr(400, "access_denied", "The customer declined.", nil)
		case "redeemed":
			return invalidGrant("The auth_req_id was already redeemed.", ErrReplay)
		case "pending":
			if !now.Before(store.FromMicros(exp)) {
				return oerr(400, "expired_token", "The auth_req_id has expired.", ErrExpired)
			}
			if p.CIBAMode == "poll" && lastPoll != nil && now.Sub(store.FromMicros(*lastPoll)) < time.Duration(interval)*time.Second {
				if _, err := tx.Exec(ctx, `UPDATE oauth_interactions SET poll_interval = ?, last_poll_at = ? WHERE auth_req_hash = ?`, interval+5, store.Micros(now), h); err != nil {
					return err
				}
				resp = map[string]any{"slow_down": true}
				return nil
			}
			if _, err := tx.Exec(ctx, `UPDATE oauth_interactions SET last_poll_at = ? WHERE auth_req_hash = ?`, store.Micros(now), h); err != nil {
				return err
			}
			resp = map[string]any{"pending": true}
			return nil
		case "approved":
		default:
			return invalidGrant("The auth_req_id is unknown.", ErrNotFound)
		}
		res, err := tx.Exec(ctx, `UPDATE oauth_interactions SET state = 'redeemed' WHERE auth_req_hash = ? AND state = 'approved'`, h)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 || grantID == nil || authTime == nil {
			return invalidGrant("The auth_req_id was already redeemed.", ErrReplay)
		}
		g, err := s.loadGrant(ctx, tx, tenantID, *grantID)
		if err != nil {
			return invalidGrant("The consent is no longer valid.", err)
		}
		resp, err = s.tokenResponse(ctx, tx, g, b, slices.Contains(p.GrantTypes, GrantRefreshToken), "", store.FromMicros(*authTime))
		return err
	})
	if err != nil {
		return nil, err
	}
	// The pending answers are errors the client expects; they are written
	// after the transaction so that last_poll_at is committed.
	if resp["slow_down"] == true {
		return nil, oerr(400, "slow_down", "Poll less often.", nil)
	}
	if resp["pending"] == true {
		return nil, oerr(400, "authorization_pending", "The customer has not decided yet.", nil)
	}
	return resp, nil
}
