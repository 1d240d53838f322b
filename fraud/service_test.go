package fraud

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

func dupPolicy(cross bool) Policy {
	return Policy{Duplicates: DuplicateRule{Enabled: true, Thresholds: map[string]float64{testModel: 0.7}, CrossTenant: cross}, DocumentReuse: true}
}

func TestDuplicateFaces(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.policy(e.tenantA, dupPolicy(false))
		alice := Input{Name: "山田 花子", BirthDate: "1990-01-02"}
		if fs := e.session(e.tenantA, "ses_a1", "sub_a1", withFace(alice, e.person(1)), true); len(fs) != 0 {
			t.Fatalf("first session: findings %v, want none", codes(fs))
		}
		// The same face under another name: a duplicate naming the first session.
		mallory := Input{Name: "佐藤 一郎", BirthDate: "1985-05-05"}
		fs := e.session(e.tenantA, "ses_a2", "sub_a2", withFace(mallory, e.person(1)), false)
		f := find(fs, ReasonDuplicateIdentity)
		if f == nil || !slices.Equal(f.Sessions, []string{"ses_a1"}) || f.Score <= 0.7 {
			t.Fatalf("same face, other name: findings %+v, want %s naming ses_a1", fs, ReasonDuplicateIdentity)
		}
		// The same person re-verifying (same name in another spelling form: 髙/高, spacing).
		again := Input{Name: "山田花子", BirthDate: "1990-01-02"}
		if fs := e.session(e.tenantA, "ses_a3", "sub_a3", withFace(again, e.person(1)), false); find(fs, ReasonDuplicateIdentity) != nil {
			t.Errorf("same person, same identity: findings %v, want no duplicate", codes(fs))
		}
		// Another face: nothing.
		if fs := e.session(e.tenantA, "ses_a4", "sub_a4", withFace(mallory, e.person(2)), false); len(fs) != 0 {
			t.Errorf("other face: findings %v, want none", codes(fs))
		}
		// Not approved sessions are not in the gallery: ses_a2 (person 1 as
		// mallory) was never approved, so person 1 under a third name finds
		// only ses_a1.
		fs = e.session(e.tenantA, "ses_a5", "sub_a5", withFace(Input{Name: "鈴木 次郎"}, e.person(1)), false)
		if f := find(fs, ReasonDuplicateIdentity); f == nil || !slices.Equal(f.Sessions, []string{"ses_a1"}) {
			t.Errorf("third name: findings %+v, want ses_a1 only", fs)
		}

		// Rebuilt at start from the store: a new service finds ses_a1.
		svc2, err := New(e.svc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc2.Check(e.ctx, Input{Tenant: e.tenantA, Session: "ses_x", Subject: "sub_x", Face: e.person(1)}); !errors.Is(err, ErrNotReady) {
			t.Errorf("Check before Load = %v, want ErrNotReady", err)
		}
		if n, err := svc2.Load(e.ctx); err != nil || n != 1 {
			t.Fatalf("Load = %d, %v, want 1 entry", n, err)
		}
		fs, err = svc2.Check(e.ctx, Input{Tenant: e.tenantA, Session: "ses_a6", Subject: "sub_a6", Face: e.person(1), Name: "田中 三郎"})
		if err != nil || find(fs, ReasonDuplicateIdentity) == nil {
			t.Fatalf("after reload: %v, %v, want a duplicate", codes(fs), err)
		}

		// Shredding the subject removes it at once, on this instance and on
		// svc2 (which has not synced: every hit is confirmed in the store).
		e.shred(e.tenantA, "sub_a1")
		if fs := e.session(e.tenantA, "ses_a7", "sub_a7", withFace(mallory, e.person(1)), false); find(fs, ReasonDuplicateIdentity) != nil {
			t.Errorf("after shredding: findings %v, want no duplicate", codes(fs))
		}
		fs, err = svc2.Check(e.ctx, Input{Tenant: e.tenantA, Session: "ses_a8", Subject: "sub_a8", Face: e.person(1), Name: "田中 三郎"})
		if err != nil || find(fs, ReasonDuplicateIdentity) != nil {
			t.Errorf("other instance after shredding: %v, %v, want no duplicate", codes(fs), err)
		}
		if svc2.index.has(1) || e.svc.index.size() != 0 {
			t.Errorf("index after shred: svc2 has entry %v, svc size %d; want both gone", svc2.index.has(1), e.svc.index.size())
		}
		var n int
		if err := db.QueryRow(e.ctx, `SELECT COUNT(*) FROM fraud_gallery WHERE subject = 'sub_a1'`).Scan(&n); err != nil || n != 0 {
			t.Errorf("gallery rows of the shredded subject = %d, %v, want 0", n, err)
		}
	})
}

