package web

// JPKI routes (method ワ and re-authentication). Registered by ekycRoutes
// when the eKYC service also implements EKYCJPKIService:
//
//   - Capture page or phone app ("Authorization: Capture-Key <key>"):
//     POST /v1/ekyc/capture/jpki/challenges issues the bytes to sign,
//     POST /v1/ekyc/capture/jpki/signature returns the signature(s).
//   - Kiosk (scope ekyc:device): the same under
//     /v1/ekyc/sessions/{id}/jpki/{challenges,signature}.
//   - Tenant (scope ekyc:sessions): POST /v1/ekyc/jpki/reauth/challenges,
//     then POST /v1/ekyc/jpki/reauth with a user-authentication signature:
//     200 with the linked session, 404 when the card is linked to none.
//
// Binary fields are standard base64. The capture page and the kiosk learn
// only the session's state and outcome, never the claims.

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/madoguchi/madoguchi/ekyc"
)

// EKYCJPKIService is what the JPKI handlers need from *ekyc.Service.
type EKYCJPKIService interface {
	JPKIChallenges(ctx context.Context, key string) ([]ekyc.JPKIChallenge, error)
	JPKIChallengesForDevice(ctx context.Context, a ekyc.Actor, tenant, id string) ([]ekyc.JPKIChallenge, error)
	SubmitJPKI(ctx context.Context, key string, sub ekyc.JPKISubmission) (*ekyc.Session, error)
	SubmitJPKIFromDevice(ctx context.Context, a ekyc.Actor, tenant, id string, sub ekyc.JPKISubmission) (*ekyc.Session, error)
	ReauthChallenge(ctx context.Context, a ekyc.Actor, tenant string) (*ekyc.JPKIChallenge, error)
	Reauthenticate(ctx context.Context, a ekyc.Actor, tenant, challengeID string, sig ekyc.JPKISignature) (*ekyc.Reauth, error)
}

var _ EKYCJPKIService = (*ekyc.Service)(nil)

// maxJPKIBody bounds a signature request: base64 of a CMS
// (ekyc.MaxJPKISignature), certificates and an optional second signature.
const maxJPKIBody = 192 << 10

func (s *Server) ekycJPKIRoutes() {
	js, ok := s.cfg.EKYC.Service.(EKYCJPKIService)
	if !ok {
		return
	}
	h := &jpkiHandlers{svc: js, s: s}
	s.mux.Handle("POST /v1/ekyc/capture/jpki/challenges", s.handle(h.captureChallenges))
	s.mux.Handle("POST /v1/ekyc/capture/jpki/signature", s.handle(h.captureSignature))
	if s.cfg.Auth != nil {
		s.mux.Handle("POST /v1/ekyc/sessions/{id}/jpki/challenges", s.authed(ScopeEKYCDevice, h.deviceChallenges))
		s.mux.Handle("POST /v1/ekyc/sessions/{id}/jpki/signature", s.authed(ScopeEKYCDevice, h.deviceSignature))
		s.mux.Handle("POST /v1/ekyc/jpki/reauth/challenges", s.authed(ScopeEKYCSessions, h.reauthChallenge))
		s.mux.Handle("POST /v1/ekyc/jpki/reauth", s.authed(ScopeEKYCSessions, h.reauth))
	}
}

type jpkiHandlers struct {
	svc EKYCJPKIService
	s   *Server
}

// jpkiProblem maps the JPKI errors, then the other eKYC errors.
func jpkiProblem(err error) error {
	var je *ekyc.JPKIError
	switch {
	case errors.As(err, &je):
		p := newProblem(http.StatusUnprocessableEntity, "ekyc-jpki-rejected", "JPKI signature rejected",
			"The signature or certificate failed a check: "+je.Code+".")
		p.Errors = []FieldError{{Field: "signature", Detail: je.Code}}
		return p.withCause(err)
	case errors.Is(err, ekyc.ErrJPKIUnavailable):
		return errUnavailable("The certificate's revocation status is unavailable; retry shortly.", 30).withCause(err)
	case errors.Is(err, ekyc.ErrJPKIDisabled):
		return newProblem(http.StatusUnprocessableEntity, "ekyc-jpki-disabled", "JPKI disabled",
			"Method wa needs JPKI trust anchors and a revocation provider (CRL or OCSP), which this server does not have.").withCause(err)
	}
	return ekycProblem(err)
}

type challengeJSON struct {
	ID        string    `json:"id"`
	Purpose   string    `json:"purpose"`
	Challenge string    `json:"challenge"` // standard base64 of the DER bytes to sign
	ExpiresAt time.Time `json:"expires_at"`
}

func challengesJSON(chs []ekyc.JPKIChallenge) map[string]any {
	out := make([]challengeJSON, len(chs))
	for i, c := range chs {
		out[i] = challengeJSON{ID: c.ID, Purpose: c.Purpose, Challenge: base64.StdEncoding.EncodeToString(c.Bytes), ExpiresAt: c.ExpiresAt}
	}
	return map[string]any{"challenges": out}
}

// signatureJSON is one signature from a card's client.
type signatureJSON struct {
	Form          string   `json:"form"` // "raw", "cms" or "" (detected)
	Signature     string   `json:"signature"`
	Certificate   string   `json:"certificate"`
	Intermediates []string `json:"intermediates"`
	Challenge     string   `json:"challenge"` // optional echo of the signed bytes
}

