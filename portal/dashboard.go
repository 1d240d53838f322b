package portal

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/notify"
	"github.com/madoguchi/madoguchi/portal/form"
)

// The dashboard: one tenant's sessions by method and result per day, the
// referral rate, the median review time and webhook failures, over the
// last 7, 14, 30 or 90 days (calendar days in Config.DayZone). A tenant's
// staff see their own tenant; operator admins and auditors choose one.
// Everything shown is a count or a duration, never personal data, so a
// view is not an audit entry. The chart is SVG drawn on the server
// (dashboard_chart.go): no script, and no inline style (the CSP forbids
// it; colours come from static/audit.css).

// dashboardRoles may see the dashboard.
var dashboardRoles = []Role{TenantReviewer, TenantAdmin, TenantAuditor, OperatorAdmin, OperatorAuditor}

// dashboardPeriods are the periods offered, in days; the first is the
// default.
var dashboardPeriods = []int{14, 7, 30, 90}

// dashboardFailing is how many failing webhook events are listed.
const dashboardFailing = 10

type dashboardPage struct {
	Operator bool
	Tenants  []TenantRef
	TenantID string
	Tenant   string
	Days     int
	Periods  []int
	Errors   form.Errors
	NoTenant bool // an operator and no tenant exists yet

	Range string // the period's first and last days

	Sessions, Decided, Referred int
	ReferralRate                string // "" when nothing was decided
	MedianReview                string // "" when nothing was reviewed
	MedianReviewKey             string // dashboard.minutes or dashboard.hours
	Reviewed                    int

	Chart   chart
	ByDay   []dayRow
	Methods []methodRow
	Results []string

	Hooks     notify.Failures
	HookDays  []hookDay
	Failing   []failingRow
	HasEvents bool
}

type dayRow struct {
	Date   string
	Total  int
	Counts []int // by Results
}

type methodRow struct {
	Method string
	Key    string // its label's message key ("" for a method without one)
	Total  int
	Counts []int // by Results
}

type hookDay struct {
	Date                            string
	Events, Dead, Retrying, Retried int
}

type failingRow struct {
	Created, Kind, State, Endpoint, LastError, ID string
	Attempts, LastStatus                          int
}

