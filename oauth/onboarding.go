package oauth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/blob"
	"github.com/madoguchi/madoguchi/store"
)

// Partner onboarding. A partner's OAuth profile starts pending and acts for
// no customer until it is active. The way there, and its invariants:
//
//   - The assessment is one item per criteria area (status, note, at most
//     one evidence file: a PDF, PNG or JPEG recognised by its magic bytes,
//     at most MaxEvidenceSize, sealed under the client's data key and kept
//     as a blob, its SHA-256 recorded).
//     Items change only while the profile is pending.
//   - The reviewer's sign-off needs every area met (with evidence) or not
//     applicable, and a reviewer who filled none of the items
//     (ErrSameReviewer). It records the digest of what was signed off; any
//     later change to an item clears it.
//   - Activation is a staff approval of kind KindActivate (dual control,
//     package staff): one admin files it naming the signed-off digest
//     (ActivationPayload), a different admin of the tenant approves it, and
//     the approval's executor (ActivationExecutor) activates the profile
//     in the approval's transaction only if the assessment is still signed
//     off with that digest.
//   - Every change and every evidence download is audited; every read is
//     scoped to the client's tenant (another tenant's client is
//     ErrNotFound).

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

// Item states. An area not yet recorded is ItemOpen.
const (
	ItemOpen          = "open"
	ItemMet           = "met"
	ItemNotMet        = "not_met"
	ItemNotApplicable = "not_applicable"
)

// Limits on assessment input.
const (
	MaxNoteLen         = 4000
	MaxEvidenceNameLen = 128
	MaxEvidenceSize    = 10 << 20
)

// Evidence file types.
const (
	EvidencePDF  = "application/pdf"
	EvidencePNG  = "image/png"
	EvidenceJPEG = "image/jpeg"
)

// ErrSameReviewer: the sign-off must come from someone who filled none of
// the items.
var ErrSameReviewer = errors.New("oauth: the sign-off needs a reviewer who filled none of the items")

// EvidenceStore keeps evidence files; *blob.Store satisfies it.
type EvidenceStore interface {
	Put(ctx context.Context, data []byte) (blob.Ref, error)
	Get(ctx context.Context, r blob.Ref) ([]byte, error)
	Attach(ctx context.Context, tx *store.Tx, r blob.Ref, tenant, owner string) error
	Detach(ctx context.Context, tx *store.Tx, r blob.Ref, tenant, owner string) error
}

var _ EvidenceStore = (*blob.Store)(nil)

// AssessmentItem is one criteria area of a client's assessment.
type AssessmentItem struct {
	Area           string    `json:"area"`
	Status         string    `json:"status"`
	Note           string    `json:"note"`
	EvidenceName   string    `json:"evidence_name,omitempty"`
	EvidenceType   string    `json:"evidence_type,omitempty"`
	EvidenceSHA256 string    `json:"evidence_sha256,omitempty"`
	UpdatedBy      string    `json:"updated_by,omitempty"`
	UpdatedAt      time.Time `json:"updated_at,omitzero"`
}

// Assessment is a client's onboarding checklist and its sign-off.
type Assessment struct {
	ClientID string           `json:"client_id"`
	TenantID string           `json:"tenant_id"`
	Items    []AssessmentItem `json:"items"`
	// Reviewer, SignedOffAt and Digest are set while the assessment is
	// signed off; Digest is what an activation request names.
	Reviewer    string    `json:"reviewer,omitempty"`
	SignedOffAt time.Time `json:"signed_off_at,omitzero"`
	Digest      string    `json:"digest,omitempty"`
	// Status is the profile's (pending, active, suspended).
	Status string `json:"profile_status"`
}

// SignedOff reports whether a reviewer signed the assessment off.
func (a Assessment) SignedOff() bool { return a.Digest != "" }

// EvidenceType names the type of an evidence file from its magic bytes: a
// PDF, PNG or JPEG; "" for anything else.
func EvidenceType(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("%PDF-")):
		return EvidencePDF
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return EvidencePNG
	case bytes.HasPrefix(b, []byte{0xff, 0xd8, 0xff}):
		return EvidenceJPEG
	}
	return ""
}

