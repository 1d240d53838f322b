package oauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/store"
)

// KindActivate is the staff approval kind that activates a partner's
// OAuth profile (dual control through package staff, like client.create).
const KindActivate = "oauth.client.activate"

// ActivationRequest is the payload of a KindActivate approval: the client
// and the digest of the assessment the reviewer signed off.
type ActivationRequest struct {
	TenantID string `json:"tenant_id"`
	ClientID string `json:"client_id"`
	Digest   string `json:"assessment_digest"`
}

// ActivationPayload checks that tenantID's client is pending with a
// signed-off assessment and returns the payload to file as a KindActivate
// approval (staff.Directory.Request).
func (s *Server) ActivationPayload(ctx context.Context, tenantID, clientID string) ([]byte, error) {
	a, err := s.Assessment(ctx, tenantID, clientID)
	if err != nil {
		return nil, err
	}
	switch {
	case a.Status != ProfilePending:
		return nil, fmt.Errorf("%w: the profile is %s, not pending", ErrInvalidInput, a.Status)
	case !a.SignedOff():
		return nil, fmt.Errorf("%w: the assessment is not signed off", ErrInvalidInput)
	}
	return json.Marshal(ActivationRequest{TenantID: tenantID, ClientID: clientID, Digest: a.Digest})
}

// ParseActivationRequest decodes a KindActivate payload strictly.
func ParseActivationRequest(b []byte) (ActivationRequest, error) {
	var p ActivationRequest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("%s payload: %v", KindActivate, err)
	}
	if dec.More() {
		return p, fmt.Errorf("%s payload: trailing data", KindActivate)
	}
	if p.TenantID == "" || p.ClientID == "" || len(p.Digest) != 64 || len(p.TenantID) > 128 || len(p.ClientID) > 128 {
		return p, fmt.Errorf("%s payload: tenant_id, client_id and a 64-digit assessment_digest are required", KindActivate)
	}
	return p, nil
}

// ActivationExecutor performs approved KindActivate requests with the
// server srv returns (called when a request is approved, so a command
// builds its server only when it needs one); the server registers it in
// the staff directory (staff.Config.Executors). The staff package has
// already refused an approver who filed the request or who is not an admin
// of the client's tenant (or an operator admin).
func ActivationExecutor(srv func() (*Server, error)) staff.Executor {
	return staff.Executor{
		Validate: func(b []byte) error { _, err := ParseActivationRequest(b); return err },
		Tenant: func(b []byte) (string, error) {
			p, err := ParseActivationRequest(b)
			return p.TenantID, err
		},
		Run: func(ctx context.Context, tx *store.Tx, a staff.Approval, by staff.Actor) error {
			s, err := srv()
			if err != nil {
				return err
			}
			err = s.activateTx(ctx, tx, Actor{Kind: by.Kind, ID: by.ID}, a)
			if errors.Is(err, ErrInvalidInput) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrSecondApprover) {
				// The action was refused (the assessment changed since):
				// nothing was done, and the approval page says so.
				return fmt.Errorf("%w: %w", staff.ErrInvalidInput, err)
			}
			return err
		},
	}
}

// ActivationExecutor is the executor of KindActivate with s.
func (s *Server) ActivationExecutor() staff.Executor {
	return ActivationExecutor(func() (*Server, error) { return s, nil })
}

// activateTx activates the profile an approval names, in the approval's
// transaction: still pending, still signed off with the digest the
// request named, and approved by someone other than the requester.
// Audited (oauth.client.activate).
func (s *Server) activateTx(ctx context.Context, tx *store.Tx, by Actor, a staff.Approval) error {
	if err := by.valid(); err != nil {
		return err
	}
	p, err := ParseActivationRequest(a.Payload)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	if a.Requester == "" || a.Requester == by.ID {
		return ErrSecondApprover
	}
	if err := s.pendingTx(ctx, tx, p.TenantID, p.ClientID); err != nil {
		return err
	}
	cur, err := s.assessment(ctx, tx, p.TenantID, p.ClientID)
	if err != nil {
		return err
	}
	if cur.Digest != p.Digest {
		return fmt.Errorf("%w: the assessment changed since activation was requested", ErrInvalidInput)
	}
	if _, err := tx.Exec(ctx, `UPDATE oauth_clients SET status = ?, requested_by = ?, activated_by = ?, activated_at = ? WHERE tenant_id = ? AND client_id = ? AND status = ?`,
		ProfileActive, by.Kind+":"+a.Requester, by.Kind+":"+by.ID, store.Micros(s.now()), p.TenantID, p.ClientID, ProfilePending); err != nil {
		return err
	}
	return s.audit(ctx, tx, by.Kind, by.ID, p.TenantID, "oauth.client.activate", p.ClientID,
		map[string]string{"requested_by": a.Requester, "approval": a.ID, "assessment_digest": p.Digest})
}
