package portal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/store"
)

// Prover builds the audit proofs of record downloads (*audit.Log).
type Prover interface {
	ProveObjects(ctx context.Context, objects []string, limit int) (audit.ProofBundle, error)
	ProveSelection(ctx context.Context, sel audit.Selection, limit int) (audit.ProofBundle, error)
	VerifierKey() string
}

var _ Prover = (*audit.Log)(nil)

// recordRoles may find and read verification records: the tenant's
// reviewers, administrators and auditors, and the operator's
// administrators and auditors.
var recordRoles = []Role{TenantReviewer, TenantAdmin, TenantAuditor, OperatorAdmin, OperatorAuditor}

// recordKind is a verification record (its description: no personal
// data); the record itself is opened inside an audited transaction.
var recordKind = ObjectKind[ekyc.RecordInfo]{
	Name: "ekyc.record",
	Fetch: func(ctx context.Context, q Querier, id string) (ekyc.RecordInfo, Owner, error) {
		ri, err := ekyc.RecordByID(ctx, q, id)
		return ri, Owner{TenantID: ri.TenantID}, notFoundEKYC(err)
	},
}

// ExportFormat names the JSON download of a verification record.
const ExportFormat = "madoguchi.ekyc/record-export@v1"

// recordExport is the JSON download: the record, its retention, and the
// audit proof of its trail (its entries and the session's, including this
// export's own entry, whose record_sha256 binds the record bytes) against
// a checkpoint signed at download time. `madoguchi audit verify --proof
// FILE --key KEY` checks it offline.
type recordExport struct {
	Format      string            `json:"format"`
	Record      json.RawMessage   `json:"record"`
	Retention   exportRetention   `json:"retention"`
	ExportedAt  time.Time         `json:"exported_at"`
	VerifierKey string            `json:"audit_verifier_key"`
	AuditProof  audit.ProofBundle `json:"audit_proof"`
}

type exportRetention struct {
	ContractEndedAt time.Time `json:"contract_ended_at,omitzero"`
	RetainUntil     time.Time `json:"retain_until,omitzero"`
	ShreddedAt      time.Time `json:"shredded_at,omitzero"`
	Rule            string    `json:"rule"`
}

// RetentionRule states the retention period of verification records.
const RetentionRule = "kept 7 years after the contract ends (犯罪収益移転防止法 第6条第2項), then crypto-shredded"

// exportRecord opens the record {id}, writes the export's audit entry in
// the same transaction and builds the download with its audit proof.
func exportRecord(rq *Request, formatName string) (*ekyc.Record, *recordExport, error) {
	if rq.s.cfg.Records == nil || rq.s.cfg.Proofs == nil {
		return nil, nil, ErrNotFound
	}
	ri, err := Load(rq, recordKind, rq.PathValue("id"))
	if err != nil {
		return nil, nil, err
	}
	var (
		rec    *ekyc.Record
		raw    []byte
		export uint64
	)
	err = rq.s.cfg.DB.InTx(rq.Ctx(), func(tx *store.Tx) error {
		var err error
		if rec, err = rq.s.cfg.Records.OpenRecord(rq.Ctx(), tx, ri); err != nil {
			return err
		}
		if raw, err = json.Marshal(rec); err != nil {
			return err
		}
		sum := sha256.Sum256(raw)
		export, err = rq.auditTxIndex(tx, "ekyc.record.export", ri.TenantID, ri.ID, audit.OutcomeOK,
			map[string]string{"route": rq.route.Path, "format": formatName, "record_sha256": hex.EncodeToString(sum[:])})
		return err
	})
	if err != nil {
		return nil, nil, shreddedErr(notFoundEKYC(err))
	}
	// The proof carries the record's history and this export's own entry
	// (what was exported, by whom), not who looked at it before: page views
	// and earlier exports stay in the object's trail, and the bundle stays
	// the size of the record's history however often it is read.
	bundle, err := rq.s.cfg.Proofs.ProveSelection(rq.Ctx(), audit.Selection{
		Objects:     []string{ri.ID, ri.SessionID, "ekyc.record:" + ri.ID, "ekyc.session:" + ri.SessionID},
		SkipActions: []string{"portal.view", "ekyc.record.export"},
		Indexes:     []uint64{export},
	}, audit.MaxBundleEntries)
	if err != nil {
		return nil, nil, err
	}
	ex := &recordExport{Format: ExportFormat, Record: raw, ExportedAt: rq.s.cfg.Now().UTC(), VerifierKey: rq.s.cfg.Proofs.VerifierKey(), AuditProof: bundle,
		Retention: exportRetention{ContractEndedAt: ri.Retention.ContractEndedAt, RetainUntil: ri.Retention.RetainUntil,
			ShreddedAt: ri.Retention.ShreddedAt, Rule: RetentionRule}}
	return rec, ex, nil
}
