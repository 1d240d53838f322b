package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/madoguchi/madoguchi/blob"
	"github.com/madoguchi/madoguchi/store"
)

// Criteria areas of a partner assessment: the areas Japanese banks publish
// for electronic payment intermediaries (電子決済等代行業者) under Banking
// Act Art. 52-61-11.
var CriteriaAreas = []string{
	"security_management",    // セキュリティ管理体制
	"outsourcing",            // 外部委託管理
	"bank_cooperation",       // 銀行との連携・協力
	"facilities",             // 設備
	"development_operations", // 開発・運用管理
	"service_security",       // サービスのセキュリティ機能
	"api_security",           // APIのセキュリティ
	"api_usage",              // APIの利用
	"other",                  // その他
}

// Item states.
const (
	ItemMet           = "met"
	ItemNotMet        = "not_met"
	ItemNotApplicable = "not_applicable"
)

// Limits on assessment input.
const (
	maxNoteLen         = 2000
	maxEvidenceNameLen = 128
	MaxEvidenceSize    = 10 << 20
)

// EvidenceStore keeps evidence files; *blob.Store satisfies it.
type EvidenceStore interface {
	Put(ctx context.Context, data []byte) (blob.Ref, error)
	Attach(ctx context.Context, tx *store.Tx, r blob.Ref, tenant, owner string) error
}

var _ EvidenceStore = (*blob.Store)(nil)

// AssessmentItem is one criteria area of a client's assessment.
type AssessmentItem struct {
	Area           string `json:"area"`
	Status         string `json:"status"`
	Note           string `json:"note"`
	EvidenceName   string `json:"evidence_name,omitempty"`
	EvidenceSHA256 string `json:"evidence_sha256,omitempty"`
	UpdatedBy      string `json:"updated_by"`
}

// Assessment is a client's onboarding checklist and its sign-off.
type Assessment struct {
	ClientID string           `json:"client_id"`
	Items    []AssessmentItem `json:"items"`
	Reviewer string           `json:"reviewer,omitempty"`
	Decision string           `json:"decision,omitempty"`
	Status   string           `json:"profile_status"`
}

