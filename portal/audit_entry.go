package portal

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/madoguchi/madoguchi/audit"
)

// The entry page: one audit entry (who, what, which object, when, from
// where), the latest signed checkpoint, and the entry's inclusion proof
// verified in the browser (static/audit.js with static/auditproof.js:
// RFC 9162 hashing and the checkpoint's Ed25519 signature with WebCrypto,
// against the log's verifier key, which the auditor may replace with a key
// obtained elsewhere). The same proof downloads as a bundle for
// 'madoguchi audit verify --proof'.

// loadedEntry is an entry read for a page: its index, tenant, leaf and
// parsed form.
type loadedEntry struct {
	Index  uint64
	Tenant string
	Leaf   []byte
	Entry  audit.Entry
}

// errTampered: an entry that no longer matches its hash is shown as such
// (the cause is logged as an integrity alarm).
var errTampered = &statusError{http.StatusInternalServerError, "audit.tampered"}

// entryKind loads an audit entry by index, scoped to its tenant. It reads
// through the audit log, not in a store transaction, so the view is
// recorded after the read (loadEntry) rather than by Load.
func entryKind(rq *Request) ObjectKind[loadedEntry] {
	return ObjectKind[loadedEntry]{
		Name: "audit_entry",
		Fetch: func(ctx context.Context, _ Querier, id string) (loadedEntry, Owner, error) {
			idx, err := strconv.ParseUint(id, 10, 63)
			if err != nil || strconv.FormatUint(idx, 10) != id {
				return loadedEntry{}, Owner{}, ErrNotFound
			}
			tenant, leaf, err := rq.s.cfg.AuditLog.Entry(ctx, idx)
			switch {
			case errors.Is(err, audit.ErrRange):
				return loadedEntry{}, Owner{}, ErrNotFound
			case errors.Is(err, audit.ErrTampered):
				rq.s.log.ErrorContext(ctx, "AUDIT LOG INTEGRITY: an entry does not match its leaf hash", "index", idx)
				return loadedEntry{}, Owner{}, errTampered
			case err != nil:
				return loadedEntry{}, Owner{}, err
			}
			e, err := audit.ParseLeaf(leaf)
			if err != nil || e.TenantID != tenant {
				rq.s.log.ErrorContext(ctx, "AUDIT LOG INTEGRITY: a stored entry is not what its columns say", "index", idx, "err", err)
				return loadedEntry{}, Owner{}, errTampered
			}
			return loadedEntry{Index: idx, Tenant: tenant, Leaf: leaf, Entry: e}, Owner{TenantID: tenant}, nil
		},
	}
}

type auditEntryPage struct {
	Row        auditRow
	Checkpoint checkpointView
	// Covered: the latest checkpoint includes the entry, so it can be
	// proven now.
	Covered     bool
	ProofURL    string
	DownloadURL string
	// Expect is the entry as the page shows it, for the browser to compare
	// with the leaf it verifies (JSON).
	Expect string
	// KeyURL is where the verifier key is published ("": use the page's).
	KeyURL string
}

// loadEntry loads the entry of the path's id for the signed-in person and
// records the view (entries name staff and their addresses): nothing is
// shown unless the record is written.
func loadEntry(rq *Request) (loadedEntry, error) {
	le, err := Load(rq, entryKind(rq), rq.PathValue("id"))
	if err != nil {
		return le, err
	}
	return le, rq.Audit("portal.view", le.Tenant, "audit_entry:"+strconv.FormatUint(le.Index, 10), audit.OutcomeOK,
		map[string]string{"route": rq.route.Path})
}

func auditEntry(rq *Request) error {
	le, err := loadEntry(rq)
	if err != nil {
		return err
	}
	rows, err := rq.rows([]audit.Record{{Index: le.Index, Entry: le.Entry}})
	if err != nil {
		return err
	}
	p := auditEntryPage{Row: rows[0]}
	if p.Checkpoint, err = rq.checkpoint(); err != nil {
		return err
	}
	p.Covered = !p.Checkpoint.None && !p.Checkpoint.Invalid && le.Index < p.Checkpoint.Size
	p.ProofURL = Prefix + "/audit/entries/" + strconv.FormatUint(le.Index, 10) + "/proof"
	p.DownloadURL = p.ProofURL + "?download=1"
	p.KeyURL = rq.s.cfg.AuditKeyURL
	e := le.Entry
	exp, err := json.Marshal(map[string]any{
		"index": strconv.FormatUint(le.Index, 10), "time_us": strconv.FormatInt(e.Time.UnixMicro(), 10),
		"actor_kind": e.ActorKind, "actor_id": e.ActorID, "tenant_id": e.TenantID, "action": e.Action,
		"object": e.Object, "request_id": e.RequestID, "outcome": e.Outcome, "details": nonNil(e.Details),
	})
	if err != nil {
		return err
	}
	p.Expect = string(exp)
	return rq.Render(http.StatusOK, "audit_entry", "audit.entry_title", p)
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// errNotCheckpointed: no signed checkpoint covers the entry yet.
var errNotCheckpointed = &statusError{http.StatusConflict, "audit.not_checkpointed"}

// auditProof answers the entry's proof bundle: a C2SP tlog-proof carrying
// the entry's leaf and the latest signed checkpoint, the file
// 'madoguchi audit verify --proof FILE --key KEY' checks offline. With
// ?download=1 it is an attachment.
func auditProof(rq *Request) error {
	le, err := loadEntry(rq)
	if err != nil {
		return err
	}
	cp, err := rq.checkpoint()
	if err != nil {
		return err
	}
	if cp.None || cp.Invalid || le.Index >= cp.Size {
		return errNotCheckpointed
	}
	proof, err := rq.s.cfg.AuditLog.InclusionProof(rq.Ctx(), le.Index, cp.Size)
	if err != nil {
		return err
	}
	b := audit.FormatInclusionProof(audit.InclusionProofFile{Leaf: le.Leaf, Index: le.Index, Proof: proof, Checkpoint: cp.note})
	h := rq.W.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if rq.R.URL.Query().Get("download") == "1" {
		h.Set("Content-Disposition", `attachment; filename="madoguchi-audit-entry-`+strconv.FormatUint(le.Index, 10)+`.tlog-proof"`)
	}
	rq.W.WriteHeader(http.StatusOK)
	_, err = rq.W.Write(b)
	return err
}