func (j *signatureJSON) decode(field string) (ekyc.JPKISignature, error) {
	bad := func(f string) error {
		p := errBadRequest("A field is not standard base64.")
		p.Errors = []FieldError{{Field: field + "." + f, Detail: "must be standard base64"}}
		return p
	}
	var (
		out ekyc.JPKISignature
		err error
	)
	out.Form = j.Form
	if out.Signature, err = base64.StdEncoding.DecodeString(j.Signature); err != nil {
		return out, bad("signature")
	}
	if out.Certificate, err = base64.StdEncoding.DecodeString(j.Certificate); err != nil {
		return out, bad("certificate")
	}
	if len(j.Intermediates) > ekyc.MaxJPKIIntermediates {
		return out, jpkiProblem(ekyc.ErrTooLarge)
	}
	for _, s := range j.Intermediates {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return out, bad("intermediates")
		}
		out.Intermediates = append(out.Intermediates, b)
	}
	if j.Challenge != "" {
		if out.Challenge, err = base64.StdEncoding.DecodeString(j.Challenge); err != nil {
			return out, bad("challenge")
		}
	}
	return out, nil
}

type submissionJSON struct {
	Sign *signatureJSON `json:"sign"`
	Auth *signatureJSON `json:"auth"`
}

func decodeSubmission(w http.ResponseWriter, r *http.Request) (ekyc.JPKISubmission, error) {
	var in submissionJSON
	var sub ekyc.JPKISubmission
	if err := decodeJSON(w, r, maxJPKIBody, &in); err != nil {
		return sub, err
	}
	if in.Sign == nil {
		p := errBadRequest("A field is missing or invalid.")
		p.Errors = []FieldError{{Field: "sign", Detail: "the signing-key signature is required"}}
		return sub, p
	}
	var err error
	if sub.Sign, err = in.Sign.decode("sign"); err != nil {
		return sub, err
	}
	if in.Auth != nil {
		a, err := in.Auth.decode("auth")
		if err != nil {
			return sub, err
		}
		sub.Auth = &a
	}
	return sub, nil
}

func stateJSON(ss *ekyc.Session) map[string]any {
	return map[string]any{"state": ss.State, "outcome": ss.Outcome}
}

func (h *jpkiHandlers) captureChallenges(w http.ResponseWriter, r *http.Request) error {
	if err := h.s.captureLimit(r); err != nil {
		return err
	}
	key, err := captureCred(r, "Capture-Key")
	if err != nil {
		return err
	}
	chs, err := h.svc.JPKIChallenges(r.Context(), key)
	if err != nil {
		return jpkiProblem(err)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, challengesJSON(chs))
	return nil
}

func (h *jpkiHandlers) captureSignature(w http.ResponseWriter, r *http.Request) error {
	if err := h.s.captureLimit(r); err != nil {
		return err
	}
	key, err := captureCred(r, "Capture-Key")
	if err != nil {
		return err
	}
	sub, err := decodeSubmission(w, r)
	if err != nil {
		return err
	}
	ss, err := h.svc.SubmitJPKI(r.Context(), key, sub)
	if err != nil {
		return jpkiProblem(err)
	}
	// The page learns the state only; reasons and claims go to the tenant.
	writeJSON(w, http.StatusOK, map[string]any{"state": ss.State})
	return nil
}

func (h *jpkiHandlers) deviceChallenges(w http.ResponseWriter, r *http.Request) error {
	p, a := clientActor(r)
	chs, err := h.svc.JPKIChallengesForDevice(r.Context(), a, p.TenantID, r.PathValue("id"))
	if err != nil {
		return jpkiProblem(err)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, challengesJSON(chs))
	return nil
}

func (h *jpkiHandlers) deviceSignature(w http.ResponseWriter, r *http.Request) error {
	sub, err := decodeSubmission(w, r)
	if err != nil {
		return err
	}
	p, a := clientActor(r)
	ss, err := h.svc.SubmitJPKIFromDevice(r.Context(), a, p.TenantID, r.PathValue("id"), sub)
	if err != nil {
		return jpkiProblem(err)
	}
	writeJSON(w, http.StatusOK, stateJSON(ss))
	return nil
}

func (h *jpkiHandlers) reauthChallenge(w http.ResponseWriter, r *http.Request) error {
	p, a := clientActor(r)
	c, err := h.svc.ReauthChallenge(r.Context(), a, p.TenantID)
	if err != nil {
		return jpkiProblem(err)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, challengeJSON{ID: c.ID, Purpose: c.Purpose,
		Challenge: base64.StdEncoding.EncodeToString(c.Bytes), ExpiresAt: c.ExpiresAt})
	return nil
}

func (h *jpkiHandlers) reauth(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		ChallengeID string         `json:"challenge_id"`
		Signature   *signatureJSON `json:"signature"`
	}
	if err := decodeJSON(w, r, maxJPKIBody, &in); err != nil {
		return err
	}
	if in.Signature == nil || in.ChallengeID == "" {
		p := errBadRequest("A field is missing or invalid.")
		p.Errors = []FieldError{{Field: "body", Detail: "challenge_id and signature are required"}}
		return p
	}
	sig, err := in.Signature.decode("signature")
	if err != nil {
		return err
	}
	p, a := clientActor(r)
	res, err := h.svc.Reauthenticate(r.Context(), a, p.TenantID, in.ChallengeID, sig)
	if err != nil {
		return jpkiProblem(err)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"same_person_as": res.SessionID, "reference": res.Reference, "verified_at": res.VerifiedAt})
	return nil
}
