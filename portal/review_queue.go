package portal

import (
	"fmt"
	"net/http"
	"time"

	"github.com/madoguchi/madoguchi/ekyc"
)

// queueRow is one session in the review queue.
type queueRow struct {
	ekyc.Pending
	Tenant  string // tenant name, for operator reviewers
	Age     string
	Overdue bool
	Mine    bool // claimed by the person viewing
}

type queuePage struct {
	Rows    []queueRow
	Method  string
	Methods []string
	Pager   Pager
}

// reviewQueue lists the sessions waiting for review that the person may
// review, oldest (most urgent) first, with their deadline (the tenant's
// review SLA) and who holds them. No personal data is shown.
func reviewQueue(rq *Request) error {
	rv, err := rq.reviews()
	if err != nil {
		return err
	}
	method := rq.R.URL.Query().Get("method")
	switch method {
	case "", "he", "ho", "wa":
	default:
		method = ""
	}
	pg := rq.Pager(50)
	list, err := rv.Queue(rq.Ctx(), rq.reviewer(), ekyc.QueueFilter{Method: method, Limit: pg.Limit(), Offset: pg.Offset()})
	if err != nil {
		return err
	}
	list = Trim(&pg, list)
	now := rq.s.cfg.Now()
	page := queuePage{Method: method, Methods: []string{"he", "ho", "wa"}, Pager: pg, Rows: make([]queueRow, 0, len(list))}
	names := map[string]string{}
	for _, p := range list {
		r := queueRow{Pending: p, Age: age(now.Sub(p.DecidedAt)), Overdue: p.Overdue(now), Mine: p.ClaimedBy == rq.Principal.StaffID}
		if rq.Principal.Operator() {
			if _, ok := names[p.TenantID]; !ok {
				names[p.TenantID] = rq.tenantName(p.TenantID)
			}
			r.Tenant = names[p.TenantID]
		}
		page.Rows = append(page.Rows, r)
	}
	return rq.Render(http.StatusOK, "review_queue", "review.queue_title", page)
}

// tenantName names a tenant for display (its id if unknown).
func (rq *Request) tenantName(id string) string {
	if rq.s.cfg.TenantName != nil {
		if n, err := rq.s.cfg.TenantName(rq.Ctx(), id); err == nil && n != "" {
			return n
		}
	}
	return id
}

// age formats a duration as hours and minutes ("3h05m", "0h07m").
func age(d time.Duration) string {
	d = max(d, 0).Round(time.Minute)
	return fmt.Sprintf("%dh%02dm", d/time.Hour, (d%time.Hour)/time.Minute)
}
