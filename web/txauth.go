package web

// Transaction-authentication routes (package txauth). Four kinds of caller:
//
//   - API clients (bearer tokens, tenant-confined): confirmations (scope
//     txauth:confirm), image cards (txauth:cards), the tenant's policy
//     (txauth:admin); customers (ekyc:sessions, web/customers.go).
//   - The confirmation page, which holds no API credential: it sends
//     "Authorization: Confirm <token>" (the token from the URL fragment),
//     which confines it to one confirmation.
//   - Monitoring staff (staff session tokens, reviewer or admin role checked
//     by the txauth service): alerts, holds, account locks, call-backs and
//     dual-control unlocks.
//
// Errors from package txauth are mapped here (txauthProblem); the public
// text never carries personal data or which cell of an answer was wrong.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/credential"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/txauth"
)

// Scopes of the transaction-authentication API.
const (
	ScopeTxAuthConfirm = "txauth:confirm"
	ScopeTxAuthCards   = "txauth:cards"
	ScopeTxAuthAdmin   = "txauth:admin"
)

// TxAuthService is what the handlers need from *txauth.Service.
type TxAuthService interface {
	Create(ctx context.Context, a txauth.Actor, tenant string, r txauth.Request) (*txauth.Created, error)
	Get(ctx context.Context, tenant, id string) (*txauth.Confirmation, error)
	Result(ctx context.Context, a txauth.Actor, tenant, id string) (string, error)
	Cancel(ctx context.Context, a txauth.Actor, tenant, id string) (*txauth.Confirmation, error)
	ReportLegacy(ctx context.Context, a txauth.Actor, tenant, id string) (*txauth.Confirmation, error)
	Policy(ctx context.Context, tenant string) (txauth.Policy, int, error)
	SetPolicy(ctx context.Context, a txauth.Actor, tenant string, p txauth.Policy) (int, error)
	IssueCard(ctx context.Context, a txauth.Actor, tenant, customer string) (*txauth.Card, error)
	Card(ctx context.Context, tenant, id string) (*txauth.Card, error)
	PrintCard(ctx context.Context, a txauth.Actor, tenant, id string) ([]byte, error)
	MarkMailed(ctx context.Context, a txauth.Actor, tenant, id, tracking string) (*txauth.Card, error)
	MarkDelivered(ctx context.Context, a txauth.Actor, tenant, id string) (*txauth.Card, error)
	RevokeCard(ctx context.Context, a txauth.Actor, tenant, id, reason string) (*txauth.Card, error)
	CreateActivation(ctx context.Context, a txauth.Actor, tenant, card, webhook string) (*txauth.Created, error)
	Page(ctx context.Context, token string) (*txauth.PageView, error)
	CandidateImage(ctx context.Context, token, challenge, candidate string) ([]byte, error)
	Answer(ctx context.Context, token, challenge string, picks [2]string) (*txauth.PageView, error)
	Mismatch(ctx context.Context, token string) (*txauth.PageView, error)
	CreatePasskeyRegistration(ctx context.Context, a txauth.Actor, tenant, customer, webhook string) (*txauth.Created, error)
	PasskeyBegin(ctx context.Context, token string) (json.RawMessage, error)
	PasskeyFinish(ctx context.Context, token string, response []byte) (*txauth.PageView, error)
	RegisterDevice(ctx context.Context, a txauth.Actor, tenant, customer, name string, publicKey []byte) (*txauth.RegisteredDevice, error)
	RevokeDevice(ctx context.Context, a txauth.Actor, tenant, id string) error
	DevicePending(ctx context.Context, token string) ([]txauth.Pending, error)
	DeviceDecide(ctx context.Context, token, confirmation, decision string, signature []byte) (*txauth.Confirmation, error)
	DeviceQR(ctx context.Context, token string) (string, time.Time, error)
	DeviceScan(ctx context.Context, deviceToken, code string) (*txauth.Pending, error)
	JPKIChallenge(ctx context.Context, token, usage string) (*txauth.JPKIChallengeView, error)
	EnrollFace(ctx context.Context, a txauth.Actor, tenant, customer string) (string, error)
	FaceStart(ctx context.Context, token string) (*txauth.FaceCapture, error)
	FaceFrame(ctx context.Context, token, nonce string, img []byte) (string, error)
	FaceSubmit(ctx context.Context, token string) (*txauth.PageView, error)
	JPKISubmit(ctx context.Context, token, challenge string, sig ekyc.JPKISignature) (*txauth.PageView, error)
	ListAlerts(ctx context.Context, st txauth.Staff, state string, limit int) ([]txauth.Alert, error)
	CloseAlert(ctx context.Context, st txauth.Staff, id, resolution string) error
	RecordCallback(ctx context.Context, st txauth.Staff, alert, outcome, note string) (string, error)
	Hold(ctx context.Context, st txauth.Staff, id string) (*txauth.Confirmation, error)
	Release(ctx context.Context, st txauth.Staff, id string) (*txauth.Confirmation, error)
	RejectHeld(ctx context.Context, st txauth.Staff, id string) (*txauth.Confirmation, error)
	LockAccount(ctx context.Context, st txauth.Staff, tenant, customer string) error
	UnlockAccount(ctx context.Context, st txauth.Staff, tenant, customer string) error
	RequestUnlock(ctx context.Context, st txauth.Staff, tenant, card, session string) (*txauth.Unlock, error)
	RequestFaceUnlock(ctx context.Context, st txauth.Staff, tenant, customer, session string) (*txauth.Unlock, error)
	ApproveUnlock(ctx context.Context, st txauth.Staff, id string) (*txauth.Unlock, error)
	Unlocks(ctx context.Context, st txauth.Staff, state string) ([]txauth.Unlock, error)
	Locks(ctx context.Context, st txauth.Staff) ([]txauth.Lock, error)
	Callbacks(ctx context.Context, st txauth.Staff) ([]txauth.Callback, error)
}

