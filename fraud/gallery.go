package fraud

import (
	"context"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// Gallery entry states: staged at decision time (the probe, sealed), made
// active when the session is approved (Approved), the only state searched.
const (
	statePending = "pending"
	stateActive  = "active"
)

func galleryAAD(session, model string) []byte { return vault.AAD("fraud.gallery", session, model) }

// encodeTemplate is the sealed plaintext of a template: its values as
// little-endian float32.
func encodeTemplate(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func decodeTemplate(model string, b []byte) (face.Template, error) {
	if len(b) == 0 || len(b)%4 != 0 {
		return face.Template{}, fmt.Errorf("fraud: stored template has %d bytes", len(b))
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return face.NewTemplate(model, v)
}

// stage stores the session's probe sealed under its subject (pending), or
// leaves an earlier staging of the same session and model in place.
func (s *Service) stage(ctx context.Context, in Input, identity []byte) error {
	model := in.Face.Model()
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM fraud_gallery WHERE session_id = ? AND model = ?`, in.Session, model).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		sealed, err := s.cfg.Vault.Seal(ctx, tx, vault.SubjectRef{Tenant: in.Tenant, Subject: in.Subject},
			galleryAAD(in.Session, model), encodeTemplate(in.Face.Values()))
		if err != nil {
			return err
		}
		if identity == nil {
			identity = []byte{}
		}
		_, err = tx.Exec(ctx, `INSERT INTO fraud_gallery (tenant_id, subject, session_id, model, dim, state, template, identity, created_at, enrolled_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)`, in.Tenant, in.Subject, in.Session, model, in.Face.Len(), statePending,
			sealed, identity, store.Micros(s.now()))
		return err
	})
}

// Approved enrols the session's staged templates into the tenant's
// gallery, in the transaction that approves the session, and adds them to
// this instance's index. A session without a staged template (no live
// face) enrols nothing.
func (s *Service) Approved(ctx context.Context, tx *store.Tx, tenant, session string) error {
	type row struct {
		id             int64
		subject, model string
		sealed         []byte
	}
	rows, err := tx.Query(ctx, `SELECT id, subject, model, template FROM fraud_gallery WHERE tenant_id = ? AND session_id = ? AND state = ?`,
		tenant, session, statePending)
	if err != nil {
		return err
	}
	var list []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.subject, &r.model, &r.sealed); err != nil {
			rows.Close()
			return err
		}
		list = append(list, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	now := store.Micros(s.now())
	for _, r := range list {
		pt, err := s.cfg.Vault.Open(ctx, tx, vault.SubjectRef{Tenant: tenant, Subject: r.subject}, galleryAAD(session, r.model), r.sealed)
		if err != nil {
			return err
		}
		t, err := decodeTemplate(r.model, pt)
		clear(pt)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE fraud_gallery SET state = ?, enrolled_at = ? WHERE id = ?`, stateActive, now, r.id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO fraud_gallery_changes (entry_id, op, at) VALUES (?, 'add', ?)`, r.id, now); err != nil {
			return err
		}
		if err := s.record(ctx, tx, System, tenant, "fraud.gallery.enrol", session, audit.OutcomeOK,
			map[string]string{"model": r.model}); err != nil {
			return err
		}
		// Added before the commit: if the transaction rolls back, the entry
		// is pending in the store and confirm drops it.
		if err := s.index.add(r.id, tenant, r.model, t.Values()); err != nil {
			return err
		}
	}
	return nil
}

// entry is a gallery row confirmed against the store.
type entry struct {
	id                       int64
	tenant, subject, session string
	identity                 []byte
	template                 face.Template
}

// confirm re-reads a candidate from the store: it must still be active
// and its subject's key must open it (a shredded subject cannot). A
// candidate that fails is dropped from this instance's index.
func (s *Service) confirm(ctx context.Context, id int64, model string) (*entry, error) {
	var (
		e      = entry{id: id}
		state  string
		m      string
		sealed []byte
	)
	err := s.db.QueryRow(ctx, `SELECT tenant_id, subject, session_id, model, state, template, identity FROM fraud_gallery WHERE id = ?`, id).
		Scan(&e.tenant, &e.subject, &e.session, &m, &state, &sealed, &e.identity)
	if errors.Is(err, store.ErrNotFound) || err == nil && (state != stateActive || m != model) {
		s.index.remove(id)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	pt, err := s.cfg.Vault.Open(ctx, s.db, vault.SubjectRef{Tenant: e.tenant, Subject: e.subject}, galleryAAD(e.session, m), sealed)
	if errors.Is(err, vault.ErrShredded) {
		s.index.remove(id)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	e.template, err = decodeTemplate(m, pt)
	clear(pt)
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// maxCandidates bounds how many index candidates one search confirms.
const maxCandidates = 16

// duplicates searches the gallery for the probe.
func (s *Service) duplicates(ctx context.Context, p Policy, in Input, identity []byte) ([]Finding, error) {
	model := in.Face.Model()
	thr, ok := p.Duplicates.Thresholds[model]
	if !ok {
		detail := "the duplicate-face search has no 1:N threshold for the face model " + model + ": a person checks"
		if c := s.index.counts(in.Tenant); len(c) > 0 {
			detail += fmt.Sprintf(" (the gallery holds %d template(s) of other models, which are never compared)", total(c)-c[model])
		}
		return []Finding{{Code: ReasonDuplicateUnchecked, Detail: detail}}, nil
	}
	if !s.ready() {
		return nil, ErrNotReady
	}
	// Read what other instances enrolled since the last sync: an approval
	// anywhere is searchable by the next decision everywhere.
	if err := s.Sync(ctx); err != nil {
		return nil, err
	}
	tenants := []string{in.Tenant}
	if p.Duplicates.CrossTenant {
		others, err := s.crossTenants(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		tenants = append(tenants, others...)
	}
	hits := s.index.search(tenants, model, in.Face.Values(), float32(thr-quantMargin), maxCandidates)
	var (
		sessions []string
		best     float64
		foreign  int
	)
	for _, h := range hits {
		e, err := s.confirm(ctx, h.id, model)
		if err != nil {
			return nil, err
		}
		if e == nil || e.session == in.Session || e.tenant == in.Tenant && e.subject == in.Subject {
			continue
		}
		sc, err := face.Compare(*in.Face, e.template)
		if err != nil || float64(sc) <= thr {
			continue
		}
		if len(identity) > 0 && subtle.ConstantTimeCompare(identity, e.identity) == 1 {
			continue // the same person re-verifying under the same identity
		}
		best = math.Max(best, float64(sc))
		if e.tenant == in.Tenant {
			sessions = append(sessions, e.session)
		} else {
			foreign++
		}
	}
	if len(sessions) == 0 && foreign == 0 {
		return nil, nil
	}
	slices.Sort(sessions)
	var parts []string
	if len(sessions) > 0 {
		parts = append(parts, fmt.Sprintf("%d approved session(s) of this service", len(sessions)))
	}
	if foreign > 0 {
		parts = append(parts, fmt.Sprintf("%d at other services sharing the gallery (not named)", foreign))
	}
	return []Finding{{
		Code: ReasonDuplicateIdentity, Sessions: sessions, Score: round4(best),
		Detail: fmt.Sprintf("the live face matches %s under different personal data (similarity %.4f above the 1:N threshold %.4f)",
			strings.Join(parts, " and "), best, thr),
	}}, nil
}

func (s *Service) ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loaded
}

// Load rebuilds the in-memory index from the store: every active gallery
// entry is opened under its subject's key. Entries whose subject was
// shredded are skipped. Check refuses to search (ErrNotReady) until it
// has succeeded.
func (s *Service) Load(ctx context.Context) (int, error) {
	var seq int64
	if err := s.db.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM fraud_gallery_changes`).Scan(&seq); err != nil {
		return 0, err
	}
	n, err := s.loadWhere(ctx, `state = ?`, stateActive)
	if err != nil {
		return n, err
	}
	s.mu.Lock()
	s.loaded, s.lastSeq = true, seq
	s.mu.Unlock()
	return n, nil
}

// loadWhere adds the gallery rows matching cond to the index.
func (s *Service) loadWhere(ctx context.Context, cond string, args ...any) (int, error) {
	rows, err := s.db.Query(ctx, `SELECT id, tenant_id, subject, session_id, model, template FROM fraud_gallery WHERE `+cond+` ORDER BY id`, args...)
	if err != nil {
		return 0, err
	}
	type row struct {
		id                              int64
		tenant, subject, session, model string
		sealed                          []byte
	}
	var list []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.tenant, &r.subject, &r.session, &r.model, &r.sealed); err != nil {
			rows.Close()
			return 0, err
		}
		list = append(list, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, r := range list {
		pt, err := s.cfg.Vault.Open(ctx, s.db, vault.SubjectRef{Tenant: r.tenant, Subject: r.subject}, galleryAAD(r.session, r.model), r.sealed)
		if errors.Is(err, vault.ErrShredded) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("fraud: gallery entry %d: %w", r.id, err)
		}
		t, err := decodeTemplate(r.model, pt)
		clear(pt)
		if err != nil {
			return n, fmt.Errorf("fraud: gallery entry %d: %w", r.id, err)
		}
		if err := s.index.add(r.id, r.tenant, r.model, t.Values()); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// syncOverlap re-reads this many earlier changes on every Sync: on
// PostgreSQL an identity value can commit after a larger one.
const syncOverlap = 256

// Sync applies the gallery changes other instances committed since the
// last Load or Sync (the server runs it every few seconds).
func (s *Service) Sync(ctx context.Context) error {
	s.mu.Lock()
	from, loaded := s.lastSeq, s.loaded
	s.mu.Unlock()
	if !loaded {
		_, err := s.Load(ctx)
		return err
	}
	rows, err := s.db.Query(ctx, `SELECT seq, entry_id, op FROM fraud_gallery_changes WHERE seq > ? ORDER BY seq`, from-syncOverlap)
	if err != nil {
		return err
	}
	var (
		last int64 = from
		adds []int64
	)
	removed := map[int64]bool{}
	for rows.Next() {
		var (
			seq, id int64
			op      string
		)
		if err := rows.Scan(&seq, &id, &op); err != nil {
			rows.Close()
			return err
		}
		last = max(last, seq)
		if op == "remove" {
			removed[id] = true
		} else {
			adds = append(adds, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for id := range removed {
		s.index.remove(id)
	}
	for _, id := range adds {
		if removed[id] || s.index.has(id) {
			continue
		}
		if _, err := s.loadWhere(ctx, `id = ? AND state = ?`, id, stateActive); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.lastSeq = max(s.lastSeq, last)
	s.syncs++
	full := s.syncs%reconcileEvery == 0
	s.mu.Unlock()
	if full {
		return s.Reconcile(ctx)
	}
	return nil
}

// reconcileEvery is how many syncs pass between full reconciliations.
const reconcileEvery = 60

// Reconcile compares the index with the active entries in the store and
// repairs any difference (an entry added or removed in memory by a
// transaction that then rolled back). Sync runs it every reconcileEvery
// calls; it reads only ids unless something differs.
func (s *Service) Reconcile(ctx context.Context) error {
	rows, err := s.db.Query(ctx, `SELECT id FROM fraud_gallery WHERE state = ?`, stateActive)
	if err != nil {
		return err
	}
	want := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		want[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range s.index.ids() {
		if !want[id] {
			s.index.remove(id)
		}
	}
	for id := range want {
		if !s.index.has(id) {
			if _, err := s.loadWhere(ctx, `id = ? AND state = ?`, id, stateActive); err != nil {
				return err
			}
		}
	}
	return nil
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

// GalleryStatus counts a tenant's gallery entries per model and state:
// what an operator looks at after a face-model change (docs/fraud.md).
type GalleryStatus struct {
	Tenant string                    `json:"tenant"`
	Models map[string]map[string]int `json:"models"`          // model → state → entries
	Index  map[string]int            `json:"index,omitempty"` // model → entries in this process's index, once loaded
}

// GalleryStatus returns tenant's gallery counts.
func (s *Service) GalleryStatus(ctx context.Context, tenant string) (*GalleryStatus, error) {
	rows, err := s.db.Query(ctx, `SELECT model, state, COUNT(*) FROM fraud_gallery WHERE tenant_id = ? GROUP BY model, state`, tenant)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	st := &GalleryStatus{Tenant: tenant, Models: map[string]map[string]int{}}
	if s.ready() {
		st.Index = s.index.counts(tenant)
	}
	for rows.Next() {
		var (
			m, state string
			n        int
		)
		if err := rows.Scan(&m, &state, &n); err != nil {
			return nil, err
		}
		if st.Models[m] == nil {
			st.Models[m] = map[string]int{}
		}
		st.Models[m][state] = n
	}
	return st, rows.Err()
}
