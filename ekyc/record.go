package ekyc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// RetentionYears is how long a verification record is kept after the
// contract ends (犯罪収益移転防止法 第6条第2項: 7 years from the day the
// contract for the specified transaction ends).
const RetentionYears = 7

// Record is the verification record (確認記録) of a decided session: what
// Ordinance Art. 20 asks a specified business operator to keep, as far as
// the hub knows it. Purpose of the transaction and occupation are collected
// and recorded by the tenant, which joins them by Reference. It is sealed
// under the session's subject, written once and never updated.
type Record struct {
	ID        string    `json:"id"`
	SessionID string    `json:"session_id"`
	TenantID  string    `json:"tenant_id"`
	Reference string    `json:"reference"` // the tenant's search key
	CreatedAt time.Time `json:"created_at"`
	// Verifier is who performed the verification: the system (automated
	// decision) or the reviewer who decided; Recorder is who made the record.
	Verifier Actor  `json:"verifier"`
	Recorder string `json:"recorder"`
	Method   struct {
		Code          string `json:"code"`
		Letter        string `json:"letter"`
		Citation      string `json:"citation"`
		EffectiveFrom string `json:"effective_from"`
	} `json:"method"`
	// ImagesReceivedAt is when the 本人確認用画像情報 (first frame) was
	// received; ChipReceivedAt when the IC chip data was (ヘ).
	ImagesReceivedAt time.Time `json:"images_received_at,omitzero"`
	ChipReceivedAt   time.Time `json:"chip_received_at,omitzero"`
	// Document identifies the ID document used; never the My Number.
	Document *document.IDADocumentDetails `json:"document,omitempty"`
	// Claims are the 本人特定事項 (name, address, date of birth) verified.
	Claims   map[string]any        `json:"claims,omitempty"`
	Evidence []RecordEvidence      `json:"evidence"`
	Checks   []document.Check      `json:"chip_checks,omitempty"`
	IDA      *document.IDAEvidence `json:"ida,omitempty"`
	Decision *Decision             `json:"decision"`
	// JPKI is the signature evidence of method ワ.
	JPKI *JPKIRecord `json:"jpki,omitempty"`
}

// RecordEvidence names one piece of raw evidence kept with the record.
type RecordEvidence struct {
	Kind       string    `json:"kind"` // frame kind or "chip:<file>"
	Blob       string    `json:"blob"`
	SHA256     string    `json:"sha256"` // of the plaintext
	CapturedAt time.Time `json:"captured_at,omitzero"`
}

// Reviewed is what a reviewer read off the document images (ホ).
type Reviewed struct {
	Claims   map[string]any               `json:"claims"`
	Document *document.IDADocumentDetails `json:"document"`
}

func recordAAD(id string) []byte { return vault.AAD("ekyc.record", id) }

