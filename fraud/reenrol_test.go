package fraud

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
	"github.com/madoguchi/madoguchi/vault"
)

// TestReenrol: after a model change, the approved customers' sessions are
// re-enrolled under the new model from what extract computes (here the
// person's template under the new model id; in the server the new engine
// on the sealed selfies), so a duplicate of an earlier customer is found
// again; shredded subjects, sessions without a face and pending entries
// are not enrolled; a template of another model is refused; a second run
// does nothing; the entries reach another instance through the change log.
func TestReenrol(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		const newModel = "test/other"
		p := dupPolicy(false)
		p.Duplicates.Thresholds[newModel] = 0.7
		e.policy(e.tenantA, p)
		e.policy(e.tenantB, p)
		person := map[string]int{"ses_1": 1, "ses_2": 2, "ses_3": 3, "ses_4": 4}
		e.session(e.tenantA, "ses_1", "sub_1", withFace(Input{Name: "山田 花子"}, e.person(1)), true)
		e.session(e.tenantA, "ses_2", "sub_2", withFace(Input{Name: "佐藤 一郎"}, e.person(2)), true)
		e.session(e.tenantA, "ses_3", "sub_3", withFace(Input{Name: "鈴木 次郎"}, e.person(3)), true)
		e.session(e.tenantA, "ses_4", "sub_4", withFace(Input{Name: "田中 三郎"}, e.person(4)), true)
		e.session(e.tenantA, "ses_p", "sub_p", withFace(Input{Name: "未 承認"}, e.person(5)), false) // pending
		e.session(e.tenantB, "ses_b", "sub_b", withFace(Input{Name: "別 銀行"}, e.person(6)), true)
		e.shred(e.tenantA, "sub_3")

		var asked []string
		extract := func(model string) Extractor {
			return func(_ context.Context, session string) (*face.Template, error) {
				asked = append(asked, session)
				switch session {
				case "ses_4":
					return nil, nil // no face for the new engine
				case "ses_2":
					// Shredded between the listing and the extraction.
					return nil, fmt.Errorf("open frame: %w", vault.ErrShredded)
				}
				tpl, err := face.NewTemplate(model, e.people[person[session]])
				return &tpl, err
			}
		}
		// A template of another model than asked: refused, nothing written.
		if _, err := e.svc.Reenrol(e.ctx, e.tenantA, newModel, extract("test/third")); !errors.Is(err, face.ErrModelMismatch) {
			t.Fatalf("Reenrol(wrong model) = %v, want ErrModelMismatch", err)
		}
		if n := e.count(`SELECT COUNT(*) FROM fraud_gallery WHERE model = ?`, newModel); n != 0 {
			t.Fatalf("after a refused re-enrolment %d entries of the new model, want 0", n)
		}

		asked = nil
		rep, err := e.svc.Reenrol(e.ctx, e.tenantA, newModel, extract(newModel))
		if err != nil {
			t.Fatal(err)
		}
		want := ReenrolReport{Tenant: e.tenantA, Model: newModel, Sessions: 3, Enrolled: 1, NoFace: 1, Shredded: 1}
		if *rep != want {
			t.Errorf("Reenrol = %+v, want %+v", *rep, want)
		}
		if !slices.Equal(asked, []string{"ses_1", "ses_2", "ses_4"}) {
			t.Errorf("extracted %v, want the tenant's active sessions only (not shredded ses_3, pending ses_p, tenant B's ses_b)", asked)
		}
		if n := e.count(`SELECT COUNT(*) FROM audit_entries WHERE action = 'fraud.gallery.reenrol' AND object = 'ses_1'`); n != 1 {
			t.Errorf("re-enrolment audit entries = %d, want 1", n)
		}

		// A probe of the new model finds the re-enrolled customer under
		// another name, on this instance and on another one synced from
		// the change log.
		probe := func(svc *Service, session string) []Finding {
			t.Helper()
			tpl, err := face.NewTemplate(newModel, e.person(1).Values())
			if err != nil {
				t.Fatal(err)
			}
			fs, err := svc.Check(e.ctx, Input{Tenant: e.tenantA, Session: session, Subject: "sub_" + session, Name: "偽 名", Face: &tpl, FaceThreshold: 0.6})
			if err != nil {
				t.Fatal(err)
			}
			return fs
		}
		if f := find(probe(e.svc, "ses_x"), ReasonDuplicateIdentity); f == nil || !slices.Equal(f.Sessions, []string{"ses_1"}) {
			t.Errorf("new-model probe after re-enrolment: %+v, want a duplicate naming ses_1", f)
		}
		other, err := New(e.svc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.Load(e.ctx); err != nil {
			t.Fatal(err)
		}
		if f := find(probe(other, "ses_y"), ReasonDuplicateIdentity); f == nil {
			t.Error("another instance does not find the re-enrolled entry")
		}

		// Idempotent: ses_1 has its entry; ses_2 and ses_4 are asked again.
		asked = nil
		rep, err = e.svc.Reenrol(e.ctx, e.tenantA, newModel, extract(newModel))
		if err != nil || rep.Enrolled != 0 || slices.Contains(asked, "ses_1") {
			t.Errorf("second Reenrol = %+v, %v (asked %v), want nothing enrolled and ses_1 not asked", rep, err, asked)
		}
		// Shredding removes the new entry too.
		e.shred(e.tenantA, "sub_1")
		if n := e.count(`SELECT COUNT(*) FROM fraud_gallery WHERE session_id = 'ses_1'`); n != 0 {
			t.Errorf("after shredding sub_1, %d gallery entries of ses_1 remain", n)
		}
		if f := find(probe(e.svc, "ses_z"), ReasonDuplicateIdentity); f != nil {
			t.Errorf("probe after shredding the re-enrolled subject: %+v, want none", f)
		}
	})
}

func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.QueryRow(e.ctx, q, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}