var _ TxAuthService = (*txauth.Service)(nil)

// TxAuthConfig enables the transaction-authentication routes.
type TxAuthConfig struct {
	Service TxAuthService
	// Staff authenticates a staff bearer token for the monitoring API and
	// returns the staff member with roles (ErrInvalidToken for a bad one);
	// nil disables the monitoring routes.
	Staff func(ctx context.Context, token string) (txauth.Staff, error)
}

func (s *Server) txauthRoutes() {
	c := s.cfg.TxAuth
	if c == nil || c.Service == nil {
		return
	}
	if s.cfg.Auth != nil {
		s.mux.Handle("POST /v1/txauth/confirmations", s.authed(ScopeTxAuthConfirm, s.txCreate))
		s.mux.Handle("GET /v1/txauth/confirmations/{id}", s.authed(ScopeTxAuthConfirm, s.txGet))
		s.mux.Handle("GET /v1/txauth/confirmations/{id}/result", s.authed(ScopeTxAuthConfirm, s.txResult))
		s.mux.Handle("POST /v1/txauth/confirmations/{id}/cancel", s.authed(ScopeTxAuthConfirm, s.txCancel))
		s.mux.Handle("POST /v1/txauth/confirmations/{id}/legacy", s.authed(ScopeTxAuthConfirm, s.txLegacy))
		s.mux.Handle("POST /v1/txauth/cards", s.authed(ScopeTxAuthCards, s.txIssueCard))
		s.mux.Handle("GET /v1/txauth/cards/{id}", s.authed(ScopeTxAuthCards, s.txCard))
		s.mux.Handle("GET /v1/txauth/cards/{id}/print", s.authed(ScopeTxAuthCards, s.txPrintCard))
		s.mux.Handle("POST /v1/txauth/cards/{id}/mailed", s.authed(ScopeTxAuthCards, s.txMailed))
		s.mux.Handle("POST /v1/txauth/cards/{id}/delivered", s.authed(ScopeTxAuthCards, s.txDelivered))
		s.mux.Handle("POST /v1/txauth/cards/{id}/revoke", s.authed(ScopeTxAuthCards, s.txRevoke))
		s.mux.Handle("POST /v1/txauth/cards/{id}/activation", s.authed(ScopeTxAuthCards, s.txActivation))
		s.mux.Handle("POST /v1/txauth/passkeys/registrations", s.authed(ScopeTxAuthCards, s.txPasskeyRegistration))
		s.mux.Handle("POST /v1/txauth/faces", s.authed(ScopeTxAuthCards, s.txEnrollFace))
		s.mux.Handle("POST /v1/txauth/devices", s.authed(ScopeTxAuthCards, s.txRegisterDevice))
		s.mux.Handle("DELETE /v1/txauth/devices/{id}", s.authed(ScopeTxAuthCards, s.txRevokeDevice))
		s.mux.Handle("GET /v1/txauth/policy", s.authed(ScopeTxAuthAdmin, s.txGetPolicy))
		s.mux.Handle("PUT /v1/txauth/policy", s.authed(ScopeTxAuthAdmin, s.txPutPolicy))
	}
	s.mux.Handle("POST /v1/txauth/page", s.handle(s.txPage))
	s.mux.Handle("GET /v1/txauth/page/challenges/{challenge}/candidates/{candidate}", s.handle(s.txCandidate))
	s.mux.Handle("POST /v1/txauth/page/answer", s.handle(s.txAnswer))
	s.mux.Handle("POST /v1/txauth/page/mismatch", s.handle(s.txMismatch))
	s.mux.Handle("GET /v1/txauth/device/pending", s.handle(s.txDevicePending))
	s.mux.Handle("POST /v1/txauth/device/confirmations/{id}", s.handle(s.txDeviceDecide))
	s.mux.Handle("POST /v1/txauth/device/scan", s.handle(s.txDeviceScan))
	s.mux.Handle("GET /v1/txauth/page/device/qr", s.handle(s.txDeviceQR))
	s.mux.Handle("POST /v1/txauth/page/face/start", s.handle(s.txFaceStart))
	s.mux.Handle("POST /v1/txauth/page/face/frames", s.handle(s.txFaceFrame))
	s.mux.Handle("POST /v1/txauth/page/face/submit", s.handle(s.txFaceSubmit))
	s.mux.Handle("POST /v1/txauth/page/jpki/challenge", s.handle(s.txJPKIChallenge))
	s.mux.Handle("POST /v1/txauth/page/jpki/signature", s.handle(s.txJPKISignature))
	s.mux.Handle("POST /v1/txauth/page/passkey/begin", s.handle(s.txPasskeyBegin))
	s.mux.Handle("POST /v1/txauth/page/passkey/finish", s.handle(s.txPasskeyFinish))
	s.confirmPageRoutes()
	if c.Staff != nil {
		m := func(h func(http.ResponseWriter, *http.Request, txauth.Staff) error) http.Handler {
			return s.handle(s.txStaffed(h))
		}
		s.mux.Handle("GET /v1/txauth/monitor/alerts", m(s.txAlerts))
		s.mux.Handle("POST /v1/txauth/monitor/alerts/{id}/close", m(s.txCloseAlert))
		s.mux.Handle("POST /v1/txauth/monitor/alerts/{id}/callbacks", m(s.txCallback))
		s.mux.Handle("POST /v1/txauth/monitor/confirmations/{id}/{action}", m(s.txHoldAction))
		s.mux.Handle("POST /v1/txauth/monitor/customers/{id}/{action}", m(s.txAccountAction))
		s.mux.Handle("POST /v1/txauth/monitor/cards/{id}/unlock-requests", m(s.txRequestUnlock))
		s.mux.Handle("POST /v1/txauth/monitor/customers/{id}/face/unlock-requests", m(s.txRequestFaceUnlock))
		s.mux.Handle("GET /v1/txauth/monitor/unlock-requests", m(s.txUnlocks))
		s.mux.Handle("GET /v1/txauth/monitor/locks", m(s.txLocks))
		s.mux.Handle("GET /v1/txauth/monitor/callbacks", m(s.txCallbacks))
		s.mux.Handle("POST /v1/txauth/monitor/unlock-requests/{id}/approve", m(s.txApproveUnlock))
	}
}

