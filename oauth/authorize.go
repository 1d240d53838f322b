package oauth

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// browserCookie binds an authorization interaction to the browser that
// opened it.
const browserCookie = "mdg_authz"

// pageError is an error shown on an HTML page; Public is what the customer
// reads.
type pageError struct {
	Status int
	Public string
	Cause  error
}

func (e *pageError) Error() string { return e.Public + ": " + errString(e.Cause) }

type pageHandler func(w http.ResponseWriter, r *http.Request) error

func (s *Server) wrapPage(h pageHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if err := h(w, r); err != nil {
			var pe *pageError
			if !errors.As(err, &pe) {
				s.log.ErrorContext(r.Context(), "authorization page failed", "err", err)
				pe = &pageError{Status: 500, Public: "サーバーで問題が発生しました。 The server could not complete the request."}
			} else {
				s.log.InfoContext(r.Context(), "authorization page refused", "status", pe.Status, "cause", errString(pe.Cause))
			}
			renderPage(w, pe.Status, "", pageData{Error: pe.Public})
		}
	})
}

// interaction is a customer step in progress.
type interaction struct {
	idHash   []byte
	kind     string // authorize or ciba
	tenantID string
	clientID string
	req      *authzRequest
	ciba     *cibaRequest
	state    string
	expires  time.Time
	browser  []byte
}

// authorize is the authorization endpoint: it accepts only client_id and a
// pushed request_uri (FAPI 2.0 §5.3.1.2), consumes the request_uri, and
// shows the consent page bound to this browser.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	clientID, uri := q.Get("client_id"), q.Get("request_uri")
	if clientID == "" || uri == "" || len(q["client_id"]) > 1 || len(q["request_uri"]) > 1 {
		return &pageError{Status: 400, Public: "この認可リクエストは受け付けられません (client_id と request_uri が必要です)。 Only pushed authorization requests are accepted: send client_id and request_uri."}
	}
	if !strings.HasPrefix(uri, RequestURIPrefix) || len(uri) > 128 {
		return &pageError{Status: 400, Public: "request_uri が不正です。 The request_uri is not one this server issued."}
	}
	tenantID, req, err := s.takePAR(r.Context(), clientID, uri)
	switch {
	case errors.Is(err, ErrNotFound):
		return &pageError{Status: 400, Public: "この認可リクエストは無効か、使用済みです。 The request_uri is unknown or was already used.", Cause: err}
	case errors.Is(err, ErrExpired):
		return &pageError{Status: 400, Public: "この認可リクエストは期限切れです。 The request_uri has expired.", Cause: err}
	case err != nil:
		return err
	}
	if _, err := s.activeProfile(r.Context(), tenantID, clientID, GrantAuthorizationCode); errors.Is(err, ErrRateLimited) {
		return &pageError{Status: http.StatusTooManyRequests, Cause: err,
			Public: "ただいま混み合っています。しばらくしてから、ご利用のサービスからやり直してください。 This service is sending too many requests; please start again from it in a little while."}
	} else if err != nil {
		return &pageError{Status: 400, Public: "このサービスは現在ご利用いただけません。 This client is not active.", Cause: err}
	}
	id := randomToken()
	browser := randomToken()
	ix := &interaction{idHash: hashOf(id), kind: "authorize", tenantID: tenantID, clientID: clientID, req: req,
		state: "pending", expires: s.now().Add(InteractionTTL), browser: hashOf(browser)}
	if err := s.storeInteraction(r.Context(), ix, nil); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: browserCookie, Value: browser, Path: "/oauth/", HttpOnly: true,
		Secure: strings.HasPrefix(s.issuer, "https://"), SameSite: http.SameSiteStrictMode, MaxAge: int(InteractionTTL / time.Second)})
	return s.showConsent(w, r, ix, id, PathDecide, "")
}

// showConsent renders the consent page with the customer step.
func (s *Server) showConsent(w http.ResponseWriter, r *http.Request, ix *interaction, id, action, errText string) error {
	step := s.step(ix, id)
	f, err := s.cfg.Customers.Form(r.Context(), step)
	if err != nil {
		return err
	}
	name, err := s.clientName(r.Context(), ix.tenantID, ix.clientID)
	if err != nil {
		return err
	}
	d := pageData{
		Client: name, Scopes: ix.req.Scopes, Details: describeDetails(ix.req.Details), Interaction: id, Action: action,
		Fields: f.Fields, ScriptURL: f.ScriptURL, Link: f.Link, Error: errText, BindingMessage: step.BindingMessage,
	}
	if len(f.Challenge) > 0 {
		d.Challenge = string(f.Challenge)
	}
	formTarget := ""
	if ix.kind == "authorize" {
		if u, err := url.Parse(ix.req.RedirectURI); err == nil {
			formTarget = u.Scheme + "://" + u.Host
		}
	}
	renderPage(w, http.StatusOK, formTarget, d)
	return nil
}