func withFace(in Input, f *face.Template) Input {
	in.Face = f
	return in
}

func otherModel(t *testing.T, f *face.Template) *face.Template {
	t.Helper()
	o, err := face.NewTemplate("test/other", f.Values())
	if err != nil {
		t.Fatal(err)
	}
	return &o
}

func TestSyncAcrossInstances(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.policy(e.tenantA, dupPolicy(false))
		other, err := New(e.svc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.Load(e.ctx); err != nil {
			t.Fatal(err)
		}
		e.session(e.tenantA, "ses_1", "sub_1", withFace(Input{Name: "A"}, e.person(5)), true)
		probe := Input{Tenant: e.tenantA, Session: "ses_2", Subject: "sub_2", Face: e.person(5), Name: "B"}
		if other.index.size() != 0 {
			t.Fatalf("other instance holds %d entries before it read the change log", other.index.size())
		}
		// A search reads the changes other instances committed first: an
		// approval anywhere is searchable by the next decision everywhere.
		if fs, err := other.Check(e.ctx, probe); err != nil || find(fs, ReasonDuplicateIdentity) == nil {
			t.Fatalf("other instance after an approval elsewhere: %v, %v, want a duplicate", codes(fs), err)
		}
		if other.index.size() != 1 {
			t.Errorf("other instance holds %d entries, want 1", other.index.size())
		}
		e.shred(e.tenantA, "sub_1")
		if err := other.Sync(e.ctx); err != nil {
			t.Fatal(err)
		}
		if other.index.size() != 0 {
			t.Errorf("other index after Sync of a shred: %d entries, want 0", other.index.size())
		}
	})
}

func TestCrossTenantGallery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.policy(e.tenantA, dupPolicy(true))
		e.policy(e.tenantB, dupPolicy(true))
		e.policy(e.tenantC, dupPolicy(false))
		for _, tn := range []string{e.tenantA, e.tenantB, e.tenantC} {
			e.session(tn, "ses_"+tn, "sub_"+tn, withFace(Input{Name: "Owner " + tn}, e.person(3)), true)
		}
		// B opted in: it sees A's entry (not named), never C's.
		fs := e.session(e.tenantB, "ses_b2", "sub_b2", withFace(Input{Name: "Someone Else"}, e.person(3)), false)
		f := find(fs, ReasonDuplicateIdentity)
		if f == nil || !slices.Equal(f.Sessions, []string{"ses_" + e.tenantB}) {
			t.Fatalf("B: %+v, want a duplicate naming only B's own session", fs)
		}
		if !contains(f.Detail, "1 at other services") {
			t.Errorf("B: detail %q, want one other service (A), not C", f.Detail)
		}
		// C did not opt in: it sees only its own gallery, and A and B never see C.
		fs = e.session(e.tenantC, "ses_c2", "sub_c2", withFace(Input{Name: "Someone Else"}, e.person(3)), false)
		if f := find(fs, ReasonDuplicateIdentity); f == nil || contains(f.Detail, "other services") {
			t.Errorf("C: %+v, want its own session only", fs)
		}
		// A tenant without a policy runs without duplicate search.
		e.policy(e.tenantC, Policy{})
		if fs := e.session(e.tenantC, "ses_c3", "sub_c3", withFace(Input{Name: "X"}, e.person(3)), false); find(fs, ReasonDuplicateIdentity) != nil {
			t.Errorf("C without duplicates: %v", codes(fs))
		}
	})
}

