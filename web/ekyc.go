package web

// eKYC routes (package ekyc). Three kinds of caller:
//
//   - API clients (bearer access tokens, tenant-confined): create and read
//     sessions (scope ekyc:sessions), fetch signed results (ekyc:results),
//     and post chip files from a registered kiosk (ekyc:device).
//   - The capture page, which holds no API credentials: it redeems the
//     one-time capture token ("Authorization: Capture <token>") for a
//     capture key and then sends "Authorization: Capture-Key <key>" with
//     every frame. These routes are the exception to "every /v1 request has
//     a Principal": the capture credential confines them to one session.
//   - Staff reviewers, authenticated by EKYCConfig.Staff (the staff
//     package's session tokens), with the reviewer role and scope checked
//     again by the ekyc service: a tenant's reviewer sees that tenant's
//     sessions only, an operator reviewer only tenants whose policy has
//     operator_review (another tenant's session is 404).
//
// Errors from package ekyc are mapped to problems here (ekycProblem); the
// public text never carries personal data or internal causes.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/vault"
)

// Scopes of the eKYC API.
const (
	ScopeEKYCSessions = "ekyc:sessions"
	ScopeEKYCResults  = "ekyc:results"
	ScopeEKYCDevice   = "ekyc:device"
	// ScopeEKYCDevices registers and revokes the tenant's device keys
	// (web/ekyc_device.go): a tenant administration client's scope.
	ScopeEKYCDevices = "ekyc:devices"
)

// Body limits of the eKYC API.
const (
	maxFrameBody = 3 << 20 // one base64 frame (ekyc.MaxImageBytes) and its binding
	maxChipBody  = 3 << 20 // base64 chip files (ekyc.MaxChipBytes)
)

// EKYCService is what the handlers need from *ekyc.Service.
type EKYCService interface {
	Create(ctx context.Context, a ekyc.Actor, tenant string, r ekyc.CreateRequest) (*ekyc.Created, error)
	Get(ctx context.Context, tenant, id string) (*ekyc.Session, error)
	Cancel(ctx context.Context, a ekyc.Actor, tenant, id string) (*ekyc.Session, error)
	Close(ctx context.Context, a ekyc.Actor, tenant, id string) (*ekyc.Session, error)
	Result(ctx context.Context, a ekyc.Actor, tenant, id string) (string, error)
	ContractEnded(ctx context.Context, a ekyc.Actor, tenant, id string, endedAt time.Time) (time.Time, error)
	RecordTransaction(ctx context.Context, a ekyc.Actor, tenant, id string, tr ekyc.TransactionRecord) (string, time.Time, error)
	SubmitChipRead(ctx context.Context, a ekyc.Actor, tenant, id string, r ekyc.ChipRead) (*ekyc.ChipSummary, error)
	ChipChallenge(ctx context.Context, a ekyc.Actor, tenant, id string) ([]byte, error)
	RegisterDeviceKey(ctx context.Context, a ekyc.Actor, tenant, clientID string, der []byte) (*ekyc.DeviceKey, error)
	RevokeDeviceKey(ctx context.Context, a ekyc.Actor, tenant, id string) error
	DeviceKeys(ctx context.Context, tenant string) ([]ekyc.DeviceKey, error)
	StartCapture(ctx context.Context, token string) (*ekyc.CaptureStart, error)
	AddFrame(ctx context.Context, key string, f ekyc.Frame) (string, error)
	Submit(ctx context.Context, key string) (*ekyc.Session, error)
	ListPending(ctx context.Context, st ekyc.Staff, limit int) ([]ekyc.Pending, error)
	Claim(ctx context.Context, st ekyc.Staff, id string) (time.Time, error)
	Evidence(ctx context.Context, st ekyc.Staff, id string) (*ekyc.EvidenceView, error)
	FrameImage(ctx context.Context, st ekyc.Staff, id string, seq int) ([]byte, error)
	ChipPhoto(ctx context.Context, st ekyc.Staff, id string) ([]byte, string, error)
	Decide(ctx context.Context, st ekyc.Staff, id string, rd ekyc.ReviewDecision) (*ekyc.Session, error)
	JWKS() []byte
}

