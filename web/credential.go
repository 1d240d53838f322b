package web

// Offline face credential routes (package credential):
//
//   - API clients (scope credential:issue): issue, read, list, revoke and
//     reissue the tenant's customers' credentials. The QR code (PNG, SVG,
//     text) is returned only in the issuance answer: the server keeps no
//     copy of the credential or its template.
//   - Staff (session bearer tokens, admin role, dual control checked by
//     package credential): branch device enrolment and removal.
//   - Branch devices (no bearer: each request is a note signed by the
//     device's own key): the trust bundle and the log sync.
//   - Anyone: the issuer's public keys.

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/credential"
)

// ScopeCredentialIssue lets a client issue and revoke credentials.
const ScopeCredentialIssue = "credential:issue"

// CredentialConfig enables the credential routes.
type CredentialConfig struct {
	Service  *credential.Service
	Policies credential.Policies
	// Staff authenticates a staff bearer token (ErrInvalidToken for a bad
	// one); nil disables the device routes.
	Staff func(ctx context.Context, token string) (credential.Staff, error)
}

func (s *Server) credentialRoutes() {
	c := s.cfg.Credential
	if c == nil || c.Service == nil {
		return
	}
	if s.cfg.Auth != nil || s.cfg.OAuth != nil {
		s.mux.Handle("POST /v1/credentials", s.authed(ScopeCredentialIssue, s.crIssue))
		s.mux.Handle("GET /v1/credentials", s.authed(ScopeCredentialIssue, s.crList))
		s.mux.Handle("GET /v1/credentials/{id}", s.authed(ScopeCredentialIssue, s.crGet))
		s.mux.Handle("POST /v1/credentials/{id}/revoke", s.authed(ScopeCredentialIssue, s.crRevoke))
		s.mux.Handle("POST /v1/credentials/{id}/reissue", s.authed(ScopeCredentialIssue, s.crReissue))
	}
	s.mux.Handle("GET /v1/credential/issuer-keys", s.handle(s.crIssuerKeys))
	s.mux.Handle("POST /v1/credential/branch/bundle", s.handle(s.crBundle))
	s.mux.Handle("POST /v1/credential/branch/log", s.handle(s.crLog))
	if c.Staff != nil {
		st := func(h func(http.ResponseWriter, *http.Request, credential.Staff) error) http.Handler {
			return s.handle(s.crStaffed(h))
		}
		s.mux.Handle("GET /v1/credential/devices", st(s.crDevices))
		s.mux.Handle("POST /v1/credential/devices", st(s.crDeviceRequest))
		s.mux.Handle("POST /v1/credential/devices/{id}/{action}", st(s.crDeviceAction))
	}
}

// credentialProblem maps package credential's sentinels to problems.
func credentialProblem(err error) error {
	var p *Problem
	switch {
	case err == nil:
		return nil
	case errors.As(err, &p):
		return err
	case errors.Is(err, credential.ErrNotFound):
		p = errNotFound()
	case errors.Is(err, credential.ErrShredded):
		p = newProblem(http.StatusGone, "credential-erased", "Erased", "The customer's data was erased.")
	case errors.Is(err, credential.ErrNoTemplate):
		p = newProblem(http.StatusConflict, "credential-no-template", "No face template", "The customer's verification has no live selfie to derive a face template from.")
	case errors.Is(err, credential.ErrState):
		p = newProblem(http.StatusConflict, "credential-state", "Wrong state", "The object's state does not allow this operation.")
	case errors.Is(err, credential.ErrForbidden):
		p = errForbidden("The admin role is required, and a second person must approve.")
	case errors.Is(err, credential.ErrDeviceAuth):
		p = errUnauthorized("The branch device's signed request does not verify, is stale, or the device is not enrolled.")
	case errors.Is(err, credential.ErrDeviceLog):
		p = newProblem(http.StatusUnprocessableEntity, "credential-branch-log", "Branch log refused", "The entries do not make the tree the device's signed checkpoint commits to.")
	case errors.Is(err, credential.ErrInvalidInput):
		p = errBadRequest("A field is missing or invalid.")
		p.Errors = []FieldError{{Field: "body", Detail: sanitize(err.Error())}}
	default:
		return err
	}
	return p.withCause(err)
}