func TestModelChange(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.policy(e.tenantA, dupPolicy(false))
		e.session(e.tenantA, "ses_1", "sub_1", withFace(Input{Name: "A"}, e.person(4)), true)
		// A probe of another model is never compared with the old
		// templates; with no threshold for the new model, the decision
		// says the search did not run.
		other := otherModel(t, e.person(4))
		fs := e.session(e.tenantA, "ses_2", "sub_2", withFace(Input{Name: "B"}, other), false)
		f := find(fs, ReasonDuplicateUnchecked)
		if f == nil || find(fs, ReasonDuplicateIdentity) != nil || !contains(f.Detail, "1 template(s) of other models") {
			t.Fatalf("new model without threshold: %+v", fs)
		}
		// With a threshold for the new model, the search runs against the
		// new model's (empty) gallery only.
		p := dupPolicy(false)
		p.Duplicates.Thresholds["test/other"] = 0.7
		e.policy(e.tenantA, p)
		if fs := e.session(e.tenantA, "ses_3", "sub_3", withFace(Input{Name: "B"}, otherModel(t, e.person(4))), false); len(fs) != 0 {
			t.Errorf("new model with threshold: %v, want none (old templates never compared)", codes(fs))
		}
	})
}

func TestDocumentReuse(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		doc := func(in Input, number string) Input {
			in.DocumentKind, in.DocumentCountry, in.DocumentNumber = "jpdl", "JP", number
			return in
		}
		hanako := Input{Name: "山田 花子", BirthDate: "1990-01-02"}
		if fs := e.session(e.tenantA, "ses_1", "sub_1", doc(withFace(hanako, e.person(1)), "3012-3456-7890"), true); len(fs) != 0 {
			t.Fatalf("first use: %v", codes(fs))
		}
		// Same person again (number written differently): fine.
		if fs := e.session(e.tenantA, "ses_2", "sub_2", doc(withFace(hanako, e.person(1)), "301234567890"), false); len(fs) != 0 {
			t.Errorf("same document, same person: %v", codes(fs))
		}
		// Same document, another name.
		fs := e.session(e.tenantA, "ses_3", "sub_3", doc(withFace(Input{Name: "佐藤 一郎", BirthDate: "1990-01-02"}, e.person(2)), "３０１２３４５６７８９０"), false)
		if f := find(fs, ReasonDocumentReused); f == nil || !slices.Equal(f.Sessions, []string{"ses_1", "ses_2"}) || !contains(f.Detail, "other personal data") {
			t.Errorf("another name: %+v", fs)
		}
		// Same document and name, another face.
		fs = e.session(e.tenantA, "ses_4", "sub_4", doc(withFace(hanako, e.person(3)), "301234567890"), false)
		if f := find(fs, ReasonDocumentReused); f == nil || !contains(f.Detail, "another face") || slices.Contains(f.Sessions, "ses_3") && !contains(f.Detail, "other personal data") {
			t.Errorf("another face: %+v", fs)
		}
		// Per tenant: tenant B never sees tenant A's document.
		if fs := e.session(e.tenantB, "ses_b1", "sub_b1", doc(withFace(Input{Name: "X"}, e.person(9)), "301234567890"), false); len(fs) != 0 {
			t.Errorf("other tenant: %v, want none", codes(fs))
		}
		// The digest is keyed: nothing in the table is the plain SHA-256 of the number.
		var n int
		if err := db.QueryRow(e.ctx, `SELECT COUNT(*) FROM fraud_documents`).Scan(&n); err != nil || n != 5 {
			t.Errorf("document rows = %d, %v", n, err)
		}
		// Shredding removes the document rows of the subject.
		e.shred(e.tenantA, "sub_3")
		fs = e.session(e.tenantA, "ses_5", "sub_5", doc(withFace(hanako, e.person(1)), "301234567890"), false)
		if f := find(fs, ReasonDocumentReused); f == nil || slices.Contains(f.Sessions, "ses_3") {
			t.Errorf("after shred: %+v, want ses_3 gone", fs)
		}
	})
}

