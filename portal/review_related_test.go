package portal

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/store"
)

// namingFraud stands in for package fraud (tested on its own and end to end
// in cmd/madoguchi): while related is set, every decided session gets a
// face.duplicate_identity reason naming those sessions.
type namingFraud struct {
	mu      sync.Mutex
	related []string
}

// name sets the sessions every following decision names (none: stop).
func (f *namingFraud) name(ids ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.related = ids
}

// relatedObject makes a session of tenant A claimed by the owner whose
// reason names an earlier session of tenant A, for the route-table tests;
// the path is the related route for the earlier one.
func relatedObject(suffix string) func(e *env, b *browser) string {
	return func(e *env, b *browser) string {
		first := e.referred("tn_a", "he", true)
		e.fraud.name(first.ID)
		ss := e.referred("tn_a", "he", true)
		e.fraud.name()
		e.claimAs(b.whoami(), ss.ID)
		return "/review/" + ss.ID + "/related/" + first.ID + suffix
	}
}

func (f *namingFraud) Check(context.Context, ekyc.FraudInput) ([]ekyc.FraudFinding, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.related) == 0 {
		return nil, nil
	}
	return []ekyc.FraudFinding{{Code: ekyc.ReasonDuplicateIdentity, Detail: "the live face matches an approved subject under other personal data",
		Sessions: slices.Clone(f.related)}}, nil
}
func (f *namingFraud) Approved(context.Context, *store.Tx, string, string) error { return nil }
func (f *namingFraud) Forget(context.Context, *store.Tx, string, string) error   { return nil }
func (f *namingFraud) Observe(context.Context, string, string, string, string, string, time.Time) error {
	return nil
}

// TestReviewRelatedSessions: a session whose fraud reason names another
// session of its tenant links it on the workbench; the reviewer holding the
// claim opens it beside the session under review (its selfies, chip photo
// and signed attributes, and the session under review's own for the
// comparison), every view audited on the related session. A named session
// of another tenant, a session no reason names, a reviewer without the
// claim and another tenant's reviewer get 404.
func TestReviewRelatedSessions(t *testing.T) {
	e := newEnv(t)
	ff := e.fraud
	first := e.referred("tn_a", "he", true)
	unnamed := e.referred("tn_a", "he", true)
	foreign := e.referred("tn_b", "he", true)
	ff.name(first.ID, foreign.ID)
	e.clock.Add(time.Minute)
	ss := e.referred("tn_a", "he", true)
	ff.name()
	if !slices.Contains(ss.Decision.ReasonCodes(), ekyc.ReasonDuplicateIdentity) {
		t.Fatalf("reasons %v, want %s", ss.Decision.ReasonCodes(), ekyc.ReasonDuplicateIdentity)
	}
	base := "/portal/review/" + ss.ID + "/related/"
	b := e.signedIn("a-reviewer")

	// Before the claim: the ids are shown, not linked, and nothing opens.
	page := b.get("/portal/review/" + ss.ID)
	if page.status != http.StatusOK || !strings.Contains(page.body, first.ID) || strings.Contains(page.body, `class="related-link"`) {
		t.Fatalf("unclaimed page = %d; want the related ids without links", page.status)
	}
	if r := b.get(base + first.ID); r.status != http.StatusNotFound {
		t.Errorf("related page before the claim = %d, want 404", r.status)
	}
	if r := b.post("/portal/review/"+ss.ID+"/claim", nil); r.status != http.StatusSeeOther {
		t.Fatalf("claim = %d", r.status)
	}
	page = b.get("/portal/review/" + ss.ID)
	if !strings.Contains(page.body, `href="`+base+first.ID+`"`) {
		t.Fatalf("claimed page lacks the link to the related session %s", first.ID)
	}

	r := b.get(base + first.ID)
	if r.status != http.StatusOK {
		t.Fatalf("related page = %d", r.status)
	}
	for _, want := range []string{`id="related-id">` + first.ID, `id="related-reasons"`, ekyc.ReasonDuplicateIdentity,
		`id="own-chip-photo"`, `id="own-selfie"`, `id="related-chip-photo"`, `class="related-selfie"`, `id="related-attributes"`, "見本"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("related page lacks %s", want)
		}
	}
	if got := b.get(base + first.ID + "/chip-photo"); got.status != http.StatusOK || got.header.Get("Content-Type") != "image/png" {
		t.Errorf("related chip photo = %d %s, want a PNG", got.status, got.header.Get("Content-Type"))
	}
	if got := b.get(base + first.ID + "/frames/1"); got.status != http.StatusOK || got.header.Get("Content-Type") != "image/png" {
		t.Errorf("related frame 1 = %d %s, want a PNG", got.status, got.header.Get("Content-Type"))
	}

	// What may not be opened is not there.
	for _, p := range []string{
		base + foreign.ID, base + foreign.ID + "/frames/1", base + foreign.ID + "/chip-photo", // named, but another tenant's
		base + unnamed.ID, base + unnamed.ID + "/frames/1", // the tenant's, but no reason names it
		base + ss.ID, // itself
		base + first.ID + "/frames/0", base + first.ID + "/frames/99", base + first.ID + "/frames/x",
		base + "not-a-session", base + "ses_" + strings.Repeat("a", 80),
	} {
		if got := b.get(p); got.status != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, got.status)
		}
	}
	for _, who := range []string{"b-reviewer", "op-reviewer"} {
		if got := e.signedIn(who).get(base + first.ID); got.status != http.StatusNotFound {
			t.Errorf("%s opens the related page = %d, want 404", who, got.status)
		}
	}
	if got := e.signedIn("a-auditor").get(base + first.ID); got.status != http.StatusForbidden {
		t.Errorf("auditor opens the related page = %d, want 403", got.status)
	}

	// Every view is on the related session's trail, naming the session
	// under review; nothing was recorded on the other tenant's session.
	var acts []string
	for _, en := range e.audit.entries {
		switch en.Object {
		case first.ID:
			if strings.HasPrefix(en.Action, "ekyc.review.view_related") && en.Details["under_review"] != ss.ID {
				t.Errorf("%s on %s names %q under review, want %s", en.Action, first.ID, en.Details["under_review"], ss.ID)
			}
			acts = append(acts, en.Action)
		case foreign.ID, unnamed.ID:
			if strings.HasPrefix(en.Action, "ekyc.review.view") {
				t.Errorf("audit has %s on %s, which was never shown", en.Action, en.Object)
			}
		}
	}
	for _, want := range []string{"ekyc.review.view_related", "ekyc.review.view_related_frame", "ekyc.review.view_related_chip_photo"} {
		if !slices.Contains(acts, want) {
			t.Errorf("the related session's trail lacks %s: %v", want, acts)
		}
	}
}
