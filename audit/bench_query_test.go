package audit

import (
	"context"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// BenchmarkAppendIndexCost measures what the read indexes of migration
// 0029 (trail key, tenant+action, action) cost each durable append: two
// SQLite logs, one without those indexes, appended to alternately in the
// same run (docs/benchmarks.md). Reports ms per append with and without
// and their ratio.
func BenchmarkAppendIndexCost(b *testing.B) {
	ctx := context.Background()
	with, without := storetest.SQLite(b), storetest.SQLite(b)
	for _, ix := range []string{"audit_entries_trail", "audit_entries_tenant_action", "audit_entries_action"} {
		if _, err := without.Exec(ctx, "DROP INDEX "+ix); err != nil {
			b.Fatal(err)
		}
	}
	lw, err := New(with, testSigner(b, testSKey))
	if err != nil {
		b.Fatal(err)
	}
	lo, err := New(without, testSigner(b, testSKey))
	if err != nil {
		b.Fatal(err)
	}
	var dw, do time.Duration
	i := 0
	for b.Loop() {
		for _, c := range []struct {
			l  *Log
			db *store.DB
			d  *time.Duration
		}{{lw, with, &dw}, {lo, without, &do}} {
			t0 := time.Now()
			if err := c.db.InTx(ctx, func(tx *store.Tx) error { _, err := c.l.Append(ctx, tx, testEntry(i)); return err }); err != nil {
				b.Fatal(err)
			}
			*c.d += time.Since(t0)
		}
		i++
	}
	b.ReportMetric(float64(dw)/float64(i)/1e6, "ms-with")
	b.ReportMetric(float64(do)/float64(i)/1e6, "ms-without")
	b.ReportMetric(float64(dw)/float64(do), "ratio")
}