func TestVelocity(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.policy(e.tenantA, Policy{Velocity: []VelocityRule{
			{Key: KeyDevice, WindowSeconds: 3600, Max: 2},
			{Key: KeyNetwork, WindowSeconds: 86400, Max: 3},
		}})
		run := func(i int, device, addr string) []Finding {
			s := "ses_" + string(rune('a'+i))
			if err := e.svc.Observe(e.ctx, e.tenantA, s, "sub_"+s, KeyNetwork, addr, e.clock.Now()); err != nil {
				t.Fatal(err)
			}
			return e.session(e.tenantA, s, "sub_"+s, Input{Device: device, At: e.clock.Now()}, false)
		}
		if fs := run(0, "kiosk-1", "203.0.113.5"); len(fs) != 0 {
			t.Fatalf("1st: %v", codes(fs))
		}
		if fs := run(1, "kiosk-1", "203.0.113.77"); len(fs) != 0 {
			t.Fatalf("2nd: %v", codes(fs))
		}
		fs := run(2, "kiosk-1", "[2001:db8::1]:443")
		if f := find(fs, ReasonVelocity); f == nil || !slices.Equal(f.Sessions, []string{"ses_a", "ses_b"}) || !contains(f.Detail, "device") {
			t.Fatalf("3rd on one device within an hour: %+v", fs)
		}
		// An hour later the device window is clear, but the network (/24)
		// has now 3 sessions today, and the 4th exceeds it.
		e.clock.Add(61 * time.Minute)
		fs = run(3, "kiosk-2", "203.0.113.200")
		if find(fs, ReasonVelocity) != nil {
			t.Fatalf("3rd in the /24 today: %+v, want none (max 3)", fs)
		}
		fs = run(4, "kiosk-3", "203.0.113.9")
		if f := find(fs, ReasonVelocity); f == nil || !contains(f.Detail, "network") {
			t.Errorf("4th in the /24: %+v", fs)
		}
		if err := e.svc.Observe(e.ctx, e.tenantA, "s", "u", "email", "x", e.clock.Now()); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("Observe(unknown key) = %v", err)
		}
	})
}

func TestPolicyValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		ok   bool
	}{
		{"default", `{"document_reuse":true,"watchlists":true,"duplicates":{"enabled":false}}`, true},
		{"thresholds", `{"duplicates":{"enabled":true,"thresholds":{"m":0.95},"cross_tenant":true}}`, true},
		{"velocity", `{"velocity":[{"key":"device","window_seconds":3600,"max":3}]}`, true},
		{"unknown field", `{"duplicate":{}}`, false},
		{"threshold 1", `{"duplicates":{"thresholds":{"m":1}}}`, false},
		{"threshold NaN-ish", `{"duplicates":{"thresholds":{"m":-0.1}}}`, false},
		{"velocity key", `{"velocity":[{"key":"email","window_seconds":3600,"max":3}]}`, false},
		{"window", `{"velocity":[{"key":"device","window_seconds":1,"max":3}]}`, false},
		{"trailing", `{} {}`, false},
		{"not json", `nope`, false},
	} {
		_, err := ParsePolicy([]byte(tc.in))
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrInvalidInput) {
			t.Errorf("ParsePolicy(%s) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestFindingsAudited(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.policy(e.tenantA, dupPolicy(false))
		e.session(e.tenantA, "ses_1", "sub_1", withFace(Input{Name: "A"}, e.person(6)), true)
		e.session(e.tenantA, "ses_2", "sub_2", withFace(Input{Name: "B"}, e.person(6)), false)
		var n int
		if err := db.QueryRow(e.ctx, `SELECT COUNT(*) FROM audit_entries WHERE action = 'fraud.finding' AND object = 'ses_2'`).Scan(&n); err != nil || n != 1 {
			t.Errorf("fraud.finding audit entries for ses_2 = %d, %v, want 1", n, err)
		}
		if err := db.QueryRow(e.ctx, `SELECT COUNT(*) FROM audit_entries WHERE action = 'fraud.gallery.enrol' AND object = 'ses_1'`).Scan(&n); err != nil || n != 1 {
			t.Errorf("enrolment audit entries = %d, %v, want 1", n, err)
		}
	})
}

