package fraud

import (
	"context"
	"errors"
	"fmt"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// Re-enrolment after a face-model change. Templates of different models
// never compare (they live in different shards of the index), so after the
// engine changes model the approved customers are not searched until they
// verify again. Reenrol closes that gap from the evidence eKYC already
// holds: for each approved session of the tenant with an active entry of
// another model and none of the new one, extract (the eKYC side, opening
// the session's sealed selfie frames and running the current engine)
// returns a template of the new model, which is enrolled active under the
// same session, subject and identity digest.
//
// Invariants:
//   - Only sessions with an active entry (approved, not shredded) are
//     re-enrolled; the new entry is written only if that entry is still
//     active when it is written, so a subject shredded meanwhile is not
//     re-enrolled.
//   - A template of another model than asked is refused (the engine that
//     extracted it is not the one the operator named): nothing is written.
//   - Re-running is idempotent: a session with an entry of the new model
//     is skipped. The old entries stay until their subjects are shredded.
//   - Every new entry is audited (fraud.gallery.reenrol, naming both
//     models) and goes through the change log, so other instances add it.

// Extractor returns the face template of an approved session computed by
// the current face engine: nil if no selfie frame shows a face; an error
// wrapping vault.ErrShredded if the subject was shredded.
type Extractor func(ctx context.Context, session string) (*face.Template, error)

// ReenrolReport counts what Reenrol did.
type ReenrolReport struct {
	Tenant   string `json:"tenant"`
	Model    string `json:"model"`
	Sessions int    `json:"sessions"` // approved sessions without an entry of Model
	Enrolled int    `json:"enrolled"`
	NoFace   int    `json:"no_face"`  // no selfie frame showed a face to the new engine
	Shredded int    `json:"shredded"` // shredded before they could be re-enrolled
}

// Reenrol enrols, under model, the tenant's approved sessions that have an
// active gallery entry of another model only (see the comment above).
func (s *Service) Reenrol(ctx context.Context, tenant, model string, extract Extractor) (*ReenrolReport, error) {
	if model == "" {
		return nil, fmt.Errorf("fraud: re-enrolment needs a model")
	}
	rep := &ReenrolReport{Tenant: tenant, Model: model}
	type cand struct {
		id                     int64
		subject, session, from string
		identity               []byte
	}
	rows, err := s.db.Query(ctx, `SELECT g.id, g.subject, g.session_id, g.model, g.identity FROM fraud_gallery g
		WHERE g.tenant_id = ? AND g.state = ? AND g.model <> ?
		AND NOT EXISTS (SELECT 1 FROM fraud_gallery h WHERE h.session_id = g.session_id AND h.model = ?)
		ORDER BY g.id`, tenant, stateActive, model, model)
	if err != nil {
		return nil, err
	}
	var list []cand
	seen := map[string]bool{}
	for rows.Next() {
		var c cand
		if err := rows.Scan(&c.id, &c.subject, &c.session, &c.from, &c.identity); err != nil {
			rows.Close()
			return nil, err
		}
		if !seen[c.session] { // a session with entries of two old models
			seen[c.session] = true
			list = append(list, c)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rep.Sessions = len(list)
	for _, c := range list {
		t, err := extract(ctx, c.session)
		switch {
		case errors.Is(err, vault.ErrShredded):
			rep.Shredded++
			continue
		case err != nil:
			return rep, fmt.Errorf("fraud: re-enrol %s: %w", c.session, err)
		case t == nil:
			rep.NoFace++
			continue
		case t.Model() != model:
			return rep, fmt.Errorf("fraud: re-enrol %s: the engine gave a template of %q, not %q: %w", c.session, t.Model(), model, face.ErrModelMismatch)
		}
		ok, err := s.reenrolOne(ctx, tenant, c.id, c.subject, c.session, c.from, c.identity, *t)
		if err != nil {
			return rep, err
		}
		if ok {
			rep.Enrolled++
		} else {
			rep.Shredded++
		}
	}
	return rep, nil
}

// reenrolOne writes the new model's entry if the old one is still active;
// it reports whether it did.
func (s *Service) reenrolOne(ctx context.Context, tenant string, oldID int64, subject, session, from string, identity []byte, t face.Template) (bool, error) {
	var newID int64
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM fraud_gallery WHERE id = ? AND state = ?`, oldID, stateActive).Scan(&n); err != nil || n == 0 {
			return err
		}
		sealed, err := s.cfg.Vault.Seal(ctx, tx, vault.SubjectRef{Tenant: tenant, Subject: subject}, galleryAAD(session, t.Model()), encodeTemplate(t.Values()))
		if err != nil {
			return err
		}
		now := store.Micros(s.now())
		if err := tx.QueryRow(ctx, `INSERT INTO fraud_gallery (tenant_id, subject, session_id, model, dim, state, template, identity, created_at, enrolled_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, tenant, subject, session, t.Model(), t.Len(), stateActive,
			sealed, identity, now, now).Scan(&newID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO fraud_gallery_changes (entry_id, op, at) VALUES (?, 'add', ?)`, newID, now); err != nil {
			return err
		}
		return s.record(ctx, tx, System, tenant, "fraud.gallery.reenrol", session, audit.OutcomeOK,
			map[string]string{"model": t.Model(), "from": from})
	})
	if err != nil || newID == 0 {
		return false, err
	}
	// After the commit: this instance searches it at once (others through
	// the change log).
	return true, s.index.add(newID, tenant, t.Model(), t.Values())
}
