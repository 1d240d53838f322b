package portal

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// BenchmarkPortalPages measures the server time of portal pages on a
// loaded store (docs/benchmarks.md, "Staff portal pages"): 10,000 sessions
// waiting in tenant A's review queue (and 2,000 decided ones), 100,000
// audit entries, webhook failures, a claimed ヘ session with its evidence
// and a reviewed one with its verification record. It takes every GET page
// of the route table (a new page is measured as soon as it is a route),
// each as the first tenant persona and the first operator persona who may
// open it; a page with an id, or a query worth measuring, is measured where
// benchObjects names it. Each sub-benchmark reports the p50, p95 and p99 of
// the per-request time (ServeHTTP, in process: session check, scope,
// queries, audit entry, template) and the process's CPU time per request
// (which a busy machine does not stretch), and "bare" a handler writing the
// audit page's bytes, in the same run. Run:
//
//	go test ./portal/ -run XXX -bench BenchmarkPortalPages -benchtime 100x
//
// (on PostgreSQL: MADOGUCHI_PORTAL_STORE=postgres MADOGUCHI_TEST_POSTGRES=…)
//
// Seeding takes about a minute on two cores (every audit entry goes
// through audit.Log.Append, so the tree's hashes are real).
func BenchmarkPortalPages(b *testing.B) {
	e := newEnv(b)
	t0 := time.Now()
	fx := seedBench(b, e)
	b.Logf("seeded %d queue sessions and %d audit entries in %v", benchQueue, benchEntries, time.Since(t0).Round(time.Second))

	browsers := map[string]*browser{}
	as := func(who string) *browser {
		if browsers[who] == nil {
			browsers[who] = e.signedIn(who)
		}
		return browsers[who]
	}
	objects := benchObjects(fx)
	var auditPage []byte
	for _, pg := range benchPages(e, objects) {
		b.Run(pg.name, func(b *testing.B) {
			br := as(pg.who)
			var ds []time.Duration
			cpu := processCPU()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, "https://"+testHost+pg.path, nil)
				req.RemoteAddr = br.remote
				for k, v := range br.cookies {
					req.AddCookie(&http.Cookie{Name: k, Value: v})
				}
				w := httptest.NewRecorder()
				start := time.Now()
				e.srv.ServeHTTP(w, req)
				ds = append(ds, time.Since(start))
				if w.Code != http.StatusOK {
					b.Fatalf("%s as %s: status %d", pg.path, pg.who, w.Code)
				}
				if pg.path == "/portal/audit" && auditPage == nil {
					auditPage = w.Body.Bytes()
				}
			}
			reportPercentiles(b, ds, processCPU()-cpu)
		})
	}
	b.Run("bare", func(b *testing.B) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(auditPage)
		})
		var ds []time.Duration
		cpu := processCPU()
		for b.Loop() {
			req := httptest.NewRequest(http.MethodGet, "https://"+testHost+"/portal/audit", nil)
			w := httptest.NewRecorder()
			start := time.Now()
			h.ServeHTTP(w, req)
			ds = append(ds, time.Since(start))
		}
		reportPercentiles(b, ds, processCPU()-cpu)
	})
}

// reportPercentiles reports the p50, p95 and p99 of the request times ds,
// and the process's CPU time per request (cpu over the loop).
// testStore is the store the portal's tests and benchmarks run on: SQLite,
// or PostgreSQL (MADOGUCHI_TEST_POSTGRES) with MADOGUCHI_PORTAL_STORE=postgres
// (the staff, audit, ekyc and notify SQL the pages use is tested on both
// dialects in those packages; this measures the pages on the scale-out
// store).
func testStore(t testing.TB) *store.DB {
	if os.Getenv("MADOGUCHI_PORTAL_STORE") == "postgres" {
		return storetest.Postgres(t)
	}
	return storetest.SQLite(t)
}