// TestConcurrentChecks runs decisions, approvals and shredding at once
// (the race detector watches the index).
func TestConcurrentChecks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.policy(e.tenantA, dupPolicy(false))
		probes := make([]*face.Template, 20)
		for i := range probes {
			probes[i] = e.person(100 + i%5)
		}
		var wg sync.WaitGroup
		errs := make(chan error, len(probes))
		for i := range probes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := fmt.Sprintf("ses_c%d", i)
				sub := "sub_" + s
				_, err := e.svc.Check(e.ctx, Input{Tenant: e.tenantA, Session: s, Subject: sub, Face: probes[i], Name: s})
				if err == nil && i%2 == 0 {
					err = e.db.InTx(e.ctx, func(tx *store.Tx) error { return e.svc.Approved(e.ctx, tx, e.tenantA, s) })
				}
				if err == nil && i%4 == 0 {
					err = e.db.InTx(e.ctx, func(tx *store.Tx) error { return e.svc.Forget(e.ctx, tx, e.tenantA, sub) })
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil && !errors.Is(err, store.ErrConflict) {
				t.Errorf("concurrent check: %v", err)
			}
		}
		// A search that ran while a shred was committing may have re-read
		// the entry; the next sync applies the committed removal (and
		// confirm never reports it meanwhile).
		if err := e.svc.Sync(e.ctx); err != nil {
			t.Fatal(err)
		}
		// Approved and not forgotten: i%2 == 0 && i%4 != 0, 5 sessions.
		if got := e.svc.index.size(); got != 5 {
			t.Errorf("index size = %d, want 5", got)
		}
	})
}

func FuzzParsePolicy(f *testing.F) {
	f.Add(`{"duplicates":{"enabled":true,"thresholds":{"m":0.95},"cross_tenant":true},"document_reuse":true,"velocity":[{"key":"device","window_seconds":3600,"max":3}],"watchlists":true}`)
	f.Add(`{}`)
	f.Add(`{"velocity":[{"key":"network","window_seconds":60,"max":1}]}`)
	f.Fuzz(func(t *testing.T, in string) {
		p, err := ParsePolicy([]byte(in))
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("ParsePolicy error %v is not ErrInvalidInput", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted policy does not validate: %v", err)
		}
	})
}

// TestReconcile: a shred whose transaction rolls back had already dropped
// the entry from memory; Reconcile restores it, and removes an entry the
// store no longer holds.
func TestReconcile(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.policy(e.tenantA, dupPolicy(false))
		e.session(e.tenantA, "ses_1", "sub_1", withFace(Input{Name: "A"}, e.person(7)), true)
		e.session(e.tenantA, "ses_2", "sub_2", withFace(Input{Name: "B"}, e.person(8)), true)
		boom := errors.New("rolled back")
		if err := db.InTx(e.ctx, func(tx *store.Tx) error {
			if err := e.svc.Forget(e.ctx, tx, e.tenantA, "sub_1"); err != nil {
				return err
			}
			return boom
		}); !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if _, err := db.Exec(e.ctx, `DELETE FROM fraud_gallery WHERE subject = 'sub_2'`); err != nil {
			t.Fatal(err)
		}
		if e.svc.index.size() != 1 {
			t.Fatalf("before Reconcile: %d entries", e.svc.index.size())
		}
		if err := e.svc.Reconcile(e.ctx); err != nil {
			t.Fatal(err)
		}
		ids := e.svc.index.ids()
		var id int64
		if err := db.QueryRow(e.ctx, `SELECT id FROM fraud_gallery WHERE subject = 'sub_1'`).Scan(&id); err != nil {
			t.Fatal(err)
		}
		if len(ids) != 1 || ids[0] != id {
			t.Errorf("after Reconcile: ids %v, want [%d] (sub_1 back, sub_2 gone)", ids, id)
		}
	})
}

