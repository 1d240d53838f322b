package portal

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/portal/form"
)

// The audit page: the latest signed checkpoint, and the log's entries in
// the person's scope, newest first, filtered by tenant (operator staff),
// action and object, paged by index ("older" continues below the last
// index shown, so a page does not shift while entries arrive).

// auditPageSize is how many entries the audit page shows.
const auditPageSize = 50

// installationFilter is the tenant filter value for installation-wide
// entries (those without a tenant).
const installationFilter = "-"

// auditFilter is the audit page's query.
type auditFilter struct {
	Tenant string // operator staff: "" all, installationFilter, or a tenant id
	Action string
	Object string
	Before uint64
}

// parseAuditFilter reads and checks the query string.
func parseAuditFilter(r *http.Request) (auditFilter, form.Errors) {
	q := r.URL.Query()
	f := auditFilter{Tenant: strings.TrimSpace(q.Get("tenant")), Action: strings.TrimSpace(q.Get("action")), Object: strings.TrimSpace(q.Get("object"))}
	errs := form.Errors{}
	if len(f.Tenant) > audit.MaxIDLen || !printableText(f.Tenant) {
		errs.Add("tenant", "form.invalid")
		f.Tenant = ""
	}
	if f.Action != "" && !auditName(f.Action) {
		errs.Add("action", "audit.action_format")
	}
	if len(f.Object) > audit.MaxObjectLen {
		errs.Add("object", "form.too_long")
	} else if !printableText(f.Object) {
		errs.Add("object", "form.invalid")
	}
	if b := q.Get("before"); b != "" {
		n, err := strconv.ParseUint(b, 10, 63)
		if err != nil || n == 0 {
			errs.Add("before", "form.invalid")
		}
		f.Before = n
	}
	return f, errs
}

// auditName reports whether s can be an audit action (audit.Entry rules).
func auditName(s string) bool {
	if len(s) == 0 || len(s) > audit.MaxActionLen || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	return strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789._-") == ""
}

// printableText is valid UTF-8 without control characters.
func printableText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) })
}

// checkpointView is the latest signed checkpoint as the pages show it.
type checkpointView struct {
	None     bool // nothing signed yet
	Invalid  bool // the stored note does not verify: an integrity alarm
	Origin   string
	Size     uint64
	Root     string // base64
	Note     string // the signed note, verbatim
	Key      string // the verifier key
	note     []byte
	parsedCP audit.Checkpoint
}

// checkpoint reads the latest signed checkpoint and checks it on the
// server against the log's own key (the browser checks it again).
func (rq *Request) checkpoint() (checkpointView, error) {
	v := checkpointView{Key: rq.s.cfg.AuditLog.VerifierKey()}
	note, err := rq.s.cfg.AuditLog.LatestCheckpoint(rq.Ctx())
	if errors.Is(err, audit.ErrRange) {
		v.None = true
		return v, nil
	}
	if err != nil {
		return v, err
	}
	v.Note, v.note = string(note), note
	cp, err := audit.VerifyCheckpoint(note, v.Key)
	if err != nil {
		rq.s.log.ErrorContext(rq.Ctx(), "AUDIT LOG INTEGRITY: the latest stored checkpoint does not verify", "err", err)
		v.Invalid = true
		return v, nil
	}
	v.Origin, v.Size, v.Root, v.parsedCP = cp.Origin, cp.Size, base64.StdEncoding.EncodeToString(cp.Root[:]), cp
	return v, nil
}

type auditListPage struct {
	Filter     auditFilter
	Errors     form.Errors
	Operator   bool
	Tenants    []TenantRef
	Checkpoint checkpointView
	Rows       []auditRow
	Older      string // the next (older) page, "" if none
	Newest     string // back to the newest entries, when paging
}

func auditList(rq *Request) error {
	f, errs := parseAuditFilter(rq.R)
	p := auditListPage{Filter: f, Errors: errs, Operator: rq.Principal.Operator()}
	var err error
	if p.Operator {
		if p.Tenants, err = rq.s.cfg.Tenants(rq.Ctx()); err != nil {
			return err
		}
		if f.Tenant != "" && f.Tenant != installationFilter && !hasTenant(p.Tenants, f.Tenant) {
			errs.Add("tenant", "audit.unknown_tenant")
		}
	}
	if p.Checkpoint, err = rq.checkpoint(); err != nil {
		return err
	}
	if errs.Any() {
		return rq.Render(http.StatusUnprocessableEntity, "audit", "audit.title", p)
	}
	q := audit.Query{Action: f.Action, Trail: audit.TrailKey(f.Object), Before: f.Before, Limit: auditPageSize + 1}
	q.TenantID, q.AllTenants = rq.TenantFilter()
	viewTenant := q.TenantID
	if p.Operator {
		switch f.Tenant {
		case "":
		case installationFilter:
			q.AllTenants = false
		default:
			q.TenantID, q.AllTenants, viewTenant = f.Tenant, false, f.Tenant
		}
	}
	recs, err := rq.s.cfg.AuditLog.Entries(rq.Ctx(), q)
	if err != nil {
		return err
	}
	if len(recs) > auditPageSize {
		recs = recs[:auditPageSize]
		p.Older = auditListURL(f, recs[len(recs)-1].Index)
	}
	if f.Before != 0 {
		p.Newest = auditListURL(f, 0)
	}
	if p.Rows, err = rq.rows(recs); err != nil {
		return err
	}
	// Nothing is shown unless the look is recorded.
	if err := rq.Audit("portal.view", viewTenant, "audit_log", audit.OutcomeOK, filterDetails(rq, f)); err != nil {
		return err
	}
	return rq.Render(http.StatusOK, "audit", "audit.title", p)
}

func hasTenant(ts []TenantRef, id string) bool {
	return slices.ContainsFunc(ts, func(t TenantRef) bool { return t.ID == id })
}

// filterDetails records what the person asked to see.
func filterDetails(rq *Request, f auditFilter) map[string]string {
	d := map[string]string{"route": rq.route.Path}
	if f.Tenant != "" {
		d["filter_tenant"] = f.Tenant
	}
	if f.Action != "" {
		d["filter_action"] = f.Action
	}
	if f.Object != "" {
		d["filter_object"] = f.Object
	}
	if f.Before != 0 {
		d["before"] = strconv.FormatUint(f.Before, 10)
	}
	return d
}

// auditListURL is the audit page with filter f below index before (0:
// the newest).
func auditListURL(f auditFilter, before uint64) string {
	q := url.Values{}
	for k, v := range map[string]string{"tenant": f.Tenant, "action": f.Action, "object": f.Object} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if before != 0 {
		q.Set("before", strconv.FormatUint(before, 10))
	}
	if len(q) == 0 {
		return Prefix + "/audit"
	}
	return Prefix + "/audit?" + q.Encode()
}
