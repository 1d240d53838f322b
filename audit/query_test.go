package audit

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

func TestTrailKey(t *testing.T) {
	for _, c := range [][2]string{
		{"ses_1", "ses_1"}, {"ekyc.session:ses_1", "ses_1"}, {"policy/tn_a", "policy/tn_a"},
		{"a:b:c", "b:c"}, {":x", "x"}, {"", ""}, {"kind:", ""},
	} {
		if got := TrailKey(c[0]); got != c[1] {
			t.Errorf("TrailKey(%q) = %q, want %q", c[0], got, c[1])
		}
	}
}

// TestEntries reads entries back by tenant, trail, action and page, on
// both stores, and refuses rows whose leaf or columns were edited.
func TestEntries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newTestLog(t, db)
		add := func(e Entry) uint64 {
			t.Helper()
			var idx uint64
			if err := db.InTx(ctx, func(tx *store.Tx) error {
				var err error
				idx, err = l.Append(ctx, tx, e)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return idx
		}
		at := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
		mk := func(tenant, action, object string) Entry {
			at = at.Add(time.Second)
			return Entry{Time: at, ActorKind: ActorStaff, ActorID: "st_1", TenantID: tenant, Action: action, Object: object, Outcome: OutcomeOK,
				Details: map[string]string{"ip": "192.0.2.1"}}
		}
		var (
			sesA = []uint64{
				add(mk("tn_a", "ekyc.session.create", "ses_a")),
				add(mk("tn_a", "portal.view", "ekyc.session:ses_a")),
			}
			other   = add(mk("tn_b", "ekyc.session.create", "ses_b"))
			viewB   = add(mk("tn_b", "portal.view", "ekyc.session:ses_a")) // tenant B's person tried A's session
			install = add(mk("", "vault.kek.rotate", "kek/2"))
		)
		sesA = append(sesA, add(mk("tn_a", "ekyc.review.decide", "ses_a")))
		for i := range 30 {
			add(mk("tn_a", "portal.signin", "st_"+string(rune('a'+i%26))))
		}
		idx := func(rs []Record) []uint64 {
			out := []uint64{}
			for _, r := range rs {
				out = append(out, r.Index)
			}
			return out
		}
		rev := func(s []uint64) []uint64 { s = slices.Clone(s); slices.Reverse(s); return s }
		for _, c := range []struct {
			name string
			q    Query
			want []uint64
		}{
			{"trail in tenant A", Query{TenantID: "tn_a", Trail: "ses_a", Limit: 10}, rev(sesA)},
			{"trail, every tenant", Query{AllTenants: true, Trail: "ses_a", Limit: 10}, []uint64{sesA[2], viewB, sesA[1], sesA[0]}},
			{"trail in tenant B", Query{TenantID: "tn_b", Trail: "ses_a", Limit: 10}, []uint64{viewB}},
			{"trail of B's session from A", Query{TenantID: "tn_a", Trail: "ses_b", Limit: 10}, []uint64{}},
			{"trail by kind:id is not a key", Query{AllTenants: true, Trail: "ekyc.session:ses_a", Limit: 10}, []uint64{}},
			{"installation entries", Query{TenantID: "", Limit: 10}, []uint64{install}},
			{"action in tenant B", Query{TenantID: "tn_b", Action: "ekyc.session.create", Limit: 10}, []uint64{other}},
			{"action, every tenant", Query{AllTenants: true, Action: "ekyc.session.create", Limit: 10}, []uint64{other, sesA[0]}},
			{"a page", Query{TenantID: "tn_a", Limit: 3}, []uint64{35, 34, 33}},
			{"the next page", Query{TenantID: "tn_a", Before: 33, Limit: 3}, []uint64{32, 31, 30}},
			{"the last page", Query{TenantID: "tn_a", Before: sesA[1], Limit: 3}, []uint64{sesA[0]}},
		} {
			got, err := l.Entries(ctx, c.q)
			if err != nil || !slices.Equal(idx(got), c.want) {
				t.Errorf("%s: Entries = %v, %v; want %v", c.name, idx(got), err, c.want)
			}
		}
		// What is returned is the parsed leaf.
		got, err := l.Entries(ctx, Query{TenantID: "tn_b", Trail: "ses_a", Limit: 1})
		if err != nil || len(got) != 1 || got[0].Entry.Object != "ekyc.session:ses_a" || got[0].Entry.Details["ip"] != "192.0.2.1" ||
			got[0].Entry.ActorID != "st_1" || !got[0].Entry.Time.Equal(time.Date(2026, 6, 1, 9, 0, 4, 0, time.UTC)) {
			t.Errorf("entry = %+v, %v", got, err)
		}

		for _, q := range []Query{{Limit: 0}, {Limit: MaxQueryLimit + 1}, {Limit: 1, Before: math.MaxUint64},
			{Limit: 1, Trail: string(make([]byte, MaxObjectLen+1))}} {
			if _, err := l.Entries(ctx, q); !errors.Is(err, ErrQuery) {
				t.Errorf("Entries(%+v) = %v, want ErrQuery", q, err)
			}
		}

		// An edited tenant column would move B's entry into A's view: refused.
		if _, err := db.Exec(ctx, `UPDATE audit_entries SET tenant_id = 'tn_a' WHERE idx = ?`, int64(other)); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Entries(ctx, Query{TenantID: "tn_a", Limit: 50}); !errors.Is(err, ErrTampered) {
			t.Errorf("Entries after a tenant column edit = %v, want ErrTampered", err)
		}
		// An edited leaf no longer matches its hash.
		if _, err := db.Exec(ctx, `UPDATE audit_entries SET tenant_id = 'tn_b', leaf = ? WHERE idx = ?`, []byte("x"), int64(other)); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Entries(ctx, Query{TenantID: "tn_b", Limit: 50}); !errors.Is(err, ErrTampered) {
			t.Errorf("Entries after a leaf edit = %v, want ErrTampered", err)
		}
	})
}

// TestTrailQueryUsesIndex: the trail query is answered from the trail index
// of migration 0029 on SQLite (the expression must match the index's
// exactly), not by scanning the log.
func TestTrailQueryUsesIndex(t *testing.T) {
	db := storetest.SQLite(t)
	rows, err := db.Query(context.Background(), `EXPLAIN QUERY PLAN SELECT idx FROM audit_entries WHERE tenant_id = ? AND `+
		trailExpr(store.SQLite)+` = ? ORDER BY idx DESC LIMIT 10`, "tn_a", "ses_a")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan += detail + "\n"
	}
	if !strings.Contains(plan, "audit_entries_trail") {
		t.Errorf("plan does not use audit_entries_trail:\n%s", plan)
	}
}
