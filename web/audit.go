package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
)

// AuditLog is what the HTTP layer needs of the tamper-evident log. Proofs
// and checkpoints carry only hashes, so they are public; entries name a
// tenant and are served only to that tenant's clients with audit:read.
type AuditLog interface {
	// Checkpoint returns the latest signed checkpoint (a C2SP signed note).
	Checkpoint(ctx context.Context) ([]byte, error)
	InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error)
	ConsistencyProof(ctx context.Context, oldSize, newSize uint64) ([][]byte, error)
	// Entry returns a stored entry's tenant and its canonical leaf bytes.
	Entry(ctx context.Context, index uint64) (tenantID string, leaf []byte, err error)
	// VerifierKey returns the C2SP signed-note verifier key
	// ("<origin>+<hash>+<base64 key>") that verifies the checkpoints.
	VerifierKey() string
}

// ErrProofRange is wrapped by AuditLog implementations when the requested
// indices or sizes do not exist in the log.
var ErrProofRange = errors.New("proof range out of bounds")

func (s *Server) auditCheckpoint(w http.ResponseWriter, r *http.Request) error {
	cp, err := s.cfg.Audit.Checkpoint(r.Context())
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(cp)
	return nil
}

// auditKey serves the checkpoints' verifier key, in the C2SP signed-note
// verifier key format (one line). It is public and changes only when the
// operator replaces the log's signing key, so it is cacheable; verifiers
// should still pin it out of band (docs/api.md).
func (s *Server) auditKey(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	_, _ = w.Write([]byte(s.cfg.Audit.VerifierKey() + "\n"))
	return nil
}

type proofResponse struct {
	Index   *uint64  `json:"index,omitempty"`
	OldSize *uint64  `json:"old_size,omitempty"`
	Size    uint64   `json:"size"`
	Hashes  [][]byte `json:"hashes"` // base64 (standard) in JSON
}

func queryUint(r *http.Request, name string) (uint64, *Problem) {
	v := r.URL.Query().Get(name)
	n, err := strconv.ParseUint(v, 10, 63)
	if err != nil {
		p := errBadRequest("Query parameter " + name + " must be a non-negative integer.")
		p.Errors = []FieldError{{Field: name, Detail: "not a non-negative integer"}}
		return 0, p
	}
	return n, nil
}

func (s *Server) proofError(err error) error {
	if errors.Is(err, ErrProofRange) {
		return errBadRequest("The requested index or sizes are outside the log.").withCause(err)
	}
	return err
}

func (s *Server) auditInclusion(w http.ResponseWriter, r *http.Request) error {
	index, p := queryUint(r, "index")
	if p != nil {
		return p
	}
	size, p := queryUint(r, "size")
	if p != nil {
		return p
	}
	h, err := s.cfg.Audit.InclusionProof(r.Context(), index, size)
	if err != nil {
		return s.proofError(err)
	}
	writeJSON(w, http.StatusOK, proofResponse{Index: &index, Size: size, Hashes: nonNil(h)})
	return nil
}

func (s *Server) auditConsistency(w http.ResponseWriter, r *http.Request) error {
	oldSize, p := queryUint(r, "old")
	if p != nil {
		return p
	}
	newSize, p := queryUint(r, "new")
	if p != nil {
		return p
	}
	h, err := s.cfg.Audit.ConsistencyProof(r.Context(), oldSize, newSize)
	if err != nil {
		return s.proofError(err)
	}
	writeJSON(w, http.StatusOK, proofResponse{OldSize: &oldSize, Size: newSize, Hashes: nonNil(h)})
	return nil
}

func (s *Server) auditEntry(w http.ResponseWriter, r *http.Request) error {
	index, err := strconv.ParseUint(r.PathValue("index"), 10, 63)
	if err != nil {
		return errNotFound()
	}
	p, _ := PrincipalFrom(r.Context())
	tenant, leaf, err := s.cfg.Audit.Entry(r.Context(), index)
	if err != nil {
		if errors.Is(err, ErrProofRange) {
			return errNotFound().withCause(err)
		}
		return err
	}
	if tenant != p.TenantID {
		return errNotFound() // another tenant's entry does not exist for this client
	}
	writeJSON(w, http.StatusOK, map[string]any{"index": index, "leaf": leaf})
	return nil
}

func nonNil(h [][]byte) [][]byte {
	if h == nil {
		return [][]byte{}
	}
	return h
}