func hexSHA256(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func recordID(session string) string { return "rec_" + session[len("ses_"):] }

// writeRecord builds, seals and inserts the session's record in tx.
func (s *Service) writeRecord(ctx context.Context, tx *store.Tx, ss *Session, d *Decision, verifier Actor, rv *Reviewed) (*Record, error) {
	rec := &Record{
		ID: recordID(ss.ID), SessionID: ss.ID, TenantID: ss.TenantID, Reference: ss.Reference,
		CreatedAt: s.now(), Verifier: Actor{Kind: verifier.Kind, ID: verifier.ID}, Recorder: "madoguchi",
		Decision: d, Evidence: []RecordEvidence{},
	}
	if rec.Verifier.Kind == "" {
		rec.Verifier.Kind = audit.ActorSystem
	}
	m := ss.Method
	rec.Method.Code, rec.Method.Letter, rec.Method.Citation = m.Code, m.Letter, m.Citation
	rec.Method.EffectiveFrom = m.EffectiveFrom.Format(time.DateOnly)
	frs, err := s.frames(ctx, tx, ss.ID)
	if err != nil {
		return nil, err
	}
	for _, f := range frs {
		if rec.ImagesReceivedAt.IsZero() {
			rec.ImagesReceivedAt = f.ReceivedAt
		}
		rec.Evidence = append(rec.Evidence, RecordEvidence{Kind: string(f.Kind), Blob: f.Ref.String(), SHA256: f.SHA256, CapturedAt: f.CapturedAt})
	}
	if m.NeedsChip {
		cr, _, err := s.chip(ctx, tx, ss)
		if err != nil {
			return nil, err
		}
		if cr != nil {
			rec.ChipReceivedAt, rec.Checks, rec.Claims, rec.IDA = cr.ReceivedAt, cr.Checks, cr.Claims, cr.IDA
			if cr.IDA != nil {
				dd := cr.IDA.DocumentDetails
				rec.Document = &dd
			}
			var files string
			if err := tx.QueryRow(ctx, `SELECT files FROM ekyc_chips WHERE session_id = ?`, ss.ID).Scan(&files); err != nil {
				return nil, err
			}
			refs := map[string]string{}
			if err := json.Unmarshal([]byte(files), &refs); err != nil {
				return nil, err
			}
			for name, ref := range refs {
				rec.Evidence = append(rec.Evidence, RecordEvidence{Kind: "chip:" + name, Blob: ref, SHA256: cr.Digests[name]})
			}
		}
	}
	if m.NeedsSignature {
		if err := s.jpkiIntoRecord(ctx, tx, ss, rec); err != nil {
			return nil, err
		}
	}
	if rv != nil {
		rec.Claims, rec.Document = rv.Claims, rv.Document
	}
	body, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	sealed, err := s.cfg.Vault.Seal(ctx, tx, subjectOf(ss.TenantID, ss.subject), recordAAD(rec.ID), body)
	if err != nil {
		return nil, err
	}
	sum := hexSHA256(sealed)
	if _, err := tx.Exec(ctx, `INSERT INTO ekyc_records (id, tenant_id, session_id, subject, created_at, body_sha256, body)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, rec.ID, ss.TenantID, ss.ID, ss.subject, store.Micros(rec.CreatedAt), sum, sealed); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, fmt.Errorf("%w: the record already exists", ErrState)
		}
		return nil, err
	}
	return rec, s.record(ctx, tx, verifier, ss.TenantID, "ekyc.record.create", rec.ID, audit.OutcomeOK,
		map[string]string{"session": ss.ID, "sealed_sha256": sum, "method": m.Code})
}

// loadRecord opens the session's record; reading personal data is audited
// by the caller.
func (s *Service) loadRecord(ctx context.Context, q vault.Querier, ss *Session) (*Record, error) {
	var (
		id     string
		sealed []byte
		sum    string
	)
	if err := q.QueryRow(ctx, `SELECT id, body, body_sha256 FROM ekyc_records WHERE session_id = ? AND tenant_id = ?`,
		ss.ID, ss.TenantID).Scan(&id, &sealed, &sum); err != nil {
		if isNotFound(err) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	if hexSHA256(sealed) != sum {
		return nil, fmt.Errorf("ekyc: record %s does not match its stored digest", id)
	}
	pt, err := s.cfg.Vault.Open(ctx, q, subjectOf(ss.TenantID, ss.subject), recordAAD(id), sealed)
	if err != nil {
		return nil, err
	}
	var rec Record
	if err := json.Unmarshal(pt, &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

// ContractEnded starts the retention clock of a session's subject: its data
// is kept RetentionYears from endedAt, then shredded by ShredExpired. A
// second event for the same session is refused (ErrState).
func (s *Service) ContractEnded(ctx context.Context, a Actor, tenant, id string, endedAt time.Time) (time.Time, error) {
	ss, err := s.Get(ctx, tenant, id)
	if err != nil {
		return time.Time{}, err
	}
	if !ss.Final() {
		return time.Time{}, fmt.Errorf("%w: the session has no final decision", ErrState)
	}
	if endedAt.IsZero() || endedAt.After(s.now().Add(24*time.Hour)) || endedAt.Before(ss.CreatedAt.Add(-time.Hour)) {
		return time.Time{}, fmt.Errorf("%w: ended_at must be after the session started and not in the future", ErrInvalidInput)
	}
	until := endedAt.UTC().AddDate(RetentionYears, 0, 0)
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO ekyc_retention (session_id, tenant_id, subject, contract_ended_at, retain_until, shredded_at)
			VALUES (?, ?, ?, ?, ?, 0)`, ss.ID, ss.TenantID, ss.subject, store.Micros(endedAt), store.Micros(until)); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("%w: the contract end was already recorded", ErrState)
			}
			return err
		}
		return s.record(ctx, tx, a, ss.TenantID, "ekyc.contract.ended", ss.ID, audit.OutcomeOK,
			map[string]string{"retain_until": until.Format(time.DateOnly)})
	})
	return until, err
}

// AbandonedRetention is how long the images and chip data of a session that
// never reached a decision (expired or cancelled) are kept: there is no
// verification record to keep them for.
const AbandonedRetention = 30 * 24 * time.Hour