var _ EKYCService = (*ekyc.Service)(nil)

// EKYCConfig enables the eKYC routes.
type EKYCConfig struct {
	Service EKYCService
	// Staff authenticates a staff bearer token for the review API and
	// returns the staff member with their roles; nil disables review routes.
	// It returns an error wrapping ErrInvalidToken for a bad token.
	Staff func(ctx context.Context, token string) (ekyc.Staff, error)
}

// ekycRoutes registers the eKYC routes if Config.EKYC is set.
func (s *Server) ekycRoutes() {
	c := s.cfg.EKYC
	if c == nil || c.Service == nil {
		return
	}
	s.mux.Handle("GET /.well-known/jwks.json", s.handle(s.ekycJWKS))
	if s.cfg.Auth != nil {
		s.mux.Handle("POST /v1/ekyc/sessions", s.authed(ScopeEKYCSessions, s.ekycCreate))
		s.mux.Handle("GET /v1/ekyc/sessions/{id}", s.authed(ScopeEKYCSessions, s.ekycGet))
		s.mux.Handle("POST /v1/ekyc/sessions/{id}/cancel", s.authed(ScopeEKYCSessions, s.ekycCancel))
		s.mux.Handle("POST /v1/ekyc/sessions/{id}/close", s.authed(ScopeEKYCSessions, s.ekycClose))
		s.mux.Handle("POST /v1/ekyc/sessions/{id}/contract-ended", s.authed(ScopeEKYCSessions, s.ekycContractEnded))
		s.mux.Handle("POST /v1/ekyc/sessions/{id}/transactions", s.authed(ScopeEKYCSessions, s.ekycTransaction))
		s.mux.Handle("GET /v1/ekyc/sessions/{id}/result", s.authed(ScopeEKYCResults, s.ekycResult))
		s.mux.Handle("POST /v1/ekyc/sessions/{id}/chip", s.authed(ScopeEKYCDevice, s.ekycChip))
		s.ekycDeviceRoutes()
	}
	s.mux.Handle("POST /v1/ekyc/capture/start", s.handle(s.ekycCaptureStart))
	s.mux.Handle("POST /v1/ekyc/capture/frames", s.handle(s.ekycCaptureFrame))
	s.mux.Handle("POST /v1/ekyc/capture/submit", s.handle(s.ekycCaptureSubmit))
	s.ekycJPKIRoutes()
	s.captureStateRoutes()
	if c.Staff != nil {
		s.mux.Handle("GET /v1/ekyc/review/pending", s.handle(s.staffed(s.ekycPending)))
		s.mux.Handle("POST /v1/ekyc/review/{id}/claim", s.handle(s.staffed(s.ekycClaim)))
		s.mux.Handle("GET /v1/ekyc/review/{id}/evidence", s.handle(s.staffed(s.ekycEvidence)))
		s.mux.Handle("GET /v1/ekyc/review/{id}/frames/{seq}", s.handle(s.staffed(s.ekycFrame)))
		s.mux.Handle("GET /v1/ekyc/review/{id}/chip-photo", s.handle(s.staffed(s.ekycChipPhoto)))
		s.mux.Handle("POST /v1/ekyc/review/{id}/decision", s.handle(s.staffed(s.ekycDecision)))
		s.ekycRelatedRoutes()
	}
}

