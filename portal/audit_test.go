package portal

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/portal/i18n"
)

// auditFixture is a log with entries of tenant A, tenant B and the
// installation, covered by a signed checkpoint, and one entry after it.
type auditFixture struct {
	a, b, install, late uint64
	size                uint64 // of the checkpoint
	objA, objB          string
}

func newAuditFixture(t *testing.T, e *env) auditFixture {
	t.Helper()
	f := auditFixture{objA: randomID("ses_"), objB: randomID("ses_")}
	at := e.clock.Now()
	ra, rb := e.people["a-reviewer"].id, e.people["b-reviewer"].id
	f.a = appendEntries(t, e, 1, []audit.Entry{entry("tn_a", ra, "ekyc.review.decide", f.objA, at)})
	appendEntries(t, e, 1, []audit.Entry{entry("tn_a", ra, "portal.view", "ekyc.session:"+f.objA, at)})
	f.b = appendEntries(t, e, 1, []audit.Entry{entry("tn_b", rb, "ekyc.review.decide", f.objB, at)})
	f.install = appendEntries(t, e, 1, []audit.Entry{{Time: at, ActorKind: audit.ActorSystem, Action: "vault.kek.rotate", Object: "kek/2", Outcome: audit.OutcomeOK}})
	e.checkpoint()
	f.size = f.install + 1
	f.late = appendEntries(t, e, 1, []audit.Entry{entry("tn_a", ra, "ekyc.review.claim", f.objA, at)})
	return f
}

// TestAuditScope: who may open which entry, proof and trail. Auditors of a
// tenant see their tenant's only (another tenant's, or the installation's,
// is 404 like a missing one); operator auditors see every entry; other
// roles are refused.
func TestAuditScope(t *testing.T) {
	e := newEnv(t)
	f := newAuditFixture(t, e)
	ent := func(i uint64) string { return fmt.Sprintf("/portal/audit/entries/%d", i) }
	for _, c := range []struct {
		who  string
		path string
		want int
	}{
		{"a-auditor", ent(f.a), 200},
		{"a-auditor", ent(f.a) + "/proof", 200},
		{"a-auditor", ent(f.b), 404},
		{"a-auditor", ent(f.b) + "/proof", 404},
		{"a-auditor", ent(f.install), 404},
		{"a-auditor", ent(f.late), 200},
		{"a-auditor", ent(f.late) + "/proof", http.StatusConflict}, // not in a checkpoint yet
		{"a-auditor", ent(9999), 404},
		{"a-auditor", "/portal/audit/entries/01", 404},
		{"a-auditor", "/portal/audit/entries/-1", 404},
		{"a-auditor", "/portal/audit/entries/99999999999999999999", 404},
		{"a-auditor", "/portal/audit/trail/" + f.objA, 200},
		{"a-auditor", "/portal/audit/trail/" + f.objB, 404},
		{"a-auditor", "/portal/audit/trail/kek%2F2", 404},
		{"a-auditor", "/portal/audit/trail/ses_nothing", 404},
		{"b-auditor", ent(f.b), 200},
		{"b-auditor", ent(f.a), 404},
		{"b-auditor", "/portal/audit/trail/" + f.objA, 404},
		{"op-auditor", ent(f.a), 200},
		{"op-auditor", ent(f.b) + "/proof", 200},
		{"op-auditor", ent(f.install), 200},
		{"op-auditor", "/portal/audit/trail/kek%2F2", 200},
		{"op-auditor", "/portal/audit/trail/" + f.objB, 200},
		{"a-reviewer", ent(f.a), 403},
		{"a-admin", "/portal/audit", 403},
		{"op-admin", ent(f.a), 403},
		{"op-reviewer", "/portal/audit/trail/" + f.objA, 403},
		{"nobody", "/portal/audit", 403},
	} {
		b := e.signedIn(c.who)
		if r := b.get(c.path); r.status != c.want {
			t.Errorf("%s GET %s = %d, want %d", c.who, c.path, r.status, c.want)
		}
	}
	// Looks at another tenant's entry or trail are recorded as refused.
	var denied []string
	for _, d := range e.audit.find("portal.view", audit.OutcomeDenied) {
		denied = append(denied, d.TenantID+" "+d.Object)
	}
	for _, want := range []string{
		fmt.Sprintf("tn_a audit_entry:%d", f.b), "tn_a audit_trail:" + f.objB, "tn_b audit_trail:" + f.objA,
	} {
		if !strings.Contains(strings.Join(denied, "\n"), want) {
			t.Errorf("no denied view %q recorded; have %q", want, denied)
		}
	}
}