// txauthProblem maps package txauth's sentinels to problems.
func txauthProblem(err error) error {
	var (
		p  *Problem
		ae *txauth.AnswerError
		fe *txauth.FaceError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &p):
		return err
	case errors.As(err, &ae):
		p = newProblem(http.StatusUnprocessableEntity, "txauth-wrong-answer", "Wrong answer",
			"The pictures chosen do not match the card.")
		p.Errors = []FieldError{{Field: "attempts_left", Detail: strconv.Itoa(ae.AttemptsLeft)}}
		if ae.Locked {
			p.Errors = append(p.Errors, FieldError{Field: "locked", Detail: "true"})
		}
	case errors.Is(err, txauth.ErrNotFound):
		p = errNotFound()
	case errors.Is(err, txauth.ErrNoPolicy):
		p = newProblem(http.StatusConflict, "txauth-no-policy", "No transaction-authentication policy", "This tenant has no policy; an administrator must set one.")
	case errors.Is(err, txauth.ErrToken):
		p = errUnauthorized("The confirmation link is invalid.")
	case errors.Is(err, txauth.ErrLocked):
		p = newProblem(http.StatusLocked, "txauth-locked", "Locked", "The image card, face re-authentication or the account is locked; the customer must contact the bank.")
	case errors.Is(err, txauth.ErrReplay):
		p = newProblem(http.StatusConflict, "txauth-replay", "Already answered", "This challenge was already answered; ask for the current one.")
	case errors.Is(err, txauth.ErrExpired):
		p = newProblem(http.StatusGone, "txauth-expired", "Expired", "The confirmation or the challenge has expired.")
	case errors.Is(err, txauth.ErrDeviceSignature):
		p = newProblem(http.StatusUnprocessableEntity, "txauth-device-signature", "Device signature refused", "The device's signature does not verify for this confirmation and decision.")
	case errors.As(err, &fe):
		p = newProblem(http.StatusUnprocessableEntity, "txauth-face", "Face re-authentication refused", "The live selfie did not pass; start again.")
		for _, r := range fe.Reasons {
			p.Errors = append(p.Errors, FieldError{Field: "reason", Detail: r})
		}
		p.Errors = append(p.Errors, FieldError{Field: "attempts_left", Detail: strconv.Itoa(fe.AttemptsLeft)})
		if fe.Locked {
			p.Errors = append(p.Errors, FieldError{Field: "locked", Detail: "true"})
		}
	case errors.Is(err, txauth.ErrBusy):
		p = errUnavailable("The face engine is busy; retry shortly.", 2)
	case errors.Is(err, txauth.ErrJPKI):
		p = newProblem(http.StatusUnprocessableEntity, "txauth-jpki", "JPKI signature refused", "The card's signature failed a check or is not this customer's card.")
	case errors.Is(err, ekyc.ErrJPKIUnavailable):
		p = errUnavailable("The certificate's revocation status cannot be established now; retry later.", 30)
	case errors.Is(err, txauth.ErrPasskey):
		p = newProblem(http.StatusUnprocessableEntity, "txauth-passkey", "Passkey refused", "The passkey response does not verify for this confirmation.")
	case errors.Is(err, txauth.ErrFactor):
		p = newProblem(http.StatusConflict, "txauth-factor", "Factor not available", "A required factor is not available for this customer, or was refused.")
	case errors.Is(err, txauth.ErrState):
		p = newProblem(http.StatusConflict, "txauth-state", "Wrong state", "The object's state does not allow this operation.")
	case errors.Is(err, txauth.ErrShredded):
		p = newProblem(http.StatusGone, "txauth-erased", "Erased", "The customer's data was erased.")
	case errors.Is(err, txauth.ErrForbidden):
		p = errForbidden("The reviewer or admin role is required, and a second person must approve.")
	case errors.Is(err, txauth.ErrInvalidTransaction), errors.Is(err, txauth.ErrInvalidInput), errors.Is(err, txauth.ErrInvalidPolicy):
		p = errBadRequest("A field is missing or invalid.")
		p.Errors = []FieldError{{Field: "body", Detail: sanitize(err.Error())}}
	default:
		return err
	}
	return p.withCause(err)
}