// ekycProblem maps package ekyc's sentinels to problems.
func ekycProblem(err error) error {
	var p *Problem
	switch {
	case err == nil:
		return nil
	case errors.As(err, &p):
		return err
	case errors.Is(err, ekyc.ErrNotFound):
		p = errNotFound()
	case errors.Is(err, ekyc.ErrNoPolicy):
		p = newProblem(http.StatusConflict, "ekyc-no-policy", "No eKYC policy", "This tenant has no eKYC policy; an administrator must set one.")
	case errors.Is(err, ekyc.ErrJPKIDisabled):
		return jpkiProblem(err)
	case errors.Is(err, ekyc.ErrMethodNotOffered):
		p = newProblem(http.StatusUnprocessableEntity, "ekyc-method-not-offered", "Method not offered", "This method is not offered by the tenant or not in force on this date.")
	case errors.Is(err, ekyc.ErrMyNumber):
		p = newProblem(http.StatusUnprocessableEntity, "ekyc-my-number", "My Number refused", "Files or fields holding the My Number must never be sent.")
	case errors.Is(err, ekyc.ErrDeviceSignature):
		p = newProblem(http.StatusUnprocessableEntity, "ekyc-device-signature", "Device signature refused",
			publicDetail(err, "ekyc: device signature refused", "The chip read needs a valid signature by this device's registered key."))
	case errors.Is(err, ekyc.ErrImage):
		p = newProblem(http.StatusUnprocessableEntity, "ekyc-image", "Image refused",
			publicDetail(err, "ekyc: image refused", "The image must be a whole JPEG or PNG."))
	case errors.Is(err, ekyc.ErrUploadedFile):
		p = newProblem(http.StatusUnprocessableEntity, "ekyc-not-captured", "Not captured live", "Frames must be captured with the camera; uploaded files are not accepted.")
	case errors.Is(err, ekyc.ErrAlreadyReceived):
		p = newProblem(http.StatusConflict, "ekyc-already-received", "Already received", "This session already received this evidence (a chip read or a JPKI signature); each is accepted once.")
	case errors.Is(err, ekyc.ErrReplay):
		p = newProblem(http.StatusConflict, "ekyc-replay", "Replayed frame", "The frame repeats an earlier one or carries a stale nonce.")
	case errors.Is(err, ekyc.ErrBinding):
		p = newProblem(http.StatusUnprocessableEntity, "ekyc-binding", "Frame not bound", "The frame's binding (MAC, nonce time window) does not match this session.")
	case errors.Is(err, ekyc.ErrToken):
		p = errUnauthorized("The capture link, hand-off link or capture key is invalid, was replaced by a newer one or was already used.")
	case errors.Is(err, vault.ErrShredded):
		p = newProblem(http.StatusGone, "ekyc-erased", "Erased", "The retention period has ended and this data was erased.")
	case errors.Is(err, ekyc.ErrExpired):
		p = newProblem(http.StatusGone, "ekyc-expired", "Expired", "The session or its capture link has expired.")
	case errors.Is(err, ekyc.ErrState), errors.Is(err, ekyc.ErrIncomplete):
		p = newProblem(http.StatusConflict, "ekyc-state", "Wrong session state", "The session's state does not allow this operation.")
	case errors.Is(err, ekyc.ErrClaimed):
		p = newProblem(http.StatusConflict, "ekyc-claimed", "Claimed", "Claim the session first; another reviewer may hold it.")
	case errors.Is(err, ekyc.ErrForbidden):
		p = errForbidden("The reviewer role is required.")
	case errors.Is(err, ekyc.ErrTooLarge):
		// The ekyc messages name the input and its limit, never a value.
		p = newProblem(http.StatusRequestEntityTooLarge, "too-large", "Too large",
			publicDetail(err, "ekyc: too large", "An input exceeds its limit."))
	case errors.Is(err, ekyc.ErrBusy):
		p = errUnavailable("The face engine is busy; retry shortly.", 2)
	case errors.Is(err, ekyc.ErrInvalidInput):
		p = errBadRequest("A field is missing or invalid.")
		// The ekyc messages name the field and rule, never a value.
		p.Errors = []FieldError{{Field: "body", Detail: publicDetail(err, "ekyc: invalid input", "invalid")}}
	default:
		return err
	}
	return p.withCause(err)
}