// TestAuditViewsRecorded: opening the audit page, an entry, a proof and a
// trail is itself an audit entry, with the person, tenant and address.
func TestAuditViewsRecorded(t *testing.T) {
	e := newEnv(t)
	f := newAuditFixture(t, e)
	b := e.signedIn("a-auditor")
	for _, p := range []string{"/portal/audit?action=ekyc.review.decide", fmt.Sprintf("/portal/audit/entries/%d", f.a),
		fmt.Sprintf("/portal/audit/entries/%d/proof?download=1", f.a), "/portal/audit/trail/" + f.objA} {
		if r := b.get(p); r.status != 200 {
			t.Fatalf("GET %s = %d", p, r.status)
		}
	}
	got := map[string]audit.Entry{}
	for _, v := range e.audit.find("portal.view", audit.OutcomeOK) {
		got[v.Object+" "+v.Details["route"]] = v
	}
	for _, want := range []string{
		"audit_log /audit", fmt.Sprintf("audit_entry:%d /audit/entries/{id}", f.a),
		fmt.Sprintf("audit_entry:%d /audit/entries/{id}/proof", f.a), "audit_trail:" + f.objA + " /audit/trail/{id}",
	} {
		v, ok := got[want]
		if !ok {
			t.Errorf("view %q not recorded (have %v)", want, got)
			continue
		}
		if v.ActorID != e.people["a-auditor"].id || v.TenantID != "tn_a" || v.Details["ip"] != "192.0.2.10" {
			t.Errorf("view %q = %+v", want, v)
		}
	}
	if v := got["audit_log /audit"]; v.Details["filter_action"] != "ekyc.review.decide" {
		t.Errorf("the filter is not recorded: %v", v.Details)
	}
}