// SetAssessmentItem records one criteria area with an optional evidence file
// (stored as a blob, its SHA-256 recorded). Audited. A change after sign-off
// clears the sign-off.
func (s *Server) SetAssessmentItem(ctx context.Context, by Actor, ev EvidenceStore, tenantID, clientID, area, status, note, evidenceName string, evidence []byte) error {
	if err := by.valid(); err != nil {
		return err
	}
	switch {
	case !contains(CriteriaAreas, area):
		return fmt.Errorf("%w: area must be one of %s", ErrInvalidInput, strings.Join(CriteriaAreas, ", "))
	case status != ItemMet && status != ItemNotMet && status != ItemNotApplicable:
		return fmt.Errorf("%w: status must be met, not_met or not_applicable", ErrInvalidInput)
	case len(note) > maxNoteLen || !utf8.ValidString(note):
		return fmt.Errorf("%w: note must be UTF-8 of at most %d bytes", ErrInvalidInput, maxNoteLen)
	case len(evidence) > MaxEvidenceSize:
		return fmt.Errorf("%w: evidence is larger than %d bytes", ErrInvalidInput, MaxEvidenceSize)
	case (len(evidence) > 0) != (evidenceName != ""), len(evidenceName) > maxEvidenceNameLen || !printableText(evidenceName):
		return fmt.Errorf("%w: an evidence file needs a printable name of at most %d bytes", ErrInvalidInput, maxEvidenceNameLen)
	}
	var ref blob.Ref
	var sum string
	if len(evidence) > 0 {
		if ev == nil {
			return errors.New("oauth: no evidence store")
		}
		d := sha256.Sum256(evidence)
		sum = hex.EncodeToString(d[:])
		var err error
		if ref, err = ev.Put(ctx, evidence); err != nil {
			return err
		}
	}
	now := s.now()
	return s.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		if _, err := s.profileTx(ctx, tx, tenantID, clientID); err != nil {
			return err
		}
		var name, hash, refs any
		if sum != "" {
			if err := ev.Attach(ctx, tx, ref, tenantID, "oauth-assessment:"+clientID+":"+area); err != nil {
				return err
			}
			name, hash, refs = evidenceName, sum, ref.String()
		}
		if _, err := tx.Exec(ctx, `DELETE FROM oauth_assessment_items WHERE client_id = ? AND area = ?`, clientID, area); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO oauth_assessment_items (client_id, tenant_id, area, status, note, evidence_name, evidence_sha256, evidence_ref, updated_by, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, clientID, tenantID, area, status, note, name, hash, refs, by.Kind+":"+by.ID, store.Micros(now)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM oauth_assessments WHERE client_id = ?`, clientID); err != nil {
			return err
		}
		return s.audit(ctx, tx, by.Kind, by.ID, tenantID, "oauth.assessment.item", clientID,
			map[string]string{"area": area, "status": status, "evidence_sha256": sum})
	})
}

func (s *Server) profileTx(ctx context.Context, tx *store.Tx, tenantID, clientID string) (Profile, error) {
	return scanProfile(tx.QueryRow(ctx, `SELECT `+profileCols+` FROM oauth_clients WHERE tenant_id = ? AND client_id = ?`, tenantID, clientID))
}

// Assessment returns a client's checklist (every area, recorded or not).
func (s *Server) Assessment(ctx context.Context, tenantID, clientID string) (Assessment, error) {
	p, err := s.Profile(ctx, tenantID, clientID)
	if err != nil {
		return Assessment{}, err
	}
	a := Assessment{ClientID: clientID, Status: p.Status}
	rows, err := s.cfg.DB.Query(ctx, `SELECT area, status, note, evidence_name, evidence_sha256, updated_by FROM oauth_assessment_items WHERE tenant_id = ? AND client_id = ?`, tenantID, clientID)
	if err != nil {
		return a, err
	}
	got := map[string]AssessmentItem{}
	for rows.Next() {
		var it AssessmentItem
		var name, sum *string
		if err := rows.Scan(&it.Area, &it.Status, &it.Note, &name, &sum, &it.UpdatedBy); err != nil {
			rows.Close()
			return a, err
		}
		if name != nil {
			it.EvidenceName = *name
		}
		if sum != nil {
			it.EvidenceSHA256 = *sum
		}
		got[it.Area] = it
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return a, err
	}
	for _, area := range CriteriaAreas {
		it, ok := got[area]
		if !ok {
			it = AssessmentItem{Area: area, Status: "open"}
		}
		a.Items = append(a.Items, it)
	}
	var reviewer, decision *string
	err = s.cfg.DB.QueryRow(ctx, `SELECT reviewer, decision FROM oauth_assessments WHERE client_id = ?`, clientID).Scan(&reviewer, &decision)
	if err == nil && reviewer != nil && decision != nil {
		a.Reviewer, a.Decision = *reviewer, *decision
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return a, err
	}
	return a, nil
}

// SignOff is the reviewer's sign-off: every area must be met (with an
// evidence file) or not applicable. Audited.
func (s *Server) SignOff(ctx context.Context, reviewer Actor, tenantID, clientID string) error {
	if err := reviewer.valid(); err != nil {
		return err
	}
	a, err := s.Assessment(ctx, tenantID, clientID)
	if err != nil {
		return err
	}
	for _, it := range a.Items {
		switch {
		case it.Status == ItemNotApplicable:
		case it.Status == ItemMet && it.EvidenceSHA256 != "":
		default:
			return fmt.Errorf("%w: area %s is %s (met needs an evidence file)", ErrInvalidInput, it.Area, it.Status)
		}
	}
	now := s.now()
	return s.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM oauth_assessments WHERE client_id = ?`, clientID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO oauth_assessments (client_id, tenant_id, reviewer, signed_off_at, decision) VALUES (?, ?, ?, ?, ?)`,
			clientID, tenantID, reviewer.Kind+":"+reviewer.ID, store.Micros(now), "approved"); err != nil {
			return err
		}
		return s.audit(ctx, tx, reviewer.Kind, reviewer.ID, tenantID, "oauth.assessment.signoff", clientID, nil)
	})
}

// RequestActivation is the first admin's step: the assessment must be
// signed off. Activate is the second's.
func (s *Server) RequestActivation(ctx context.Context, by Actor, tenantID, clientID string) error {
	if err := by.valid(); err != nil {
		return err
	}
	a, err := s.Assessment(ctx, tenantID, clientID)
	if err != nil {
		return err
	}
	if a.Decision != "approved" {
		return fmt.Errorf("%w: the assessment is not signed off", ErrInvalidInput)
	}
	return s.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE oauth_clients SET requested_by = ? WHERE tenant_id = ? AND client_id = ? AND status = ?`,
			by.Kind+":"+by.ID, tenantID, clientID, ProfilePending)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("%w: the profile is not pending", ErrInvalidInput)
		}
		return s.audit(ctx, tx, by.Kind, by.ID, tenantID, "oauth.client.activation_request", clientID, nil)
	})
}

// Activate makes a profile active: a second admin, not the one who
// requested activation (dual control). Audited.
func (s *Server) Activate(ctx context.Context, by Actor, tenantID, clientID string) error {
	if err := by.valid(); err != nil {
		return err
	}
	now := s.now()
	return s.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		p, err := s.profileTx(ctx, tx, tenantID, clientID)
		if err != nil {
			return err
		}
		switch {
		case p.Status != ProfilePending || p.RequestedBy == "":
			return fmt.Errorf("%w: activation was not requested", ErrInvalidInput)
		case p.RequestedBy == by.Kind+":"+by.ID:
			return ErrSecondApprover
		}
		if _, err := tx.Exec(ctx, `UPDATE oauth_clients SET status = ?, activated_by = ?, activated_at = ? WHERE client_id = ?`,
			ProfileActive, by.Kind+":"+by.ID, store.Micros(now), clientID); err != nil {
			return err
		}
		return s.audit(ctx, tx, by.Kind, by.ID, tenantID, "oauth.client.activate", clientID, map[string]string{"requested_by": p.RequestedBy})
	})
}