// publicDetail is the message package ekyc attached to sentinel (its text
// after "<sentinel>: "), which names an input and a rule and never a
// value; fallback if there is none.
func publicDetail(err error, sentinel, fallback string) string {
	msg := err.Error()
	i := strings.Index(msg, sentinel+": ")
	if i < 0 {
		return fallback
	}
	d := sanitize(msg[i+len(sentinel)+2:])
	if d == "" {
		return fallback
	}
	return strings.ToUpper(d[:1]) + d[1:] + "."
}

func clientActor(r *http.Request) (Principal, ekyc.Actor) {
	p, _ := PrincipalFrom(r.Context())
	return p, ekyc.Actor{Kind: audit.ActorClient, ID: p.ClientID, RequestID: RequestID(r.Context())}
}

type sessionJSON struct {
	ID         string         `json:"id"`
	Method     string         `json:"method"`
	MethodCode string         `json:"method_code"`
	Citation   string         `json:"citation"`
	Reference  string         `json:"reference"`
	Locale     string         `json:"locale"`
	State      ekyc.State     `json:"state"`
	Outcome    ekyc.Outcome   `json:"outcome,omitempty"`
	CreatedAt  time.Time      `json:"created_at"`
	ExpiresAt  time.Time      `json:"expires_at"`
	DecidedAt  *time.Time     `json:"decided_at,omitempty"`
	Decision   *ekyc.Decision `json:"decision,omitempty"`
	CaptureURL string         `json:"capture_url,omitempty"`
	CaptureExp *time.Time     `json:"capture_url_expires_at,omitempty"`
}

func toSessionJSON(ss *ekyc.Session) sessionJSON {
	j := sessionJSON{ID: ss.ID, Method: ss.Method.API, MethodCode: ss.Method.Code, Citation: ss.Method.Citation,
		Reference: ss.Reference, Locale: ss.Locale, State: ss.State, Outcome: ss.Outcome,
		CreatedAt: ss.CreatedAt, ExpiresAt: ss.ExpiresAt, Decision: ss.Decision}
	if !ss.DecidedAt.IsZero() {
		t := ss.DecidedAt
		j.DecidedAt = &t
	}
	return j
}

func (s *Server) ekycJWKS(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(s.cfg.EKYC.Service.JWKS())
	return nil
}

func (s *Server) ekycCreate(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Method    string `json:"method"`
		Reference string `json:"reference"`
		Webhook   string `json:"webhook"`
		Locale    string `json:"locale"`
	}
	if err := decodeJSON(w, r, DefaultMaxBody, &in); err != nil {
		return err
	}
	p, a := clientActor(r)
	c, err := s.cfg.EKYC.Service.Create(r.Context(), a, p.TenantID, ekyc.CreateRequest{
		Method: in.Method, Reference: in.Reference, Webhook: in.Webhook, Locale: in.Locale})
	if err != nil {
		return ekycProblem(err)
	}
	j := toSessionJSON(c.Session)
	j.CaptureURL, j.CaptureExp = c.CaptureURL, &c.TokenExpiresAt
	w.Header().Set("Location", "/v1/ekyc/sessions/"+c.Session.ID)
	writeJSON(w, http.StatusCreated, j)
	return nil
}

func (s *Server) ekycGet(w http.ResponseWriter, r *http.Request) error {
	p, _ := clientActor(r)
	ss, err := s.cfg.EKYC.Service.Get(r.Context(), p.TenantID, r.PathValue("id"))
	if err != nil {
		return ekycProblem(err)
	}
	writeJSON(w, http.StatusOK, toSessionJSON(ss))
	return nil
}

func (s *Server) ekycCancel(w http.ResponseWriter, r *http.Request) error {
	p, a := clientActor(r)
	ss, err := s.cfg.EKYC.Service.Cancel(r.Context(), a, p.TenantID, r.PathValue("id"))
	if err != nil {
		return ekycProblem(err)
	}
	writeJSON(w, http.StatusOK, toSessionJSON(ss))
	return nil
}