func dashboardShow(rq *Request) error {
	q := rq.R.URL.Query()
	p := dashboardPage{Operator: rq.Principal.Operator(), Periods: dashboardPeriods, Results: ekyc.Results(), Errors: form.Errors{}}
	p.Days = dashboardPeriods[0]
	if d := q.Get("days"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || !slices.Contains(dashboardPeriods, n) {
			p.Errors.Add("days", "dashboard.days_invalid")
		} else {
			p.Days = n
		}
	}
	want := strings.TrimSpace(q.Get("tenant"))
	if p.Operator {
		ts, err := rq.s.cfg.Tenants(rq.Ctx())
		if err != nil {
			return err
		}
		p.Tenants = ts
		switch {
		case want != "" && !hasTenant(ts, want):
			p.Errors.Add("tenant", "audit.unknown_tenant")
		case want != "":
			p.TenantID = want
		case len(ts) > 0:
			p.TenantID = ts[0].ID
		default:
			p.NoTenant = true
		}
	} else {
		if want != "" && want != rq.Principal.TenantID {
			return ErrNotFound // another tenant's figures do not exist for this person
		}
		p.TenantID = rq.Principal.TenantID
	}
	if p.Errors.Any() {
		return rq.Render(http.StatusUnprocessableEntity, "dashboard", "dashboard.title", p)
	}
	if p.NoTenant {
		return rq.Render(http.StatusOK, "dashboard", "dashboard.title", p)
	}
	p.Tenant = rq.displayTenant(p.TenantID)
	zone := rq.s.cfg.DayZone
	// The period ends today (in the day zone).
	first := rq.s.cfg.Now().In(zone).AddDate(0, 0, 1-p.Days)
	st, err := ekyc.Stats(rq.Ctx(), rq.s.cfg.DB, p.TenantID, first, p.Days)
	if err != nil {
		return err
	}
	from := st.From
	p.Range = from.Format(time.DateOnly) + " – " + st.To.AddDate(0, 0, -1).Format(time.DateOnly)
	p.Decided, p.Referred, p.Reviewed = st.Decided, st.Referred, len(st.ReviewTimes)
	if r, ok := st.ReferralRate(); ok {
		p.ReferralRate = strconv.FormatFloat(100*r, 'f', 1, 64)
	}
	if m, ok := st.MedianReviewTime(); ok {
		p.MedianReview, p.MedianReviewKey = reviewDuration(m)
	}
	p.ByDay, p.Methods, p.Sessions = tabulate(st, from, p.Days)
	for i := range p.Methods {
		if k := "dashboard.method." + p.Methods[i].Method; rq.s.cat.Has(k) {
			p.Methods[i].Key = k
		}
	}
	p.Chart = drawChart(p.ByDay, len(p.Results))

	if p.Hooks, err = notify.TenantFailures(rq.Ctx(), rq.s.cfg.DB, p.TenantID, first, p.Days, dashboardFailing); err != nil {
		return err
	}
	p.HasEvents = p.Hooks.Events > 0
	for _, d := range p.Hooks.Days {
		p.HookDays = append(p.HookDays, hookDay{Date: d.Day.Format(time.DateOnly), Events: d.Events, Dead: d.Dead, Retrying: d.Retrying, Retried: d.Retried})
	}
	for _, d := range p.Hooks.Latest {
		p.Failing = append(p.Failing, failingRow{Created: d.CreatedAt.In(zone).Format("2006-01-02 15:04"), Kind: d.Kind, State: d.State,
			Endpoint: endpoint(d.URL), LastError: d.LastError, ID: d.ID, Attempts: d.Attempts, LastStatus: d.LastStatus})
	}
	return rq.Render(http.StatusOK, "dashboard", "dashboard.title", p)
}

// tabulate lays the day counts out per day (every day of the period, empty
// ones too) and per method, by result in ekyc.Results order.
func tabulate(st ekyc.SessionStats, from time.Time, days int) ([]dayRow, []methodRow, int) {
	results := ekyc.Results()
	col := map[string]int{}
	for i, r := range results {
		col[r] = i
	}
	byDay := make([]dayRow, days)
	index := map[string]int{}
	for i := range byDay {
		d := from.AddDate(0, 0, i).Format(time.DateOnly)
		byDay[i] = dayRow{Date: d, Counts: make([]int, len(results))}
		index[d] = i
	}
	methods := map[string]*methodRow{}
	total := 0
	for _, c := range st.Days {
		i, ok := index[c.Day.Format(time.DateOnly)]
		j, known := col[c.Result]
		if !ok || !known {
			continue
		}
		byDay[i].Counts[j] += c.Count
		byDay[i].Total += c.Count
		m := methods[c.Method]
		if m == nil {
			m = &methodRow{Method: c.Method, Counts: make([]int, len(results))}
			methods[c.Method] = m
		}
		m.Counts[j] += c.Count
		m.Total += c.Count
		total += c.Count
	}
	var ms []methodRow
	for _, m := range methods {
		ms = append(ms, *m)
	}
	slices.SortFunc(ms, func(a, b methodRow) int { return strings.Compare(a.Method, b.Method) })
	return byDay, ms, total
}

// reviewDuration formats a review time in minutes, or in hours from two
// hours on, with one decimal; key is the message that carries the unit.
func reviewDuration(d time.Duration) (value, key string) {
	if d < 2*time.Hour {
		return strconv.FormatFloat(d.Minutes(), 'f', 1, 64), "dashboard.minutes"
	}
	return strconv.FormatFloat(d.Hours(), 'f', 1, 64), "dashboard.hours"
}

// endpoint shows a webhook URL without its query or fragment (which may
// carry the receiver's own credentials).
func endpoint(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}