func (s *Server) step(ix *interaction, id string) CustomerStep {
	st := CustomerStep{TenantID: ix.tenantID, ClientID: ix.clientID, Interaction: id, Details: ix.req.Details, ACRValues: ix.req.ACRValues}
	if ix.ciba != nil {
		st.LoginHint = ix.ciba.LoginHint
		st.BindingMessage = ix.ciba.BindingMessage
	}
	return st
}

func (s *Server) clientName(ctx context.Context, tenantID, clientID string) (string, error) {
	var name string
	err := s.cfg.DB.QueryRow(ctx, `SELECT name FROM api_clients WHERE tenant_id = ? AND id = ?`, tenantID, clientID).Scan(&name)
	return name, err
}

// decide receives the consent form: the customer step's answer and the
// customer's decision. It answers with a 303 to the client's redirect URI
// (FAPI 2.0 §5.3.1.2: no 307) carrying code, state and iss (RFC 9207), or
// a JARM response.
func (s *Server) decide(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		return &pageError{Status: 400, Public: "フォームを読み取れませんでした。 The form could not be read.", Cause: err}
	}
	id := r.PostForm.Get("interaction")
	ck, err := r.Cookie(browserCookie)
	if id == "" || err != nil {
		return &pageError{Status: 400, Public: "この画面は無効です。最初からやり直してください。 This page is no longer valid; start again from the service.", Cause: err}
	}
	ix, err := s.loadInteraction(r.Context(), hashOf(id), "authorize")
	if err != nil {
		return &pageError{Status: 400, Public: "この画面は無効か期限切れです。 This page is no longer valid; start again from the service.", Cause: err}
	}
	if subtle.ConstantTimeCompare(ix.browser, hashOf(ck.Value)) != 1 {
		return &pageError{Status: 400, Public: "別のブラウザで開始された手続きです。 This request was started in another browser.", Cause: ErrForbidden}
	}
	if r.PostForm.Get("decision") != "approve" {
		if err := s.finishInteraction(r.Context(), ix, "denied", nil); err != nil {
			return err
		}
		s.endStep(r.Context(), ix, id)
		return s.redirectResult(w, ix.req, url.Values{"error": {"access_denied"}, "error_description": {"The customer declined."}})
	}
	auth, err := s.cfg.Customers.Verify(r.Context(), s.step(ix, id), r.PostForm)
	if errors.Is(err, ErrCustomerPending) {
		return s.showConsent(w, r, ix, id, PathDecide, "")
	}
	if err != nil {
		if errors.Is(err, ErrCustomer) {
			s.log.InfoContext(r.Context(), "customer step failed", "cause", err.Error())
			return s.showConsent(w, r, ix, id, PathDecide, "本人確認できませんでした。もう一度お試しください。 We could not confirm it is you; try again.")
		}
		return err
	}
	code := randomToken()
	if err := s.finishInteraction(r.Context(), ix, "approved", &approval{auth: auth, code: code}); err != nil {
		return err
	}
	return s.redirectResult(w, ix.req, url.Values{"code": {code}})
}