func (s *Server) ekycClose(w http.ResponseWriter, r *http.Request) error {
	p, a := clientActor(r)
	ss, err := s.cfg.EKYC.Service.Close(r.Context(), a, p.TenantID, r.PathValue("id"))
	if err != nil {
		return ekycProblem(err)
	}
	writeJSON(w, http.StatusOK, toSessionJSON(ss))
	return nil
}

func (s *Server) ekycContractEnded(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		EndedAt time.Time `json:"ended_at"`
	}
	if err := decodeJSON(w, r, DefaultMaxBody, &in); err != nil {
		return err
	}
	p, a := clientActor(r)
	until, err := s.cfg.EKYC.Service.ContractEnded(r.Context(), a, p.TenantID, r.PathValue("id"), in.EndedAt)
	if err != nil {
		return ekycProblem(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"retain_until": until})
	return nil
}

func (s *Server) ekycTransaction(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Date    time.Time      `json:"date"`
		Kind    string         `json:"kind"`
		Content map[string]any `json:"content"`
	}
	if err := decodeJSON(w, r, DefaultMaxBody, &in); err != nil {
		return err
	}
	p, a := clientActor(r)
	id, until, err := s.cfg.EKYC.Service.RecordTransaction(r.Context(), a, p.TenantID, r.PathValue("id"),
		ekyc.TransactionRecord{Date: in.Date, Kind: in.Kind, Content: in.Content})
	if err != nil {
		return ekycProblem(err)
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": id, "retain_until": until})
	return nil
}

func (s *Server) ekycResult(w http.ResponseWriter, r *http.Request) error {
	p, a := clientActor(r)
	jws, err := s.cfg.EKYC.Service.Result(r.Context(), a, p.TenantID, r.PathValue("id"))
	if err != nil {
		return ekycProblem(err)
	}
	w.Header().Set("Content-Type", "application/jwt")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(jws))
	return nil
}

func (s *Server) ekycChip(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Kind   string            `json:"kind"`
		Files  map[string]string `json:"files"` // name -> standard base64
		Device *struct {
			KeyID     string `json:"key_id"`
			Signature string `json:"signature"` // base64url
		} `json:"device_signature"`
	}
	if err := decodeJSON(w, r, maxChipBody, &in); err != nil {
		return err
	}
	files, err := ekyc.DecodeChipFiles(in.Files)
	if err != nil {
		return ekycProblem(err)
	}
	read := ekyc.ChipRead{Kind: in.Kind, Files: files}
	if in.Device != nil {
		if read.Device, err = ekyc.DecodeDeviceSignature(in.Device.KeyID, in.Device.Signature); err != nil {
			return ekycProblem(err)
		}
		if read.Device == nil {
			return ekycProblem(fmt.Errorf("%w: device_signature needs key_id and signature", ekyc.ErrDeviceSignature))
		}
	}
	p, a := clientActor(r)
	sum, err := s.cfg.EKYC.Service.SubmitChipRead(r.Context(), a, p.TenantID, r.PathValue("id"), read)
	if err != nil {
		return ekycProblem(err)
	}
	writeJSON(w, http.StatusCreated, map[string]any{"kind": sum.Kind, "verified": sum.Verified, "failed_checks": sum.Failed})
	return nil
}

// captureCred reads "Authorization: <scheme> <credential>".
func captureCred(r *http.Request, scheme string) (string, error) {
	got, cred, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(got, scheme) || cred == "" || len(cred) > 128 {
		return "", errUnauthorized("Send Authorization: " + scheme + " <credential>.")
	}
	return strings.TrimSpace(cred), nil
}

func (s *Server) captureLimit(r *http.Request) error {
	if ok, wait := s.limit.allow("capture:" + remoteHost(r)); !ok {
		return tooMany(wait)
	}
	return nil
}