// TestAuditList: the page lists the person's scope newest first, with the
// latest signed checkpoint; filters and paging; bad filters re-render the
// page with a message and 422.
func TestAuditList(t *testing.T) {
	e := newEnv(t)
	f := newAuditFixture(t, e)
	var many []audit.Entry
	for i := range 60 {
		many = append(many, entry("tn_a", e.people["a-reviewer"].id, "portal.signin", fmt.Sprintf("st_page%02d", i), e.clock.Now()))
	}
	appendEntries(t, e, 60, many)

	a := e.signedIn("a-auditor")
	r := a.get("/portal/audit")
	if r.status != 200 || !strings.Contains(r.body, "st_page59") || strings.Contains(r.body, f.objB) || strings.Contains(r.body, "kek/2") {
		t.Errorf("tenant auditor's page: %d, has newest %v, has B's %v, has the installation's %v", r.status,
			strings.Contains(r.body, "st_page59"), strings.Contains(r.body, f.objB), strings.Contains(r.body, "kek/2"))
	}
	if !strings.Contains(r.body, fmt.Sprintf(`id="checkpoint-size">%d<`, f.size)) || !strings.Contains(html.UnescapeString(r.body), e.audit.log.VerifierKey()) {
		t.Errorf("the latest checkpoint (size %d) and the verifier key are not shown", f.size)
	}
	if !strings.Contains(r.body, `href="/portal/audit/trail/st_page59"`) || !strings.Contains(r.body, "198.51.100.7") || !strings.Contains(r.body, ">a-reviewer<") {
		t.Error("rows lack the trail link, the address or the actor's name")
	}
	older := regexp.MustCompile(`<a href="([^"]+)" rel="next" id="older">`).FindStringSubmatch(r.body)
	if older == nil {
		t.Fatal("no link to older entries with 60+ entries")
	}
	r2 := a.get(html.UnescapeString(older[1]))
	if r2.status != 200 || strings.Contains(r2.body, "st_page59") || !strings.Contains(r2.body, "st_page09") || !strings.Contains(r2.body, f.objA) {
		t.Errorf("older page: %d; want entries below the first page", r2.status)
	}
	if r := a.get("/portal/audit?action=ekyc.review.decide"); !strings.Contains(r.body, f.objA) || strings.Contains(r.body, "st_page") {
		t.Error("action filter does not filter")
	}
	if r := a.get("/portal/audit?object=ekyc.session:" + f.objA); !strings.Contains(r.body, "portal.view") || strings.Contains(r.body, "st_page") {
		t.Error("object filter does not give the object's trail")
	}
	// A tenant's staff cannot widen their scope with the tenant filter.
	if r := a.get("/portal/audit?tenant=tn_b"); strings.Contains(r.body, f.objB) {
		t.Error("a tenant auditor saw another tenant's entries through ?tenant=")
	}

	op := e.signedIn("op-auditor")
	for _, c := range []struct {
		q          string
		has, hasnt []string
	}{
		{"", []string{"st_page59", "st_page20"}, nil},
		{"?tenant=tn_b", []string{f.objB}, []string{f.objA, "kek/2"}},
		{"?tenant=-", []string{"kek/2"}, []string{f.objA, f.objB}},
	} {
		r := op.get("/portal/audit" + c.q)
		for _, s := range c.has {
			if !strings.Contains(r.body, s) {
				t.Errorf("operator %q: %s missing", c.q, s)
			}
		}
		for _, s := range c.hasnt {
			if strings.Contains(r.body, s) {
				t.Errorf("operator %q: %s shown", c.q, s)
			}
		}
	}
	for _, q := range []string{"?action=Bad%20Action", "?action=" + strings.Repeat("a", 65), "?object=" + strings.Repeat("x", 257),
		"?object=%01", "?before=0", "?before=x", "?before=-5", "?tenant=tn_nope"} {
		b := op
		r := b.get("/portal/audit" + q)
		marked := strings.Contains(r.body, `aria-invalid="true"`) || strings.Contains(r.body, `id="before-error"`)
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="filter-error"`) || !marked {
			t.Errorf("GET /portal/audit%s = %d, want 422 with the field marked", q, r.status)
		}
	}
}

// TestAuditEntryPage: the entry, its checkpoint, and what the browser
// verifies: the proof URL and the entry as shown (data-expect).
func TestAuditEntryPage(t *testing.T) {
	e := newEnv(t)
	f := newAuditFixture(t, e)
	b := e.signedIn("a-auditor")
	r := b.get(fmt.Sprintf("/portal/audit/entries/%d", f.a))
	for _, want := range []string{
		`<script type="module" src="/portal/static/audit.js"></script>`,
		fmt.Sprintf(`data-proof="/portal/audit/entries/%d/proof"`, f.a),
		fmt.Sprintf(`href="/portal/audit/entries/%d/proof?download=1"`, f.a),
		`id="verify-run" hidden`, `id="verifier-key"`, "ekyc.review.decide", "198.51.100.7", f.objA,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("entry page lacks %q", want)
		}
	}
	m := regexp.MustCompile(`data-expect="([^"]+)"`).FindStringSubmatch(r.body)
	if m == nil || !strings.Contains(html.UnescapeString(m[1]), `"object":"`+f.objA+`"`) {
		t.Errorf("data-expect = %v", m)
	}
	if strings.Contains(r.body, `data-key-url="/`) {
		t.Error("a key URL without Config.AuditKeyURL")
	}
	e2 := newEnv(t, func(c *Config) { c.AuditKeyURL = "/v1/audit/key" })
	f2 := newAuditFixture(t, e2)
	if r := e2.signedIn("a-auditor").get(fmt.Sprintf("/portal/audit/entries/%d", f2.a)); !strings.Contains(r.body, `data-key-url="/v1/audit/key"`) {
		t.Error("the page does not name the published key's URL")
	}
	late := b.get(fmt.Sprintf("/portal/audit/entries/%d", f.late))
	if !strings.Contains(late.body, `id="not-checkpointed"`) || strings.Contains(late.body, "verify-run") {
		t.Error("an entry newer than the checkpoint offers a verification")
	}
}

