package portal

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/ekyc"
)

// seedDashboard writes tenant A's and B's sessions and webhook events
// around the test clock (2026-06-01, JST evening).
func seedDashboard(t *testing.T, e *env) {
	t.Helper()
	day := func(d, h, m int) time.Time { return time.Date(2026, 5, d, h, m, 0, 0, jst) }
	insertSessions(t, e.db, []seedSession{
		{Tenant: "tn_a", Method: ekyc.CodeHe, State: "decided", Outcome: "approved", Created: day(30, 10, 0), Decided: day(30, 10, 1)},
		{Tenant: "tn_a", Method: ekyc.CodeHe, State: "closed", Outcome: "approved", Created: day(30, 11, 0), Decided: day(30, 11, 1)},
		{Tenant: "tn_a", Method: ekyc.CodeHo, State: "decided", Outcome: "rejected", Created: day(30, 10, 0), Referred: day(30, 10, 5), Decided: day(30, 10, 35)},
		{Tenant: "tn_a", Method: ekyc.CodeHo, State: "decided", Outcome: "review", Created: day(30, 12, 0), Referred: day(30, 12, 1), Decided: day(30, 12, 1)},
		{Tenant: "tn_a", Method: ekyc.CodeWa, State: "created", Created: day(30, 13, 0)},
		{Tenant: "tn_a", Method: ekyc.CodeHe, State: "expired", Created: day(30, 14, 0)},
		{Tenant: "tn_a", Method: ekyc.CodeHo, State: "decided", Outcome: "approved", Created: day(31, 12, 0), Referred: day(31, 12, 0), Decided: day(31, 13, 30)},
		{Tenant: "tn_a", Method: ekyc.CodeHe, State: "decided", Outcome: "approved", Created: time.Date(2026, 4, 1, 9, 0, 0, 0, jst), Decided: time.Date(2026, 4, 1, 9, 1, 0, 0, jst)},
		{Tenant: "tn_b", Method: ekyc.CodeHe, State: "decided", Outcome: "rejected", Created: day(30, 9, 0), Decided: day(30, 9, 1)},
		{Tenant: "tn_b", Method: ekyc.CodeHe, State: "decided", Outcome: "rejected", Created: day(30, 9, 0), Decided: day(30, 9, 1)},
	})
	hook := "https://hooks.bank.example/kyc?token=RECEIVER-SECRET"
	insertEvents(t, e.db, []seedEvent{
		{Tenant: "tn_a", State: "dead", Attempts: 15, Created: day(30, 10, 2), URL: hook},
		{Tenant: "tn_a", State: "dead", Attempts: 15, Created: day(31, 13, 31), URL: hook},
		{Tenant: "tn_a", State: "pending", Attempts: 3, Created: day(31, 14, 0), URL: hook},
		{Tenant: "tn_a", State: "delivered", Attempts: 1, Created: day(30, 10, 2), URL: hook},
		{Tenant: "tn_b", State: "dead", Attempts: 15, Created: day(30, 9, 2), URL: hook},
		{Tenant: "tn_b", State: "dead", Attempts: 15, Created: day(30, 9, 3), URL: hook},
		{Tenant: "tn_b", State: "dead", Attempts: 15, Created: day(30, 9, 4), URL: hook},
	})
}

var tileRE = regexp.MustCompile(`<dd id="([a-z-]+)">([^<]*)</dd>`)

func tiles(body string) map[string]string {
	out := map[string]string{}
	for _, m := range tileRE.FindAllStringSubmatch(body, -1) {
		out[m[1]] = m[2]
	}
	return out
}