func crActor(r *http.Request) (Principal, credential.Actor) {
	p, _ := PrincipalFrom(r.Context())
	return p, credential.Actor{Kind: audit.ActorClient, ID: p.ClientID, RequestID: RequestID(r.Context())}
}

type credentialJSON struct {
	credential.Record
	State     string     `json:"state"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	QRText    string     `json:"qr_text,omitempty"`
	QRVersion int        `json:"qr_version,omitempty"`
	QRECLevel string     `json:"qr_ec_level,omitempty"`
	QRPNG     []byte     `json:"qr_png,omitempty"`
	QRSVG     string     `json:"qr_svg,omitempty"`
}

func (s *Server) toCredentialJSON(r *credential.Record) credentialJSON {
	j := credentialJSON{Record: *r, State: r.State(s.cfg.Now())}
	if !r.RevokedAt.IsZero() {
		t := r.RevokedAt
		j.RevokedAt = &t
	}
	return j
}

func (s *Server) writeIssued(w http.ResponseWriter, c *credential.Credential) {
	j := s.toCredentialJSON(&c.Record)
	j.QRText, j.QRVersion, j.QRECLevel, j.QRPNG, j.QRSVG = c.Text, c.QR.Version, "M", c.QR.PNG, string(c.QR.SVG)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, j)
}

func (s *Server) crIssue(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Customer     string `json:"customer"`
		Basis        string `json:"basis"`
		Confirmation string `json:"confirmation"`
		TTLDays      int    `json:"ttl_days"`
		Webhook      string `json:"webhook"`
	}
	if err := decodeJSON(w, r, DefaultMaxBody, &in); err != nil {
		return err
	}
	if in.TTLDays < 0 || in.TTLDays > 400 {
		return errBadRequest("ttl_days must be 1 to 400.")
	}
	p, a := crActor(r)
	c, err := s.cfg.Credential.Service.Issue(r.Context(), a, p.TenantID, credential.IssueRequest{Customer: in.Customer, Basis: in.Basis,
		Confirmation: in.Confirmation, TTL: time.Duration(in.TTLDays) * 24 * time.Hour, Webhook: in.Webhook})
	if err != nil {
		return credentialProblem(err)
	}
	s.writeIssued(w, c)
	return nil
}

func (s *Server) crGet(w http.ResponseWriter, r *http.Request) error {
	p, _ := crActor(r)
	c, err := s.cfg.Credential.Service.Get(r.Context(), p.TenantID, r.PathValue("id"))
	if err != nil {
		return credentialProblem(err)
	}
	writeJSON(w, http.StatusOK, s.toCredentialJSON(c))
	return nil
}

func (s *Server) crList(w http.ResponseWriter, r *http.Request) error {
	p, _ := crActor(r)
	cu := r.URL.Query().Get("customer")
	if cu == "" || len(cu) > 64 {
		return errBadRequest("The customer query parameter is required.")
	}
	list, err := s.cfg.Credential.Service.List(r.Context(), p.TenantID, cu)
	if err != nil {
		return credentialProblem(err)
	}
	out := make([]credentialJSON, 0, len(list))
	for i := range list {
		out = append(out, s.toCredentialJSON(&list[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"credentials": out})
	return nil
}

func (s *Server) crRevoke(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := decodeJSON(w, r, DefaultMaxBody, &in); err != nil {
		return err
	}
	p, a := crActor(r)
	c, err := s.cfg.Credential.Service.Revoke(r.Context(), a, p.TenantID, r.PathValue("id"), in.Reason)
	if err != nil {
		return credentialProblem(err)
	}
	writeJSON(w, http.StatusOK, s.toCredentialJSON(c))
	return nil
}

func (s *Server) crReissue(w http.ResponseWriter, r *http.Request) error {
	p, a := crActor(r)
	c, err := s.cfg.Credential.Service.Reissue(r.Context(), a, p.TenantID, r.PathValue("id"), "")
	if err != nil {
		return credentialProblem(err)
	}
	s.writeIssued(w, c)
	return nil
}

func (s *Server) crIssuerKeys(w http.ResponseWriter, r *http.Request) error {
	keys, err := s.cfg.Credential.Service.IssuerKeys()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"issuer": s.cfg.Credential.Service.IssuerName(), "keys": keys})
	return nil
}

// maxBranchLogBody bounds a log sync (MaxSyncLeaves entries of a few hundred bytes).
const maxBranchLogBody = 4 << 20

func (s *Server) crBundle(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Request string `json:"request"` // the signed note
	}
	if err := decodeJSON(w, r, DefaultMaxBody, &in); err != nil {
		return err
	}
	b, err := s.cfg.Credential.Service.Bundle(r.Context(), []byte(in.Request), s.cfg.Credential.Policies)
	if err != nil {
		return credentialProblem(err)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, b)
	return nil
}

func (s *Server) crLog(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Request    string   `json:"request"`
		Checkpoint string   `json:"checkpoint"`
		Leaves     [][]byte `json:"leaves"`
	}
	if err := decodeJSON(w, r, maxBranchLogBody, &in); err != nil {
		return err
	}
	n, err := s.cfg.Credential.Service.IngestLog(r.Context(), []byte(in.Request), []byte(in.Checkpoint), in.Leaves)
	if err != nil {
		return credentialProblem(err)
	}
	writeJSON(w, http.StatusOK, map[string]uint64{"log_size": n})
	return nil
}

func (s *Server) crStaffed(h func(http.ResponseWriter, *http.Request, credential.Staff) error) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		tok, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer`)
			return errUnauthorized("Send a staff session token: Authorization: Bearer <token>.")
		}
		st, err := s.cfg.Credential.Staff(r.Context(), tok)
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
		return credentialProblem(h(w, r, st))
	}
}