// TestAuditProofBundle: the bundle is a tlog-proof that the audit
// package's offline verifier accepts against the log's key (the CLI test in
// cmd/madoguchi runs 'audit verify' on one), and nothing else.
func TestAuditProofBundle(t *testing.T) {
	e := newEnv(t)
	f := newAuditFixture(t, e)
	b := e.signedIn("op-auditor")
	r := b.get(fmt.Sprintf("/portal/audit/entries/%d/proof?download=1", f.b))
	if r.status != 200 || r.header.Get("Content-Type") != "text/plain; charset=utf-8" ||
		r.header.Get("Content-Disposition") != fmt.Sprintf(`attachment; filename="madoguchi-audit-entry-%d.tlog-proof"`, f.b) {
		t.Fatalf("proof = %d %v", r.status, r.header)
	}
	ent, cp, err := audit.VerifyInclusionProof([]byte(r.body), e.audit.log.VerifierKey())
	if err != nil || ent.Object != f.objB || ent.TenantID != "tn_b" || cp.Size != f.size {
		t.Fatalf("VerifyInclusionProof = %+v, %+v, %v", ent, cp, err)
	}
	if inline := b.get(fmt.Sprintf("/portal/audit/entries/%d/proof", f.b)); inline.header.Get("Content-Disposition") != "" || inline.body != r.body {
		t.Error("the inline proof differs from the download")
	}
	bad := strings.Replace(r.body, "\nindex ", "\nindex 1", 1)
	if _, _, err := audit.VerifyInclusionProof([]byte(bad), e.audit.log.VerifierKey()); err == nil {
		t.Error("a bundle with another index verifies")
	}
}

// TestAuditTampered: an entry edited in the database is reported as an
// integrity failure, never shown as if it were fine.
func TestAuditTampered(t *testing.T) {
	e := newEnv(t)
	f := newAuditFixture(t, e)
	b := e.signedIn("a-auditor")
	if _, err := e.db.Exec(context.Background(), `UPDATE audit_entries SET leaf = ? WHERE idx = ?`, []byte("forged"), int64(f.a)); err != nil {
		t.Fatal(err)
	}
	b.cookies["__Host-mdg_lang"] = "en"
	for _, p := range []string{fmt.Sprintf("/portal/audit/entries/%d", f.a), fmt.Sprintf("/portal/audit/entries/%d/proof", f.a)} {
		r := b.get(p)
		if r.status != http.StatusInternalServerError || !strings.Contains(r.body, "does not match its stored hash") {
			t.Errorf("GET %s after tampering = %d, want 500 saying so", p, r.status)
		}
	}
	if r := b.get("/portal/audit"); r.status != http.StatusInternalServerError {
		t.Errorf("audit page over a tampered entry = %d, want 500", r.status)
	}
}