func TestPolicyWeakens(t *testing.T) {
	base := Policy{
		Duplicates:    DuplicateRule{Enabled: true, Thresholds: map[string]float64{"m": 0.95}},
		DocumentReuse: true, Watchlists: true,
		Velocity: []VelocityRule{{Key: KeyDevice, WindowSeconds: 3600, Max: 5}},
	}
	clone := func(edit func(*Policy)) Policy {
		b, _ := json.Marshal(base)
		var p Policy
		_ = json.Unmarshal(b, &p)
		edit(&p)
		return p
	}
	for _, tc := range []struct {
		name   string
		edit   func(*Policy)
		weaker bool
	}{
		{"same", func(*Policy) {}, false},
		{"lower threshold", func(p *Policy) { p.Duplicates.Thresholds["m"] = 0.94 }, false},
		{"new model threshold", func(p *Policy) { p.Duplicates.Thresholds["n"] = 0.5 }, false},
		{"stricter velocity", func(p *Policy) { p.Velocity[0].Max = 3 }, false},
		{"extra rule", func(p *Policy) {
			p.Velocity = append(p.Velocity, VelocityRule{Key: KeyNetwork, WindowSeconds: 60, Max: 1})
		}, false},
		{"duplicates off", func(p *Policy) { p.Duplicates.Enabled = false }, true},
		{"higher threshold", func(p *Policy) { p.Duplicates.Thresholds["m"] = 0.97 }, true},
		{"threshold removed", func(p *Policy) { delete(p.Duplicates.Thresholds, "m") }, true},
		{"cross tenant on", func(p *Policy) { p.Duplicates.CrossTenant = true }, true},
		{"document reuse off", func(p *Policy) { p.DocumentReuse = false }, true},
		{"watchlists off", func(p *Policy) { p.Watchlists = false }, true},
		{"velocity removed", func(p *Policy) { p.Velocity = nil }, true},
		{"velocity max raised", func(p *Policy) { p.Velocity[0].Max = 6 }, true},
		{"velocity window shortened", func(p *Policy) { p.Velocity[0].WindowSeconds = 600 }, true},
	} {
		if got := clone(tc.edit).Weakens(base); (len(got) > 0) != tc.weaker {
			t.Errorf("%s: Weakens = %q, want weaker=%v", tc.name, got, tc.weaker)
		}
	}
}

func TestApplyPolicyChange(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.policy(e.tenantA, dupPolicy(false))
		_, ver, _ := e.svc.Policy(e.ctx, e.tenantA)
		stale := PolicyChange{Tenant: e.tenantA, BaseVersion: ver - 1, Policy: Policy{}}
		if err := db.InTx(e.ctx, func(tx *store.Tx) error {
			_, err := e.svc.ApplyPolicyChange(e.ctx, tx, System, stale, nil)
			return err
		}); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("ApplyPolicyChange(stale base) = %v, want ErrInvalidInput", err)
		}
		ok := PolicyChange{Tenant: e.tenantA, BaseVersion: ver, Policy: Policy{}}
		if err := db.InTx(e.ctx, func(tx *store.Tx) error {
			_, err := e.svc.ApplyPolicyChange(e.ctx, tx, Actor{Kind: "staff", ID: "stf_b"}, ok, map[string]string{"approval": "ap_1"})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if p, v, _ := e.svc.Policy(e.ctx, e.tenantA); v != ver+1 || p.Duplicates.Enabled {
			t.Errorf("after the change: %+v v%d", p, v)
		}
	})
}