func txActor(r *http.Request) (Principal, txauth.Actor) {
	p, _ := PrincipalFrom(r.Context())
	return p, txauth.Actor{Kind: audit.ActorClient, ID: p.ClientID, RequestID: RequestID(r.Context())}
}

type confirmationJSON struct {
	ID         string            `json:"id"`
	Kind       txauth.Kind       `json:"kind"`
	Customer   string            `json:"customer"`
	Reference  string            `json:"reference,omitempty"`
	State      txauth.State      `json:"state"`
	Held       bool              `json:"held"`
	Required   []txauth.Factor   `json:"required"`
	Satisfied  []txauth.Factor   `json:"satisfied"`
	Assessment txauth.Assessment `json:"assessment"`
	Hash       string            `json:"transaction_hash"`
	CreatedAt  time.Time         `json:"created_at"`
	ExpiresAt  time.Time         `json:"expires_at"`
	DecidedAt  *time.Time        `json:"decided_at,omitempty"`
	ConfirmURL string            `json:"confirm_url,omitempty"`
	Result     string            `json:"result,omitempty"`
}

func toConfirmationJSON(c *txauth.Confirmation) confirmationJSON {
	j := confirmationJSON{ID: c.ID, Kind: c.Kind, Customer: c.CustomerID, Reference: c.Reference, State: c.State, Held: c.Held,
		Required: c.Required, Satisfied: c.Satisfied, Assessment: c.Assessment, Hash: b64url(c.TxHash[:]),
		CreatedAt: c.CreatedAt, ExpiresAt: c.ExpiresAt, Result: c.Result}
	if !c.DecidedAt.IsZero() {
		t := c.DecidedAt
		j.DecidedAt = &t
	}
	return j
}

func (s *Server) txCreate(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Customer    string                `json:"customer"`
		Reference   string                `json:"reference"`
		Transaction txauth.Transaction    `json:"transaction"`
		Network     string                `json:"network"`
		Signals     txauth.RequestSignals `json:"signals"`
		Webhook     string                `json:"webhook"`
	}
	if err := decodeJSON(w, r, DefaultMaxBody, &in); err != nil {
		return err
	}
	p, a := txActor(r)
	c, err := s.cfg.TxAuth.Service.Create(r.Context(), a, p.TenantID, txauth.Request{Customer: in.Customer, Reference: in.Reference,
		Transaction: in.Transaction, Network: in.Network, Signals: in.Signals, Webhook: in.Webhook})
	if err != nil {
		return txauthProblem(err)
	}
	j := toConfirmationJSON(c.Confirmation)
	j.ConfirmURL = c.ConfirmURL
	writeJSON(w, http.StatusCreated, j)
	return nil
}

func (s *Server) txGet(w http.ResponseWriter, r *http.Request) error {
	p, _ := txActor(r)
	c, err := s.cfg.TxAuth.Service.Get(r.Context(), p.TenantID, r.PathValue("id"))
	if err != nil {
		return txauthProblem(err)
	}
	writeJSON(w, http.StatusOK, toConfirmationJSON(c))
	return nil
}

func (s *Server) txResult(w http.ResponseWriter, r *http.Request) error {
	p, a := txActor(r)
	jws, err := s.cfg.TxAuth.Service.Result(r.Context(), a, p.TenantID, r.PathValue("id"))
	if err != nil {
		return txauthProblem(err)
	}
	w.Header().Set("Content-Type", "application/jwt")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(jws))
	return nil
}

func (s *Server) txCancel(w http.ResponseWriter, r *http.Request) error {
	p, a := txActor(r)
	c, err := s.cfg.TxAuth.Service.Cancel(r.Context(), a, p.TenantID, r.PathValue("id"))
	if err != nil {
		return txauthProblem(err)
	}
	writeJSON(w, http.StatusOK, toConfirmationJSON(c))
	return nil
}

func (s *Server) txLegacy(w http.ResponseWriter, r *http.Request) error {
	p, a := txActor(r)
	c, err := s.cfg.TxAuth.Service.ReportLegacy(r.Context(), a, p.TenantID, r.PathValue("id"))
	if err != nil {
		return txauthProblem(err)
	}
	writeJSON(w, http.StatusOK, toConfirmationJSON(c))
	return nil
}

func (s *Server) txGetPolicy(w http.ResponseWriter, r *http.Request) error {
	p, _ := txActor(r)
	pol, ver, err := s.cfg.TxAuth.Service.Policy(r.Context(), p.TenantID)
	if err != nil {
		return txauthProblem(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"version": ver, "policy": pol})
	return nil
}

