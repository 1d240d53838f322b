package portal

import (
	"net/url"

	"github.com/madoguchi/madoguchi/audit"
)

// The trail component: an object's own audit trail (who did what to it,
// when, from where), for any page that shows an object to embed. The page
// loads its object with Load first (so the person may see it), then:
//
//	tr, err := rq.Trail(s.ID, TrailSize) // newest TrailSize entries
//	... page{Session: s, Trail: tr} ...  // rendered by the page's template
//
// and its template shows it with {{template "trail" .Page.Trail}}. The
// trail holds entries whose object is the id, or "<kind>:<id>" (the
// portal's own views), in the person's scope: a tenant's staff see their
// tenant's entries only. Entries never carry customers' personal data, so
// a trail adds nothing the page's own audited view does not cover.

// TrailSize is how many entries an embedded trail shows.
const TrailSize = 20

// Trail is an object's audit trail as the "trail" template block shows it.
type Trail struct {
	// Key is the object id the trail is kept under (audit.TrailKey).
	Key  string
	Rows []auditRow
	// More: older entries exist; Link opens the whole trail (auditors
	// only, "" otherwise).
	More bool
	Link string
	// Operator: the reader is operator staff (the table shows tenants).
	Operator bool
}

// Trail reads the newest limit entries about object (an id or
// "<kind>:<id>") in the signed-in person's scope.
func (rq *Request) Trail(object string, limit int) (Trail, error) {
	if limit < 1 || limit > audit.MaxQueryLimit-1 {
		limit = TrailSize
	}
	tr := Trail{Key: audit.TrailKey(object), Operator: rq.Principal.Operator()}
	if tr.Key == "" {
		return tr, nil
	}
	tenantID, all := rq.TenantFilter()
	recs, err := rq.s.cfg.AuditLog.Entries(rq.Ctx(), audit.Query{TenantID: tenantID, AllTenants: all, Trail: tr.Key, Limit: limit + 1})
	if err != nil {
		return tr, err
	}
	if len(recs) > limit {
		tr.More, recs = true, recs[:limit]
	}
	if tr.Rows, err = rq.rows(recs); err != nil {
		return tr, err
	}
	if rq.Principal.Has(auditRoles...) {
		tr.Link = trailPath(tr.Key)
	}
	return tr, nil
}

// trailPath is the trail page of key.
func trailPath(key string) string { return Prefix + "/audit/trail/" + url.PathEscape(key) }
