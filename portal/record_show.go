package portal

import (
	"errors"
	"net/http"
	"sort"

	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/vault"
)

type recordPage struct {
	Info     ekyc.RecordInfo
	Tenant   string
	Rec      *ekyc.Record
	Shredded bool
	Claims   []attr
	Rule     string
	PDF      bool
}

// recordShow shows one verification record (personal data: the view and
// its audit entry commit together) with its retention dates and the
// downloads.
func recordShow(rq *Request) error {
	if rq.s.cfg.Records == nil {
		return ErrNotFound
	}
	ri, err := Load(rq, recordKind, rq.PathValue("id"))
	if err != nil {
		return err
	}
	page := recordPage{Info: ri, Tenant: rq.tenantName(ri.TenantID), Rule: RetentionRule, PDF: rq.s.cfg.PDFFont != nil}
	err = rq.ViewTx(ri.TenantID, "ekyc.record:"+ri.ID, func(q Querier) error {
		rec, err := rq.s.cfg.Records.OpenRecord(rq.Ctx(), q, ri)
		if errors.Is(err, vault.ErrShredded) {
			page.Shredded = true
			return nil
		}
		page.Rec = rec
		return err
	})
	if err != nil {
		return notFoundEKYC(err)
	}
	if page.Rec != nil {
		keys := make([]string, 0, len(page.Rec.Claims))
		for k := range page.Rec.Claims {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			page.Claims = append(page.Claims, attr{Name: k, Value: claimText(page.Rec.Claims[k])})
		}
	}
	return rq.Render(http.StatusOK, "record", "records.record_title", page)
}