func (s *Server) ekycCaptureStart(w http.ResponseWriter, r *http.Request) error {
	if err := s.captureLimit(r); err != nil {
		return err
	}
	tok, err := captureCred(r, "Capture")
	if err != nil {
		return err
	}
	st, err := s.cfg.EKYC.Service.StartCapture(ekyc.WithClientAddr(r.Context(), remoteHost(r)), tok)
	if err != nil {
		return ekycProblem(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"session_id": st.SessionID, "method": st.Method, "locale": st.Locale, "challenge": st.Challenge,
		"needs": st.Needs, "capture_key": st.Key, "frame_nonce": st.FrameNonce, "expires_at": st.ExpiresAt,
	})
	return nil
}

// frameJSON is one frame from the capture page; see ekyc.FrameMAC for the
// MAC input. captured_at is Unix milliseconds.
type frameJSON struct {
	Kind       string `json:"kind"`
	Seq        int    `json:"seq"`
	Nonce      string `json:"nonce"`
	CapturedAt int64  `json:"captured_at"`
	Source     string `json:"source"`
	Image      string `json:"image"` // standard base64 of the JPEG or PNG
	MAC        string `json:"mac"`   // base64url HMAC-SHA256
}

func (s *Server) ekycCaptureFrame(w http.ResponseWriter, r *http.Request) error {
	if err := s.captureLimit(r); err != nil {
		return err
	}
	key, err := captureCred(r, "Capture-Key")
	if err != nil {
		return err
	}
	var in frameJSON
	if err := decodeJSON(w, r, maxFrameBody, &in); err != nil {
		return err
	}
	img, err := base64.StdEncoding.DecodeString(in.Image)
	if err != nil {
		return errBadRequest("image must be standard base64.")
	}
	next, err := s.cfg.EKYC.Service.AddFrame(r.Context(), key, ekyc.Frame{
		Kind: ekyc.FrameKind(in.Kind), Seq: in.Seq, Nonce: in.Nonce, CapturedAt: time.UnixMilli(in.CapturedAt).UTC(),
		Source: in.Source, Image: img, MAC: in.MAC})
	if err != nil {
		return ekycProblem(err)
	}
	writeJSON(w, http.StatusCreated, map[string]any{"seq": in.Seq, "next_nonce": next})
	return nil
}

func (s *Server) ekycCaptureSubmit(w http.ResponseWriter, r *http.Request) error {
	if err := s.captureLimit(r); err != nil {
		return err
	}
	key, err := captureCred(r, "Capture-Key")
	if err != nil {
		return err
	}
	ss, err := s.cfg.EKYC.Service.Submit(r.Context(), key)
	if err != nil {
		return ekycProblem(err)
	}
	// The page learns only that the session was submitted or decided,
	// never the reasons (those go to the tenant).
	writeJSON(w, http.StatusOK, map[string]any{"state": ss.State})
	return nil
}

type staffHandler func(w http.ResponseWriter, r *http.Request, st ekyc.Staff) error

// staffed authenticates a staff bearer token with EKYCConfig.Staff.
func (s *Server) staffed(h staffHandler) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		tok, ok := bearer(r)
		if !ok {
			bearerChallenge(w, "", "")
			return errUnauthorized("Send a staff session token: Authorization: Bearer <token>.")
		}
		st, err := s.cfg.EKYC.Staff(r.Context(), tok)
		if err != nil {
			if errors.Is(err, ErrInvalidToken) {
				bearerChallenge(w, "invalid_token", "")
				return errUnauthorized("The staff session is invalid or expired.").withCause(err)
			}
			return err
		}
		if ok, wait := s.limit.allow("staff:" + st.ID); !ok {
			return tooMany(wait)
		}
		st.RequestID = RequestID(r.Context())
		return ekycProblem(h(w, r, st))
	}
}

