package portal

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/portal/recordpdf"
	"github.com/madoguchi/madoguchi/vault"
)

var errShredded = &statusError{http.StatusGone, "records.shredded"}
var errNoPDF = &statusError{http.StatusServiceUnavailable, "records.no_pdf"}

// recordJSON downloads the record with its audit proof (recordExport).
func recordJSON(rq *Request) error {
	_, ex, err := exportRecord(rq, "json")
	if err != nil {
		return shreddedErr(err)
	}
	b, err := json.MarshalIndent(ex, "", "  ")
	if err != nil {
		return err
	}
	return download(rq, "application/json", rq.PathValue("id")+".json", append(b, '\n'))
}

// recordPDF downloads the record as PDF, with the JSON download attached.
func recordPDF(rq *Request) error {
	if rq.s.cfg.Records == nil {
		return ErrNotFound
	}
	if _, err := Load(rq, recordKind, rq.PathValue("id")); err != nil {
		return err
	}
	if rq.s.cfg.PDFFont == nil {
		return errNoPDF
	}
	rec, ex, err := exportRecord(rq, "pdf")
	if err != nil {
		return shreddedErr(err)
	}
	attach, err := json.MarshalIndent(ex, "", "  ")
	if err != nil {
		return err
	}
	cp, err := audit.VerifyCheckpoint([]byte(ex.AuditProof.Checkpoint), ex.VerifierKey)
	if err != nil {
		return err
	}
	ri, err := ekyc.RecordByID(rq.Ctx(), rq.s.cfg.DB, rec.ID)
	if err != nil {
		return err
	}
	b, err := recordpdf.Render(recordpdf.Input{Record: rec, Tenant: rq.tenantName(rec.TenantID), Retention: ri.Retention,
		Rule: RetentionRule, ExportedAt: ex.ExportedAt, Proof: ex.AuditProof, Checkpoint: cp, Attachment: append(attach, '\n')}, rq.s.cfg.PDFFont)
	if err != nil {
		return err
	}
	return download(rq, "application/pdf", rec.ID+".pdf", b)
}

func shreddedErr(err error) error {
	if errors.Is(err, vault.ErrShredded) {
		return errShredded
	}
	return err
}

func download(rq *Request, ct, name string, b []byte) error {
	h := rq.W.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	rq.W.WriteHeader(http.StatusOK)
	_, err := rq.W.Write(b)
	return err
}