// redirectResult sends the authorization response: 303 to the redirect URI
// with iss (RFC 9207) and state, as query parameters or a JARM JWT.
func (s *Server) redirectResult(w http.ResponseWriter, req *authzRequest, v url.Values) error {
	v.Set("iss", s.issuer)
	if req.State != "" {
		v.Set("state", req.State)
	}
	if req.ResponseMode == "jwt" {
		claims := map[string]any{"iss": s.issuer, "aud": req.ClientID, "exp": s.now().Add(CodeTTL).Unix(), "iat": s.now().Unix()}
		for k := range v {
			if k != "iss" {
				claims[k] = v.Get(k)
			}
		}
		jwt, err := s.cfg.Signer.Sign("JWT", claims)
		if err != nil {
			return err
		}
		v = url.Values{"response": {jwt}}
	}
	u, err := url.Parse(req.RedirectURI)
	if err != nil {
		return err
	}
	q := u.Query()
	for k, vs := range v {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Location", u.String())
	w.WriteHeader(http.StatusSeeOther)
	return nil
}

// storeInteraction inserts ix; its request (and CIBA secrets) are sealed.
func (s *Server) storeInteraction(ctx context.Context, ix *interaction, authReqHash []byte) error {
	body := map[string]any{"request": ix.req}
	if ix.ciba != nil {
		body["ciba"] = ix.ciba
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	now := s.now()
	return s.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		sealed, err := s.cfg.Sealer.Seal(ctx, tx, clientSubject(ix.tenantID, ix.clientID), []byte("oauth-ix:"+hex.EncodeToString(ix.idHash)), b)
		if err != nil {
			return err
		}
		var hint, brow, arh any
		if ix.ciba != nil {
			hint = ix.ciba.LoginHint
		}
		if ix.browser != nil {
			brow = ix.browser
		}
		if authReqHash != nil {
			arh = authReqHash
		}
		_, err = tx.Exec(ctx, `INSERT INTO oauth_interactions (id_hash, kind, tenant_id, client_id, request, browser_hash, auth_req_hash, login_hint,
			state, poll_interval, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			ix.idHash, ix.kind, ix.tenantID, ix.clientID, sealed, brow, arh, hint, "pending", int(CIBAInterval/time.Second), store.Micros(now), store.Micros(ix.expires))
		return err
	})
}

const ixCols = `id_hash, kind, tenant_id, client_id, request, browser_hash, state, expires_at`

func (s *Server) scanInteraction(ctx context.Context, q vault.Querier, row interface{ Scan(...any) error }) (*interaction, error) {
	ix := &interaction{}
	var sealed []byte
	var exp int64
	if err := row.Scan(&ix.idHash, &ix.kind, &ix.tenantID, &ix.clientID, &sealed, &ix.browser, &ix.state, &exp); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	ix.expires = store.FromMicros(exp)
	b, err := s.cfg.Sealer.Open(ctx, q, clientSubject(ix.tenantID, ix.clientID), []byte("oauth-ix:"+hex.EncodeToString(ix.idHash)), sealed)
	if err != nil {
		return nil, err
	}
	var body struct {
		Request *authzRequest `json:"request"`
		CIBA    *cibaRequest  `json:"ciba"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		return nil, err
	}
	ix.req, ix.ciba = body.Request, body.CIBA
	return ix, nil
}

// loadInteraction returns a pending, unexpired interaction of kind.
func (s *Server) loadInteraction(ctx context.Context, idHash []byte, kind string) (*interaction, error) {
	ix, err := s.scanInteraction(ctx, s.cfg.DB, s.cfg.DB.QueryRow(ctx, `SELECT `+ixCols+` FROM oauth_interactions WHERE id_hash = ? AND kind = ?`, idHash, kind))
	if err != nil {
		return nil, err
	}
	if ix.state != "pending" {
		return nil, fmt.Errorf("%w: interaction is %s", ErrReplay, ix.state)
	}
	if !s.now().Before(ix.expires) {
		return nil, ErrExpired
	}
	return ix, nil
}

// approval is a customer's successful step.
type approval struct {
	auth Authentication
	code string // authorization code to create ("" for CIBA)
}

// finishInteraction moves a pending interaction to approved or denied in
// one transaction with its consequences: the consent (grant) and, for the
// authorization endpoint, the code. A second finish of the same
// interaction changes nothing and fails (the state guard).
func (s *Server) finishInteraction(ctx context.Context, ix *interaction, outcome string, a *approval) error {
	now := s.now()
	return s.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		var grantID any
		var subject, acr, amr any
		var authTime any
		if a != nil {
			gid, err := s.createGrant(ctx, tx, ix, a.auth)
			if err != nil {
				return err
			}
			grantID, subject, acr, amr, authTime = gid, a.auth.Subject, a.auth.ACR, strings.Join(a.auth.AMR, " "), store.Micros(authTimeOr(a.auth, now))
			if a.code != "" {
				if _, err := tx.Exec(ctx, `INSERT INTO oauth_codes (code_hash, tenant_id, client_id, grant_id, redirect_uri, code_challenge, dpop_jkt, nonce, auth_time, expires_at)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, hashOf(a.code), ix.tenantID, ix.clientID, gid, ix.req.RedirectURI, ix.req.CodeChallenge,
					ix.req.DPoPJKT, ix.req.Nonce, authTime, store.Micros(now.Add(CodeTTL))); err != nil {
					return err
				}
			}
		}
		res, err := tx.Exec(ctx, `UPDATE oauth_interactions SET state = ?, subject = ?, grant_id = ?, acr = ?, amr = ?, auth_time = ?
			WHERE id_hash = ? AND state = 'pending'`, outcome, subject, grantID, acr, amr, authTime, ix.idHash)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("%w: interaction already finished", ErrReplay)
		}
		if ix.ciba != nil && ix.ciba.Mode == "ping" {
			if err := s.pinger.Enqueue(ctx, tx, Ping{TenantID: ix.tenantID, ClientID: ix.clientID, Endpoint: ix.ciba.Endpoint,
				Token: ix.ciba.NotificationToken, AuthReqID: ix.ciba.AuthReqID}); err != nil {
				return err
			}
		}
		if a == nil {
			return s.audit(ctx, tx, audit.ActorSystem, "", ix.tenantID, "oauth.consent.decline", "", map[string]string{"client": ix.clientID, "kind": ix.kind})
		}
		return nil
	})
}

func authTimeOr(a Authentication, now time.Time) time.Time {
	if a.AuthTime.IsZero() || a.AuthTime.After(now) {
		return now
	}
	return a.AuthTime
}