// ShredExpired crypto-shreds every subject whose retention has run out: the
// subject's data key is deleted (vault.Shred), so its record, evidence and
// images become unreadable. Subjects of sessions that expired or were
// cancelled are shredded AbandonedRetention after their last change. It
// returns how many subjects it shredded.
func (s *Service) ShredExpired(ctx context.Context) (int, error) {
	n, err := s.shredAbandoned(ctx)
	if err != nil {
		return n, err
	}
	m, err := s.shredRetained(ctx)
	return n + m, err
}

// shredDue is a session whose subject is due to be crypto-shredded.
type shredDue struct{ session, tenant, subject string }

// dueForShred runs query, which selects a session id, its tenant id and its
// subject, and returns the rows.
func (s *Service) dueForShred(ctx context.Context, query string, args ...any) ([]shredDue, error) {
	rows, err := s.db.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []shredDue
	for rows.Next() {
		var d shredDue
		if err := rows.Scan(&d.session, &d.tenant, &d.subject); err != nil {
			return nil, err
		}
		list = append(list, d)
	}
	return list, rows.Err()
}

func (s *Service) shredAbandoned(ctx context.Context) (int, error) {
	list, err := s.dueForShred(ctx, `SELECT s.id, s.tenant_id, s.subject FROM ekyc_sessions s
		WHERE s.state IN ('expired', 'cancelled') AND s.updated_at <= ?
		AND NOT EXISTS (SELECT 1 FROM ekyc_retention r WHERE r.session_id = s.id) LIMIT 500`,
		store.Micros(s.now().Add(-AbandonedRetention)))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range list {
		err := s.db.InTx(ctx, func(tx *store.Tx) error {
			now := store.Micros(s.now())
			if _, err := tx.Exec(ctx, `INSERT INTO ekyc_retention (session_id, tenant_id, subject, contract_ended_at, retain_until, shredded_at)
				VALUES (?, ?, ?, 0, ?, ?)`, d.session, d.tenant, d.subject, now, now); err != nil {
				if errors.Is(err, store.ErrConflict) {
					return nil // another instance did it
				}
				return err
			}
			if err := s.cfg.Vault.Shred(ctx, tx, subjectOf(d.tenant, d.subject), vault.System); err != nil {
				return err
			}
			if err := deleteChipDigests(ctx, tx, d.session); err != nil {
				return err
			}
			if err := markCustomersShredded(ctx, tx, d.tenant, d.subject, s.now()); err != nil {
				return err
			}
			if err := s.forgetFraud(ctx, tx, d.tenant, d.subject); err != nil {
				return err
			}
			return s.record(ctx, tx, System, d.tenant, "ekyc.retention.shred_abandoned", d.session, audit.OutcomeOK, nil)
		})
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func (s *Service) shredRetained(ctx context.Context) (int, error) {
	// A subject is erased when its verification record's retention and
	// that of every transaction record kept for it have run out.
	now := store.Micros(s.now())
	list, err := s.dueForShred(ctx, `SELECT r.session_id, r.tenant_id, r.subject FROM ekyc_retention r
		WHERE r.shredded_at = 0 AND r.retain_until <= ?
		AND NOT EXISTS (SELECT 1 FROM ekyc_transactions t WHERE t.session_id = r.session_id AND t.retain_until > ?)
		LIMIT 500`, now, now)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range list {
		err := s.db.InTx(ctx, func(tx *store.Tx) error {
			res, err := tx.Exec(ctx, `UPDATE ekyc_retention SET shredded_at = ? WHERE session_id = ? AND shredded_at = 0`,
				store.Micros(s.now()), d.session)
			if err != nil {
				return err
			}
			if k, _ := res.RowsAffected(); k != 1 {
				return nil // another instance did it
			}
			if err := s.cfg.Vault.Shred(ctx, tx, subjectOf(d.tenant, d.subject), vault.System); err != nil {
				return err
			}
			if err := deleteChipDigests(ctx, tx, d.session); err != nil {
				return err
			}
			if err := markCustomersShredded(ctx, tx, d.tenant, d.subject, s.now()); err != nil {
				return err
			}
			if err := s.forgetFraud(ctx, tx, d.tenant, d.subject); err != nil {
				return err
			}
			return s.record(ctx, tx, System, d.tenant, "ekyc.retention.shred", d.session, audit.OutcomeOK, nil)
		})
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// forgetFraud removes what the fraud checks hold for a shredded subject,
// in the shredding transaction.
func (s *Service) forgetFraud(ctx context.Context, tx *store.Tx, tenant, subject string) error {
	if s.cfg.Fraud == nil {
		return nil
	}
	return s.cfg.Fraud.Forget(ctx, tx, tenant, subject)
}