// TestTrailComponent: the block other pages embed, rendered in both
// languages for a tenant's staff and an operator.
func TestTrailComponent(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.extra = []Route{{Method: http.MethodGet, Path: "/test/trail/{id}", Handle: func(rq *Request) error {
			tr, err := rq.Trail(rq.PathValue("id"), 2)
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			if err := rq.s.tpl.pages[rq.Lang]["home"].ExecuteTemplate(&buf, "trail", tr); err != nil {
				return err
			}
			_, err = rq.W.Write(buf.Bytes())
			return err
		}}}
	})
	f := newAuditFixture(t, e)
	for _, lang := range i18n.Languages() {
		for _, c := range []struct {
			who, id    string
			rows       int
			more, link bool
		}{
			{"a-reviewer", "ekyc.session:" + f.objA, 2, true, false},
			{"a-auditor", f.objA, 2, true, true},
			{"b-reviewer", f.objA, 0, false, false},
			{"op-auditor", f.objB, 1, false, true},
		} {
			b := e.signedIn(c.who)
			b.cookies["__Host-mdg_lang"] = string(lang)
			r := b.get("/portal/test/trail/" + url.PathEscape(c.id))
			if r.status != 200 || rawKey(e.srv.cat, r.body) != "" {
				t.Fatalf("%s %s: %d %s", lang, c.who, r.status, r.body)
			}
			rows := strings.Count(r.body, "<tr>") - 1
			if c.rows == 0 {
				rows = strings.Count(r.body, "<tr>")
			}
			if rows != c.rows || strings.Contains(r.body, "/portal/audit/trail/") != c.link {
				t.Errorf("%s %s: %d rows, link %v; want %d, %v\n%s", lang, c.who, rows, strings.Contains(r.body, "/portal/audit/trail/"), c.rows, c.link, r.body)
			}
		}
	}
}

// TestTrailEscapedIDs: ids with '/' travel escaped in the trail's path.
func TestTrailEscapedIDs(t *testing.T) {
	e := newEnv(t)
	appendEntries(t, e, 1, []audit.Entry{entry("tn_a", e.people["a-admin"].id, "ekyc.policy.set", "policy/tn_a", e.clock.Now())})
	b := e.signedIn("a-auditor")
	r := b.get("/portal/audit")
	if !strings.Contains(r.body, `href="/portal/audit/trail/policy%2Ftn_a"`) {
		t.Fatal("trail link of policy/tn_a is not path-escaped")
	}
	if r := b.get("/portal/audit/trail/policy%2Ftn_a"); r.status != 200 || !strings.Contains(r.body, "ekyc.policy.set") {
		t.Errorf("trail of policy/tn_a = %d", r.status)
	}
}

// FuzzAuditFilter: any query string either passes with every field within
// the audit log's limits or is refused with a message per field.
func FuzzAuditFilter(f *testing.F) {
	for _, s := range []string{"", "tenant=tn_a&action=ekyc.review.decide&object=ses_1&before=10", "action=A", "before=-1", "object=%00", "tenant=-",
		"before=9223372036854775808", "object=" + strings.Repeat("é", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		r, err := http.NewRequest(http.MethodGet, "/portal/audit?"+q, nil)
		if err != nil {
			return
		}
		flt, errs := parseAuditFilter(r)
		if errs.Any() {
			for field, key := range errs {
				if key == "" || !strings.Contains("tenant action object before", field) {
					t.Errorf("error %q=%q", field, key)
				}
			}
			return
		}
		if (flt.Action != "" && !auditName(flt.Action)) || len(flt.Object) > audit.MaxObjectLen || !printableText(flt.Object) ||
			len(flt.Tenant) > audit.MaxIDLen || flt.Before > 1<<63-1 {
			t.Errorf("accepted %+v", flt)
		}
	})
}

// auditObject is the route spec of an audit page with an object of tenant
// A's auditor: tenant B's auditor (who may use the page) gets 404, the
// others 403, the operator auditor's view is TestAuditScope's.
func auditObject(object func(e *env, b *browser) string) routeSpec {
	return routeSpec{owner: "a-auditor", ownerOK: http.StatusOK, object: object,
		intruders: []string{"b-auditor", "b-reviewer", "b-admin", "a-reviewer", "a-admin", "op-admin", "op-reviewer"}}
}
