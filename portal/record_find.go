package portal

import (
	"errors"
	"net/http"

	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/portal/form"
)

type recordsPage struct {
	Search   form.RecordSearch
	Errors   form.Errors
	Searched bool
	Hits     []recordHit
}

type recordHit struct {
	ekyc.RecordInfo
	Tenant string
}

// recordsFind finds verification records by session id or by the tenant's
// own reference — exact keys only, never a search over personal data. The
// hits show no personal data.
func recordsFind(rq *Request) error {
	if rq.s.cfg.Records == nil {
		return ErrNotFound
	}
	s := form.ParseRecordSearch(rq.R)
	page := recordsPage{Search: s}
	if s.Empty() {
		return rq.Render(http.StatusOK, "records", "records.title", page)
	}
	if errs := s.Validate(); errs.Any() {
		page.Errors = errs
		return rq.Render(http.StatusUnprocessableEntity, "records", "records.title", page)
	}
	tenant, _ := rq.TenantFilter()
	hits, err := ekyc.FindRecords(rq.Ctx(), rq.s.cfg.DB, tenant, s.Session, s.Reference)
	if errors.Is(err, ekyc.ErrInvalidInput) {
		page.Errors = form.Errors{"": "records.err_one_key"}
		return rq.Render(http.StatusUnprocessableEntity, "records", "records.title", page)
	}
	if err != nil {
		return err
	}
	page.Searched = true
	for _, h := range hits {
		page.Hits = append(page.Hits, recordHit{RecordInfo: h, Tenant: rq.tenantName(h.TenantID)})
	}
	return rq.Render(http.StatusOK, "records", "records.title", page)
}
