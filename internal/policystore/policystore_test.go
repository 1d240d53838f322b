package policystore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/madoguchi/madoguchi/internal/policystore"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

type doc struct {
	Name  string   `json:"name"`
	Rules []string `json:"rules,omitempty"`
}

var errRollback = errors.New("rollback")

// TestPutGet runs against both policy tables of the schema on both stores.
func TestPutGet(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for _, id := range []string{"tn_a", "tn_b"} {
			if _, err := db.Exec(ctx, `INSERT INTO tenants (id, name, status, created_at) VALUES (?, ?, 'active', 0)`, id, "Bank "+id); err != nil {
				t.Fatal(err)
			}
		}
		now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.FixedZone("JST", 9*3600))
		for _, table := range []policystore.Table{"ekyc_policies", "fraud_policies"} {
			t.Run(string(table), func(t *testing.T) {
				put := func(tenant string, d doc) (int, error) {
					var ver int
					err := db.InTx(ctx, func(tx *store.Tx) error {
						var err error
						ver, err = policystore.Put(ctx, tx, table, tenant, d, now)
						return err
					})
					return ver, err
				}
				if _, _, err := policystore.Get[doc](ctx, db, table, "tn_a"); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("Get(none) = %v, want store.ErrNotFound", err)
				}
				for i, d := range []doc{{Name: "one"}, {Name: "two", Rules: []string{"x"}}, {Name: "three"}} {
					ver, err := put("tn_a", d)
					if err != nil || ver != i+1 {
						t.Fatalf("Put #%d = %d, %v, want version %d", i+1, ver, err, i+1)
					}
					got, gv, err := policystore.Get[doc](ctx, db, table, "tn_a")
					if err != nil || gv != ver || !cmp.Equal(got, d) {
						t.Fatalf("Get after Put #%d = %+v, %d, %v, want %+v, %d", i+1, got, gv, err, d, ver)
					}
				}
				var at int64
				if err := db.QueryRow(ctx, `SELECT updated_at FROM `+string(table)+` WHERE tenant_id = ?`, "tn_a").Scan(&at); err != nil || at != now.UnixMicro() {
					t.Errorf("updated_at = %d, %v, want %d", at, err, now.UnixMicro())
				}
				// A rolled-back Put leaves the version and document alone.
				err := db.InTx(ctx, func(tx *store.Tx) error {
					if v, err := policystore.Put(ctx, tx, table, "tn_a", doc{Name: "lost"}, now); err != nil || v != 4 {
						t.Errorf("Put in the rolled-back tx = %d, %v, want 4", v, err)
					}
					return errRollback
				})
				if !errors.Is(err, errRollback) {
					t.Fatal(err)
				}
				if got, gv, err := policystore.Get[doc](ctx, db, table, "tn_a"); err != nil || gv != 3 || got.Name != "three" {
					t.Errorf("Get after rollback = %+v, %d, %v, want three at version 3", got, gv, err)
				}
				// Tenants are apart.
				if _, _, err := policystore.Get[doc](ctx, db, table, "tn_b"); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("Get(tn_b) = %v, want store.ErrNotFound", err)
				}
				if ver, err := put("tn_b", doc{Name: "b"}); err != nil || ver != 1 {
					t.Errorf("Put(tn_b) = %d, %v, want version 1", ver, err)
				}
				// An unknown tenant is refused (foreign key).
				if _, err := put("tn_nobody", doc{Name: "x"}); err == nil {
					t.Error("Put(unknown tenant) succeeded")
				}
				// A row that does not decode is ErrUnreadable.
				if _, err := db.Exec(ctx, `UPDATE `+string(table)+` SET policy = ? WHERE tenant_id = ?`, `{"name": 7}`, "tn_b"); err != nil {
					t.Fatal(err)
				}
				if _, _, err := policystore.Get[doc](ctx, db, table, "tn_b"); !errors.Is(err, policystore.ErrUnreadable) {
					t.Errorf("Get(corrupt) = %v, want ErrUnreadable", err)
				}
			})
		}
	})
}

func TestDetails(t *testing.T) {
	for _, tt := range []struct {
		ver   int
		extra map[string]string
		want  map[string]string
	}{
		{1, nil, map[string]string{"version": "1"}},
		{7, map[string]string{"approval": "ap_1"}, map[string]string{"version": "7", "approval": "ap_1"}},
		{2, map[string]string{"version": "99"}, map[string]string{"version": "2"}},
	} {
		if got := policystore.Details(tt.ver, tt.extra); !cmp.Equal(got, tt.want) {
			t.Errorf("Details(%d, %v) = %v, want %v", tt.ver, tt.extra, got, tt.want)
		}
	}
}