func (s *Server) txPutPolicy(w http.ResponseWriter, r *http.Request) error {
	var pol txauth.Policy
	if err := decodeJSON(w, r, txauth.MaxPolicyBytes, &pol); err != nil {
		return err
	}
	p, a := txActor(r)
	ver, err := s.cfg.TxAuth.Service.SetPolicy(r.Context(), a, p.TenantID, pol)
	if err != nil {
		return txauthProblem(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"version": ver})
	return nil
}

type cardJSON struct {
	ID         string            `json:"id"`
	Customer   string            `json:"customer"`
	Serial     string            `json:"serial"`
	State      txauth.CardState  `json:"state"`
	Candidates int               `json:"candidates"`
	Failures   int               `json:"failures"`
	Locked     bool              `json:"locked"`
	Uses       int               `json:"uses"`
	Tracking   string            `json:"tracking,omitempty"`
	Replaces   string            `json:"replaces,omitempty"`
	Times      map[string]string `json:"times"`
}

func toCardJSON(c *txauth.Card) cardJSON {
	j := cardJSON{ID: c.ID, Customer: c.CustomerID, Serial: c.Serial, State: c.State, Candidates: c.Candidates, Failures: c.Failures,
		Locked: c.Locked(), Uses: c.Uses, Tracking: c.Tracking, Replaces: c.Replaces, Times: map[string]string{}}
	for k, t := range map[string]time.Time{"issued_at": c.IssuedAt, "printed_at": c.PrintedAt, "mailed_at": c.MailedAt,
		"delivered_at": c.DeliveredAt, "activated_at": c.ActivatedAt, "ended_at": c.EndedAt, "locked_at": c.LockedAt} {
		if !t.IsZero() {
			j.Times[k] = t.Format(time.RFC3339Nano)
		}
	}
	return j
}

func (s *Server) txIssueCard(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Customer string `json:"customer"`
	}
	if err := decodeJSON(w, r, DefaultMaxBody, &in); err != nil {
		return err
	}
	p, a := txActor(r)
	c, err := s.cfg.TxAuth.Service.IssueCard(r.Context(), a, p.TenantID, in.Customer)
	if err != nil {
		return txauthProblem(err)
	}
	writeJSON(w, http.StatusCreated, toCardJSON(c))
	return nil
}

func (s *Server) txCard(w http.ResponseWriter, r *http.Request) error {
	p, _ := txActor(r)
	c, err := s.cfg.TxAuth.Service.Card(r.Context(), p.TenantID, r.PathValue("id"))
	if err != nil {
		return txauthProblem(err)
	}
	writeJSON(w, http.StatusOK, toCardJSON(c))
	return nil
}

func (s *Server) txPrintCard(w http.ResponseWriter, r *http.Request) error {
	p, a := txActor(r)
	pdf, err := s.cfg.TxAuth.Service.PrintCard(r.Context(), a, p.TenantID, r.PathValue("id"))
	if err != nil {
		return txauthProblem(err)
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", `attachment; filename="card.pdf"`)
	_, _ = w.Write(pdf)
	return nil
}

func (s *Server) txMailed(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Tracking string `json:"tracking"`
	}
	if err := decodeJSON(w, r, DefaultMaxBody, &in); err != nil {
		return err
	}
	p, a := txActor(r)
	c, err := s.cfg.TxAuth.Service.MarkMailed(r.Context(), a, p.TenantID, r.PathValue("id"), in.Tracking)
	if err != nil {
		return txauthProblem(err)
	}
	writeJSON(w, http.StatusOK, toCardJSON(c))
	return nil
}

func (s *Server) txDelivered(w http.ResponseWriter, r *http.Request) error {
	p, a := txActor(r)
	c, err := s.cfg.TxAuth.Service.MarkDelivered(r.Context(), a, p.TenantID, r.PathValue("id"))
	if err != nil {
		return txauthProblem(err)
	}
	writeJSON(w, http.StatusOK, toCardJSON(c))
	return nil
}

func (s *Server) txRevoke(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := decodeJSON(w, r, DefaultMaxBody, &in); err != nil {
		return err
	}
	p, a := txActor(r)
	c, err := s.cfg.TxAuth.Service.RevokeCard(r.Context(), a, p.TenantID, r.PathValue("id"), in.Reason)
	if err != nil {
		return txauthProblem(err)
	}
	writeJSON(w, http.StatusOK, toCardJSON(c))
	return nil
}

func (s *Server) txActivation(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Webhook string `json:"webhook"`
	}
	if err := decodeJSON(w, r, DefaultMaxBody, &in); err != nil {
		return err
	}
	p, a := txActor(r)
	c, err := s.cfg.TxAuth.Service.CreateActivation(r.Context(), a, p.TenantID, r.PathValue("id"), in.Webhook)
	if err != nil {
		return txauthProblem(err)
	}
	j := toConfirmationJSON(c.Confirmation)
	j.ConfirmURL = c.ConfirmURL
	writeJSON(w, http.StatusCreated, j)
	return nil
}

// The confirmation page's API.