func (s *Server) ekycPending(w http.ResponseWriter, r *http.Request, st ekyc.Staff) error {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	list, err := s.cfg.EKYC.Service.ListPending(r.Context(), st, limit)
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(list))
	for _, p := range list {
		m := map[string]any{"session_id": p.SessionID, "tenant_id": p.TenantID, "method": p.Method,
			"decided_at": p.DecidedAt, "due_at": p.Due, "reasons": p.Reasons, "four_eyes": p.FourEyes}
		if p.ClaimedBy != "" {
			m["claimed_by"], m["claim_expires_at"] = p.ClaimedBy, p.ClaimExpires
		}
		if p.First != nil {
			m["first_approval"] = map[string]any{"by": p.First.StaffID, "at": p.First.At, "reasons": p.First.Reasons}
		}
		out = append(out, m)
	}
	writeJSON(w, http.StatusOK, map[string]any{"pending": out})
	return nil
}

func (s *Server) ekycClaim(w http.ResponseWriter, r *http.Request, st ekyc.Staff) error {
	until, err := s.cfg.EKYC.Service.Claim(r.Context(), st, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"claim_expires_at": until})
	return nil
}

func (s *Server) ekycEvidence(w http.ResponseWriter, r *http.Request, st ekyc.Staff) error {
	v, err := s.cfg.EKYC.Service.Evidence(r.Context(), st, r.PathValue("id"))
	if err != nil {
		return err
	}
	frames := make([]map[string]any, 0, len(v.Frames))
	for _, f := range v.Frames {
		frames = append(frames, map[string]any{"seq": f.Seq, "kind": f.Kind, "sha256": f.SHA256, "captured_at": f.CapturedAt})
	}
	out := map[string]any{"session_id": v.SessionID, "method": v.Method.API,
		"citation": v.Method.Citation, "frames": frames, "chip": v.Chip, "decision": v.Decision,
		"checklist": v.Checklist, "review_reasons": ekyc.ReviewReasons()}
	if v.First != nil {
		out["first_approval"] = map[string]any{"by": v.First.StaffID, "at": v.First.At, "note": v.First.Note,
			"reasons": v.First.Reasons, "reviewed": v.FirstClaims}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) ekycFrame(w http.ResponseWriter, r *http.Request, st ekyc.Staff) error {
	seq, err := strconv.Atoi(r.PathValue("seq"))
	if err != nil || seq < 1 {
		return errNotFound()
	}
	img, err := s.cfg.EKYC.Service.FrameImage(r.Context(), st, r.PathValue("id"), seq)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", http.DetectContentType(img))
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(img)
	return nil
}

func (s *Server) ekycChipPhoto(w http.ResponseWriter, r *http.Request, st ekyc.Staff) error {
	img, format, err := s.cfg.EKYC.Service.ChipPhoto(r.Context(), st, r.PathValue("id"))
	if err != nil {
		return err
	}
	ct := "application/octet-stream"
	switch format {
	case "jpeg":
		ct = "image/jpeg"
	case "jpeg2000":
		ct = "image/jp2"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(img)
	return nil
}

func (s *Server) ekycDecision(w http.ResponseWriter, r *http.Request, st ekyc.Staff) error {
	var in struct {
		Approve   bool                         `json:"approve"`
		Note      string                       `json:"note"`
		Reasons   []string                     `json:"reasons"`
		Checklist []string                     `json:"checklist"`
		Claims    map[string]any               `json:"claims"`
		Document  *document.IDADocumentDetails `json:"document"`
	}
	if err := decodeJSON(w, r, DefaultMaxBody, &in); err != nil {
		return err
	}
	ss, err := s.cfg.EKYC.Service.Decide(r.Context(), st, r.PathValue("id"),
		ekyc.ReviewDecision{Approve: in.Approve, Note: in.Note, Reasons: in.Reasons, Checked: in.Checklist, Claims: in.Claims, Document: in.Document})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"session_id": ss.ID, "state": ss.State, "outcome": ss.Outcome})
	return nil
}
