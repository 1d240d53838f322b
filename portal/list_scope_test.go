package portal

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// echoes are the parts of a page that repeat the request back (form
// values, the language switch's return address, pager links keeping the
// query): what the person asked for, not what the page found.
var echoes = regexp.MustCompile(`value="[^"]*"|href="[^"]*\?[^"]*"`)

// TestCrossTenantListPages runs every GET page of the route table without
// a path parameter (lists, searches, the dashboard; TestCrossTenant covers
// the pages of one object) as tenant B's staff, asking for tenant A's
// objects by every query parameter the pages read (?tenant=, ?session=,
// ?reference=, ?object=, ?state=): the answer is B's own page or 404 and
// never shows one of A's objects (beyond echoing the request). The same requests by A's staff show each
// of those objects somewhere, so the markers are ones the pages render.
func TestCrossTenantListPages(t *testing.T) {
	e := newEnv(t)
	queued := e.referred("tn_a", "he", true).ID
	record := e.decided("tn_a").ID
	markers := map[string]string{
		"queued session":   queued,
		"record":           record,
		"client":           e.client("tn_a"),
		"account":          e.account("tn_a"),
		"webhook event":    e.enqueue("tn_a", "https://hooks.bank-a.example/kyc"),
		"approval":         e.tenantApproval(e.signedIn("a-admin")),
		"webhook address":  "hooks.bank-a.example",
		"consent":          e.consent("tn_a", "cust-a1", "5000"),
		"partner evidence": e.partnerEvidenceMarker(),
	}
	queries := []string{
		"?tenant=tn_a&session=" + record + "&state=pending",
		"?tenant=tn_a&reference=cust-he&object=" + queued,
		"?tenant=tn_a&object=ekyc.session:" + queued + "&days=90",
	}
	personas := map[string][]string{
		"a": {"a-reviewer", "a-admin", "a-auditor"},
		"b": {"b-reviewer", "b-admin", "b-auditor"},
	}
	browsers := map[string]*browser{}
	as := func(who string) *browser {
		if browsers[who] == nil {
			browsers[who] = e.signedIn(who)
		}
		return browsers[who]
	}
	seenByA := map[string]bool{}
	pages, asB := 0, 0
	for _, rt := range e.srv.Routes() {
		path := strings.ReplaceAll(rt.Path, "{$}", "")
		if rt.Method != http.MethodGet || rt.Public || rt.JSON || strings.Contains(path, "{") {
			continue
		}
		pages++
		for _, q := range queries {
			for _, who := range personas["b"] {
				if !e.mayOpen(who, rt) {
					continue
				}
				asB++
				r := as(who).get(Prefix + path + q)
				r.body = echoes.ReplaceAllString(r.body, "")
				if r.status != http.StatusOK && r.status != http.StatusNotFound && r.status != http.StatusUnprocessableEntity {
					t.Errorf("%s %s%s = %d, want B's page, 404 or 422", who, path, q, r.status)
				}
				for name, m := range markers {
					if strings.Contains(r.body, m) {
						t.Errorf("%s %s%s shows tenant A's %s", who, path, q, name)
					}
				}
			}
			for _, who := range personas["a"] {
				if !e.mayOpen(who, rt) {
					continue
				}
				r := as(who).get(Prefix + path + q)
				r.body = echoes.ReplaceAllString(r.body, "")
				for name, m := range markers {
					if strings.Contains(r.body, m) {
						seenByA[name] = true
					}
				}
			}
		}
	}
	// Every page but the operator's own (tenants, trust anchors, keys) is
	// one some tenant staff may open.
	if pages < 15 || asB < len(queries)*(pages-3) {
		t.Fatalf("%d list pages, %d requests by tenant B's staff: too few", pages, asB)
	}
	for name := range markers {
		if !seenByA[name] {
			t.Errorf("tenant A's own staff never see its %s: the marker proves nothing", name)
		}
	}
}