// checkItem validates one item's input and returns the evidence's type.
func checkItem(area, status, note, evidenceName string, evidence []byte) (string, error) {
	switch {
	case !contains(CriteriaAreas, area):
		return "", fmt.Errorf("%w: area must be one of %s", ErrInvalidInput, strings.Join(CriteriaAreas, ", "))
	case status != ItemMet && status != ItemNotMet && status != ItemNotApplicable:
		return "", fmt.Errorf("%w: status must be met, not_met or not_applicable", ErrInvalidInput)
	case len(note) > MaxNoteLen || !utf8.ValidString(note):
		return "", fmt.Errorf("%w: note must be UTF-8 of at most %d bytes", ErrInvalidInput, MaxNoteLen)
	case len(evidence) > MaxEvidenceSize:
		return "", fmt.Errorf("%w: evidence is larger than %d bytes", ErrInvalidInput, MaxEvidenceSize)
	case (len(evidence) > 0) != (evidenceName != ""), len(evidenceName) > MaxEvidenceNameLen || !printableText(evidenceName):
		return "", fmt.Errorf("%w: an evidence file needs a printable name of at most %d bytes", ErrInvalidInput, MaxEvidenceNameLen)
	}
	if len(evidence) == 0 {
		return "", nil
	}
	typ := EvidenceType(evidence)
	if typ == "" {
		return "", fmt.Errorf("%w: evidence must be a PDF, PNG or JPEG file", ErrInvalidInput)
	}
	return typ, nil
}

// evidenceAAD binds sealed evidence to its client, area and plaintext hash.
func evidenceAAD(clientID, area, sum string) []byte {
	return []byte("oauth-evidence:" + clientID + ":" + area + ":" + sum)
}

// evidenceOwner names the blob reference of one area's evidence.
func evidenceOwner(clientID, area string) string { return "oauth-assessment:" + clientID + ":" + area }

// SetAssessmentItem records one criteria area with an optional new
// evidence file (stored as a blob, its SHA-256 and type recorded; without
// a new file the area keeps the one it had). Only a pending profile's
// assessment changes; a change clears the sign-off. Audited.
func (s *Server) SetAssessmentItem(ctx context.Context, by Actor, ev EvidenceStore, tenantID, clientID, area, status, note, evidenceName string, evidence []byte) error {
	if err := by.valid(); err != nil {
		return err
	}
	typ, err := checkItem(area, status, note, evidenceName, evidence)
	if err != nil {
		return err
	}
	var ref blob.Ref
	var sum string
	if len(evidence) > 0 {
		if ev == nil {
			return errors.New("oauth: no evidence store")
		}
		d := sha256.Sum256(evidence)
		sum = hex.EncodeToString(d[:])
		// Sealed under the client's data key, bound to the client, area
		// and hash, before it reaches the blob store (whose address is
		// then a hash of ciphertext). A failure below leaves an unattached
		// blob, which blob.Sweep removes; never a row naming a missing file.
		var ct []byte
		if err := s.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
			var err error
			ct, err = s.cfg.Sealer.Seal(ctx, tx, clientSubject(tenantID, clientID), evidenceAAD(clientID, area, sum), evidence)
			return err
		}); err != nil {
			return err
		}
		if ref, err = ev.Put(ctx, ct); err != nil {
			return err
		}
	}
	now := s.now()
	return s.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := s.pendingTx(ctx, tx, tenantID, clientID); err != nil {
			return err
		}
		var oldName, oldType, oldSum, oldRef *string
		err := tx.QueryRow(ctx, `SELECT evidence_name, evidence_type, evidence_sha256, evidence_ref FROM oauth_assessment_items WHERE tenant_id = ? AND client_id = ? AND area = ?`,
			tenantID, clientID, area).Scan(&oldName, &oldType, &oldSum, &oldRef)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		name, etype, hash, refs := any(oldName), any(oldType), any(oldSum), any(oldRef)
		if sum != "" {
			if oldRef != nil && *oldRef != ref.String() {
				old, err := blob.ParseRef(*oldRef)
				if err != nil {
					return err
				}
				if err := ev.Detach(ctx, tx, old, tenantID, evidenceOwner(clientID, area)); err != nil {
					return err
				}
			}
			if err := ev.Attach(ctx, tx, ref, tenantID, evidenceOwner(clientID, area)); err != nil {
				return err
			}
			name, etype, hash, refs = evidenceName, typ, sum, ref.String()
		} else if oldSum != nil {
			sum = *oldSum
		}
		if _, err := tx.Exec(ctx, `DELETE FROM oauth_assessment_items WHERE tenant_id = ? AND client_id = ? AND area = ?`, tenantID, clientID, area); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO oauth_assessment_items (client_id, tenant_id, area, status, note, evidence_name, evidence_type, evidence_sha256, evidence_ref, updated_by, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, clientID, tenantID, area, status, note, name, etype, hash, refs, by.Kind+":"+by.ID, store.Micros(now)); err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `DELETE FROM oauth_assessments WHERE tenant_id = ? AND client_id = ?`, tenantID, clientID)
		if err != nil {
			return err
		}
		details := map[string]string{"area": area, "status": status, "evidence_sha256": sum}
		if n, _ := res.RowsAffected(); n > 0 {
			details["signoff"] = "cleared"
		}
		return s.audit(ctx, tx, by.Kind, by.ID, tenantID, "oauth.assessment.item", clientID, details)
	})
}