func reportPercentiles(b *testing.B, ds []time.Duration, cpu time.Duration) {
	slices.Sort(ds)
	at := func(p float64) float64 {
		return float64(ds[min(len(ds)-1, int(p*float64(len(ds))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.95), "p95-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(float64(cpu)/float64(len(ds))/float64(time.Millisecond), "cpu-ms/op")
}

const (
	benchQueue   = 10000
	benchDecided = 2000
	benchEntries = 100000
)

// benchFixture names seeded objects the id pages are measured with.
type benchFixture struct {
	session  string // a session of tenant A with a dozen entries
	hot      string // a staff id with thousands of entries (its sign-ins)
	entry    uint64 // an entry of tenant A, in the checkpoint
	sessions []string
	// claimed is a referred ヘ session of tenant A (chip, selfie frames)
	// that a-reviewer holds: its page shows the evidence. record is a
	// reviewed one with its verification record.
	claimed, record string
	client, account string // tenant A's API client and a staff account
	approval        string // a dual-control request of tenant A
}

// benchObjects gives, for each route with a path parameter, the concrete
// paths it is measured with (for a route without one: extra query
// variants, measured besides the bare page); pages of other areas add
// their line here.
func benchObjects(fx benchFixture) map[string][]string {
	entry := fmt.Sprint(fx.entry)
	return map[string][]string{
		"/audit/entries/{id}":       {"/audit/entries/" + entry},
		"/audit/entries/{id}/proof": {"/audit/entries/" + entry + "/proof"},
		"/audit/trail/{id}":         {"/audit/trail/" + fx.session, "/audit/trail/" + fx.hot},
		// The queue's 10,000th-oldest page, and by method.
		"/review": {"/review?method=ho", "/review?page=200"},
		// A queued session (no claim: no evidence) and the claimed one.
		"/review/{id}":              {"/review/" + fx.sessions[0], "/review/" + fx.claimed},
		"/review/{id}/frames/{seq}": {"/review/" + fx.claimed + "/frames/1"},
		"/review/{id}/chip-photo":   {"/review/" + fx.claimed + "/chip-photo"},
		"/records":                  {"/records?session=" + fx.record, "/records?reference=cust-he"},
		"/records/{id}":             {"/records/" + recordOfID(fx.record)},
		"/records/{id}/record.json": {"/records/" + recordOfID(fx.record) + "/record.json"},
		"/admin/tenants/{id}":       {"/admin/tenants/tn_a"},
		"/admin/clients/{id}":       {"/admin/clients/" + fx.client},
		"/admin/staff/{id}":         {"/admin/staff/" + fx.account},
		"/admin/approvals/{id}":     {"/admin/approvals/" + fx.approval},
	}
}

func recordOfID(sessionID string) string { return "rec_" + strings.TrimPrefix(sessionID, "ses_") }

type benchPage struct{ name, path, who string }

// benchPages lists every GET page of the route table, for a tenant and an
// operator persona that may open it.
func benchPages(e *env, objects map[string][]string) []benchPage {
	var out []benchPage
	personas := [][]string{
		{"a-reviewer", "a-admin", "a-auditor"},
		{"op-admin", "op-auditor", "op-reviewer"},
	}
	for _, rt := range e.srv.Routes() {
		if rt.Method != http.MethodGet || rt.Public || rt.JSON || strings.HasPrefix(rt.Path, "/test/") {
			continue
		}
		paths := []string{strings.ReplaceAll(rt.Path, "{$}", "")}
		if strings.Contains(paths[0], "{") {
			paths = nil // only the objects benchObjects names
		}
		paths = append(paths, objects[rt.Path]...)
		if len(paths) == 0 {
			continue // no object to open it with (see benchObjects)
		}
		groups := personas
		if strings.HasPrefix(rt.Path, "/review/{id}/") {
			groups = personas[:1] // evidence: only the claim's holder, a-reviewer
		}
		for _, group := range groups {
			for _, who := range group {
				if !e.mayOpen(who, rt) {
					continue
				}
				for i, p := range paths {
					// Named by the route's pattern (ids change every run),
					// its query, or its place in benchObjects' list.
					name := strings.ReplaceAll(rt.Path, "{$}", "")
					if _, q, ok := strings.Cut(p, "?"); ok {
						if k, v, _ := strings.Cut(q, "="); strings.HasPrefix(v, "ses_") {
							q = k + "=" + "{id}" // an id
						}
						name += "?" + q
					} else if i > 0 {
						name += fmt.Sprintf("#%d", i)
					}
					out = append(out, benchPage{name: strings.ReplaceAll(name, "/", "_") + "/" + who, path: Prefix + p, who: who})
				}
				break
			}
		}
	}
	return out
}

// mayOpen reports whether persona who holds a role the route allows.
func (e *env) mayOpen(who string, rt Route) bool {
	if len(rt.Roles) == 0 {
		return true
	}
	roles := map[string][]Role{
		"a-reviewer": {TenantReviewer}, "a-admin": {TenantAdmin}, "a-auditor": {TenantAuditor},
		"b-reviewer": {TenantReviewer}, "b-admin": {TenantAdmin}, "b-auditor": {TenantAuditor},
		"op-admin": {OperatorAdmin}, "op-auditor": {OperatorAuditor}, "op-reviewer": {OperatorReviewer},
	}[who]
	return (&Principal{Roles: roles}).may(&rt)
}

// seedBench fills the store: tenant A's review queue, decided sessions over
// the last two weeks, webhook events, and audit entries of both tenants
// and the installation about those sessions and staff.
func seedBench(b *testing.B, e *env) benchFixture {
	now := e.clock.Now()
	e.operatorReview["tn_a"] = true // operator reviewers see tenant A's queue too
	var rows []seedSession
	methods := []string{ekyc.CodeHe, ekyc.CodeHo, ekyc.CodeWa}
	for i := range benchQueue {
		c := now.Add(-time.Duration(i%(14*24)) * time.Hour)
		rows = append(rows, seedSession{Tenant: "tn_a", Method: ekyc.CodeHo, State: "decided", Outcome: "review", Created: c, Referred: c.Add(time.Minute), Decided: c.Add(time.Minute)})
	}
	for i := range benchDecided {
		c := now.Add(-time.Duration(i%(14*24)) * time.Hour)
		out := []string{"approved", "rejected"}[i%2]
		rows = append(rows, seedSession{Tenant: []string{"tn_a", "tn_b"}[i%2], Method: methods[i%3], State: "decided", Outcome: out,
			Created: c, Referred: c.Add(time.Minute), Decided: c.Add(30 * time.Minute)})
	}
	ids := insertSessions(b, e.db, rows)
	var evs []seedEvent
	for i := range 3000 {
		evs = append(evs, seedEvent{Tenant: []string{"tn_a", "tn_b"}[i%2], State: []string{"delivered", "dead", "pending"}[i%3], Attempts: 1 + i%5,
			Created: now.Add(-time.Duration(i%(14*24)) * time.Hour), URL: "https://hooks.bank.example/kyc"})
	}
	insertEvents(b, e.db, evs)

	fx := benchFixture{session: ids[0], hot: e.people["a-reviewer"].id, sessions: ids}
	staffA := []string{e.people["a-reviewer"].id, e.people["a-admin"].id}
	var ents []audit.Entry
	start := now.Add(-30 * 24 * time.Hour)
	for i := range benchEntries {
		at := start.Add(time.Duration(i) * 25 * time.Second)
		var en audit.Entry
		switch {
		case i%10 < 6: // tenant A: about its sessions
			ses := ids[(i*7919)%len(ids)]
			en = entry("tn_a", staffA[i%2], []string{"ekyc.session.create", "portal.view", "ekyc.review.claim", "ekyc.review.decide"}[i%4],
				[]string{ses, "ekyc.session:" + ses}[i%2], at)
		case i%10 < 8: // tenant A's staff signing in: the hot object
			en = entry("tn_a", fx.hot, "portal.signin", fx.hot, at)
		case i%10 < 9:
			en = entry("tn_b", e.people["b-reviewer"].id, "portal.view", "ekyc.session:"+ids[(i*104729)%len(ids)], at)
		default:
			en = audit.Entry{Time: at, ActorKind: audit.ActorClient, ActorID: "cl_bank", Action: "oauth.token.issue", Object: fmt.Sprintf("tok_%d", i), Outcome: audit.OutcomeOK}
		}
		ents = append(ents, en)
	}
	// The measured session's own dozen entries.
	for i := range 12 {
		ents = append(ents, entry("tn_a", staffA[i%2], "portal.view", "ekyc.session:"+fx.session, now.Add(time.Duration(i)*time.Second)))
	}
	first := appendEntries(b, e, 5000, ents)
	fx.entry = first + benchEntries/2
	// Real sessions through the capture path for the workbench and the
	// records pages, and administration objects.
	e.setPolicy("tn_a", func(p *ekyc.Policy) { p.OperatorReview = true })
	e.signedIn("a-reviewer") // a claim holds while its holder is signed in
	claimed := e.referred("tn_a", "he", true)
	e.claimAs("a-reviewer", claimed.ID)
	fx.claimed, fx.record = claimed.ID, e.decided("tn_a").ID
	fx.client, fx.account = e.client("tn_a"), e.account("tn_a")
	g, _ := json.Marshal(staff.RoleGrant{StaffID: fx.account, Role: staff.RoleAuditor})
	ap, err := e.dir.Request(context.Background(), staff.Actor{Kind: audit.ActorStaff, ID: e.people["a-admin"].id}, staff.KindRoleGrant, g)
	if err != nil {
		b.Fatal(err)
	}
	fx.approval = ap.ID
	e.checkpoint()
	if e.db.Dialect() == store.Postgres {
		// What autovacuum does to freshly loaded tables in production:
		// statistics for the planner and visibility for index-only scans.
		if _, err := e.db.Exec(context.Background(), `VACUUM ANALYZE`); err != nil {
			b.Fatal(err)
		}
	}
	return fx
}