func (s *Server) pageToken(r *http.Request) (string, error) {
	if err := s.captureLimit(r); err != nil {
		return "", err
	}
	return captureCred(r, "Confirm")
}

func (s *Server) txPage(w http.ResponseWriter, r *http.Request) error {
	tok, err := s.pageToken(r)
	if err != nil {
		return err
	}
	v, err := s.cfg.TxAuth.Service.Page(r.Context(), tok)
	if err != nil {
		return txauthProblem(err)
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) txCandidate(w http.ResponseWriter, r *http.Request) error {
	tok, err := s.pageToken(r)
	if err != nil {
		return err
	}
	img, err := s.cfg.TxAuth.Service.CandidateImage(r.Context(), tok, r.PathValue("challenge"), r.PathValue("candidate"))
	if err != nil {
		return txauthProblem(err)
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(img)
	return nil
}

func (s *Server) txAnswer(w http.ResponseWriter, r *http.Request) error {
	tok, err := s.pageToken(r)
	if err != nil {
		return err
	}
	var in struct {
		Challenge string    `json:"challenge"`
		Picks     [2]string `json:"picks"`
	}
	if err := decodeJSON(w, r, 4<<10, &in); err != nil {
		return err
	}
	v, err := s.cfg.TxAuth.Service.Answer(r.Context(), tok, in.Challenge, in.Picks)
	if err != nil {
		return txauthProblem(err)
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) txMismatch(w http.ResponseWriter, r *http.Request) error {
	tok, err := s.pageToken(r)
	if err != nil {
		return err
	}
	v, err := s.cfg.TxAuth.Service.Mismatch(r.Context(), tok)
	if err != nil {
		return txauthProblem(err)
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// Monitoring staff.

func (s *Server) txStaffed(h func(http.ResponseWriter, *http.Request, txauth.Staff) error) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		tok, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer`)
			return errUnauthorized("Send a staff session token: Authorization: Bearer <token>.")
		}
		st, err := s.cfg.TxAuth.Staff(r.Context(), tok)
		if err != nil {
			if errors.Is(err, ErrInvalidToken) {
				return errUnauthorized("The staff session is invalid or expired.").withCause(err)
			}
			return err
		}
		if ok, wait := s.limit.allow("staff:" + st.ID); !ok {
			return tooMany(wait)
		}
		st.RequestID = RequestID(r.Context())
		return txauthProblem(h(w, r, st))
	}
}

func (s *Server) txAlerts(w http.ResponseWriter, r *http.Request, st txauth.Staff) error {
	state := r.URL.Query().Get("state")
	if state == "" {
		state = "open"
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	list, err := s.cfg.TxAuth.Service.ListAlerts(r.Context(), st, state, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": list})
	return nil
}

func (s *Server) txCloseAlert(w http.ResponseWriter, r *http.Request, st txauth.Staff) error {
	var in struct {
		Resolution string `json:"resolution"`
	}
	if err := decodeJSON(w, r, DefaultMaxBody, &in); err != nil {
		return err
	}
	if err := s.cfg.TxAuth.Service.CloseAlert(r.Context(), st, r.PathValue("id"), in.Resolution); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"state": "closed"})
	return nil
}

func (s *Server) txCallback(w http.ResponseWriter, r *http.Request, st txauth.Staff) error {
	var in struct {
		Outcome string `json:"outcome"`
		Note    string `json:"note"`
	}
	if err := decodeJSON(w, r, DefaultMaxBody, &in); err != nil {
		return err
	}
	id, err := s.cfg.TxAuth.Service.RecordCallback(r.Context(), st, r.PathValue("id"), in.Outcome, in.Note)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": id})
	return nil
}

func (s *Server) txHoldAction(w http.ResponseWriter, r *http.Request, st txauth.Staff) error {
	var (
		c   *txauth.Confirmation
		err error
	)
	switch r.PathValue("action") {
	case "hold":
		c, err = s.cfg.TxAuth.Service.Hold(r.Context(), st, r.PathValue("id"))
	case "release":
		c, err = s.cfg.TxAuth.Service.Release(r.Context(), st, r.PathValue("id"))
	case "reject":
		c, err = s.cfg.TxAuth.Service.RejectHeld(r.Context(), st, r.PathValue("id"))
	default:
		return errNotFound()
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toConfirmationJSON(c))
	return nil
}

func (s *Server) txAccountAction(w http.ResponseWriter, r *http.Request, st txauth.Staff) error {
	var in struct {
		Tenant string `json:"tenant"`
	}
	if err := decodeJSON(w, r, DefaultMaxBody, &in); err != nil {
		return err
	}
	var err error
	switch r.PathValue("action") {
	case "lock":
		err = s.cfg.TxAuth.Service.LockAccount(r.Context(), st, in.Tenant, r.PathValue("id"))
	case "unlock":
		err = s.cfg.TxAuth.Service.UnlockAccount(r.Context(), st, in.Tenant, r.PathValue("id"))
	default:
		return errNotFound()
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"account": r.PathValue("action") + "ed"})
	return nil
}

func (s *Server) txRequestUnlock(w http.ResponseWriter, r *http.Request, st txauth.Staff) error {
	return s.txFileUnlock(w, r, st, s.cfg.TxAuth.Service.RequestUnlock)
}

func (s *Server) txRequestFaceUnlock(w http.ResponseWriter, r *http.Request, st txauth.Staff) error {
	return s.txFileUnlock(w, r, st, s.cfg.TxAuth.Service.RequestFaceUnlock)
}

// txFileUnlock files a dual-control unlock of the locked object in the
// path (a card, or a customer's face re-authentication).
func (s *Server) txFileUnlock(w http.ResponseWriter, r *http.Request, st txauth.Staff,
	file func(ctx context.Context, st txauth.Staff, tenant, object, session string) (*txauth.Unlock, error)) error {
	var in struct {
		Tenant         string `json:"tenant"`
		Reverification string `json:"reverification_session"`
	}
	if err := decodeJSON(w, r, DefaultMaxBody, &in); err != nil {
		return err
	}
	u, err := file(r.Context(), st, in.Tenant, r.PathValue("id"), in.Reverification)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, u)
	return nil
}

func (s *Server) txUnlocks(w http.ResponseWriter, r *http.Request, st txauth.Staff) error {
	state := r.URL.Query().Get("state")
	if state == "" {
		state = "pending"
	}
	us, err := s.cfg.TxAuth.Service.Unlocks(r.Context(), st, state)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"unlock_requests": us})
	return nil
}

func (s *Server) txLocks(w http.ResponseWriter, r *http.Request, st txauth.Staff) error {
	ls, err := s.cfg.TxAuth.Service.Locks(r.Context(), st)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"locks": ls})
	return nil
}

func (s *Server) txCallbacks(w http.ResponseWriter, r *http.Request, st txauth.Staff) error {
	cs, err := s.cfg.TxAuth.Service.Callbacks(r.Context(), st)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"callbacks": cs})
	return nil
}

func (s *Server) txApproveUnlock(w http.ResponseWriter, r *http.Request, st txauth.Staff) error {
	u, err := s.cfg.TxAuth.Service.ApproveUnlock(r.Context(), st, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (s *Server) txPasskeyRegistration(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Customer string `json:"customer"`
		Webhook  string `json:"webhook"`
	}
	if err := decodeJSON(w, r, DefaultMaxBody, &in); err != nil {
		return err
	}
	p, a := txActor(r)
	c, err := s.cfg.TxAuth.Service.CreatePasskeyRegistration(r.Context(), a, p.TenantID, in.Customer, in.Webhook)
	if err != nil {
		return txauthProblem(err)
	}
	j := toConfirmationJSON(c.Confirmation)
	j.ConfirmURL = c.ConfirmURL
	writeJSON(w, http.StatusCreated, j)
	return nil
}

func (s *Server) txPasskeyBegin(w http.ResponseWriter, r *http.Request) error {
	tok, err := s.pageToken(r)
	if err != nil {
		return err
	}
	opts, err := s.cfg.TxAuth.Service.PasskeyBegin(r.Context(), tok)
	if err != nil {
		return txauthProblem(err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(opts)
	return nil
}

func (s *Server) txPasskeyFinish(w http.ResponseWriter, r *http.Request) error {
	tok, err := s.pageToken(r)
	if err != nil {
		return err
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		return newProblem(http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type", "Send the body as application/json.")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, txauth.MaxWebAuthnResponse))
	if err != nil {
		return newProblem(http.StatusRequestEntityTooLarge, "too-large", "Request body too large", "The credential response is too large.")
	}
	v, err := s.cfg.TxAuth.Service.PasskeyFinish(r.Context(), tok, body)
	if err != nil {
		return txauthProblem(err)
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) txRegisterDevice(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Customer  string `json:"customer"`
		Name      string `json:"name"`
		PublicKey []byte `json:"public_key"` // base64 DER SubjectPublicKeyInfo (P-256)
	}
	if err := decodeJSON(w, r, DefaultMaxBody, &in); err != nil {
		return err
	}
	p, a := txActor(r)
	d, err := s.cfg.TxAuth.Service.RegisterDevice(r.Context(), a, p.TenantID, in.Customer, in.Name, in.PublicKey)
	if err != nil {
		return txauthProblem(err)
	}
	writeJSON(w, http.StatusCreated, map[string]any{"device": d.Device, "token": d.Token})
	return nil
}

func (s *Server) txRevokeDevice(w http.ResponseWriter, r *http.Request) error {
	p, a := txActor(r)
	if err := s.cfg.TxAuth.Service.RevokeDevice(r.Context(), a, p.TenantID, r.PathValue("id")); err != nil {
		return txauthProblem(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) txDevicePending(w http.ResponseWriter, r *http.Request) error {
	if err := s.captureLimit(r); err != nil {
		return err
	}
	tok, err := captureCred(r, "Device")
	if err != nil {
		return err
	}
	list, err := s.cfg.TxAuth.Service.DevicePending(r.Context(), tok)
	if err != nil {
		return txauthProblem(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"pending": list})
	return nil
}

// txDeviceQR is the code the confirmation page shows for the registered
// device to scan, as a PNG (QR level M, credential.RenderQR); its expiry
// is in Expires-At (RFC 3339).
func (s *Server) txDeviceQR(w http.ResponseWriter, r *http.Request) error {
	tok, err := s.pageToken(r)
	if err != nil {
		return err
	}
	code, exp, err := s.cfg.TxAuth.Service.DeviceQR(r.Context(), tok)
	if err != nil {
		return txauthProblem(err)
	}
	q, err := credential.RenderQR(code)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Expires-At", exp.UTC().Format(time.RFC3339))
	_, _ = w.Write(q.PNG)
	return nil
}

// txDeviceScan: the registered device's app scanned the page's code.
func (s *Server) txDeviceScan(w http.ResponseWriter, r *http.Request) error {
	if err := s.captureLimit(r); err != nil {
		return err
	}
	tok, err := captureCred(r, "Device")
	if err != nil {
		return err
	}
	var in struct {
		Code string `json:"code"`
	}
	if err := decodeJSON(w, r, DefaultMaxBody, &in); err != nil {
		return err
	}
	p, err := s.cfg.TxAuth.Service.DeviceScan(r.Context(), tok, in.Code)
	if err != nil {
		return txauthProblem(err)
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) txDeviceDecide(w http.ResponseWriter, r *http.Request) error {
	if err := s.captureLimit(r); err != nil {
		return err
	}
	tok, err := captureCred(r, "Device")
	if err != nil {
		return err
	}
	var in struct {
		Decision  string `json:"decision"`
		Signature []byte `json:"signature"` // base64 DER ECDSA
	}
	if err := decodeJSON(w, r, 4<<10, &in); err != nil {
		return err
	}
	c, err := s.cfg.TxAuth.Service.DeviceDecide(r.Context(), tok, r.PathValue("id"), in.Decision, in.Signature)
	if err != nil {
		return txauthProblem(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": c.ID, "state": c.State, "satisfied": c.Satisfied})
	return nil
}

func (s *Server) txJPKIChallenge(w http.ResponseWriter, r *http.Request) error {
	tok, err := s.pageToken(r)
	if err != nil {
		return err
	}
	var in struct {
		Usage string `json:"usage"`
	}
	if err := decodeJSON(w, r, 4<<10, &in); err != nil {
		return err
	}
	v, err := s.cfg.TxAuth.Service.JPKIChallenge(r.Context(), tok, in.Usage)
	if err != nil {
		return txauthProblem(err)
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) txJPKISignature(w http.ResponseWriter, r *http.Request) error {
	tok, err := s.pageToken(r)
	if err != nil {
		return err
	}
	var in struct {
		Challenge     string   `json:"challenge"`
		Form          string   `json:"form"`
		Signature     []byte   `json:"signature"`
		Certificate   []byte   `json:"certificate"`
		Intermediates [][]byte `json:"intermediates"`
	}
	if err := decodeJSON(w, r, 96<<10, &in); err != nil {
		return err
	}
	if len(in.Signature) == 0 || len(in.Signature) > ekyc.MaxJPKISignature || len(in.Certificate) > ekyc.MaxJPKICertificate ||
		len(in.Intermediates) > ekyc.MaxJPKIIntermediates {
		return errBadRequest("signature, certificate or intermediates missing or over their limits.")
	}
	v, err := s.cfg.TxAuth.Service.JPKISubmit(r.Context(), tok, in.Challenge, ekyc.JPKISignature{Form: in.Form, Signature: in.Signature,
		Certificate: in.Certificate, Intermediates: in.Intermediates})
	if err != nil {
		return txauthProblem(err)
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) txEnrollFace(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Customer string `json:"customer"`
	}
	if err := decodeJSON(w, r, DefaultMaxBody, &in); err != nil {
		return err
	}
	p, a := txActor(r)
	model, err := s.cfg.TxAuth.Service.EnrollFace(r.Context(), a, p.TenantID, in.Customer)
	if err != nil {
		return txauthProblem(err)
	}
	writeJSON(w, http.StatusCreated, map[string]string{"customer": in.Customer, "model": model})
	return nil
}

func (s *Server) txFaceStart(w http.ResponseWriter, r *http.Request) error {
	tok, err := s.pageToken(r)
	if err != nil {
		return err
	}
	fc, err := s.cfg.TxAuth.Service.FaceStart(r.Context(), tok)
	if err != nil {
		return txauthProblem(err)
	}
	writeJSON(w, http.StatusOK, fc)
	return nil
}

func (s *Server) txFaceFrame(w http.ResponseWriter, r *http.Request) error {
	tok, err := s.pageToken(r)
	if err != nil {
		return err
	}
	var in struct {
		Nonce string `json:"nonce"`
		Image []byte `json:"image"` // base64 JPEG or PNG
	}
	if err := decodeJSON(w, r, maxFrameBody, &in); err != nil {
		return err
	}
	next, err := s.cfg.TxAuth.Service.FaceFrame(r.Context(), tok, in.Nonce, in.Image)
	if err != nil {
		return txauthProblem(err)
	}
	writeJSON(w, http.StatusOK, map[string]string{"next_nonce": next})
	return nil
}

func (s *Server) txFaceSubmit(w http.ResponseWriter, r *http.Request) error {
	tok, err := s.pageToken(r)
	if err != nil {
		return err
	}
	v, err := s.cfg.TxAuth.Service.FaceSubmit(r.Context(), tok)
	if err != nil {
		return txauthProblem(err)
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}
