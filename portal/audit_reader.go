package portal

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/audit"
)

// The audit pages (audit_*.go) and the trail component (trail.go) read the
// audit log through AuditReader. Audit entries carry no personal data of
// customers; they do name staff and their client addresses, so every look
// at them is itself an audit entry ("portal.view").

// AuditReader is the read side of the audit log (*audit.Log).
type AuditReader interface {
	// Entries returns the entries a query selects, newest first, each
	// checked against its leaf hash.
	Entries(ctx context.Context, q audit.Query) ([]audit.Record, error)
	// Entry returns an entry's tenant and canonical leaf (audit.ErrRange
	// if there is none).
	Entry(ctx context.Context, index uint64) (tenantID string, leaf []byte, err error)
	// LatestCheckpoint returns the latest signed checkpoint (audit.ErrRange
	// before the first).
	LatestCheckpoint(ctx context.Context) ([]byte, error)
	// InclusionProof proves entry index in the tree of size size.
	InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error)
	// VerifierKey is the C2SP signed-note key that verifies checkpoints.
	VerifierKey() string
}

var _ AuditReader = (*audit.Log)(nil)

// TenantRef names a tenant in a chooser.
type TenantRef struct {
	ID, Name string
}

// jst is the default DayZone. Japan has no daylight saving time, so a
// fixed zone is exact and needs no time zone database.
var jst = time.FixedZone("JST", 9*60*60)

func (c *Config) checkAudit() error {
	if c.AuditLog == nil || c.Tenants == nil {
		return errors.New("portal: Config needs AuditLog and Tenants (the audit pages and the dashboard)")
	}
	if c.AuditLog.VerifierKey() == "" {
		return errors.New("portal: the audit log has no checkpoint signer, so the audit pages could verify nothing")
	}
	if c.DayZone == nil {
		c.DayZone = jst
	}
	return nil
}

// auditRoles may use the audit pages.
var auditRoles = []Role{TenantAuditor, OperatorAuditor}

// who describes an entry's actor for display, without a query per row:
// staff are looked up once per request.
type who struct {
	rq    *Request
	names map[string]string
}

func (rq *Request) actorNames() *who { return &who{rq: rq, names: map[string]string{}} }

// name returns how to show actor (kind, id) to the signed-in person: a
// staff member's username when they are in the person's scope (operator
// staff see everyone; tenant staff see their own tenant's staff), else the
// id with its kind.
func (w *who) name(kind, id string) (string, error) {
	if kind != audit.ActorStaff || id == "" {
		return id, nil
	}
	if n, ok := w.names[id]; ok {
		return n, nil
	}
	n := id
	acct, err := w.rq.s.cfg.Staff.Account(w.rq.Ctx(), id)
	switch {
	case err == nil:
		if w.rq.Principal.Operator() || acct.TenantID == w.rq.Principal.TenantID {
			n = acct.Username
		}
	case !errors.Is(notFound(err), ErrNotFound):
		return "", err
	}
	w.names[id] = n
	return n, nil
}

// auditRow is one entry as the audit tables show it.
type auditRow struct {
	Index      uint64
	Time       string // in DayZone, to the second
	ActorKind  string
	Actor      string
	TenantID   string
	Tenant     string // name, for operator staff
	Action     string
	Object     string
	TrailKey   string
	TrailURL   string // the trail page of TrailKey
	Outcome    string
	IP         string
	RequestID  string
	Details    []detail // every detail but ip
	EntryLink  bool     // the person may open the entry page
	ObjectLink bool     // and the object's trail
}

type detail struct{ Key, Value string }

// rows turns records into table rows.
func (rq *Request) rows(recs []audit.Record) ([]auditRow, error) {
	w := rq.actorNames()
	tenants := map[string]string{}
	auditor := rq.Principal.Has(auditRoles...)
	out := make([]auditRow, 0, len(recs))
	for _, r := range recs {
		row, err := rq.row(w, tenants, r.Index, r.Entry)
		if err != nil {
			return nil, err
		}
		row.EntryLink, row.ObjectLink = auditor, auditor && row.TrailKey != ""
		out = append(out, row)
	}
	return out, nil
}

func (rq *Request) row(w *who, tenants map[string]string, idx uint64, e audit.Entry) (auditRow, error) {
	name, err := w.name(e.ActorKind, e.ActorID)
	if err != nil {
		return auditRow{}, err
	}
	row := auditRow{Index: idx, Time: e.Time.In(rq.s.cfg.DayZone).Format("2006-01-02 15:04:05 MST"), ActorKind: e.ActorKind,
		Actor: name, TenantID: e.TenantID, Action: e.Action, Object: e.Object, TrailKey: audit.TrailKey(e.Object),
		Outcome: e.Outcome, IP: e.Details["ip"], RequestID: e.RequestID}
	if row.TrailKey != "" {
		row.TrailURL = trailPath(row.TrailKey)
	}
	if rq.Principal.Operator() && e.TenantID != "" {
		n, ok := tenants[e.TenantID]
		if !ok {
			n = rq.displayTenant(e.TenantID)
			tenants[e.TenantID] = n
		}
		row.Tenant = n
	}
	for k, v := range e.Details {
		if k != "ip" {
			row.Details = append(row.Details, detail{k, v})
		}
	}
	slices.SortFunc(row.Details, func(a, b detail) int { return strings.Compare(a.Key, b.Key) })
	return row, nil
}

// displayTenant is a tenant's display name, or its id.
func (rq *Request) displayTenant(id string) string {
	if rq.s.cfg.TenantName == nil {
		return id
	}
	n, err := rq.s.cfg.TenantName(rq.Ctx(), id)
	if err != nil || strings.TrimSpace(n) == "" {
		return id
	}
	return n
}
