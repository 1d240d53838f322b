package ekyc

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/store"
)

// ResultPayload is the signed body of a result (pull API and webhook).
type ResultPayload struct {
	Issuer string `json:"iss"`
	// Audience is the client_id of the API client that created the
	// session: the OAuth client the result is for, so a JWT validator
	// configured with its own client_id accepts it (OpenID Connect's rule
	// for aud).
	Audience  string   `json:"aud"`
	IssuedAt  int64    `json:"iat"`
	EventID   string   `json:"jti"` // stable per session: receivers deduplicate on it
	Event     string   `json:"event"`
	SessionID string   `json:"session_id"`
	Reference string   `json:"reference"`
	Method    string   `json:"method"`
	Outcome   Outcome  `json:"outcome"`
	Reasons   []Reason `json:"reasons"`
	// Scores are the numbers the decision used (face_match, liveness, ...).
	Scores map[string]float64 `json:"scores,omitempty"`
	// VerifiedClaims is present only for an approved session.
	VerifiedClaims *VerifiedClaims `json:"verified_claims,omitempty"`
}

// VerifiedClaims is OpenID Connect for Identity Assurance 1.0
// verified_claims, trust framework jp_aml.
type VerifiedClaims struct {
	Verification Verification   `json:"verification"`
	Claims       map[string]any `json:"claims"`
}

// Verification is verified_claims.verification.
type Verification struct {
	TrustFramework      string           `json:"trust_framework"`
	AssuranceProcess    AssuranceProcess `json:"assurance_process"`
	Time                string           `json:"time"`
	VerificationProcess string           `json:"verification_process"`
	Evidence            []Evidence       `json:"evidence"`
}

// AssuranceProcess names the legal basis: policy and procedure URIs.
type AssuranceProcess struct {
	Policy    string `json:"policy"`
	Procedure string `json:"procedure"`
}

// Evidence is one evidence element: "document" (ヘ, ホ) or
// "electronic_signature" (ワ).
type Evidence struct {
	Type            string                       `json:"type"`
	CheckDetails    []document.IDACheckDetail    `json:"check_details,omitempty"`
	DocumentDetails *document.IDADocumentDetails `json:"document_details,omitempty"`
	// electronic_signature (ワ)
	SignatureType string `json:"signature_type,omitempty"`
	Issuer        string `json:"issuer,omitempty"`
	SerialNumber  string `json:"serial_number,omitempty"`
	CreatedAt     string `json:"created_at,omitempty"`
}

// EventDecided is the event type of a final decision.
const EventDecided = "ekyc.session.decided"

func eventID(session string) string { return "evt_" + session[len("ses_"):] }

// PADCheckMethod is our namespaced check_method for the presentation-attack
// (liveness) check; no registered value exists.
func (s *Service) padCheckMethod() string { return s.cfg.PublicURL + "/check/biopad" }

// buildResult assembles the payload of a final session from its record.
func (s *Service) buildResult(ss *Session, rec *Record) *ResultPayload {
	d := ss.Decision
	p := &ResultPayload{
		Issuer: s.cfg.PublicURL, Audience: ss.ClientID, IssuedAt: s.now().Unix(), EventID: eventID(ss.ID),
		Event: EventDecided, SessionID: ss.ID, Reference: ss.Reference, Method: ss.Method.API,
		Outcome: ss.Outcome, Reasons: []Reason{},
	}
	if d != nil {
		p.Reasons, p.Scores = d.Reasons, d.Scores
	}
	if ss.Outcome != OutcomeApproved || rec == nil || len(rec.Claims) == 0 {
		return p
	}
	if ss.Method.NeedsSignature {
		p.VerifiedClaims = s.jpkiVerifiedClaims(ss, rec)
		return p
	}
	at := d.DecidedAt.Format(time.RFC3339)
	var checks []document.IDACheckDetail
	switch {
	case ss.Method.NeedsChip && rec.IDA != nil:
		checks = append(checks, rec.IDA.CheckDetails...)
	case ss.Method.NeedsDocumentImages:
		checks = append(checks, document.IDACheckDetail{CheckMethod: "vri", CheckID: "chk-doc-" + ss.ID, Time: at})
	}
	checks = append(checks,
		document.IDACheckDetail{CheckMethod: "bvr", CheckID: "chk-face-" + ss.ID, Time: at},
		document.IDACheckDetail{CheckMethod: s.padCheckMethod(), CheckID: "chk-pad-" + ss.ID, Time: at})
	ev := Evidence{Type: "document", CheckDetails: checks, DocumentDetails: rec.Document}
	p.VerifiedClaims = &VerifiedClaims{
		Verification: Verification{
			TrustFramework: "jp_aml",
			AssuranceProcess: AssuranceProcess{
				Policy:    s.cfg.PublicURL + "/policy/jp_aml/ordinance-art6-1-1",
				Procedure: ss.Method.ProcedureURI(s.cfg.PublicURL),
			},
			Time: at, VerificationProcess: rec.ID, Evidence: []Evidence{ev},
		},
		Claims: rec.Claims,
	}
	return p
}

// Result returns the signed result (compact JWS) of a session with a final
// decision; reading it is audited because it carries personal data.
func (s *Service) Result(ctx context.Context, a Actor, tenant, id string) (string, error) {
	ss, err := s.Get(ctx, tenant, id)
	if err != nil {
		return "", err
	}
	if !ss.Final() {
		return "", fmt.Errorf("%w: no final decision yet (state %s, outcome %s)", ErrState, ss.State, ss.Outcome)
	}
	var jws string
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		rec, err := s.loadRecord(ctx, tx, ss)
		if err != nil {
			return err
		}
		b, err := json.Marshal(s.buildResult(ss, rec))
		if err != nil {
			return err
		}
		if jws, err = s.cfg.Signer.Sign(b); err != nil {
			return err
		}
		return s.record(ctx, tx, a, tenant, "ekyc.result.read", ss.ID, audit.OutcomeOK, nil)
	})
	return jws, err
}