// TestDashboard: the figures of the tenant in scope, the chart drawn on the
// server without inline style or script, another tenant's figures 404 for
// a tenant's staff, an operator's choice of tenant, and bad choices.
func TestDashboard(t *testing.T) {
	e := newEnv(t)
	seedDashboard(t, e)
	for _, c := range []struct {
		who, query string
		status     int
		tiles      map[string]string
	}{
		{"a-reviewer", "", 200, map[string]string{"sessions-total": "7", "referral-rate": "60.0%", "median-review": "60.0 分", "webhook-dead": "2"}},
		{"a-auditor", "?days=7", 200, map[string]string{"sessions-total": "7", "webhook-dead": "2"}},
		{"a-admin", "?tenant=tn_a&days=90", 200, map[string]string{"sessions-total": "8"}}, // April's too
		{"a-reviewer", "?tenant=tn_b", 404, nil},
		{"op-admin", "", 200, map[string]string{"sessions-total": "7"}}, // the first tenant
		{"op-auditor", "?tenant=tn_b", 200, map[string]string{"sessions-total": "2", "referral-rate": "0.0%", "median-review": "—", "webhook-dead": "3"}},
		{"op-auditor", "?tenant=tn_nope", 422, nil},
		{"a-reviewer", "?days=5", 422, nil},
		{"a-reviewer", "?days=x", 422, nil},
		{"op-reviewer", "", 403, nil},
		{"nobody", "", 403, nil},
	} {
		b := e.signedIn(c.who)
		r := b.get("/portal/dashboard" + c.query)
		if r.status != c.status {
			t.Errorf("%s %s = %d, want %d", c.who, c.query, r.status, c.status)
			continue
		}
		got := tiles(r.body)
		for k, v := range c.tiles {
			if got[k] != v {
				t.Errorf("%s %s: %s = %q, want %q", c.who, c.query, k, got[k], v)
			}
		}
		if c.status == 422 && !strings.Contains(r.body, `aria-invalid="true"`) {
			t.Errorf("%s %s: the bad field is not marked", c.who, c.query)
		}
		if c.status != 200 {
			continue
		}
		// Server-drawn SVG, nothing the CSP would refuse, no receiver secret.
		for _, bad := range []string{"style=", "<style", "<script>", "onload", "RECEIVER-SECRET", "javascript:"} {
			if strings.Contains(r.body, bad) {
				t.Errorf("%s %s: page contains %q", c.who, c.query, bad)
			}
		}
		if !strings.Contains(r.body, `<svg id="sessions-chart"`) || !strings.Contains(r.body, `role="img"`) {
			t.Errorf("%s %s: no chart", c.who, c.query)
		}
	}

	b := e.signedIn("a-reviewer")
	r := b.get("/portal/dashboard")
	// 05-30: 2 approved, 1 rejected, 1 waiting, 1 open, 1 expired = four
	// results drawn as segments; 05-31: 1 approved.
	if n := strings.Count(r.body, `<rect x=`); n != 6 {
		t.Errorf("%d bar segments, want 6", n)
	}
	for _, want := range []string{
		`<title>2026-05-30 承認 2</title>`, `<title>2026-05-31 承認 1</title>`, `class="r-review"`,
		`<th scope="row">2026-05-30</th><td>6</td><td>2</td><td>1</td><td>1</td><td>1</td><td>1</td><td>0</td>`,
		`<th scope="row">ホ（本人確認書類の画像＋容貌）</th><td>3</td><td>1</td><td>1</td><td>1</td>`,
		"https://hooks.bank.example/kyc", "status 503",
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	b.cookies["__Host-mdg_lang"] = "en"
	if r := b.get("/portal/dashboard"); tiles(r.body)["median-review"] != "60.0 min" || !strings.Contains(r.body, "2026-05-19 – 2026-06-01") {
		t.Errorf("English dashboard: %v", tiles(r.body))
	}
}

func TestNiceMaxAndChart(t *testing.T) {
	for n, want := range map[int]int{0: 1, 1: 1, 2: 2, 3: 5, 6: 10, 10: 10, 11: 20, 21: 50, 51: 100, 9999: 10000} {
		if got := niceMax(n); got != want {
			t.Errorf("niceMax(%d) = %d, want %d", n, got, want)
		}
	}
	c := drawChart([]dayRow{{Date: "2026-05-30", Total: 3, Counts: []int{2, 1, 0, 0, 0, 0}}, {Date: "2026-05-31", Counts: make([]int, 6)}}, 6)
	if len(c.Bars) != 2 || c.Max != 5 || c.Bars[0].Result != "approved" || c.Bars[1].Result != "rejected" || c.Empty {
		t.Fatalf("chart = %+v", c)
	}
	// Stacked: the second segment sits on the first; heights scale to Max.
	num := func(s string) float64 { f, _ := strconv.ParseFloat(s, 64); return f }
	if d := num(c.Bars[1].Y) + num(c.Bars[1].H) - num(c.Bars[0].Y); d > 0.11 || d < -0.11 || num(c.Bars[0].H) < 1.99*num(c.Bars[1].H) {
		t.Errorf("segments not stacked: %+v", c.Bars)
	}
	if base := num(c.Bars[0].Y) + num(c.Bars[0].H); base != chartH-chartBottom {
		t.Errorf("bars stand on %v, want the axis at %d", base, chartH-chartBottom)
	}
	if e := drawChart([]dayRow{{Date: "2026-05-30", Counts: make([]int, 6)}}, 6); !e.Empty || len(e.Bars) != 0 {
		t.Errorf("empty chart = %+v", e)
	}
}
