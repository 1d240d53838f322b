package fraud

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
	"golang.org/x/text/unicode/norm"
)

// documentDigest is the tenant's keyed digest of a document: kind, issuing
// country and number (NFKC, upper case, spaces and hyphens removed).
func (s *Service) documentDigest(in Input) []byte {
	if in.DocumentNumber == "" {
		return nil
	}
	n := strings.ToUpper(norm.NFKC.String(in.DocumentNumber))
	n = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\u3000' {
			return -1
		}
		return r
	}, n)
	return s.cfg.Key.Digest("document", in.Tenant, in.DocumentKind, strings.ToUpper(in.DocumentCountry), n)
}

// observeDocument records the session's document digest (with its
// identity digest) and a document velocity event; it returns the digest
// (nil without a document number).
func (s *Service) observeDocument(ctx context.Context, in Input, identity []byte) ([]byte, error) {
	d := s.documentDigest(in)
	if d == nil {
		return nil, nil
	}
	if identity == nil {
		identity = []byte{}
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO fraud_documents (digest, tenant_id, session_id, subject, identity, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			d, in.Tenant, in.Session, in.Subject, identity, store.Micros(in.At))
		if errors.Is(err, store.ErrConflict) {
			return nil
		}
		if err != nil {
			return err
		}
		return insertEvent(ctx, tx, in.Tenant, KeyDocument, d, in.Session, in.Subject, in.At)
	})
	return d, err
}

// documentReuse reports other sessions of the tenant that presented the
// same document under another identity, or under the same identity with a
// face that does not match this session's.
func (s *Service) documentReuse(ctx context.Context, in Input, identity, digest []byte) ([]Finding, error) {
	rows, err := s.db.Query(ctx, `SELECT session_id, subject, identity FROM fraud_documents WHERE tenant_id = ? AND digest = ? AND session_id <> ?
		ORDER BY created_at LIMIT 100`, in.Tenant, digest, in.Session)
	if err != nil {
		return nil, err
	}
	type other struct {
		session, subject string
		identity         []byte
	}
	var others []other
	for rows.Next() {
		var o other
		if err := rows.Scan(&o.session, &o.subject, &o.identity); err != nil {
			rows.Close()
			return nil, err
		}
		others = append(others, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var names, faces []string
	for _, o := range others {
		if len(identity) == 0 || len(o.identity) == 0 || subtle.ConstantTimeCompare(identity, o.identity) != 1 {
			names = append(names, o.session)
			continue
		}
		if in.Face == nil {
			continue
		}
		same, known, err := s.sameFace(ctx, in, o.session, o.subject)
		if err != nil {
			return nil, err
		}
		if known && !same {
			faces = append(faces, o.session)
		}
	}
	if len(names) == 0 && len(faces) == 0 {
		return nil, nil
	}
	var parts []string
	if len(names) > 0 {
		parts = append(parts, fmt.Sprintf("under other personal data in %d earlier session(s)", len(names)))
	}
	if len(faces) > 0 {
		parts = append(parts, fmt.Sprintf("with another face in %d earlier session(s)", len(faces)))
	}
	sessions := slices.Compact(slices.Sorted(slices.Values(append(names, faces...))))
	return []Finding{{Code: ReasonDocumentReused, Sessions: sessions,
		Detail: "the same document was presented " + strings.Join(parts, " and ")}}, nil
}

// sameFace compares the probe with the template staged for another session
// of the same model; known is false when that session has none (or its
// subject was shredded).
func (s *Service) sameFace(ctx context.Context, in Input, session, subject string) (same, known bool, err error) {
	var sealed []byte
	model := in.Face.Model()
	err = s.db.QueryRow(ctx, `SELECT template FROM fraud_gallery WHERE tenant_id = ? AND session_id = ? AND model = ?`,
		in.Tenant, session, model).Scan(&sealed)
	if errors.Is(err, store.ErrNotFound) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	pt, err := s.cfg.Vault.Open(ctx, s.db, vault.SubjectRef{Tenant: in.Tenant, Subject: subject}, galleryAAD(session, model), sealed)
	if errors.Is(err, vault.ErrShredded) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	t, err := decodeTemplate(model, pt)
	clear(pt)
	if err != nil {
		return false, false, err
	}
	sc, err := face.Compare(*in.Face, t)
	if err != nil {
		return false, false, nil
	}
	return float64(sc) > in.FaceThreshold, true, nil
}

// Observe records that session saw a velocity key (a device, or the
// network the capture page came from) at time at. Values are kept only as
// the tenant's keyed digests; a network address is reduced to its /24
// (IPv4) or /48 (IPv6) prefix first. Recording twice is a no-op.
func (s *Service) Observe(ctx context.Context, tenant, session, subject, kind, value string, at time.Time) error {
	if value == "" {
		return nil
	}
	switch kind {
	case KeyDevice:
	case KeyNetwork:
		value = networkOf(value)
		if value == "" {
			return nil
		}
	default:
		return fmt.Errorf("%w: velocity key %q", ErrInvalidInput, kind)
	}
	d := s.cfg.Key.Digest("velocity/"+kind, tenant, value)
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		return insertEvent(ctx, tx, tenant, kind, d, session, subject, at)
	})
}

// networkOf reduces an address to the network velocity counts: the /24 of
// an IPv4 address, the /48 of an IPv6 one; "" if it does not parse.
func networkOf(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		ap, err2 := netip.ParseAddrPort(addr)
		if err2 != nil {
			return ""
		}
		a = ap.Addr()
	}
	a = a.Unmap()
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}

func insertEvent(ctx context.Context, tx *store.Tx, tenant, kind string, digest []byte, session, subject string, at time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO fraud_events (tenant_id, kind, digest, session_id, subject, at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, kind, digest, session_id) DO NOTHING`, tenant, kind, digest, session, subject, store.Micros(at))
	return err
}

// velocity applies the policy's rules: sessions of the tenant sharing this
// session's device, network or document within each window.
func (s *Service) velocity(ctx context.Context, p Policy, in Input) ([]Finding, error) {
	var out []Finding
	for _, r := range p.Velocity {
		rows, err := s.db.Query(ctx, `SELECT DISTINCT o.session_id FROM fraud_events e
			JOIN fraud_events o ON o.tenant_id = e.tenant_id AND o.kind = e.kind AND o.digest = e.digest
			WHERE e.tenant_id = ? AND e.session_id = ? AND e.kind = ? AND o.at > ? AND o.at <= ?
			ORDER BY o.session_id LIMIT 1001`,
			in.Tenant, in.Session, r.Key, store.Micros(in.At.Add(-windowOf(r))), store.Micros(in.At))
		if err != nil {
			return nil, err
		}
		var sessions []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			sessions = append(sessions, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if len(sessions) <= r.Max {
			continue
		}
		others := slices.DeleteFunc(sessions, func(id string) bool { return id == in.Session })
		if len(others) > 20 {
			others = others[:20]
		}
		out = append(out, Finding{Code: ReasonVelocity, Sessions: others,
			Detail: fmt.Sprintf("%d sessions with the same %s within %s (the policy allows %d)", len(sessions), r.Key, windowOf(r), r.Max)})
	}
	return out, nil
}

func itoa(n int) string { return strconv.Itoa(n) }