type deviceJSON struct {
	credential.Device
	Fingerprint string `json:"fingerprint"`
}

func (s *Server) crDevices(w http.ResponseWriter, r *http.Request, st credential.Staff) error {
	ds, err := s.cfg.Credential.Service.Devices(r.Context(), st, r.URL.Query().Get("tenant"))
	if err != nil {
		return err
	}
	out := make([]deviceJSON, 0, len(ds))
	for i := range ds {
		out = append(out, deviceJSON{Device: ds[i], Fingerprint: ds[i].Fingerprint()})
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": out})
	return nil
}

func (s *Server) crDeviceRequest(w http.ResponseWriter, r *http.Request, st credential.Staff) error {
	var in struct {
		Tenant string `json:"tenant"`
		Name   string `json:"name"`
		Code   string `json:"enrolment_code"`
	}
	if err := decodeJSON(w, r, DefaultMaxBody, &in); err != nil {
		return err
	}
	d, err := s.cfg.Credential.Service.RequestDevice(r.Context(), st, in.Tenant, in.Name, in.Code)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, deviceJSON{Device: *d, Fingerprint: d.Fingerprint()})
	return nil
}

func (s *Server) crDeviceAction(w http.ResponseWriter, r *http.Request, st credential.Staff) error {
	var (
		d   *credential.Device
		err error
		svc = s.cfg.Credential.Service
		id  = r.PathValue("id")
	)
	switch r.PathValue("action") {
	case "approve":
		d, err = svc.ApproveDevice(r.Context(), st, id)
	case "removal":
		d, err = svc.RequestRemoval(r.Context(), st, id)
	case "approve-removal":
		d, err = svc.ApproveRemoval(r.Context(), st, id)
	default:
		return errNotFound()
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, deviceJSON{Device: *d, Fingerprint: d.Fingerprint()})
	return nil
}