// pendingTx checks that tenantID's client has a pending profile.
func (s *Server) pendingTx(ctx context.Context, tx *store.Tx, tenantID, clientID string) error {
	p, err := scanProfile(tx.QueryRow(ctx, `SELECT `+profileCols+` FROM oauth_clients WHERE tenant_id = ? AND client_id = ?`, tenantID, clientID))
	if err != nil {
		return err
	}
	if p.Status != ProfilePending {
		return fmt.Errorf("%w: the profile is %s; its assessment changes only while pending", ErrInvalidInput, p.Status)
	}
	return nil
}

// Assessment returns a client's checklist (every area, recorded or not).
func (s *Server) Assessment(ctx context.Context, tenantID, clientID string) (Assessment, error) {
	return s.assessment(ctx, s.cfg.DB, tenantID, clientID)
}

type querier interface {
	QueryRow(ctx context.Context, query string, args ...any) *store.Row
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (s *Server) assessment(ctx context.Context, q querier, tenantID, clientID string) (Assessment, error) {
	p, err := scanProfile(q.QueryRow(ctx, `SELECT `+profileCols+` FROM oauth_clients WHERE tenant_id = ? AND client_id = ?`, tenantID, clientID))
	if err != nil {
		return Assessment{}, err
	}
	a := Assessment{ClientID: clientID, TenantID: tenantID, Status: p.Status}
	rows, err := q.Query(ctx, `SELECT area, status, note, evidence_name, evidence_type, evidence_sha256, updated_by, updated_at FROM oauth_assessment_items WHERE tenant_id = ? AND client_id = ?`, tenantID, clientID)
	if err != nil {
		return a, err
	}
	got := map[string]AssessmentItem{}
	for rows.Next() {
		var it AssessmentItem
		var name, typ, sum *string
		var at int64
		if err := rows.Scan(&it.Area, &it.Status, &it.Note, &name, &typ, &sum, &it.UpdatedBy, &at); err != nil {
			rows.Close()
			return a, err
		}
		it.EvidenceName, it.EvidenceType, it.EvidenceSHA256 = deref(name), deref(typ), deref(sum)
		it.UpdatedAt = store.FromMicros(at)
		got[it.Area] = it
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return a, err
	}
	for _, area := range CriteriaAreas {
		it, ok := got[area]
		if !ok {
			it = AssessmentItem{Area: area, Status: ItemOpen}
		}
		a.Items = append(a.Items, it)
	}
	var reviewer, decision, digest *string
	var at *int64
	err = q.QueryRow(ctx, `SELECT reviewer, decision, digest, signed_off_at FROM oauth_assessments WHERE tenant_id = ? AND client_id = ?`, tenantID, clientID).
		Scan(&reviewer, &decision, &digest, &at)
	switch {
	case err == nil && deref(decision) == "approved" && deref(digest) != "" && at != nil:
		a.Reviewer, a.Digest, a.SignedOffAt = deref(reviewer), *digest, store.FromMicros(*at)
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return a, err
	}
	return a, nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// digestOf commits to every item as it stands: area, status, note,
// evidence hash and who recorded it, in CriteriaAreas order.
func digestOf(a Assessment) string {
	h := sha256.New()
	for _, it := range a.Items {
		for _, f := range []string{it.Area, it.Status, it.Note, it.EvidenceSHA256, it.UpdatedBy} {
			fmt.Fprintf(h, "%d:%s", len(f), f)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// SignOff is a staff reviewer's sign-off of a pending profile's assessment:
// every area must be met (with an evidence file) or not applicable, and
// the reviewer must have filled none of the items (ErrSameReviewer). It
// returns the digest signed off. Audited.
func (s *Server) SignOff(ctx context.Context, reviewer Actor, tenantID, clientID string) (string, error) {
	if err := reviewer.valid(); err != nil {
		return "", err
	}
	if reviewer.Kind != audit.ActorStaff {
		return "", fmt.Errorf("%w: a sign-off is a staff member's", ErrInvalidInput)
	}
	who := reviewer.Kind + ":" + reviewer.ID
	var digest string
	err := s.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := s.pendingTx(ctx, tx, tenantID, clientID); err != nil {
			return err
		}
		a, err := s.assessment(ctx, tx, tenantID, clientID)
		if err != nil {
			return err
		}
		for _, it := range a.Items {
			switch {
			case it.UpdatedBy == who:
				return fmt.Errorf("%w (area %s)", ErrSameReviewer, it.Area)
			case it.Status == ItemNotApplicable:
			case it.Status == ItemMet && it.EvidenceSHA256 != "":
			default:
				return fmt.Errorf("%w: area %s is %s (met needs an evidence file)", ErrInvalidInput, it.Area, it.Status)
			}
		}
		digest = digestOf(a)
		if _, err := tx.Exec(ctx, `DELETE FROM oauth_assessments WHERE tenant_id = ? AND client_id = ?`, tenantID, clientID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO oauth_assessments (client_id, tenant_id, reviewer, signed_off_at, decision, digest) VALUES (?, ?, ?, ?, ?, ?)`,
			clientID, tenantID, who, store.Micros(s.now()), "approved", digest); err != nil {
			return err
		}
		return s.audit(ctx, tx, reviewer.Kind, reviewer.ID, tenantID, "oauth.assessment.signoff", clientID, map[string]string{"digest": digest})
	})
	if err != nil {
		return "", err
	}
	return digest, nil
}

// Evidence is one area's evidence file.
type Evidence struct {
	Name, Type, SHA256 string
	Data               []byte
}

// Evidence returns one area's evidence file of tenantID's client to by,
// audited (oauth.assessment.evidence.read) before it is returned; the blob
// store verifies the ciphertext against its address, the vault opens it
// only for this client, area and hash, and the recorded SHA-256 is checked
// again on the plaintext.
func (s *Server) Evidence(ctx context.Context, by Actor, ev EvidenceStore, tenantID, clientID, area string) (Evidence, error) {
	if err := by.valid(); err != nil {
		return Evidence{}, err
	}
	if ev == nil {
		return Evidence{}, errors.New("oauth: no evidence store")
	}
	var e Evidence
	var ref blob.Ref
	err := s.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		var name, typ, sum, refs *string
		err := tx.QueryRow(ctx, `SELECT i.evidence_name, i.evidence_type, i.evidence_sha256, i.evidence_ref FROM oauth_assessment_items i
			JOIN oauth_clients c ON c.client_id = i.client_id AND c.tenant_id = i.tenant_id
			WHERE i.tenant_id = ? AND i.client_id = ? AND i.area = ?`, tenantID, clientID, area).Scan(&name, &typ, &sum, &refs)
		if errors.Is(err, store.ErrNotFound) || (err == nil && refs == nil) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if ref, err = blob.ParseRef(*refs); err != nil {
			return err
		}
		e = Evidence{Name: deref(name), Type: deref(typ), SHA256: deref(sum)}
		return s.audit(ctx, tx, by.Kind, by.ID, tenantID, "oauth.assessment.evidence.read", clientID,
			map[string]string{"area": area, "evidence_sha256": e.SHA256})
	})
	if err != nil {
		return Evidence{}, err
	}
	ct, err := ev.Get(ctx, ref)
	if err != nil {
		return Evidence{}, err
	}
	if e.Data, err = s.cfg.Sealer.Open(ctx, s.cfg.DB, clientSubject(tenantID, clientID), evidenceAAD(clientID, area, e.SHA256), ct); err != nil {
		return Evidence{}, fmt.Errorf("oauth: open the evidence of %s: %w", area, err)
	}
	if d := sha256.Sum256(e.Data); hex.EncodeToString(d[:]) != e.SHA256 {
		return Evidence{}, fmt.Errorf("oauth: evidence of %s does not match its recorded SHA-256", area)
	}
	if e.Type == "" { // recorded before types were
		e.Type = EvidenceType(e.Data)
	}
	return e, nil
}
